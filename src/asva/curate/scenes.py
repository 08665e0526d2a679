"""Scene cuts with PySceneDetect's ContentDetector, and the candidate clips inside each scene.

The detector is fed the analysis frames we already decoded (one decode per source serves scenes,
motion and text), through its frame-by-frame API: `process_frame` then `post_process`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from asva.log import get_logger

logger = get_logger(__name__)

# Frame grid tolerance: times within this of a frame boundary sit on it.
_EPS = 1e-6


@dataclass(frozen=True)
class Clip:
    """A candidate clip: [start_s, end_s) inside scene `scene` of its source."""

    scene: int
    start_s: float
    end_s: float


class SceneCutDetector:
    """Streams RGB frames at `fps` through a PySceneDetect ContentDetector and collects cut frames."""

    def __init__(self, fps: float, threshold: float = 27.0, min_scene_s: float = 0.5,
                 weights: tuple[float, float, float, float] = (1.0, 1.0, 0.0, 1.0)) -> None:
        from scenedetect import FrameTimecode
        from scenedetect.detectors import ContentDetector

        self._timecode = FrameTimecode
        self.fps = float(fps)  # PySceneDetect refuses an int rate
        # min_scene_len in frames: PySceneDetect counts frames of the stream it is fed
        self._detector = ContentDetector(threshold=threshold, min_scene_len=max(1, round(min_scene_s * fps)),
                                         weights=ContentDetector.Components(*weights))
        self._n = 0
        self.cuts: list[int] = []  # frame indices where a new scene starts

    def add(self, frames: np.ndarray) -> None:
        """Feed the next RGB frames (T, H, W, 3) uint8."""
        for rgb in frames:
            cuts = self._detector.process_frame(self._timecode(self._n, self.fps), rgb[..., ::-1].copy())
            self.cuts.extend(c.frame_num for c in cuts)
            self._n += 1

    def finish(self) -> list[int]:
        """Flush the detector; return the sorted cut frame indices (each > 0)."""
        if self._n:
            last = self._timecode(self._n - 1, self.fps)
            self.cuts.extend(c.frame_num for c in self._detector.post_process(last))
        return sorted({c for c in self.cuts if 0 < c < self._n})


def shrink(frames: np.ndarray, max_side: int) -> np.ndarray:
    """Resize RGB frames (T, H, W, 3) so the longer side is at most `max_side` (area interpolation)."""
    _, h, w, _ = frames.shape
    scale = max_side / max(h, w)
    if scale >= 1:
        return frames
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])  # (T, h, w, 3)


def scene_spans(cut_frames: list[int], fps: float, duration_s: float) -> list[tuple[float, float]]:
    """Scenes as [start, end) seconds: cut at frame k means a new scene starts at k / fps."""
    bounds = [0.0, *(k / fps for k in cut_frames), duration_s]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def candidate_clips(spans: list[tuple[float, float]], duration_s: float, clip_s: float, stride_s: float,
                    margin_s: float, fps: float) -> list[Clip]:
    """Clips of `clip_s` every `stride_s` per scene, `margin_s` clear of cuts, starts on the frame grid."""
    clips = []
    for i, (a, b) in enumerate(spans):
        lo = a + (margin_s if a > 0 else 0.0)  # no margin at the source's own start and end
        hi = b - (margin_s if b < duration_s else 0.0)
        first = math.ceil(lo * fps - _EPS) / fps  # first analysis frame at or after lo
        k = 0
        while (start := first + k * stride_s) + clip_s <= hi + _EPS:
            clips.append(Clip(i, round(start, 6), round(start + clip_s, 6)))
            k += 1
    return clips
