"""The DynamiCrafter noise schedule: tables, forward noising, eps/v conversions, DDIM timesteps.

The beta schedule is the one DynamiCrafter calls "linear" (Stable Diffusion's "scaled_linear"):
β_t = linspace(√β_start, √β_end, T)[t]², optionally rescaled to zero terminal SNR
(Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Algorithm 1).
Tables are computed in float64 and stored in float32, as DynamiCrafter stores them in its
checkpoint, so a loaded checkpoint's schedule can be compared with ours value for value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

PARAMETERIZATIONS = ("eps", "v")
SPACINGS = ("uniform", "uniform_trailing")

# The 12 schedule buffers DynamiCrafter keeps in its checkpoint, in registration order.
OFFICIAL_BUFFER_NAMES = (
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
)


@dataclass(frozen=True)
class ScheduleConfig:
    """How noise is added in training and which timesteps the sampler visits."""

    timesteps: int = 1000
    linear_start: float = 0.00085
    linear_end: float = 0.012
    parameterization: str = "eps"  # what the network predicts: "eps" or "v"
    rescale_zero_snr: bool = False  # Lin et al. 2024: ᾱ_{T-1} = 0
    # DC-512 "dynamic rescale": training latents are scaled by scale_arr[t]; the sampler undoes it.
    dynamic_rescale: bool = False
    dynamic_rescale_base: float = 0.7  # scale_arr ends at this value ...
    dynamic_rescale_steps: int = 400  # ... after a linear ramp of this many entries from 1.0
    spacing: str = "uniform"  # DDIM timestep set: "uniform" (DC-256) or "uniform_trailing" (DC-512)
    guidance_rescale: float = 0.0  # CFG rescale φ (Lin et al. 2024 §3.4) used with this preset

    def __post_init__(self) -> None:
        if not isinstance(self.timesteps, int) or self.timesteps < 2:
            raise ValueError(f"ScheduleConfig.timesteps must be an int >= 2, got {self.timesteps!r}")
        if not 0.0 < self.linear_start < self.linear_end < 1.0:
            raise ValueError(
                "ScheduleConfig needs 0 < linear_start < linear_end < 1, got "
                f"linear_start={self.linear_start!r}, linear_end={self.linear_end!r}"
            )
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"ScheduleConfig.parameterization must be one of {PARAMETERIZATIONS}, "
                f"got {self.parameterization!r}"
            )
        if self.spacing not in SPACINGS:
            raise ValueError(f"ScheduleConfig.spacing must be one of {SPACINGS}, got {self.spacing!r}")
        if self.rescale_zero_snr and self.parameterization != "v":
            # At ᾱ = 0 the input is pure noise, so an eps prediction says nothing about x0
            # (x0 = (x - √(1-ᾱ)·eps)/√ᾱ divides by zero); Lin et al. 2024 §3.2 pair it with v.
            raise ValueError("ScheduleConfig.rescale_zero_snr=True requires parameterization='v', got 'eps'")
        if not 0.0 <= self.guidance_rescale <= 1.0:
            raise ValueError(
                f"ScheduleConfig.guidance_rescale must be in [0, 1], got {self.guidance_rescale!r}"
            )
        if not 0.0 < self.dynamic_rescale_base <= 1.0:
            raise ValueError(
                f"ScheduleConfig.dynamic_rescale_base must be in (0, 1], got {self.dynamic_rescale_base!r}"
            )
        if not isinstance(self.dynamic_rescale_steps, int) or self.dynamic_rescale_steps < 1:
            raise ValueError(
                "ScheduleConfig.dynamic_rescale_steps must be an int >= 1, "
                f"got {self.dynamic_rescale_steps!r}"
            )


# Presets used by the models (FACTS §3, §4).
SCHEDULE_256 = ScheduleConfig()
SCHEDULE_512 = ScheduleConfig(
    parameterization="v",
    rescale_zero_snr=True,
    dynamic_rescale=True,
    spacing="uniform_trailing",
    guidance_rescale=0.7,
)
SCHEDULE_PRESETS: dict[str, ScheduleConfig] = {
    "dynamicrafter-256": SCHEDULE_256,
    "dynamicrafter-512": SCHEDULE_512,
    "keyvid": SCHEDULE_512,
}


def _rescale_zero_terminal_snr(betas: np.ndarray) -> np.ndarray:
    """Lin et al. 2024, Algorithm 1: shift and scale √ᾱ so that √ᾱ_{T-1} = 0 and √ᾱ_0 is unchanged."""
    sqrt_ac = np.sqrt(np.cumprod(1.0 - betas))
    first, last = sqrt_ac[0], sqrt_ac[-1]
    sqrt_ac = (sqrt_ac - last) * (first / (first - last))
    ac = sqrt_ac**2
    alphas = np.concatenate([ac[:1], ac[1:] / ac[:-1]])
    return 1.0 - alphas


def _float32(values: np.ndarray) -> Tensor:
    return torch.tensor(values, dtype=torch.float32)


class NoiseSchedule:
    """Precomputed diffusion tables for one `ScheduleConfig`, plus the formulas that use them.

    Every table is a float32 CPU tensor of shape (T,); helpers index them with a (B,) long
    tensor of timesteps and return values on the input's device and dtype.
    """

    def __init__(self, config: ScheduleConfig = SCHEDULE_256) -> None:
        self.config = config
        self.num_timesteps = config.timesteps
        n = config.timesteps

        # 1. betas, in float64 like the reference (the float32 round-off would show in ᾱ_999).
        betas = np.linspace(config.linear_start**0.5, config.linear_end**0.5, n, dtype=np.float64) ** 2
        if config.rescale_zero_snr:
            betas = _rescale_zero_terminal_snr(betas)
        alphas = 1.0 - betas
        ac = np.cumprod(alphas)
        ac_prev = np.append(1.0, ac[:-1])

        # 2. the derived tables, stored as float32 (B = batch, T = timesteps); zero-SNR makes
        # ᾱ_{T-1} = 0, where 1/ᾱ is +inf by design (a v-model never reads those two tables).
        with np.errstate(divide="ignore"):
            sqrt_recip = np.sqrt(1.0 / ac)
            sqrt_recipm1 = np.sqrt(1.0 / ac - 1.0)
        posterior_variance = betas * (1.0 - ac_prev) / (1.0 - ac)
        self.betas = _float32(betas)  # (T,)
        self.alphas_cumprod = _float32(ac)  # (T,)
        self.alphas_cumprod_prev = _float32(ac_prev)  # (T,)
        self.sqrt_alphas_cumprod = _float32(np.sqrt(ac))  # (T,)
        self.sqrt_one_minus_alphas_cumprod = _float32(np.sqrt(1.0 - ac))  # (T,)
        self.log_one_minus_alphas_cumprod = _float32(np.log(1.0 - ac))  # (T,)
        self.sqrt_recip_alphas_cumprod = _float32(sqrt_recip)  # (T,)
        self.sqrt_recipm1_alphas_cumprod = _float32(sqrt_recipm1)  # (T,)
        self.posterior_variance = _float32(posterior_variance)  # (T,)
        # the posterior variance is 0 at t = 0, hence the clip before the log
        self.posterior_log_variance_clipped = _float32(np.log(np.maximum(posterior_variance, 1e-20)))
        self.posterior_mean_coef1 = _float32(betas * np.sqrt(ac_prev) / (1.0 - ac))  # (T,)
        self.posterior_mean_coef2 = _float32((1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac))  # (T,)

        # 3. DC-512 dynamic rescale: a ramp 1.0 → base over `steps` entries, then base (T entries more).
        self.scale_arr: Tensor | None = None
        if config.dynamic_rescale:
            ramp = np.linspace(1.0, config.dynamic_rescale_base, config.dynamic_rescale_steps)
            flat = np.full(n, config.dynamic_rescale_base)
            self.scale_arr = _float32(np.concatenate([ramp, flat]))  # (steps + T,)

    def __repr__(self) -> str:
        return f"NoiseSchedule({self.config})"

    # --- checkpoint comparison -------------------------------------------------------------

    def official_buffers(self) -> dict[str, Tensor]:
        """The schedule buffers as DynamiCrafter stores them in a checkpoint (12, + `scale_arr`).

        Quirk reproduced (FACTS §2): a v-parameterized model stores `sqrt_recip_alphas_cumprod`
        and `sqrt_recipm1_alphas_cumprod` as zeros. Our own attributes keep the true values.
        """
        out = {name: getattr(self, name).clone() for name in OFFICIAL_BUFFER_NAMES}
        if self.config.parameterization == "v":
            out["sqrt_recip_alphas_cumprod"] = torch.zeros_like(out["sqrt_recip_alphas_cumprod"])
            out["sqrt_recipm1_alphas_cumprod"] = torch.zeros_like(out["sqrt_recipm1_alphas_cumprod"])
        if self.scale_arr is not None:
            out["scale_arr"] = self.scale_arr.clone()
        return out

    # --- per-sample coefficients -----------------------------------------------------------

    def _at(self, table: Tensor, t: Tensor, like: Tensor) -> Tensor:
        """table[t] shaped (B, 1, ..., 1) to broadcast against `like` (B, ...)."""
        if t.ndim != 1 or t.shape[0] != like.shape[0]:
            raise ValueError(
                f"timesteps must be a (B,) tensor with B = {like.shape[0]} (the input's batch), "
                f"got shape {tuple(t.shape)}"
            )
        if t.dtype.is_floating_point:
            raise ValueError(f"timesteps must be an integer tensor, got dtype {t.dtype}")
        values = table.to(t.device)[t].to(like.dtype)  # (B,)
        return values.view(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Forward noising x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise (Ho et al. 2020, eq. 4); (B, ...) -> (B, ...)."""
        return (
            self._at(self.sqrt_alphas_cumprod, t, x0) * x0
            + self._at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise
        )

    def v_target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Velocity v = √ᾱ_t·noise − √(1−ᾱ_t)·x0 (Salimans & Ho 2022); (B, ...) -> (B, ...)."""
        return (
            self._at(self.sqrt_alphas_cumprod, t, x0) * noise
            - self._at(self.sqrt_one_minus_alphas_cumprod, t, x0) * x0
        )

    def training_target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """What the network is trained to predict for clean `x0`: the noise (eps) or v."""
        if self.config.parameterization == "eps":
            return noise
        return self.v_target(x0, noise, t)

    def draw_timesteps(self, batch: int, generator: torch.Generator, device: torch.device | str) -> Tensor:
        """Training timesteps (B,), uniform over [0, num_timesteps): every training loss draws here."""
        return torch.randint(0, self.num_timesteps, (batch,), generator=generator, device=device)

    def training_pair(self, x0: Tensor, t: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """DynamiCrafter's training recipe for one batch: (x_t, target), both (B, ...).

        With dynamic rescale the clean latent is first multiplied by scale_arr[t], and both the
        noisy input and the target use that scaled latent (DC LatentDiffusion.forward).
        """
        if self.scale_arr is not None:
            x0 = x0 * self._at(self.scale_arr, t, x0)
        return self.q_sample(x0, t, noise), self.training_target(x0, noise, t)

    def predict_x0_eps(self, model_out: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Turn a raw network prediction (eps or v) at x_t into (x̂0, ε̂), each (B, ...)."""
        if model_out.shape != x_t.shape:
            raise ValueError(
                f"model output shape {tuple(model_out.shape)} differs from x_t shape {tuple(x_t.shape)}"
            )
        if self.config.parameterization == "eps":
            x0 = (
                self._at(self.sqrt_recip_alphas_cumprod, t, x_t) * x_t
                - self._at(self.sqrt_recipm1_alphas_cumprod, t, x_t) * model_out
            )
            return x0, model_out
        # v: x0 = √ᾱ·x − √(1−ᾱ)·v, eps = √ᾱ·v + √(1−ᾱ)·x; finite even at ᾱ = 0 (zero SNR).
        a = self._at(self.sqrt_alphas_cumprod, t, x_t)
        s = self._at(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        return a * x_t - s * model_out, a * model_out + s * x_t

    # --- sampling timesteps ----------------------------------------------------------------

    def ddim_timesteps(self, steps: int) -> Tensor:
        """The DDIM timestep set τ in ascending order, as a (S',) long tensor (DC make_ddim_timesteps).

        "uniform": c = T // steps, τ = {0, c, 2c, …} + 1. When c does not divide T this yields
        more than `steps` entries (e.g. 31 for steps = 30), exactly as the reference does; a τ that
        would fall outside the table (τ = T) is dropped.
        "uniform_trailing": τ = flip(round(arange(T, 0, −T/steps))) − 1, so the last τ is T − 1.
        """
        n = self.num_timesteps
        if not isinstance(steps, int) or not 1 <= steps <= n:
            raise ValueError(f"DDIM steps must be an int in [1, {n}], got {steps!r}")
        if self.config.spacing == "uniform":
            taus = np.arange(0, n, n // steps) + 1
            # The reference indexes past the table when its last τ is T (e.g. steps = 3 or > T/2)
            # and crashes; we drop that one step instead, which keeps every set it does accept.
            taus = taus[taus < n]
        else:
            # numpy on purpose: its arange/round (half to even) define the reference set.
            taus = np.flip(np.round(np.arange(n, 0, -n / steps))).astype(np.int64) - 1
        return torch.from_numpy(np.ascontiguousarray(taus)).long()

    def dynamic_rescale_ratio(self, t_cur: int, t_prev: int) -> float:
        """Factor applied to x̂0 when stepping τ_cur → τ_prev: scale_arr[τ_prev] / scale_arr[τ_cur].

        Sampling undoes the training-time scaling one step at a time (DC-512 DDIM); 1.0 when
        dynamic rescale is off.
        """
        if self.scale_arr is None:
            return 1.0
        return float(self.scale_arr[t_prev] / self.scale_arr[t_cur])
