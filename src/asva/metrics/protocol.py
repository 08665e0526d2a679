"""The ASVA evaluation protocol: which 2-s clips are scored, and how they are read (FACTS §13).

- Reference (ground-truth) clips: 3 per test video, starts linspace(0, D − 2 s, 3), D = the
  video's duration.
- Generated clips: one file per reference clip, named after the test list (below); each is read
  with one centred 2-s window, so an output longer than 2 s is scored on its middle.
- Frames: 12 at 6 FPS, frame k = the first frame with timestamp >= start + k/6 (ASVA's rule;
  higher-FPS outputs are thereby downsampled); resized to cover 256×256 and centre-cropped.
- Audio: 2 s from the clip start at 16 kHz mono, from the same file.

Naming: for the test-list line `<class>/<name>.mp4` and clip i ∈ {0, 1, 2} the generated file is
`<generated>/<class>/<name>_clip-<i>.mp4`, and it should carry the audio of reference clip i
(a file without audio is scored with the reference clip's audio, with a log line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from asva.data.clips import eval_clip_starts
from asva.log import get_logger
from asva.media import probe_video, read_audio, read_video_frames, resize_center_crop
from asva.metrics.errors import MetricInputError

log = get_logger(__name__)

# A 12-frame 6-FPS file lasts 2 s by its frame count, but containers may report a little less.
_DURATION_SLACK_S = 0.05


@dataclass(frozen=True)
class EvalProtocol:
    """Clip sampling and reading of the evaluation (ASVA scripts/animation_eval.py defaults)."""

    clips_per_video: int = 3
    clip_seconds: float = 2.0
    fps: float = 6.0
    num_frames: int = 12
    size: int = 256
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.clips_per_video < 1 or self.num_frames < 2 or self.size < 32 or self.fps <= 0:
            raise ValueError(f"EvalProtocol: bad values {self}")
        if not math.isclose(self.num_frames / self.fps, self.clip_seconds, rel_tol=1e-6):
            raise ValueError(f"EvalProtocol: {self.num_frames} frames at {self.fps} FPS do not span "
                             f"clip_seconds={self.clip_seconds}")

    @property
    def clip_samples(self) -> int:
        """Audio samples per clip (32000)."""
        return round(self.clip_seconds * self.sample_rate)


@dataclass(frozen=True)
class ClipRef:
    """One scored clip: the file it is read from and where the window starts."""

    path: Path
    start_s: float
    key: str  # `<class>/<name>_clip-<i>`: pairs a generated clip with its reference clip
    class_name: str


@dataclass(frozen=True)
class Clip:
    """A clip as the metrics see it: frames (F, S, S, 3) uint8 and audio (samples,) float32."""

    frames: np.ndarray
    audio: np.ndarray

    def video(self) -> torch.Tensor:
        """Frames as float (3, F, S, S) in [-1, 1] (the tensor contract of DESIGN.md)."""
        x = torch.from_numpy(np.ascontiguousarray(self.frames)).permute(3, 0, 1, 2)  # (3, F, S, S)
        return x.to(torch.float32) / 127.5 - 1.0


def read_test_list(dataset: str | Path) -> list[str]:
    """The `<class>/<name>.mp4` lines of `<dataset>/test.txt`, checked to exist under videos/."""
    root = Path(dataset)
    listing = root / "test.txt"
    if not listing.is_file():
        raise MetricInputError(f"{listing} not found: a dataset folder holds videos/ and test.txt")
    entries = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
    if not entries:
        raise MetricInputError(f"{listing} lists no videos")
    for e in entries:
        if e.count("/") != 1 or not e.endswith(".mp4"):
            raise MetricInputError(f"{listing}: line {e!r} is not `<class>/<name>.mp4`")
    missing = [e for e in entries if not (root / "videos" / e).is_file()]
    if missing:
        raise MetricInputError(f"{len(missing)} test video(s) missing under {root / 'videos'}: "
                               + ", ".join(missing[:10]))
    return entries


def clip_key(entry: str, index: int) -> str:
    """`<class>/<name>_clip-<i>` for test-list line `<class>/<name>.mp4`."""
    return f"{entry.removesuffix('.mp4')}_clip-{index}"


def clip_starts(duration_s: float, protocol: EvalProtocol, what: str) -> list[float]:
    """Uniform clip starts linspace(0, D − clip, n) of a reference video lasting `duration_s`."""
    if duration_s + _DURATION_SLACK_S < protocol.clip_seconds:
        raise MetricInputError(f"{what}: {duration_s:.3f} s long; the protocol needs at least "
                               f"{protocol.clip_seconds:g} s")
    return eval_clip_starts(duration_s, protocol.clips_per_video, protocol.clip_seconds)


def reference_clips(dataset: str | Path, protocol: EvalProtocol) -> list[ClipRef]:
    """All reference clips of a dataset's test list, in test-list order (3 per video)."""
    root = Path(dataset)
    refs = []
    for entry in read_test_list(root):
        path = root / "videos" / entry
        starts = clip_starts(probe_video(path).duration_s, protocol, str(path))
        refs += [ClipRef(path, s, clip_key(entry, i), entry.split("/")[0]) for i, s in enumerate(starts)]
    return refs


