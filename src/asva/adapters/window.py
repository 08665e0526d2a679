"""Which audio tokens each frame may attend to: a window of radius r seconds around the frame's time."""

from __future__ import annotations

import torch


def frame_times(num_frames: int, fps: float, device: torch.device | str | None = None) -> torch.Tensor:
    """Presentation time (s) of each frame of a clip starting at 0: i / fps, shape (F,)."""
    if num_frames < 1 or fps <= 0:
        raise ValueError(f"need num_frames >= 1 and fps > 0, got {num_frames} and {fps}")
    return torch.arange(num_frames, dtype=torch.float64, device=device) / fps


def window_mask(frame_time: torch.Tensor, token_time: torch.Tensor, radius: float) -> torch.Tensor:
    """Boolean (F, N): True where |token time − frame time| ≤ radius; untimed (NaN) tokens are seen by all.

    An untimed token is a summary of the whole clip (ImageBind's CLS), which every frame may read.
    A tiny tolerance keeps tokens exactly on the boundary inside despite float rounding.
    """
    gap = (token_time.double()[None, :] - frame_time.double()[:, None]).abs()  # (F, N)
    return (gap <= radius + 1e-9) | torch.isnan(token_time)[None, :]
