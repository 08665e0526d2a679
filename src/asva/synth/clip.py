"""One SynthAV clip: render a class from a seed, and its ground truth as JSON.

A clip depends only on (class, per-video seed, seconds, size, fps, sample rate), so any single
video of a dataset can be regenerated alone: `video_seed(global_seed, class, index)` gives the
per-video seed the dataset used.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from asva.synth.classes import CLASSES
from asva.synth.scene import Event, Stage

FORMAT = "synthav/1"
FPS = 24.0
SAMPLE_RATE = 16000
MIN_SECONDS = 2.0


@dataclass
class Clip:
    """Frames, audio and exact ground truth of one SynthAV video (possibly corrupted)."""

    class_name: str
    seed: int
    frames: np.ndarray  # (T, H, W, 3) uint8
    audio: np.ndarray | None  # (S,) float32 in [-1, 1]; None when the audio is missing
    fps: float
    sample_rate: int
    events: list[Event]  # physical events in picture time (s)
    signals: dict[str, np.ndarray]  # name -> (T,) per-frame value of what moves (pixels, 0-1, degrees)
    background: str
    # The sound of an event at `onset` is at `onset + audio_offset_s` in the audio track.
    audio_offset_s: float = 0.0
    corruptions: list[dict] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Duration of the picture: frames / fps."""
        return len(self.frames) / self.fps

    def ground_truth(self) -> dict:
        """The JSON-ready ground truth: class, seed, sizes, events, per-frame signals, corruptions."""
        t, h, w, _ = self.frames.shape
        return {
            "format": FORMAT,
            "class": self.class_name,
            "seed": self.seed,
            "fps": self.fps,
            "sample_rate": self.sample_rate,
            "seconds": round(self.seconds, 6),
            "num_frames": t,
            "width": w,
            "height": h,
            "has_audio": self.audio is not None,
            "background": self.background,
            "audio_offset_s": round(self.audio_offset_s, 6),
            "events": [e.to_json() for e in self.events],
            "signals": {k: [round(float(v), 3) for v in vals] for k, vals in self.signals.items()},
            "corruptions": self.corruptions,
        }

    def with_changes(self, **changes: object) -> Clip:
        """A copy with some fields replaced (corruptions never edit a clip in place)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def ground_truth_json(gt: dict) -> str:
    """Serialise ground truth with one top-level key per line and arrays inline (stable bytes)."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in gt.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def video_seed(global_seed: int, class_name: str, index: int) -> int:
    """The per-video seed of video `index` of `class_name` in a dataset made with `global_seed`."""
    # crc32, not hash(): Python salts str hashes per process, and the seed must be stable.
    entropy = [int(global_seed), zlib.crc32(class_name.encode()), int(index)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def check_class(class_name: str) -> None:
    """Raise ValueError naming the known classes when `class_name` is not one of them."""
    if class_name not in CLASSES:
        raise ValueError(f"unknown SynthAV class {class_name!r}; known classes: {', '.join(CLASSES)}")


def check_sizes(seconds: float, size: int, fps: float = FPS, sample_rate: int = SAMPLE_RATE) -> None:
    """Raise ValueError for a duration under 2 s, a frame size not a positive multiple of 8, bad rates."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < MIN_SECONDS
    ):
        raise ValueError(
            f"seconds must be a number >= {MIN_SECONDS} (SynthAV clips are at least 2 s; "
            f"the 'short' corruption makes shorter ones), got {seconds!r}"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 8:
        raise ValueError(f"size must be an int >= 32 divisible by 8 (the VAE downsamples by 8), got {size!r}")
    if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a number > 0, got {fps!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an int >= 8000, got {sample_rate!r}")


def generate_clip(
    class_name: str,
    seed: int,
    seconds: float = 4.0,
    size: int = 256,
    fps: float = FPS,
    sample_rate: int = SAMPLE_RATE,
) -> Clip:
    """Render one clean clip of `class_name` from `seed`: frames (T, size, size, 3), audio (S,) and truth."""
    check_class(class_name)
    check_sizes(seconds, size, fps, sample_rate)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    stage = Stage(np.random.default_rng(int(seed)), size, float(fps), float(seconds), sample_rate)
    out = CLASSES[class_name](stage)
    return Clip(
        class_name,
        int(seed),
        out.frames,
        out.audio,
        float(fps),
        sample_rate,
        out.events,
        out.signals,
        stage.background_kind,
    )
