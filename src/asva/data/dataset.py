"""`AVClipDataset`: 2-second audio-video clips of a dataset split, as torch tensors.

Each item: `video` float32 in [-1, 1], (C, T, H, W) at `fps`; `audio` float32 16 kHz mono (S,);
`class_name`, `class_index`, `source_id`, `rel` (the split line), `start_s`.

Which clips:
- `mode="eval"` (default for the test split): the evaluation protocol, 3 clips per video at
  linspace(0, min(video, audio duration) - clip_s, 3) (asva.data.clips).
- `mode="train"` without a manifest: one item per video, its start drawn uniformly in
  [0, duration - clip_s] from (seed, epoch, index) - call `set_epoch` each epoch for new starts.
- `mode="train"` with a curation `manifest`: one item per row with keep=True whose source is
  a line of this split; the clip starts at the row's `start_s` (or, for a row longer than
  clip_s, at a start drawn in [start_s, end_s - clip_s] like above).
K-shot (`shots`) subsets the split's videos first (asva.data.kshot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from asva.data.clips import CLIP_S, EVAL_CLIPS, eval_clip_starts
from asva.data.kshot import kshot_subset
from asva.data.layout import DatasetLayout, VideoItem
from asva.log import get_logger
from asva.media import image_to_tensor, probe_video, read_audio, read_video_frames, resize_center_crop

logger = get_logger(__name__)


@dataclass(frozen=True)
class ClipConfig:
    """How clips are read: length, frame rate, frame count, picture size, audio rate."""

    fps: float = 6.0  # 6 or 12 in the papers
    clip_s: float = CLIP_S
    height: int = 256
    width: int = 256
    sample_rate: int = 16000
    # A video without an audio stream: "error" (the default), or "silence" (zeros: what an
    # uncurated training set gives a model, e.g. the raw-data arm of `asva experiment curation`).
    missing_audio: str = "error"

    def __post_init__(self) -> None:
        if self.missing_audio not in ("error", "silence"):
            raise ValueError(f"ClipConfig.missing_audio must be 'error' or 'silence', "
                             f"got {self.missing_audio!r}")
        for name in ("fps", "clip_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (math.isfinite(v) and v > 0):
                raise ValueError(f"ClipConfig.{name} must be a number > 0, got {v!r}")
        for name in ("height", "width", "sample_rate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"ClipConfig.{name} must be an int >= 1, got {v!r}")

    @property
    def num_frames(self) -> int:
        """Frames per clip: clip_s * fps rounded (12 at 6 FPS, 24 at 12 FPS)."""
        return max(1, round(self.clip_s * self.fps))


@dataclass(frozen=True)
class _Clip:
    video: VideoItem
    start_s: float | None  # None: drawn at read time
    lo_s: float = 0.0  # range for a drawn start (train mode)
    hi_s: float | None = None  # None: the video's end


class AVClipDataset(torch.utils.data.Dataset):
    """Audio-video clips of one split of a dataset in the common layout (see the module docstring)."""

    def __init__(self, root: str | Path, split: Literal["train", "test"] = "train",
                 config: ClipConfig | None = None, mode: Literal["train", "eval"] | None = None,
                 shots: int | str = "all", seed: int = 0, manifest: str | Path | None = None,
                 benchmark: str | None = None) -> None:
        self.layout = DatasetLayout(root, benchmark)
        self.config = config or ClipConfig()
        self.mode = mode or ("train" if split == "train" else "eval")
        if self.mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {self.mode!r}")
        if manifest is not None and self.mode != "train":
            raise ValueError("a curation manifest selects training clips; use it with mode='train'")
        self.seed, self.epoch = seed, 0
        self.videos = kshot_subset(self.layout.split(split), shots, seed)
        self.classes = self.layout.classes()
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        if self.mode == "eval":
            self.clips = [_Clip(v, s) for v in self.videos for s in self._eval_starts(v)]
        elif manifest is not None:
            self.clips = _manifest_clips(manifest, self.videos, self.config.clip_s)
        else:
            self.clips = [_Clip(v, None) for v in self.videos]
        if not self.clips:
            raise ValueError(f"no clips in {root} {split} (mode {self.mode}"
                             f"{', manifest ' + str(manifest) if manifest else ''})")

    def set_epoch(self, epoch: int) -> None:
        """Use the training starts of `epoch` (starts are drawn from (seed, epoch, index))."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        clip = self.clips[index]
        cfg = self.config
        start = clip.start_s
        if start is None:
            end = clip.hi_s if clip.hi_s is not None else _duration(clip.video.path)
            rng = np.random.default_rng([self.seed, self.epoch, index])
            start = round(float(rng.uniform(clip.lo_s, max(clip.lo_s, end - cfg.clip_s))), 6)
        frames = read_video_frames(clip.video.path, cfg.fps, start_s=start, num_frames=cfg.num_frames,
                                   rule="ceil")  # (T, H0, W0, 3); ceil: ASVA's first frame with pts >= target
        video = torch.stack([image_to_tensor(resize_center_crop(f, cfg.height, cfg.width)) for f in frames],
                            dim=1)  # (C, T, H, W)
        if cfg.missing_audio == "silence" and not probe_video(clip.video.path).has_audio:
            audio = np.zeros(round(cfg.clip_s * cfg.sample_rate), dtype=np.float32)  # (S,)
        else:
            audio = read_audio(clip.video.path, cfg.sample_rate, start_s=start, duration_s=cfg.clip_s)  # (S,)
        return {"video": video, "audio": torch.from_numpy(audio), "class_name": clip.video.class_name,
                "class_index": self._class_index[clip.video.class_name], "source_id": clip.video.source_id,
                "rel": clip.video.rel, "start_s": start}

    def _eval_starts(self, video: VideoItem) -> list[float]:
        info = probe_video(video.path)
        duration = info.duration_s
        if info.has_audio:
            # the protocol uses min(video, audio duration); the audio stream's length needs a decode
            duration = min(duration, len(read_audio(video.path, 16000)) / 16000)
        return eval_clip_starts(duration, EVAL_CLIPS, self.config.clip_s)


def _duration(path: Path) -> float:
    return probe_video(path).duration_s


def _manifest_clips(manifest: str | Path, videos: list[VideoItem], clip_s: float) -> list[_Clip]:
    """Clips of the manifest rows with keep=True whose source is one of `videos` (source == split line)."""
    import pyarrow.parquet as pq

    path = Path(manifest)
    if not path.is_file():
        raise FileNotFoundError(f"curation manifest not found: {path}")
    table = pq.read_table(path, columns=["source", "start_s", "end_s", "keep"])
    by_rel = {v.rel: v for v in videos}
    clips, n_other = [], 0
    for row in table.to_pylist():
        if not row["keep"]:
            continue
        video = by_rel.get(row["source"])
        if video is None:
            n_other += 1
            continue
        if row["end_s"] - row["start_s"] < clip_s - 1e-6:
            span = f"[{row['start_s']}, {row['end_s']})"
            raise ValueError(f"{path}: kept row {row['source']} {span} is shorter than a {clip_s} s clip")
        if row["end_s"] - row["start_s"] > clip_s + 1e-6:
            clips.append(_Clip(video, None, row["start_s"], row["end_s"]))
        else:
            clips.append(_Clip(video, row["start_s"]))
    if n_other:
        logger.info("%s: %d kept rows are not in this split (or K-shot subset); skipped", path, n_other)
    return clips
