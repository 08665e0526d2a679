"""The curation thresholds: one typed dataclass, checked on construction, overridable from YAML/JSON.

Units: seconds, frames per second, pixels. Motion values are `asva.keyframes.motion.motion_score`
units (mean |u| + |v| in pixels per analysis frame, on frames whose longer side is
`motion_max_side`), measured at `analysis_fps`; change either and the motion thresholds need
recalibrating (docs/curation.md gives the numbers they were calibrated on).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asva.log import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class CurateConfig:
    """Every threshold and sampling choice of the curation pipeline (docs/curation.md)."""

    # 1. header checks (no frames decoded): a source failing any of them yields no clips
    min_duration_s: float = 2.0  # shorter than one candidate clip
    min_fps: float = 15.0  # both 6 and 12 FPS training clips must be real frames, not repeats
    min_short_side: int = 224  # training crops are 256 px; below this a clip is visibly upscaled
    require_audio: bool = True  # sounding videos only: no audio stream rejects the source

    # 2. candidate clips: non-overlapping windows inside each scene
    clip_s: float = 2.0  # the length of a training clip (2 s at 6 or 12 FPS)
    stride_s: float = 2.0  # start-to-start; == clip_s gives non-overlapping clips
    scene_margin_s: float = 0.1  # kept clear of each detected cut (cuts are found to 1 analysis frame)

    # 3. analysis decode: frames at a reduced rate and size
    analysis_fps: float = 12.0
    decode_budget_mb: int = 512  # full-size frames decoded per read; longer sources are read in chunks

    # 4. scene cuts: PySceneDetect AdaptiveDetector on the analysis frames (docs/curation.md)
    scene_threshold: float = 27.0  # a cut's content change must reach this (ContentDetector's default)...
    # ... and be this many times the mean change of the 2 frames either side: a camera moving fast
    # changes the content of several frames in a row, an edit of one. 0: the threshold alone
    scene_adaptive_ratio: float = 3.0
    # ... and change the structure: PySceneDetect's edge difference (0-255) at least this. A lamp
    # switching on re-colours the frame and moves its luma, not its edges
    scene_min_edges: float = 19.0
    # ContentDetector weights (hue, saturation, luma, edges); lighting changes are left to scene_min_edges
    scene_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    scene_max_side: int = 128  # frames are shrunk to this longer side for the detector
    min_scene_s: float = 0.5  # a cut closer than this to the previous one is merged
    # a detected cut inside camera motion is dropped: either neighbouring pair's camera motion
    # above whip_max, or the median over `scene_motion_pairs` pairs either side above shake_max
    scene_motion_pairs: int = 3

    # 5. motion: optical flow on frames with longer side `motion_max_side`; camera motion per
    # frame pair is the largest of three estimates (asva/curate/motion_stats.py)
    flow: str = "dis_fast"  # a name in asva.curate.motion_stats.CURATION_FLOWS
    motion_max_side: int = 128
    static_max: float = 0.05  # clip mean motion below this: near-static (slide show, frozen frame)
    shake_max: float = 1.7  # clip mean camera motion above this: shaky camera
    whip_max: float = 10.0  # camera motion of a pair touching the clip above this: whip pan / sharp jolt
    camera_border: float = 0.15  # the border band (fraction of each side) whose textured flow is the camera's
    camera_min_gradient: float = 20.0  # Sobel |gx| + |gy| (128-px grey) of a textured pixel
    pan_side: int = 64  # phase correlation (motion_stats.GlobalShift) on grey frames of this longer side
    pan_min: float = 16.0  # a shift counts as camera motion from this length (px per pair, 128-px frames)
    pan_fit: float = 0.8  # ... if shifting explains the change: residual / unshifted difference at most this
    lighting_jump: float = 8.0  # mean grey change (of 255) marking a pair as a lighting change, not motion

    # 6. on-screen text: the PP-OCRv4 detector shipped in rapidocr-onnxruntime
    text_interval_s: float = 2.0  # one detector frame every 2 s, at (k + 0.5) * 2 s: one per 2-s clip
    text_max_side: int = 256  # detector input, rounded to multiples of 32
    text_pixel_threshold: float = 0.3  # DB probability for a text pixel (PP-OCR's default)
    text_box_score: float = 0.6  # mean probability a region needs to count as text
    text_min_aspect: float = 2.0  # text lines are horizontal and long: box width / height at least this
    text_max_area: float = 0.003  # text area fraction (max over the clip's frames) above this rejects it

    # 7. audio
    silence_db: float = -60.0  # clip RMS (dBFS) below this: silent

    def __post_init__(self) -> None:
        w = tuple(self.scene_weights) if isinstance(self.scene_weights, list | tuple) else ()
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in w)
        if len(w) != 4 or not numbers or not any(w):
            raise ValueError(f"curate config: scene_weights must be 4 numbers >= 0 (hue, saturation, luma, "
                             f"edges), not all 0, got {self.scene_weights!r}")
        object.__setattr__(self, "scene_weights", tuple(float(v) for v in w))  # YAML gives a list
        positive = ("min_duration_s", "clip_s", "stride_s", "analysis_fps", "min_scene_s", "text_max_area",
                    "scene_threshold", "whip_max", "shake_max", "text_interval_s",
                    "lighting_jump", "pan_min", "pan_fit", "camera_min_gradient")
        for name in positive:
            _check_number(name, getattr(self, name), lo=0.0, lo_open=True)
        for name in ("min_fps", "scene_margin_s", "static_max", "scene_adaptive_ratio", "scene_min_edges"):
            _check_number(name, getattr(self, name), lo=0.0)
        for name in ("text_pixel_threshold", "text_box_score"):
            _check_number(name, getattr(self, name), lo=0.0, hi=1.0)
        _check_number("text_min_aspect", self.text_min_aspect, lo=1.0)
        _check_number("camera_border", self.camera_border, lo=0.0, hi=0.5, lo_open=True)
        _check_number("silence_db", self.silence_db, hi=0.0)
        for name, lo in (("min_short_side", 1), ("decode_budget_mb", 16), ("motion_max_side", 8),
                         ("pan_side", 16), ("scene_max_side", 16), ("scene_motion_pairs", 1),
                         ("text_max_side", 32)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"curate config: {name} must be an int >= {lo}, got {value!r}")
        if not isinstance(self.require_audio, bool):
            raise ValueError(f"curate config: require_audio must be true or false, "
                             f"got {self.require_audio!r}")
        if self.min_duration_s < self.clip_s:
            raise ValueError(f"curate config: min_duration_s ({self.min_duration_s}) must be >= clip_s "
                             f"({self.clip_s}); a shorter source cannot hold a clip")
        from asva.curate.motion_stats import CURATION_FLOWS

        if self.flow not in CURATION_FLOWS:
            raise ValueError(f"curate config: flow must be one of {sorted(CURATION_FLOWS)}, "
                             f"got {self.flow!r}")

    def fingerprint(self) -> str:
        """A short hash of every field: parts written under another config are not reused."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_number(name: str, value: object, lo: float | None = None, hi: float | None = None,
                  lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"curate config: {name} must be a finite number, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"curate config: {name} must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and value > hi:
        raise ValueError(f"curate config: {name} must be <= {hi}, got {value}")


def load_curate_config(path: str | Path | None = None, **overrides: Any) -> CurateConfig:
    """The default config updated from a YAML or JSON file of field overrides (unknown keys are errors)."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"curate config file not found: {p}")
        text = p.read_text()
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ValueError(f"{p}: expected a mapping of config fields, got {type(data).__name__}")
        values.update(data)
    values.update(overrides)
    known = {f.name for f in dataclasses.fields(CurateConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown curate config key(s) {unknown}{f' in {path}' if path else ''}; "
                         f"known keys: {', '.join(sorted(known))}")
    return CurateConfig(**values)
