"""The `asva` command: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from asva.cli_curate import curate
from asva.cli_evaluate import compare, evaluate
from asva.cli_experiment import experiment
from asva.cli_generate import generate
from asva.cli_keyframes import keyframes_app
from asva.cli_serve import serve
from asva.cli_synth import sync, synth
from asva.cli_train import train, train_audio

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="asva: audio-synchronized visual animation (image + audio + prompt -> video).",
)
inspect_app = typer.Typer(no_args_is_help=True, help="Look inside models without loading weights.")
app.add_typer(inspect_app, name="inspect")

EXAMPLE_IMAGE = "examples/example.png"
EXAMPLE_AUDIO = "examples/example.wav"
# A SynthAV hammer_anvil clip the bundled model never saw (scripts/make_example.py); the prompt is
# its class name, as in training.
EXAMPLE_PROMPT = "hammer anvil"


def _asset(name: str) -> Path:
    return Path(str(resources.files("asva.assets").joinpath(name)))


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
def animate(
    image: Annotated[Path | None, typer.Option(help="Input image (default: the bundled example).")] = None,
    audio: Annotated[Path | None, typer.Option(help="Input audio (default: the bundled example's).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Text prompt (default: the example's).")] = None,
    out: Annotated[Path, typer.Option(help="Output mp4; its frame strip goes beside it as .png.")] = Path(
        "asva_out.mp4"
    ),
    model: Annotated[str, typer.Option(help="'tiny' (bundled) or a model folder with asva.json.")] = "tiny",
    mode: Annotated[
        str, typer.Option(help="uniform (evenly spaced frames) or keyframe (KeyVID: 48 frames at 24 FPS).")
    ] = "uniform",
    fps: Annotated[float | None, typer.Option(help="Output FPS (default: the model's).")] = None,
    frames: Annotated[int | None, typer.Option(help="Number of frames (default: the model's).")] = None,
    steps: Annotated[int | None, typer.Option(help="DDIM steps (default 20).")] = None,
    guidance_image: Annotated[float | None, typer.Option(help="Image guidance scale (default 2.0).")] = None,
    guidance_text: Annotated[float | None, typer.Option(help="Text guidance scale (default 2.0).")] = None,
    guidance_audio: Annotated[float | None, typer.Option(help="Audio guidance scale (default 4.0).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Animate an image; with no arguments, the bundled example with the bundled tiny model."""
    import numpy as np
    from rich.progress import Progress

    from asva.media import read_audio
    from asva.pipelines.animate import AnimatePipeline
    from asva.viz import frame_strip, save_png

    if image is None:
        image = _asset(EXAMPLE_IMAGE)
        audio = _asset(EXAMPLE_AUDIO) if audio is None else audio
        prompt = EXAMPLE_PROMPT if prompt is None else prompt
    if mode not in ("uniform", "keyframe"):
        raise typer.BadParameter(f"--mode must be 'uniform' or 'keyframe', got {mode!r}")
    if mode == "keyframe":
        from asva.pipelines.keyvid import KeyframePipeline

        if audio is None:
            raise typer.BadParameter("keyframe mode places keyframes from the sound: pass --audio")
        pipe = KeyframePipeline.from_model(model, device=device)
    else:
        pipe = AnimatePipeline.from_model(model, device=device)
    sound = read_audio(audio) if audio is not None else None
    sizes = {k: v for k, v in (("frames", frames), ("fps", fps)) if v is not None}
    with Progress(transient=True) as bar:
        task = bar.add_task("sampling", total=None)
        result = pipe(
            image,
            prompt or "",
            audio=sound,
            steps=steps,
            guidance_image=guidance_image,
            guidance_text=guidance_text,
            guidance_audio=guidance_audio,
            seed=seed,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
            **sizes,
        )
    result.save(out)
    strip = out.with_suffix(".png")
    frames_uint8 = result.frames()  # (T, H, W, 3)
    silence = np.zeros(round(len(frames_uint8) / result.fps * 16_000), np.float32)
    sound_track = result.audio if result.audio is not None else silence
    save_png(frame_strip(frames_uint8, sound_track, result.fps), strip)
    typer.echo(
        f"wrote {out} ({result.video.shape[2]} frames at {result.fps:g} FPS"
        f"{', with audio' if sound is not None else ''}) and its frame strip {strip}"
    )


@inspect_app.command("layout")
def inspect_layout(
    preset: Annotated[str, typer.Option(help="Preset name.")],
    component: Annotated[
        str, typer.Option(help="unet, vae, text, image, resampler, imagebind-audio, beats or adapters.")
    ],
    variant: Annotated[
        str, typer.Option(help="base, or keyvid (KeyVID's keyframe generator: unet, resampler).")
    ] = "base",
) -> None:
    """Print `key<TAB>shape` for every state-dict entry of a part, built on the meta device."""
    from asva.checkpoints.layout import component_layout
    from asva.presets import get_preset

    for key, shape in component_layout(get_preset(preset), component, variant):
        typer.echo(f"{key}\t[{','.join(map(str, shape))}]")


@inspect_app.command("params")
def inspect_params(preset: Annotated[str, typer.Option(help="Preset name.")]) -> None:
    """Print total, frozen and trainable parameter counts (backbone + audio encoders + adapters)."""
    import torch

    from asva.checkpoints.layout import build_full_model, count_parameters
    from asva.presets import get_preset

    with torch.device("meta"):
        model = build_full_model(get_preset(preset))
    total, trainable = count_parameters(model)
    unet, _ = count_parameters(model.backbone.unet)
    typer.echo(f"total\t{total}\nfrozen\t{total - trainable}\ntrainable\t{trainable}")
    typer.echo(f"trainable_percent_of_total\t{100 * trainable / total:.2f}")
    typer.echo(f"trainable_percent_of_unet\t{100 * trainable / unet:.2f}")


app.command("synth")(synth)
app.command("curate")(curate)
app.command("train")(train)
app.command("train-audio")(train_audio)
app.command("generate")(generate)
app.command("evaluate")(evaluate)
app.command("compare")(compare)
app.command("sync")(sync)
app.command("serve")(serve)
app.command("experiment")(experiment)
app.add_typer(keyframes_app, name="keyframes")


def main() -> None:
    """Entry point of the `asva` console script; user errors print one line, not a traceback."""
    try:
        app()
    except (FileNotFoundError, ValueError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err  # KeyError quotes its text
        typer.echo(f"asva: error: {message}", err=True)
        raise SystemExit(2) from None
