"""FreeNoise (Qiu et al. 2023, "FreeNoise: Tuning-Free Longer Video Diffusion via Noise Rescheduling").

A video model trained on W frames, asked for F > W, sees temporal attention over more frames than
it ever did. FreeNoise keeps every attention window at W frames and makes the windows agree:

1. Noise rescheduling (§3.2): draw noise for the first W frames only; every later chunk of S
   frames [f, f + S) reuses the noise of frames [f − W, f − W + S), shuffled within the chunk.
   When S divides W, every window [kS, kS + W) then holds a permutation of the first window's
   noise, so each window starts from noise the model "knows" while frames stay distinct.
2. Window-based attention fusion (§3.3): each temporal self-attention runs on the windows
   [kS, kS + W) (plus one ending at the last frame when the stride does not reach it), and each
   frame's output is the average of its windows' outputs weighted by its position in the window,
   1, 2, …, ⌈W/2⌉, …, 2, 1 (frames near a window's edge count less).

`windowed_temporal_attention` applies 2 to a `UNet3D` for the duration of a `with` block: the
`forward` of each temporal self-attention is wrapped (modules, parameters and keys untouched) and
restored after. The wrapper fuses the attention's *outputs*: its output projection is affine and
the weights of a frame sum to one, so this equals fusing before the projection, as the reference
does. With F ≤ W the attention runs once, unchanged.

KeyVID ships a FreeNoise variant of its attention (lvdm/modules/attention_freenoise.py, views
`get_views(48, 12, 6)`), but in its released code the windows never reach the temporal
attention (TemporalTransformer calls its blocks without them) and the shuffled-noise loop is
commented out; see docs/keyvid.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor, nn

from asva.backbone.unet import UNet3D


def freenoise_views(frames: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Attention windows (start, end) over `frames` frames: every `stride` frames, the last ending at F."""
    _check_window(window, stride)
    if frames <= window:
        return [(0, frames)]
    views = [(start, start + window) for start in range(0, frames - window + 1, stride)]
    if views[-1][1] < frames:  # the stride skipped the tail: one more window ending at the last frame
        views.append((frames - window, frames))
    return views


def window_weights(length: int) -> Tensor:
    """Per-frame fusion weights of one window: 1, 2, …, ⌈L/2⌉, …, 2, 1 (FreeNoise)."""
    half = torch.arange(1, (length + 1) // 2 + 1, dtype=torch.float32)
    tail = half.flip(0)[1:] if length % 2 else half.flip(0)
    return torch.cat([half, tail])  # (L,)


def freenoise_noise(shape: tuple[int, ...], window: int, stride: int,
                    generator: torch.Generator | None = None, *, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """Rescheduled noise (B, C, F, h, w): the first `window` frames fresh, each later chunk of `stride`
    frames a shuffle of the chunk `window` frames earlier. Noise and shuffles come from `generator`."""
    _check_window(window, stride)
    if len(shape) != 5:
        raise ValueError(f"shape must be (B, C, F, h, w), got {shape}")
    device = generator.device if device is None and generator is not None else device
    noise = torch.randn(shape, generator=generator, device=device, dtype=dtype)  # (B, C, F, h, w)
    frames = shape[2]
    for start in range(window, frames, stride):
        count = min(stride, frames - start)
        order = torch.randperm(stride, generator=generator, device=device)[:count]  # shuffle of the chunk
        noise[:, :, start : start + count] = noise[:, :, start - window + order.to(noise.device)]
    return noise


def fused_self_attention(attention: Callable[[Tensor], Tensor], x: Tensor, window: int, stride: int
                         ) -> Tensor:
    """Self-attention over x (N, F, C) per window, each frame the weighted mean of its windows' outputs."""
    frames = x.shape[1]
    views = freenoise_views(frames, window, stride)
    if len(views) == 1:
        return attention(x)
    total, weight = None, x.new_zeros(frames, 1)  # weight (F, 1)
    for start, end in views:
        w = window_weights(end - start).to(device=x.device, dtype=x.dtype)[:, None]  # (L, 1)
        out = attention(x[:, start:end])  # (N, L, C)
        if total is None:
            total = x.new_zeros(x.shape[0], frames, out.shape[2])  # (N, F, C)
        total[:, start:end] += w * out
        weight[start:end] += w
    return total / weight  # (N, F, C)


def _windowed_forward(plain: Callable[..., Tensor], window: int, stride: int, x: Tensor,
                      context: Tensor | None = None) -> Tensor:
    if context is not None:  # not a self-attention: nothing to window
        return plain(x, context)
    return fused_self_attention(plain, x, window, stride)


@contextmanager
def windowed_temporal_attention(unet: UNet3D, window: int, stride: int) -> Iterator[UNet3D]:
    """Within the block, every temporal self-attention of `unet` (init_attn's too) uses FreeNoise's
    window fusion (window `window` frames, every `stride`); restored on exit, even after an error.

    The attention modules stay in place (same keys, same hooks); only their `forward` is replaced
    for the duration, by an instance attribute that wraps the original.
    """
    _check_window(window, stride)
    patched: list[tuple[nn.Module, object]] = []
    try:
        for _, temporal in unet.temporal_transformers():
            for block in temporal.transformer_blocks:
                for attention in (block.attn1, block.attn2):
                    patched.append((attention, attention.__dict__.get("forward")))
                    attention.forward = partial(_windowed_forward, attention.forward, window, stride)
        yield unet
    finally:
        for attention, previous in reversed(patched):
            if previous is None:
                del attention.forward
            else:
                attention.forward = previous


def _check_window(window: int, stride: int) -> None:
    if not (isinstance(window, int) and isinstance(stride, int) and 1 <= stride <= window):
        raise ValueError(f"FreeNoise needs integers 1 <= stride <= window, got window {window!r}, "
                         f"stride {stride!r}")
