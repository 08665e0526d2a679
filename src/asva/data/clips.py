"""Clip sampling: the evaluation protocol's clip starts, and frame-rate downsampling of outputs.

Evaluation (FACTS §13, as ASVA and KeyVID do it): 3 clips per test video, 2 s each, starting at
linspace(0, min(video, audio duration) - 2 s, 3); frames at 6 FPS; a model generating at a
higher frame rate has its output downsampled to 6 FPS before scoring.
"""

from __future__ import annotations

import math

import numpy as np

EVAL_FPS = 6.0
EVAL_CLIPS = 3
CLIP_S = 2.0


def eval_clip_starts(duration_s: float, num_clips: int = EVAL_CLIPS, clip_s: float = CLIP_S) -> list[float]:
    """Starts of the evaluation clips: linspace(0, duration - clip_s, num_clips) (0 for short videos)."""
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a finite number > 0, got {duration_s}")
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    last = max(0.0, duration_s - clip_s)
    return [round(float(s), 6) for s in np.linspace(0.0, last, num_clips)]


def downsample_indices(num_frames: int, from_fps: float, to_fps: float = EVAL_FPS) -> np.ndarray:
    """Indices (T',) of the `from_fps` frames nearest each `to_fps` time (12 -> 6: 0, 2, 4, ...)."""
    if to_fps > from_fps + 1e-9:
        raise ValueError(f"cannot downsample from {from_fps} FPS to a higher {to_fps} FPS")
    n_out = max(1, math.floor(num_frames * to_fps / from_fps + 1e-9))
    return np.minimum(np.round(np.arange(n_out) * from_fps / to_fps).astype(int), num_frames - 1)


def downsample_frames(frames: np.ndarray, from_fps: float, to_fps: float = EVAL_FPS) -> np.ndarray:
    """Frames (T, ...) at `from_fps` -> (T', ...) at `to_fps` by taking the nearest frame."""
    return frames[downsample_indices(len(frames), from_fps, to_fps)]
