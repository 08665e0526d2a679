"""Keyframe-aligned image and audio tokens, as KeyVID builds them (lvdm/models/ddpm3d.py).

Image tokens. KeyVID's Resampler has one group of 16 tokens per frame slot of the 48-slot (24-FPS,
2 s) window. The keyframe generator keeps the groups at the keyframe indices (`select_token_groups`,
KeyVID `select_keyframes`); the interpolator uses all 48.

Audio tokens. ImageBind's token sequence is CLS then freq-major patches (index 1 + f·T + t).
`split_audio` (KeyVID `split_audio` with `_auto_split`) cuts the T time columns into S segments of
c = ⌈T/S⌉ columns (starts round(linspace(0, T − c, S))); segment s holds [CLS ; the F·c patches of
its columns, freq-major], so (B, S, 1 + F·c, D). KeyVID's encoder has one column per slot (T = S =
48, c = 1, 13 tokens per segment); with the stock stride (T = 19) segments share columns.

The chunk-of-12 quirk (FACTS §11, reproduced for checkpoint fidelity). KeyVID then flattens the
48 × 13 segment tokens and regroups them in chunks of 12 (the num_queries of its unused
AudioResampler), taking chunk k for keyframe k: tokens 12k … 12k + 11 of the flat sequence. As
segments are 13 long, chunk k is mostly column ⌊12k/13⌋ and the CLS tokens float: k = 0 is CLS +
f0–f10 of column 0, k = 12 is f0–f11 of column 11, k = 47 is f4–f11 of column 43 then CLS + f0–f2
of column 44. `keyframe_audio_tokens` does exactly this.

For all 48 frames the interpolation stage (KeyVID's inference config, `select_keyframe: false`)
regroups the same 624 flat tokens into 52 chunks of 12 and linearly resizes 52 → 48 chunks along
time (`expand_keyframes`, bilinear with an unchanged channel axis, align_corners=False):
`interpolation_audio_tokens`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor


def segment_columns(columns: int, segments: int) -> tuple[np.ndarray, int]:
    """(first column of each segment (S,), columns per segment c): KeyVID `_auto_split`."""
    if columns < 1 or segments < 1:
        raise ValueError(f"need at least one time column and one segment, got {columns} and {segments}")
    width = math.ceil(columns / segments)
    starts = np.round(np.linspace(0, columns - width, segments)).astype(np.int64)
    return starts, width


def split_audio(tokens: Tensor, freq: int, segments: int) -> Tensor:
    """ImageBind tokens (B, 1 + F·T, D), CLS first, freq-major → (B, S, 1 + F·c, D) segments."""
    batch, count, dim = tokens.shape
    if (count - 1) % freq:
        raise ValueError(f"{count} audio tokens are not CLS + {freq}·T patches")
    columns = (count - 1) // freq
    starts, width = segment_columns(columns, segments)
    grid = rearrange(tokens[:, 1:], "b (f t) d -> b f t d", f=freq)  # (B, F, T, D)
    take = torch.as_tensor(starts[:, None] + np.arange(width)[None], device=tokens.device)  # (S, c)
    patches = grid[:, :, take]  # (B, F, S, c, D)
    patches = rearrange(patches, "b f s c d -> b s (f c) d")  # freq-major within a segment, as masked_select
    cls = tokens[:, None, :1].expand(batch, segments, 1, dim)  # (B, S, 1, D)
    return torch.cat([cls, patches], dim=2)  # (B, S, 1 + F·c, D)


def select_token_groups(tokens: Tensor, indices: Tensor, group: int) -> Tensor:
    """Groups of `group` consecutive tokens at `indices`: (B, G·group, D), (B, K) → (B, K·group, D)."""
    batch, count, dim = tokens.shape
    if count % group:
        raise ValueError(f"{count} tokens do not split into groups of {group}")
    groups = count // group
    if indices.ndim == 1:
        indices = indices[None].expand(batch, -1)
    if indices.shape[0] != batch or indices.dtype.is_floating_point:
        raise ValueError(f"indices must be integer (K,) or ({batch}, K), "
                         f"got {indices.dtype} {tuple(indices.shape)}")
    if indices.numel() and (indices.min() < 0 or indices.max() >= groups):
        raise ValueError(f"group indices must lie in [0, {groups}), got {indices.tolist()}")
    grouped = rearrange(tokens, "b (g q) d -> b g q d", q=group)  # (B, G, q, D)
    index = indices.to(tokens.device)[:, :, None, None].expand(-1, -1, group, dim)  # (B, K, q, D)
    return rearrange(torch.take_along_dim(grouped, index, dim=1), "b k q d -> b (k q) d")


def resample_token_groups(tokens: Tensor, group: int, target: int) -> Tensor:
    """Resize (B, G·group, D) to (B, target·group, D) along the group axis, linearly (KeyVID
    `expand_keyframes`: bilinear over (D, G) with D unchanged, align_corners=False)."""
    if tokens.shape[1] % group:
        raise ValueError(f"{tokens.shape[1]} tokens do not split into groups of {group}")
    if tokens.shape[1] == target * group:
        return tokens
    series = rearrange(tokens, "b (g q) d -> b (q d) g", q=group)  # (B, q·D, G)
    resized = F.interpolate(series, size=target, mode="linear", align_corners=False)  # (B, q·D, target)
    return rearrange(resized, "b (q d) g -> b (g q) d", q=group)


def keyframe_audio_tokens(tokens: Tensor, freq: int, indices: Tensor, slots: int = 48,
                          group: int = 12) -> Tensor:
    """Per-keyframe audio tokens with KeyVID's chunk-of-`group` quirk: (B, N, D) → (B, K, group, D)."""
    segments = split_audio(tokens, freq, slots)  # (B, S, L, D)
    flat = rearrange(segments, "b s l d -> b (s l) d")  # (B, S·L, D)
    chosen = select_token_groups(flat, indices, group)  # (B, K·group, D)
    return rearrange(chosen, "b (k q) d -> b k q d", q=group)


def interpolation_audio_tokens(tokens: Tensor, freq: int, frames: int = 48, group: int = 12) -> Tensor:
    """Audio tokens for every frame of the interpolation stage: (B, N, D) → (B, frames, group, D)."""
    segments = split_audio(tokens, freq, frames)  # (B, S, L, D)
    flat = rearrange(segments, "b s l d -> b (s l) d")  # (B, S·L, D); 52 chunks of 12 at full size
    resized = resample_token_groups(flat, group, frames)  # (B, frames·group, D)
    return rearrange(resized, "b (f q) d -> b f q d", q=group)
