"""Motion interpolation: conditioning KeyVID's second network on the generated keyframes.

What KeyVID does (lvdm/models/ddpm3d.py `get_batch_input` with `interp_mode`;
scripts/evaluation/asva/pipeline_audio_cond_animation_freenoise_inpainting_new.py;
lvdm/models/samplers/ddim_multiplecond.py):

1. Concat channels. The UNet input keeps its 8 channels: 4 noisy latent + 4 condition. The
   condition latent is zero everywhere except at the keyframe indices, which hold the keyframes'
   VAE latents (`masked_condition`). There is no mask channel: zeros mark the unknown frames. The
   same condition goes to every guidance branch.
2. Replacement. After a DDIM step the known frames of x_prev are overwritten with
   √ᾱ_prev·z_key + √(1 − ᾱ_prev)·ε, for the steps up to `inpainting_end_step` (0 in KeyVID's
   scripts: only after the first step).

We do step 2 inside the denoiser (`KeyframeAnchoredDenoiser`), so the sampler stays unchanged:
for the first steps the prediction at known frames is replaced by the one whose x̂0 is the
keyframe latent. DDIM then moves those frames to √ᾱ_prev·z_key + √(1 − ᾱ_prev − σ²)·ε̂ + σ·noise,
the DDIM posterior given x0 = z_key. At KeyVID's single step (t = 999, ᾱ = 0 with zero-SNR, so
ε̂ = x_t) that is √ᾱ_prev·z_key plus unit Gaussian noise of variance 1 − ᾱ_prev: the same law as
KeyVID's overwrite. With dynamic rescale the pinned x̂0 is scale_arr[t]·z_key, the scale the
network's own x̂0 has at t.
"""

from __future__ import annotations

import torch
from torch import Tensor

from asva.diffusion.ddim import Denoiser
from asva.diffusion.schedule import NoiseSchedule


def masked_condition(keyframe_latents: Tensor, keyframe_indices: Tensor, total_frames: int
                     ) -> tuple[Tensor, Tensor]:
    """Keyframe latents (B, C, K, h, w) at indices (K,) or (B, K) → concat (B, C, F, h, w), mask (B, F).

    concat holds each keyframe's latent at its index and zeros elsewhere; mask is True at known frames.
    """
    batch, channels, count, height, width = keyframe_latents.shape
    indices = keyframe_indices.long().to(keyframe_latents.device)
    if indices.ndim == 1:
        indices = indices[None].expand(batch, -1)
    if tuple(indices.shape) != (batch, count):
        raise ValueError(f"keyframe_indices must be ({count},) or ({batch}, {count}) for {count} keyframes, "
                         f"got {tuple(keyframe_indices.shape)}")
    if indices.min() < 0 or indices.max() >= total_frames:
        raise ValueError(f"keyframe indices must lie in [0, {total_frames}), got {indices.tolist()}")
    if any(len(set(row)) != count for row in indices.tolist()):
        raise ValueError(f"keyframe indices must be distinct, got {indices.tolist()}")
    concat = keyframe_latents.new_zeros(batch, channels, total_frames, height, width)
    mask = torch.zeros(batch, total_frames, dtype=torch.bool, device=keyframe_latents.device)
    for b in range(batch):
        concat[b, :, indices[b]] = keyframe_latents[b]
        mask[b, indices[b]] = True
    return concat, mask


def prediction_for_x0(schedule: NoiseSchedule, x0: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
    """The network output (eps or v, per the schedule) whose x̂0 at x_t is `x0`; (B, ...) each."""
    view = (-1, *([1] * (x_t.ndim - 1)))
    a = schedule.sqrt_alphas_cumprod.to(x_t.device)[t].to(x_t.dtype).view(view)  # √ᾱ_t
    s = schedule.sqrt_one_minus_alphas_cumprod.to(x_t.device)[t].to(x_t.dtype).view(view)  # √(1−ᾱ_t) > 0
    if schedule.config.parameterization == "eps":
        return (x_t - a * x0) / s  # from x0 = (x − √(1−ᾱ)·ε)/√ᾱ
    return (a * x_t - x0) / s  # from x0 = √ᾱ·x − √(1−ᾱ)·v


class KeyframeAnchoredDenoiser:
    """A `Denoiser` whose x̂0 at known frames is the known latent while t ≥ `min_timestep`.

    `known` (B, C, F, h, w) holds the keyframe latents at their frames (e.g. `masked_condition`'s
    concat), `mask` (B, F) marks them. Below `min_timestep` the wrapped denoiser runs unchanged.
    """

    def __init__(self, denoiser: Denoiser, schedule: NoiseSchedule, known: Tensor, mask: Tensor,
                 min_timestep: int) -> None:
        if known.ndim != 5 or tuple(mask.shape) != (known.shape[0], known.shape[2]):
            raise ValueError(f"known must be (B, C, F, h, w) and mask (B, F), got {tuple(known.shape)} "
                             f"and {tuple(mask.shape)}")
        self.denoiser = denoiser
        self.schedule = schedule
        self.known = known
        self.mask = mask
        self.min_timestep = min_timestep

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        """Prediction (B, C, F, h, w) for x (B, C, F, h, w) at timesteps t (B,)."""
        out = self.denoiser(x, t)
        if not bool((t >= self.min_timestep).any()):
            return out
        x0 = self.known.to(x.dtype)
        if self.schedule.scale_arr is not None:  # dynamic rescale: x̂0 at t is scale_arr[t]·x0
            x0 = x0 * self.schedule.scale_arr.to(x.device)[t].to(x.dtype).view(-1, 1, 1, 1, 1)
        pinned = prediction_for_x0(self.schedule, x0, x, t)  # (B, C, F, h, w)
        use = self.mask[:, None, :, None, None] & (t >= self.min_timestep).view(-1, 1, 1, 1, 1)
        return torch.where(use, pinned, out)
