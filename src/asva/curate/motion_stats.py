"""Motion statistics for curation: `motion_score` per frame pair, and the camera's share of it.

`motion_score` (asva.keyframes.motion) is the mean |u| + |v| over pixels: it rises with anything
that moves. To tell a shaking or whipping camera from a large moving object we also record, per
frame pair, the camera motion |median(u)| + |median(v)|, the L1 length of the median flow
vector: when the camera moves, most pixels move the same way; when objects move, most pixels stay
put (or, on flat backgrounds where the flow spreads out, move in different directions) and the
median vector stays near zero. Calibration on SynthAV: docs/curation.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from asva.keyframes.motion import FLOW_METHODS, DISFlow, FlowFn, motion_score
from asva.log import get_logger

logger = get_logger(__name__)


def _dis_fast() -> FlowFn:
    return DISFlow(cv2.DISOPTICAL_FLOW_PRESET_FAST)


# Flow methods curation can use: motion_score's own, plus DIS with OpenCV's FAST preset, which
# is 8x cheaper than MEDIUM on 128-px frames and separates the SynthAV classes as well (measured:
# docs/curation.md). Curation uses it by default; keyframe selection keeps MEDIUM.
CURATION_FLOWS: dict[str, Callable[[], FlowFn]] = {"dis_fast": _dis_fast, **FLOW_METHODS}


class _MedianRecorder:
    """A `FlowFn` that passes another's flow through and records each pair's camera motion.

    A pair whose mean grey level jumps by more than `lighting_jump` (of 255) is a lighting change
    (a lamp, a flash): optical flow assumes constant brightness and reports large spurious
    motion there (measured: a SynthAV lamp switching on jumps 15-39 levels and shows a median
    flow of 26-31 px, a whip pan moves the mean by under 0.5). Its camera motion is recorded as NaN.
    """

    def __init__(self, method: str, lighting_jump: float) -> None:
        self._flow = CURATION_FLOWS[method]()
        self.lighting_jump = lighting_jump
        self.medians: list[float] = []

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        uv = self._flow(prev, nxt)  # (H, W, 2)
        jump = abs(float(prev.mean()) - float(nxt.mean()))  # mean over RGB: close to the grey mean
        # the median flow vector: the translation most pixels share, i.e. the camera's
        camera = abs(float(np.median(uv[..., 0]))) + abs(float(np.median(uv[..., 1])))
        self.medians.append(float("nan") if jump > self.lighting_jump else camera)
        return uv


@dataclass
class PairMotion:
    """Per consecutive frame pair: motion and camera motion (NaN: lighting change), (T - 1,) float32."""

    motion: np.ndarray
    camera: np.ndarray


def pair_motion(frames: np.ndarray, flow: str = "dis_fast", max_side: int = 128,
                lighting_jump: float = 8.0) -> PairMotion:
    """Motion and camera motion (T - 1,) of RGB frames (T, H, W, 3) uint8, T >= 2."""
    recorder = _MedianRecorder(flow, lighting_jump)
    motion = motion_score(frames, flow=recorder, max_side=max_side)  # (T - 1,)
    # the recorder saw the flow at the analysis size motion_score chose, the units motion_score uses
    return PairMotion(motion, np.asarray(recorder.medians, dtype=np.float32))
