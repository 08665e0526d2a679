"""Animate every evaluation clip of a dataset's test split: the link between a model and `asva evaluate`.

For each reference clip of the protocol (3 uniformly spaced 2-s clips per test video, FACTS §13)
the pipeline gets the clip's first frame, its 2 s of audio and the class name as the prompt (the
papers' prompt), and the result is written as `<out>/<class>/<name>_clip-<i>.mp4`, the name
`asva evaluate --generated` pairs with the reference clip. Files already there are kept, so an
interrupted run resumes where it stopped (each file is written atomically). Any pipeline with the
`Animator` call fits: `asva generate --mode keyframe` passes a `KeyframePipeline` (48 frames, 24 FPS).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from asva.log import get_logger
from asva.media import read_audio, read_video_frames
from asva.metrics.protocol import EvalProtocol, reference_clips
from asva.pipelines.animate import Animator

log = get_logger(__name__)


def class_prompt(class_name: str) -> str:
    """The papers' prompt: the category name with spaces for underscores."""
    return class_name.replace("_", " ")


def animate_test_set(
    pipe: Animator,
    dataset: str | Path,
    out: str | Path,
    protocol: EvalProtocol | None = None,
    seed: int = 0,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep: Callable[[str], bool] | None = None,
    **options: Any,
) -> list[Path]:
    """Write one generated clip per reference clip under `out`; return the paths (existing ones kept).

    `keep(key)` (e.g. `lambda k: k.endswith("_clip-0")`) and then `limit` (the first N) choose
    among the reference clips (a quick look; `asva evaluate` then needs a dataset whose test list
    matches). `options` go to the pipeline (steps, guidance, ...).
    """
    protocol = protocol or EvalProtocol()
    refs = [r for r in reference_clips(dataset, protocol) if keep is None or keep(r.key)][:limit]
    root = Path(out)
    written = []
    for i, ref in enumerate(refs):
        path = root / f"{ref.key}.mp4"
        if not path.is_file():
            first = read_video_frames(ref.path, fps=protocol.fps, start_s=ref.start_s, num_frames=1,
                                      rule="ceil")[0]  # (H, W, 3) uint8
            audio = read_audio(ref.path, protocol.sample_rate, ref.start_s, protocol.clip_seconds)  # (S,)
            result = pipe(first, class_prompt(ref.class_name), audio=audio, seed=seed, **options)
            path.parent.mkdir(parents=True, exist_ok=True)
            result.save(path)
        written.append(path)
        if progress is not None:
            progress(i + 1, len(refs))
    log.info("%d clips in %s", len(written), root)
    return written


__all__ = ["animate_test_set", "class_prompt"]
