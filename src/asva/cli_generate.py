"""`asva generate`: animate every evaluation clip of a test split for `asva evaluate` (see cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def generate(
    dataset: Annotated[Path, typer.Option(help="Dataset folder: videos/<class>/<name>.mp4 + test.txt.")],
    out: Annotated[Path, typer.Option(help="Folder for <class>/<name>_clip-<i>.mp4 (resumes if present).")],
    model: Annotated[str, typer.Option(help="'tiny' (bundled) or a model folder with asva.json.")] = "tiny",
    mode: Annotated[
        str, typer.Option(help="uniform (evenly spaced frames) or keyframe (KeyVID: 48 frames at 24 FPS).")
    ] = "uniform",
    frames: Annotated[int | None, typer.Option(help="Frames (default: the model's, keyframe 48).")] = None,
    fps: Annotated[float | None, typer.Option(help="Output FPS (default: the model's, keyframe 24).")] = None,
    no_audio: Annotated[
        bool, typer.Option("--no-audio", help="Drop the audio adapters: the backbone-only baseline.")
    ] = False,
    steps: Annotated[int | None, typer.Option(help="DDIM steps (default 20; keyframe: per stage).")] = None,
    guidance_image: Annotated[float | None, typer.Option(help="Image guidance scale (default 2.0).")] = None,
    guidance_text: Annotated[
        float | None, typer.Option(help="Text guidance scale (default 2.0; keyframe: "
                                   "tiny 2.0, full-size presets 7.5).")
    ] = None,
    guidance_audio: Annotated[
        float | None, typer.Option(help="Audio guidance scale (default 4.0; keyframe: "
                                   "tiny 4.0, full-size presets 7.5 then 9.0).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (the same for every clip).")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N clips (a quick look).")] = None,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Animate the first frame of each test clip with its audio and class-name prompt."""
    from rich.progress import Progress

    from asva.pipelines.animate import AnimatePipeline
    from asva.pipelines.test_set import animate_test_set

    if mode not in ("uniform", "keyframe"):
        raise typer.BadParameter(f"--mode must be 'uniform' or 'keyframe', got {mode!r}")
    if mode == "keyframe":
        from asva.pipelines.keyvid import KeyframePipeline

        if no_audio:
            raise typer.BadParameter("keyframe mode places its keyframes from the sound: drop --no-audio")
        pipe = KeyframePipeline.from_model(model, device=device)
    else:
        pipe = AnimatePipeline.from_model(model, device=device, with_audio=not no_audio)
    options = {"steps": steps, "guidance_image": guidance_image, "guidance_text": guidance_text,
               "guidance_audio": guidance_audio, "frames": frames, "fps": fps}
    with Progress() as bar:
        task = bar.add_task("animating test clips", total=None)
        paths = animate_test_set(pipe, dataset, out, seed=seed, limit=limit,
                                 progress=lambda i, n: bar.update(task, completed=i, total=n),
                                 **{k: v for k, v in options.items() if v is not None})
    typer.echo(f"{len(paths)} clips in {out}")
