"""How well curation catches known defects: a labelled SynthAV set and per-defect precision/recall.

`make_labelled_set` renders SynthAV clips (classes cycled, seeds from `seed`) for each kind:
`clean`, the SynthAV corruptions `cut text shake whip lowres lowfps short noaudio`, and two
defects SynthAV does not make, built here: `static` (the first frame frozen, sound kept) and
`silent` (the audio track replaced by digital silence). Each video gets a `<name>.json` with its
kind and the corruption labels.

`score_manifest` scores a curation manifest of that set:
- recall of a defect: the fraction of its videos where the defect does not reach a kept clip.
  For `cut` that means no kept clip spans the cut frame; for `whip` no kept clip overlaps the pan;
  for the others, which affect the whole video, that the video has no kept clip.
- precision of a defect: of the videos the defect's reasons flag (any row), the fraction that
  have it. Reasons per defect: `DEFECT_REASONS`; `shake` and `whip` share the camera-motion
  reasons, so either counts as true for both. A `cut` is flagged when more than one scene is found.
- clean kept: the fraction of clean videos' candidate clips kept, and of clean videos with at
  least one kept clip.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from asva.log import get_logger

logger = get_logger(__name__)

KINDS = ("clean", "cut", "text", "shake", "whip", "lowres", "lowfps", "short", "noaudio", "static", "silent")
DEFECT_REASONS: dict[str, frozenset[str]] = {
    "text": frozenset({"text"}),
    "shake": frozenset({"camera_shake", "sharp_motion"}),
    "whip": frozenset({"camera_shake", "sharp_motion"}),
    "lowres": frozenset({"low_resolution"}),
    "lowfps": frozenset({"low_fps"}),
    "short": frozenset({"too_short"}),
    "noaudio": frozenset({"no_audio"}),
    "static": frozenset({"static"}),
    "silent": frozenset({"silent"}),
}
# defects whose reasons are shared: a flag by one counts as true for the other
_SAME_REASONS = {"shake": {"shake", "whip"}, "whip": {"shake", "whip"}}


@dataclass(frozen=True)
class _Job:
    root: str
    kind: str
    index: int
    seed: int
    seconds: float
    size: int


def make_labelled_set(root: str | Path, per_kind: int = 8, kinds: tuple[str, ...] = KINDS,
                      seconds: float = 4.0, size: int = 256, seed: int = 1000,
                      workers: int = 2) -> list[Path]:
    """Write `per_kind` videos of each kind under `root/<kind>/`, with ground-truth JSON; return the mp4s."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    jobs = [_Job(str(root), k, i, seed + 7919 * j + i, seconds, size)
            for j, k in enumerate(kinds) for i in range(per_kind)]
    if workers == 1:
        return [_make(j) for j in jobs]
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_make, jobs))


def _make(job: _Job) -> Path:
    from asva.media import write_video
    from asva.synth.classes import CLASSES
    from asva.synth.clip import generate_clip
    from asva.synth.corruptions import apply_corruptions, parse_corruptions

    classes = list(CLASSES)
    class_name = classes[job.index % len(classes)]
    clip = generate_clip(class_name, job.seed, job.seconds, job.size)
    if job.kind in ("clean", "static", "silent"):
        clip = clip.with_changes(corruptions=[{"kind": job.kind}] if job.kind != "clean" else [])
        if job.kind == "static":
            clip = clip.with_changes(frames=np.repeat(clip.frames[:1], len(clip.frames), axis=0))
        elif job.kind == "silent":
            clip = clip.with_changes(audio=np.zeros_like(clip.audio))
    else:
        clip = apply_corruptions(clip, parse_corruptions(job.kind))
    out = Path(job.root) / job.kind / f"{job.kind}_{job.index:03d}_{class_name}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_video(out, clip.frames, clip.fps, audio=clip.audio, sample_rate=clip.sample_rate)
    truth = {"kind": job.kind, "class": class_name, "seed": job.seed, "fps": clip.fps,
             "seconds": clip.seconds, "corruptions": clip.corruptions}
    out.with_suffix(".json").write_text(json.dumps(truth) + "\n")
    return out


@dataclass(frozen=True)
class DefectScore:
    """Precision and recall of one defect kind (None where undefined: nothing flagged)."""

    kind: str
    videos: int
    recall: float
    precision: float | None
    flagged: int


@dataclass(frozen=True)
class Evaluation:
    """Per-defect scores and how much of the clean videos is kept."""

    defects: list[DefectScore]
    clean_clips_kept: float
    clean_videos_kept: float

    def table(self) -> str:
        """A Markdown table of the scores."""
        lines = ["| defect | videos | recall | precision | flagged |", "|---|---|---|---|---|"]
        for d in self.defects:
            prec = "-" if d.precision is None else f"{d.precision:.3f}"
            lines.append(f"| {d.kind} | {d.videos} | {d.recall:.3f} | {prec} | {d.flagged} |")
        lines.append(f"| clean clips kept | | {self.clean_clips_kept:.3f} | | |")
        lines.append(f"| clean videos with a kept clip | | {self.clean_videos_kept:.3f} | | |")
        return "\n".join(lines)


def score_manifest(table: pa.Table, root: str | Path) -> Evaluation:
    """Score a manifest of a `make_labelled_set` folder (sources named `<kind>/<name>.mp4`)."""
    root = Path(root)
    rows_by_source: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        rows_by_source.setdefault(row["source"], []).append(row)
    truth = {s: json.loads((root / s).with_suffix(".json").read_text()) for s in rows_by_source}
    kind_of = {s: t["kind"] for s, t in truth.items()}

    defects = []
    for kind in [k for k in KINDS if k != "clean" and k in set(kind_of.values())]:
        videos = [s for s, k in kind_of.items() if k == kind]
        caught = sum(_defect_removed(rows_by_source[s], truth[s]) for s in videos)
        if kind == "cut":
            flagged = [s for s, rows in rows_by_source.items() if (rows[0]["num_scenes"] or 1) > 1]
        else:
            flagged = [s for s, rows in rows_by_source.items()
                       if any(DEFECT_REASONS[kind] & set(r["reasons"]) for r in rows)]
        same = _SAME_REASONS.get(kind, {kind})
        true_flags = sum(kind_of[s] in same for s in flagged)
        defects.append(DefectScore(kind, len(videos), caught / len(videos),
                                   true_flags / len(flagged) if flagged else None, len(flagged)))

    clean = [s for s, k in kind_of.items() if k == "clean"]
    clean_rows = [r for s in clean for r in rows_by_source[s]]
    return Evaluation(
        defects,
        clean_clips_kept=sum(r["keep"] for r in clean_rows) / max(1, len(clean_rows)),
        clean_videos_kept=sum(any(r["keep"] for r in rows_by_source[s]) for s in clean) / max(1, len(clean)),
    )


def _defect_removed(rows: list[dict], truth: dict) -> bool:
    """Whether no kept clip of this video carries its defect."""
    kept = [(r["start_s"], r["end_s"]) for r in rows if r["keep"]]
    kind = truth["kind"]
    label = next((c for c in truth["corruptions"] if c["kind"] == kind), {})
    if kind == "cut":
        t = label["at_s"]
        # a clip holding frames on both sides of the cut: it starts before it and ends after it
        return not any(s < t - 1e-6 and e > t + 1e-6 for s, e in kept)
    if kind == "whip":
        return not any(s < label["end_s"] and e > label["start_s"] for s, e in kept)
    return not kept
