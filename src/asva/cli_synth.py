"""`asva synth` and `asva sync`: parse arguments and call `asva.synth` / `asva.metrics.oracle_sync`.

Registered in `asva.cli` as `app.command("synth")(synth)` and `app.command("sync")(sync)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def synth(
    out: Annotated[Path, typer.Option(help="Dataset folder to create (must be absent or empty).")],
    classes: Annotated[
        list[str] | None, typer.Option(help="Classes, comma-separated or repeated (default: all 8).")
    ] = None,
    videos_per_class: Annotated[int, typer.Option(help="Videos per class.")] = 30,
    train_per_class: Annotated[
        int | None,
        typer.Option(
            help="Of those, how many go to train.txt (default: a third, 10 of 30); the rest to test.txt."
        ),
    ] = None,
    seconds: Annotated[float, typer.Option(help="Clip length in seconds (>= 2).")] = 4.0,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels (divisible by 8).")] = 256,
    seed: Annotated[
        int, typer.Option(help="Dataset seed; each video's seed derives from it, its class and index.")
    ] = 0,
    corrupt: Annotated[
        str | None,
        typer.Option(
            help="Corruptions applied to every video, e.g. 'offset=0.25,noise=10' or 'cut,text' "
            "(see docs/synthav.md)."
        ),
    ] = None,
    corrupt_mix: Annotated[
        str | None,
        typer.Option(
            help="Per-video corruptions: 'SPEC:FRACTION|SPEC:FRACTION...', e.g. 'offset=0.5:0.2|cut:0.1' "
            "(each video draws one entry from its seed; the rest stay clean)."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Write into a non-empty folder, replacing same-named files.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
) -> None:
    """Generate SynthAV: procedural audio-visual clips with exact ground truth (one JSON per video)."""
    from asva.synth import SynthConfig, generate_dataset, parse_corruption_mix, parse_corruptions
    from asva.synth.classes import CLASSES

    names = tuple(n.strip() for item in (classes or []) for n in item.split(",") if n.strip()) or tuple(
        CLASSES
    )
    config = SynthConfig(
        classes=names,
        videos_per_class=videos_per_class,
        train_per_class=train_per_class,
        seconds=seconds,
        size=size,
        seed=seed,
        corruptions=tuple(parse_corruptions(corrupt)),
        corruption_mix=tuple(parse_corruption_mix(corrupt_mix)),
    )
    summary = generate_dataset(out, config, overwrite=overwrite, workers=workers)
    typer.echo(
        f"wrote {len(summary.train)} train + {len(summary.test)} test videos ({len(names)} classes) "
        f"to {summary.root} in {summary.seconds_taken:.1f} s"
    )


def sync(
    video: Annotated[Path, typer.Argument(help="Video to score (its own audio unless --audio).")],
    audio: Annotated[
        Path | None, typer.Option(help="Score the video against this audio file instead.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of the waveform's onsets against the motion curve.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
    fps: Annotated[
        float | None, typer.Option(help="Read frames at this rate (default: the video's own).")
    ] = None,
) -> None:
    """Oracle sync error: audio onsets matched to motion events, in milliseconds."""
    from asva.metrics.oracle_sync import oracle_sync_file, result_json
    from asva.viz import save_png, sync_plot

    analysis = oracle_sync_file(video, audio=audio, fps=fps)
    if plot is not None:
        save_png(sync_plot(analysis.frames, analysis.result.fps, analysis.audio), plot)
    r = analysis.result
    if json_out:
        typer.echo(result_json(r))
        return
    if r.mean_offset_ms is None:
        typer.echo(f"{video}: no audio events found; the sync error is undefined")
        return
    best = "n/a (no visual events)" if r.best_offset_ms is None else f"{r.best_offset_ms:+.1f} ms"
    typer.echo(
        f"mean offset     {r.mean_offset_ms:.1f} ms  (500 = nothing moves with the sound)\n"
        f"matched         {100 * r.matched_fraction:.0f}% of {r.num_audio_events} audio events "
        f"within one frame ({r.frame_ms:.1f} ms)\n"
        f"best offset     {best}  (visual - audio; > 0: the picture lags the sound)"
    )
    if plot is not None:
        typer.echo(f"plot            {plot}")
