"""The motion score: how much a video moves between consecutive frames, from optical flow.

`motion_score(frames)` is the per-frame-pair mean over pixels of |u| + |v|, the optical flow's
L1 magnitude. It is the one motion measure of the library: KeyVID's keyframe selection (peaks and
valleys of this curve), the curation motion filter and the oracle sync error all read it.

Units: pixels per frame interval, measured on frames resized so that their longer side is
`max_side` pixels (default 128). Resizing to a fixed side makes scores of a 256-px and a 1080p
copy of a clip comparable; it also makes the score depend on the frame rate (the same physical
motion at 6 FPS scores 4x what it scores at 24 FPS). Value i belongs to the pair (i, i + 1),
that is to the time (i + 0.5) / fps. It is an estimate: flow spills a little past a moving
object's edges into textureless surroundings (a square moving 4 px/frame over 1/16 of the frame
scores 0.4-0.6, not 0.25), and a sudden brightness change reads as motion too.

The flow comes from OpenCV (DIS by default, Farnebäck as an alternative) or from any callable
with the `FlowFn` signature, e.g. a RAFT wrapper for users who have one.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from asva.log import get_logger

logger = get_logger(__name__)

# (prev (H, W, 3) uint8 RGB, next (H, W, 3) uint8 RGB) -> flow (H, W, 2) float, in pixels, such
# that prev[y, x] moves to next[y + flow[..., 1], x + flow[..., 0]].
FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class DISFlow:
    """Dense Inverse Search flow (Kroeger et al., ECCV 2016) from OpenCV, on grey frames."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> None:
        # One cv2 object per instance: it keeps buffers between calls and is not thread-safe.
        self._dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) float32 from `prev` to `nxt`, both (H, W, 3) uint8 RGB."""
        return self._dis.calc(_grey(prev), _grey(nxt), None)


class FarnebackFlow:
    """Farnebäck polynomial-expansion flow (SCIA 2003) from OpenCV, on grey frames."""

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) float32 from `prev` to `nxt`, both (H, W, 3) uint8 RGB."""
        # pyr_scale 0.5, 3 levels, window 15: OpenCV's documented defaults for moderate motion.
        return cv2.calcOpticalFlowFarneback(_grey(prev), _grey(nxt), None, 0.5, 3, 15, 3, 5, 1.2, 0)


# Built-in flow methods by name (the CLI and configs choose with these keys).
FLOW_METHODS: dict[str, Callable[[], FlowFn]] = {"dis": DISFlow, "farneback": FarnebackFlow}


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def analysis_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(height, width) at which motion is measured: longer side `max_side`, aspect kept."""
    if max_side is None:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def motion_score(frames: np.ndarray, flow: FlowFn | str = "dis", max_side: int | None = 128) -> np.ndarray:
    """Mean |u| + |v| optical flow per consecutive frame pair, (T - 1,) float32 in pixels per frame.

    `frames` is (T, H, W, 3) uint8 RGB with T >= 2. `flow` is a name in `FLOW_METHODS` or a
    `FlowFn`. Frames are resized (area interpolation down, linear up) so their longer side is
    `max_side` before the flow is computed; None keeps the native size.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        got = frames.dtype if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"frames must be a uint8 numpy array (T, H, W, 3), got {got}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 2:
        raise ValueError(f"frames must have shape (T, H, W, 3) with T >= 2, got {frames.shape}")
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 8):
        raise ValueError(f"max_side must be an int >= 8 or None, got {max_side!r}")
    if isinstance(flow, str):
        if flow not in FLOW_METHODS:
            raise ValueError(
                f"unknown flow method {flow!r}; choose one of {sorted(FLOW_METHODS)} or pass a callable"
            )
        flow_fn: FlowFn = FLOW_METHODS[flow]()
    else:
        flow_fn = flow

    t, h, w, _ = frames.shape
    ah, aw = analysis_size(h, w, max_side)
    interp = cv2.INTER_AREA if ah * aw < h * w else cv2.INTER_LINEAR
    small = [f if (ah, aw) == (h, w) else cv2.resize(f, (aw, ah), interpolation=interp) for f in frames]

    scores = np.empty(t - 1, dtype=np.float32)  # (T - 1,)
    for i in range(t - 1):
        uv = np.asarray(flow_fn(small[i], small[i + 1]))  # (h', w', 2)
        if uv.ndim != 3 or uv.shape[-1] != 2:
            raise ValueError(f"flow function returned shape {uv.shape}, expected (H, W, 2)")
        # Flow from a callable working at another resolution is rescaled to the analysis size.
        sx, sy = aw / uv.shape[1], ah / uv.shape[0]
        scores[i] = np.mean(np.abs(uv[..., 0]) * sx + np.abs(uv[..., 1]) * sy)
    return scores


def motion_times(num_scores: int, fps: float) -> np.ndarray:
    """Times in seconds (N,) of `motion_score` values: the midpoints (i + 0.5) / fps of the pairs."""
    return (np.arange(num_scores, dtype=np.float64) + 0.5) / fps
