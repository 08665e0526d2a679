"""DDIM sampling (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12 and 16).

Reproduces DynamiCrafter's sampler step for step: the timestep set comes from the schedule's
spacing, the last step lands on ᾱ[0] (not 1), the network sees the integer τ_i, x̂0 is never
clipped, and with dynamic rescale (DC-512) x̂0 is rescaled between steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from asva.diffusion.schedule import NoiseSchedule

# denoiser(x_t (B, ...), t (B,) long) -> raw network prediction (B, ...), eps or v per the schedule
Denoiser = Callable[[Tensor, Tensor], Tensor]
# callback(step_index, total_steps, x) after each step, step_index counting from 0
StepCallback = Callable[[int, int, Tensor], None]


@torch.no_grad()
def ddim_sample(
    denoiser: Denoiser,
    x_T: Tensor,  # noqa: N803 (the paper's name for the starting noise)
    schedule: NoiseSchedule,
    steps: int,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
) -> Tensor:
    """Run DDIM from pure noise `x_T` (B, ...) to a sample (B, ...) with `steps` network calls.

    η = 0 is deterministic DDIM, η = 1 (DynamiCrafter's default) matches DDPM's posterior
    variance. Fresh noise is drawn with `generator` on x_T's device and dtype, once per step
    and only when η > 0, so a seeded generator makes the run reproducible.
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta!r}")
    if generator is not None and eta > 0 and generator.device.type != x_T.device.type:
        raise ValueError(
            f"generator is on {generator.device} but x_T is on {x_T.device}; noise is drawn on x_T's device"
        )
    taus = schedule.ddim_timesteps(steps).tolist()  # ascending τ_0 < … < τ_{S-1}
    total = len(taus)
    ac = schedule.alphas_cumprod.double()  # (T,); coefficients in float64, cast at use
    batch = x_T.shape[0]
    x = x_T

    for step_index, i in enumerate(reversed(range(total))):
        tau = taus[i]
        tau_prev = taus[i - 1] if i > 0 else None
        a_t = ac[tau].item()
        # the last step targets ᾱ[0], not ᾱ = 1: the reference never denoises to t = -1
        a_prev = ac[tau_prev].item() if tau_prev is not None else ac[0].item()
        sigma = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))

        # 1. predict, then convert the prediction to (x̂0, ε̂) with the full-schedule tables at τ
        t = torch.full((batch,), tau, dtype=torch.long, device=x.device)  # (B,)
        model_out = denoiser(x, t)  # (B, ...)
        x0, eps = schedule.predict_x0_eps(model_out, x, t)  # (B, ...) each

        # 2. dynamic rescale (DC-512): training scaled x0 by scale_arr[t]; move it to τ_prev's scale
        if tau_prev is not None:
            x0 = x0 * schedule.dynamic_rescale_ratio(tau, tau_prev)

        # 3. eq. 12; with zero SNR at η = 1, 1 − a_prev − σ² is 0 up to round-off, never negative
        direction = math.sqrt(max(1.0 - a_prev - sigma**2, 0.0))
        x = math.sqrt(a_prev) * x0 + direction * eps  # (B, ...)
        if sigma > 0:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + sigma * noise

        if callback is not None:
            callback(step_index, total, x)
    return x


def share_frame_means(noise: Tensor) -> Tensor:
    """Starting noise (B, C, F, h, w) whose frames all take the first frame's spatial mean, per channel.

    Each frame is its own noise minus its mean plus frame 0's mean: still i.i.d. N(0, 1) within
    the frame (the mean it loses and the one it gets are independent draws of the same law), but
    the frames no longer differ in their mean. On small latents (8 x 8, the tiny preset) the
    network reads a frame's noise mean as its brightness, so per-frame means make the frames
    flicker (docs/keyvid.md, "Shared noise means"). Applied after FreeNoise's rescheduling it keeps
    its property: every window is still a permutation of the first.
    """
    if noise.ndim != 5:
        raise ValueError(f"noise must be (B, C, F, h, w), got shape {tuple(noise.shape)}")
    means = noise.mean(dim=(3, 4), keepdim=True)  # (B, C, F, 1, 1)
    return noise - means + means[:, :, :1]
