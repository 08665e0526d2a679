"""Tiny test videos for the curation tests: a few frames of moving shapes, optional tone."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from asva.media import write_video


def moving_frames(seconds: float = 2.5, fps: float = 24.0, size: int = 64, seed: int = 0) -> np.ndarray:
    """Frames (T, size, size, 3) uint8: a textured background with a ball moving across it."""
    rng = np.random.default_rng(seed)
    t = round(seconds * fps)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), (5, 5), 0)
    frames = np.repeat(bg[None], t, axis=0)
    for k in range(t):
        x = int(size * (0.2 + 0.6 * k / max(1, t - 1)))
        cv2.circle(frames[k], (x, size // 2), max(3, size // 10), (250, 240, 40), -1)
    return frames


def tone(seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """A 440 Hz tone at -12 dBFS (S,) float32."""
    n = round(seconds * sample_rate)
    return (0.25 * np.sin(2 * np.pi * 440 * np.arange(n) / sample_rate)).astype(np.float32)


def write_clip(path: Path, seconds: float = 2.5, fps: float = 24.0, size: int = 64, audio: bool = True,
               seed: int = 0) -> Path:
    """Write a small moving-ball mp4 (with a tone unless `audio=False`)."""
    write_video(path, moving_frames(seconds, fps, size, seed), fps, audio=tone(seconds) if audio else None)
    return path
