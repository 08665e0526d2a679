"""`asva keyframes ...`: train and evaluate the keyframe localizer, and pick keyframes for a sound.

Registered in `asva.cli` as `app.add_typer(keyframes_app, name="keyframes")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

keyframes_app = typer.Typer(no_args_is_help=True, help="KeyVID keyframes: the audio-to-motion localizer.")


def _load_model(model: Path | None):  # -> KeyframeLocalizer
    from asva.keyframes.localizer import bundled_localizer, load_localizer

    if model is not None:
        return load_localizer(model)
    bundled = bundled_localizer()
    if bundled is None:
        raise FileNotFoundError("no localizer is bundled with this package; pass --model DIR")
    return bundled


@keyframes_app.command("train-localizer")
def train_localizer_cmd(
    data: Annotated[Path, typer.Option(help="Dataset in the common layout (e.g. from `asva synth`).")],
    out: Annotated[Path, typer.Option(help="Folder for keyframe_localizer.safetensors + .json.")],
    preset: Annotated[str, typer.Option(help="Model size: tiny or full.")] = "tiny",
    epochs: Annotated[
        int, typer.Option(help="Passes over the train split (one random window per video).")
    ] = 100,
    batch_size: Annotated[int, typer.Option(help="Clips per step.")] = 8,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine decay).")] = 1e-3,
    distance: Annotated[str, typer.Option(help="l1 (default) or mse (KeyVID).")] = "l1",
    energy_weight: Annotated[float, typer.Option(help="Weight of the mel-energy term (KeyVID: 0.3).")] = 0.0,
    imagebind: Annotated[
        Path | None, typer.Option(help="Start the encoder from this ImageBind checkpoint.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run saved in --out.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 1,
) -> None:
    """Train a keyframe localizer on the train split of --data; writes --out after every epoch."""
    from asva.keyframes.localizer_training import LocalizerTrainConfig, train_localizer

    config = LocalizerTrainConfig(
        preset=preset,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        distance=distance,
        energy_weight=energy_weight,
        seed=seed,
        threads=threads,
        imagebind=str(imagebind) if imagebind else None,
    )
    summary = train_localizer(data, out, config, resume=resume)  # logs each epoch's loss
    typer.echo(f"wrote {out} (epoch {summary['epoch']}, {summary.get('seconds', 0):.0f} s)")


@keyframes_app.command("evaluate-localizer")
def evaluate_localizer_cmd(
    data: Annotated[Path, typer.Option(help="Dataset in the common layout.")],
    model: Annotated[Path | None, typer.Option(help="Localizer folder (default: the bundled one).")] = None,
    split: Annotated[str, typer.Option(help="Split to score: test or train.")] = "test",
    seed: Annotated[int, typer.Option(help="Seed of the keyframe selection.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Peak recall (±1 and ±2 frames at 24 FPS) of a localizer against uniform frames."""
    import dataclasses

    from asva.keyframes.localizer_eval import evaluate_localizer
    from asva.keyframes.localizer_training import load_clips

    report = evaluate_localizer(_load_model(model), load_clips(data, split), seed=seed)
    typer.echo(json.dumps(dataclasses.asdict(report), indent=2) if json_out else report.table())


@keyframes_app.command("select")
def select_cmd(
    audio: Annotated[Path, typer.Argument(help="Audio or video file; its first 2 s are used.")],
    model: Annotated[Path | None, typer.Option(help="Localizer folder (default: the bundled one).")] = None,
    num_keyframes: Annotated[int, typer.Option(help="Keyframes to choose (T_K).")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the random choices.")] = 0,
) -> None:
    """Predict the motion curve of a sound and print the keyframes chosen from it (24 FPS frames)."""
    from asva.keyframes.selection import select_keyframes
    from asva.media import read_audio

    localizer = _load_model(model)
    sound = read_audio(audio, 16000, duration_s=localizer.config.clip_seconds)
    curve = localizer.predict(sound)[0]  # (48,)
    chosen = select_keyframes(curve.numpy(), num_keyframes, seed)
    typer.echo("curve      " + " ".join(f"{v:.2f}" for v in curve.tolist()))
    typer.echo("keyframes  " + " ".join(map(str, chosen.indices.tolist())))
    typer.echo("strides    " + " ".join(map(str, chosen.strides.tolist())))
    if chosen.fallback:
        typer.echo("(no motion peak predicted: uniform frames)")
