"""Motion statistics for curation: `motion_score` per frame pair, and the camera's share of it.

`motion_score` (asva.keyframes.motion) is the mean |u| + |v| over pixels: it rises with anything
that moves. To tell a shaking or whipping camera from a moving object we also record, per frame
pair, the *camera motion*: the largest of three estimates of one translation shared by the whole
frame, each blind where another sees (px per pair on the analysis frames):

- The median flow vector, |median(u)| + |median(v)|: when the camera moves, most pixels move the
  same way; when objects move, most pixels stay put. On a flat background most pixels carry no
  flow at all, so it reads ~0 whatever the camera does (SynthAV shake on a flat wall: 0.1 of the
  true motion).
- The border-band flow (`periphery_motion`): the median flow of the textured pixels in a band
  along the frame's edges, measured on its left and right halves, the smaller kept. Subjects are
  usually central; where one reaches the border it does so on one side, while a moving camera
  moves both. It sees a shake through the few structures a flat scene has (a floor line).
- A phase-correlation shift (Kuglin & Hines 1975; `cv2.phaseCorrelate`, `GlobalShift`) on small
  grey frames: the translation that best aligns the two frames' spectra, found at any distance
  and from sparse texture, where dense flow loses a whip pan (a third of the frame per analysis
  frame, motion-blurred). It counts only when it is large (`pan_min`, beyond ordinary object
  motion: a figure jumping on a flat background is its strongest texture and gives 8-12 px) and
  when it explains the change: shifting the first frame by it (allowing for the motion blur of a
  fast camera) must shrink the mean absolute difference to the second frame to at most `pan_fit`
  of the unshifted one. An object moving on a textured background fails that test: the shift that
  aligns the object misaligns everything else.

Calibration on SynthAV: docs/curation.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from asva.keyframes.motion import FLOW_METHODS, DISFlow, FlowFn, motion_score
from asva.log import get_logger

logger = get_logger(__name__)

_EPS = 1e-3  # grey levels: below this mean difference two frames are the same


def _dis_fast() -> FlowFn:
    return DISFlow(cv2.DISOPTICAL_FLOW_PRESET_FAST)


# Flow methods curation can use: motion_score's own, plus DIS with OpenCV's FAST preset, which
# is 8x cheaper than MEDIUM on 128-px frames and separates the SynthAV classes as well (measured:
# docs/curation.md). Curation uses it by default; keyframe selection keeps MEDIUM.
CURATION_FLOWS: dict[str, Callable[[], FlowFn]] = {"dis_fast": _dis_fast, **FLOW_METHODS}


@dataclass(frozen=True)
class Shift:
    """A global translation between two frames: its L1 length (px) and how well it explains them."""

    length: float  # |dx| + |dy|, pixels of the frames given
    # best mean |next - shifted prev| (blur allowed) / mean |next - prev|, over the overlap; inf: none
    fit: float


class GlobalShift:
    """The phase-correlation translation between two RGB frames, measured on grey copies of `side` px.

    Its fit allows for motion blur: a camera moving fast smears each frame along the motion (over
    the exposure), so one frame of a pair can be sharp and the other smeared. The shifted frame is
    also compared after a box blur along the shift over 1/4, 1/2 and all of its length, on either
    side; the best of these residuals counts. Frames that differ by under `min_change` grey levels
    on average are the same picture up to coding noise, which phase correlation would lock onto
    (measured: a still title card, 0.006 levels apart, gave a 75-px "shift" that fit): no shift.
    """

    BLUR_FRACTIONS = (0.25, 0.5, 1.0)

    def __init__(self, side: int = 64, min_change: float = 1.0) -> None:
        self.side, self.min_change = side, min_change
        self._window: np.ndarray | None = None  # Hann window (h, w) float32, made for the first size seen

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> Shift:
        """The shift from `prev` to `nxt`, both (H, W, 3) uint8 RGB of the same size."""
        h, w = prev.shape[:2]
        scale = min(1.0, self.side / max(h, w))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        a, b = (cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
                .astype(np.float32) for f in (prev, nxt))  # (h', w') each
        if float(np.mean(np.abs(b - a))) < self.min_change:
            return Shift(0.0, float("inf"))
        if self._window is None or self._window.shape != a.shape:
            # the window tapers the borders, which would otherwise correlate as a strong edge at shift 0
            self._window = cv2.createHanningWindow(size, cv2.CV_32F)
        # phaseCorrelate windows its inputs in place (OpenCV 5.0): give it copies
        (dx, dy), _ = cv2.phaseCorrelate(a.copy(), b.copy(), self._window)
        length = abs(dx) * w / size[0] + abs(dy) * h / size[1]  # back to the caller's pixels
        # the residual is compared where both frames see the same content after the shift
        x0, x1 = int(np.ceil(max(0.0, dx))), int(np.floor(size[0] + min(0.0, dx)))
        y0, y1 = int(np.ceil(max(0.0, dy))), int(np.floor(size[1] + min(0.0, dy)))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return Shift(length, float("inf"))
        moved = cv2.warpAffine(a, np.float32([[1, 0, dx], [0, 1, dy]]), size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        inside = (slice(y0, y1), slice(x0, x1))
        still = float(np.mean(np.abs(b - a)[inside]))
        residuals = [float(np.mean(np.abs(b - moved)[inside]))]
        for fraction in self.BLUR_FRACTIONS:
            n = max(1, round(fraction * max(abs(dx), abs(dy)))) | 1  # odd box length, pixels of a
            kernel = (n, 1) if abs(dx) >= abs(dy) else (1, n)  # along the dominant axis of the shift
            residuals.append(float(np.mean(np.abs(b - cv2.blur(moved, kernel))[inside])))
            residuals.append(float(np.mean(np.abs(cv2.blur(b, kernel) - moved)[inside])))
        return Shift(length, min(residuals) / max(still, _EPS))


def periphery_motion(uv: np.ndarray, grey: np.ndarray, border: float = 0.15, min_gradient: float = 20.0,
                     min_pixels: int = 10) -> float | None:
    """The motion both sides of the frame's border band share: |median(u)| + |median(v)|, the smaller side.

    `uv` (H, W, 2) is the flow from the frame `grey` (H, W). Only textured pixels (Sobel |gx| + |gy|
    above `min_gradient`) of the band `border` x the size wide along the frame's edges count: flat
    pixels carry no flow. The left and right halves of the band are measured apart and the smaller
    value kept: a moving subject is usually central, and where it reaches the border it does on one
    side, while a moving camera moves both. None when either half has under `min_pixels` textured pixels.
    """
    h, w = grey.shape
    gradient = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))  # (H, W)
    band = gradient > min_gradient
    by, bx = round(h * border), round(w * border)
    band[by : h - by, bx : w - bx] = False  # the centre does not count
    sides = []
    for half in (np.s_[:, : w // 2], np.s_[:, w // 2 :]):
        mask = band[half]
        if mask.sum() < min_pixels:
            return None
        u, v = uv[half][..., 0][mask], uv[half][..., 1][mask]
        sides.append(abs(float(np.median(u))) + abs(float(np.median(v))))
    return min(sides)


class _CameraRecorder:
    """A `FlowFn` that passes another's flow through and records each pair's camera motion.

    A pair whose mean grey level jumps by more than `lighting_jump` (of 255) is a lighting change
    (a lamp, a flash): optical flow assumes constant brightness and reports large spurious
    motion there (measured: a SynthAV lamp switching on jumps 15-39 levels and shows a median
    flow of 26-31 px, a whip pan moves the mean by under 0.5). Its camera motion is recorded as NaN.
    """

    def __init__(self, method: str, lighting_jump: float, border: float, min_gradient: float, pan_side: int,
                 pan_min: float, pan_fit: float) -> None:
        self._flow = CURATION_FLOWS[method]()
        self._shift = GlobalShift(pan_side)
        self.lighting_jump, self.border, self.min_gradient = lighting_jump, border, min_gradient
        self.pan_min, self.pan_fit = pan_min, pan_fit
        self.camera: list[float] = []

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        uv = self._flow(prev, nxt)  # (H, W, 2)
        jump = abs(float(prev.mean()) - float(nxt.mean()))  # mean over RGB: close to the grey mean
        if jump > self.lighting_jump:
            self.camera.append(float("nan"))
            return uv
        # the median flow vector: the translation most pixels share, i.e. the camera's
        median = abs(float(np.median(uv[..., 0]))) + abs(float(np.median(uv[..., 1])))
        border = periphery_motion(uv, cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY), self.border, self.min_gradient)
        shift = self._shift(prev, nxt)
        pan = shift.length if shift.length >= self.pan_min and shift.fit <= self.pan_fit else 0.0
        self.camera.append(max(median, border or 0.0, pan))
        return uv


@dataclass
class PairMotion:
    """Per consecutive frame pair: motion and camera motion (NaN: lighting change), (T - 1,) float32."""

    motion: np.ndarray
    camera: np.ndarray


def pair_motion(frames: np.ndarray, flow: str = "dis_fast", max_side: int = 128, lighting_jump: float = 8.0,
                border: float = 0.15, min_gradient: float = 20.0, pan_side: int = 64, pan_min: float = 16.0,
                pan_fit: float = 0.8) -> PairMotion:
    """Motion and camera motion (T - 1,) of RGB frames (T, H, W, 3) uint8, T >= 2 (defaults: CurateConfig)."""
    recorder = _CameraRecorder(flow, lighting_jump, border, min_gradient, pan_side, pan_min, pan_fit)
    motion = motion_score(frames, flow=recorder, max_side=max_side)  # (T - 1,)
    # the recorder saw the frames at the analysis size motion_score chose, the units motion_score uses
    return PairMotion(motion, np.asarray(recorder.camera, dtype=np.float32))
