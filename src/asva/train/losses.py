"""Training losses: the diffusion objective with condition dropout, and the tiny VAE's objective.

The network only predicts; what it is asked to predict (eps or v, DynamiCrafter's dynamic rescale)
comes from the `NoiseSchedule` (DC `LatentDiffusion.p_losses`: plain MSE, FACTS §3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

from asva.adapters.model import AudioAnimationModel, unet_prediction
from asva.backbone.model import Backbone
from asva.diffusion.schedule import NoiseSchedule


@dataclass
class Batch:
    """A training batch: videos (B, 3, T, H, W) in [-1, 1], audio (B, S) at 16 kHz, prompts, FPS;
    for the KeyVID stages also each clip's keyframe slots (B, K)."""

    video: Tensor
    audio: Tensor
    prompts: list[str]
    fps: float
    keyframes: Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        """The same batch with its tensors on `device`."""
        keyframes = None if self.keyframes is None else self.keyframes.to(device)
        return Batch(self.video.to(device), self.audio.to(device), self.prompts, self.fps, keyframes)


def dropout_mask(batch: int, p: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """(B,) bool: True where a condition is dropped (classifier-free guidance training)."""
    return torch.rand(batch, generator=generator, device=device) < p


def diffusion_loss(
    backbone: Backbone,
    audio_model: AudioAnimationModel | None,
    tokens: Tensor,
    null_tokens: Tensor,
    batch: Batch,
    schedule: NoiseSchedule,
    fs: int,
    cond_dropout: float,
    generator: torch.Generator,
) -> Tensor:
    """MSE between the UNet's prediction and the schedule's target for random t, with CFG dropout.

    Image, text and audio are each dropped independently with probability `cond_dropout`: text to
    the "" prompt, image tokens to those of an all-zero image (the concatenated image latent is never
    dropped, as in DynamiCrafter), audio to the null-audio condition.
    """
    video = batch.video
    b, _, frames = video.shape[:3]
    device = video.device
    with torch.no_grad():  # the VAE and the OpenCLIP towers are frozen
        x0 = backbone.vae.encode(video, generator=generator)  # (B, 4, T, h, w)
        text = backbone.encode_text(torch.cat([tokens, null_tokens[:1]]))  # (B+1, 77, C)
        clip = backbone.image_encoder(torch.cat([video[:, :, 0], torch.zeros_like(video[:1, :, 0])]))
    text, text_null = text[:b], text[b:]
    image_tokens = backbone.resampler(clip)  # (B+1, N, C): the Resampler may be training
    image_tokens, image_null = image_tokens[:b], image_tokens[b:]

    drop_text = dropout_mask(b, cond_dropout, generator, device)[:, None, None]
    drop_image = dropout_mask(b, cond_dropout, generator, device)[:, None, None]
    context = torch.cat(
        [torch.where(drop_text, text_null, text), torch.where(drop_image, image_null, image_tokens)], dim=1
    )  # (B, 77 + N, C)
    cond = {
        "concat": repeat(x0[:, :, :1], "b c 1 h w -> b c t h w", t=frames),
        "context": context,
        "fs": torch.full((b,), fs, dtype=torch.long, device=device),
    }
    if audio_model is not None:
        real = audio_model.audio_condition(batch.audio, frames, batch.fps)
        drop_audio = dropout_mask(b, cond_dropout, generator, device)[:, None, None]
        if drop_audio.any():
            # The null condition ignores the sound (zero mel), so one clip's worth serves the batch.
            null = audio_model.audio_condition(batch.audio[:1], frames, batch.fps, null=True)
            cond.update({key: torch.where(drop_audio, null[key], real[key]) for key in real})
        else:
            cond.update(real)

    t = schedule.draw_timesteps(b, generator, device)
    noise = torch.randn(x0.shape, generator=generator, device=device)
    x_t, target = schedule.training_pair(x0, t, noise)
    prediction = unet_prediction(backbone.unet, x_t, t, cond)
    return F.mse_loss(prediction.float(), target.float())


def vae_loss(
    backbone: Backbone, video: Tensor, kl_weight: float, generator: torch.Generator, frames_per_clip: int = 2
) -> Tensor:
    """L1 + MSE reconstruction of a few random frames per clip, plus a small KL to N(0, I)."""
    b, _, frames = video.shape[:3]
    pick = torch.randint(0, frames, (b, frames_per_clip), generator=generator, device=video.device)
    images = torch.stack([video[i, :, pick[i]] for i in range(b)])  # (B, 3, k, H, W)
    mean, logvar = backbone.vae.posterior(images)  # (B, z, k, h, w) each, unscaled
    z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator, device=mean.device)
    recon = backbone.vae.decode(z * backbone.vae.scale_factor)  # (B, 3, k, H, W)
    kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)
    flat = rearrange(kl, "b c k h w -> (b k) (c h w)").sum(1).mean()
    return F.l1_loss(recon, images) + F.mse_loss(recon, images) + kl_weight * flat