def generated_clips(generated: str | Path, references: list[ClipRef], protocol: EvalProtocol
                    ) -> list[ClipRef]:
    """The generated clip for every reference clip, checked: same names, no missing or extra files."""
    root = Path(generated)
    if not root.is_dir():
        raise MetricInputError(f"generated folder {root} not found")
    wanted = {r.key: r for r in references}
    found = {p.relative_to(root).as_posix().removesuffix(".mp4"): p for p in root.rglob("*.mp4")}
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    if missing or extra:
        parts = [f"generated folder {root} does not match the test list ({len(wanted)} clips expected, "
                 f"named `<class>/<name>_clip-<i>.mp4`):"]
        if missing:
            parts.append(f"{len(missing)} missing: " + ", ".join(m + ".mp4" for m in missing[:10]))
        if extra:
            parts.append(f"{len(extra)} not in the test list: " + ", ".join(e + ".mp4" for e in extra[:10]))
        raise MetricInputError("\n  ".join(parts))
    out = []
    for ref in references:
        path = found[ref.key]
        duration = probe_video(path).duration_s
        if duration + _DURATION_SLACK_S < protocol.clip_seconds:
            raise MetricInputError(f"{path}: {duration:.3f} s long; generated clips must last at least "
                                   f"{protocol.clip_seconds:g} s ({protocol.num_frames} frames at "
                                   f"{protocol.fps:g} FPS)")
        # One centred window: the middle 2 s of a longer output.
        out.append(ClipRef(path, max(0.0, (duration - protocol.clip_seconds) / 2), ref.key, ref.class_name))
    return out


def to_protocol_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (F, H, W, 3) -> (F, size, size, 3): cover the square, centre crop."""
    return np.stack([resize_center_crop(f, size, size) for f in frames])


def read_clip(ref: ClipRef, protocol: EvalProtocol, audio_from: ClipRef | None = None) -> Clip:
    """Read a clip's frames and audio; `audio_from` supplies audio when `ref`'s file has none."""
    frames = read_video_frames(ref.path, fps=protocol.fps, start_s=ref.start_s,
                               num_frames=protocol.num_frames, rule="ceil")  # (F, H, W, 3)
    source = ref
    if not probe_video(ref.path).has_audio:
        if audio_from is None:
            raise MetricInputError(f"{ref.path} has no audio stream")
        log.info("%s has no audio; scoring it with the reference clip's audio (%s at %.2f s)",
                 ref.path, audio_from.path, audio_from.start_s)
        source = audio_from
    audio = read_audio(source.path, protocol.sample_rate, source.start_s, protocol.clip_seconds)  # (S,)
    return Clip(to_protocol_frames(frames, protocol.size), audio)
