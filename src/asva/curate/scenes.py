"""Scene cuts with PySceneDetect's AdaptiveDetector, and the candidate clips inside each scene.

AdaptiveDetector scores each frame's content change as ContentDetector does (hue, saturation,
luma and edge differences) and calls a cut where the change is both above `threshold` and
`adaptive_ratio` times the mean change of the `window` frames either side: a camera moving fast
(shake, a whip pan) changes several frames in a row, an edit one. A cut must also change the
picture's structure: its edge difference (the share of pixels entering or leaving PySceneDetect's
dilated Canny edge map, 0-255) must reach `min_edges`. A lamp switching on re-colours the frame
(hue is undefined on grey pixels and flips when they brighten) but leaves its edges in place.

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
    """Streams RGB frames at `fps` through a PySceneDetect AdaptiveDetector and collects cut frames."""

    def __init__(self, fps: float, threshold: float = 27.0, min_scene_s: float = 0.5,
                 weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
                 adaptive_ratio: float = 3.0, min_edges: float = 19.0, window: int = 2) -> None:
        from scenedetect import FrameTimecode
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        self._timecode = FrameTimecode
        self.fps = float(fps)  # PySceneDetect refuses an int rate
        self.min_edges = min_edges
        # min_scene_len in frames: PySceneDetect counts frames of the stream it is fed
        self._detector = AdaptiveDetector(
            adaptive_threshold=adaptive_ratio, min_scene_len=max(1, round(min_scene_s * fps)),
            window_width=window, min_content_val=threshold, weights=ContentDetector.Components(*weights))
        self._n = 0
        self.cuts: list[int] = []  # frame indices where a new scene starts
        self.edges: list[float] = []  # per frame: the edge difference to the previous frame (0 for frame 0)

    def add(self, frames: np.ndarray) -> None:
        """Feed the next RGB frames (T, H, W, 3) uint8."""
        from scenedetect.stats_manager import StatsManager

        for rgb in frames:
            # a fresh StatsManager per frame: the detector records the frame's score components in
            # it and we keep only the edge difference, not every frame's metrics
            stats = StatsManager()
            self._detector.stats_manager = stats
            cuts = self._detector.process_frame(self._timecode(self._n, self.fps), rgb[..., ::-1].copy())
            (edges,) = stats.get_metrics(self._n, ["delta_edges"])
            self.edges.append(float(edges or 0.0))
            self.cuts.extend(c.frame_num for c in cuts)
            self._n += 1

    def finish(self) -> list[int]:
        """Flush the detector; return the sorted cut frame indices (each > 0) that change the structure."""
        if self._n:
            last = self._timecode(self._n - 1, self.fps)
            self.cuts.extend(c.frame_num for c in self._detector.post_process(last))
        return sorted({c for c in self.cuts if 0 < c < self._n and self.edges[c] >= self.min_edges})


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
