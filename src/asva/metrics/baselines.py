"""Reference rows of the table, written as generated folders and scored like any model.

- `groundtruth`: each reference clip itself (2 s from its start, at the source frame rate, with its
  audio); scores RelSync ≈ 50 (raw) / 100 (rescaled) by construction.
- `static`: the clip's first frame held for 2 s, with the clip's audio.
- `shift`: the clip's frames with its audio delayed by `shift_s` (silence before it), as
  SynthAV's `offset` corruption does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asva.log import get_logger
from asva.media import probe_video, read_audio, read_video_frames, write_video
from asva.metrics.protocol import EvalProtocol, reference_clips

log = get_logger(__name__)

BASELINES = ("groundtruth", "static", "shift")


def _audio(path: Path, start_s: float, protocol: EvalProtocol, delay_s: float) -> np.ndarray:
    """2 s of audio that would play from `start_s` if the track were delayed by `delay_s`."""
    src = start_s - delay_s
    if src >= 0:
        return read_audio(path, protocol.sample_rate, src, protocol.clip_seconds)
    lead = round(-src * protocol.sample_rate)  # silence before the delayed track begins
    rest = read_audio(path, protocol.sample_rate, 0.0, protocol.clip_seconds + src)
    return np.concatenate([np.zeros(lead, np.float32), rest])[: protocol.clip_samples]


def write_baseline(dataset: str | Path, out: str | Path, kind: str, shift_s: float = 0.5,
                   protocol: EvalProtocol | None = None) -> int:
    """Write one `<class>/<name>_clip-<i>.mp4` per reference clip under `out`; return how many."""
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINES)}")
    protocol = protocol or EvalProtocol()
    root = Path(out)
    refs = reference_clips(dataset, protocol)
    for ref in refs:
        fps = probe_video(ref.path).fps
        frames = read_video_frames(ref.path, fps=fps, start_s=ref.start_s, duration_s=protocol.clip_seconds)
        if kind == "static":
            frames = np.repeat(frames[:1], len(frames), axis=0)  # (T, H, W, 3), all the first frame
        audio = _audio(ref.path, ref.start_s, protocol, shift_s if kind == "shift" else 0.0)
        path = root / f"{ref.key}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, frames, fps, audio=audio, sample_rate=protocol.sample_rate)
    log.info("wrote %d %s clips to %s", len(refs), kind, root)
    return len(refs)
