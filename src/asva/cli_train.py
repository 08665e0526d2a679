"""`asva train`: parse arguments, build the clip dataset, and call the training recipe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from torch import nn

    from asva.backbone.tokenizer import BPETokenizer
    from asva.presets import Preset
    from asva.train.config import TrainConfig
    from asva.train.recipe import Validator


class PromptedClips:
    """An `AVClipDataset` whose items also carry the prompt the trainer expects."""

    def __init__(self, clips: Any) -> None:
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        from asva.pipelines.test_set import class_prompt  # the papers' prompt: the class name

        item = self.clips[index]
        return {**item, "prompt": class_prompt(item["class_name"])}

    def set_epoch(self, epoch: int) -> None:
        """Forward the epoch (random clip starts are drawn from seed, epoch and index)."""
        self.clips.set_epoch(epoch)


def training_set(
    settings: TrainConfig, data: Path, manifest: Path | None, missing_audio: str = "error"
) -> Any:
    """The stage's prompted training clips, checked against the test split; for the KeyVID stages
    2 s at 24 FPS with their motion curves and keyframes (`KeyframeClips`; interpolate: always the
    motion rule). `missing_audio="silence"` gives videos without sound silent audio (raw data)."""
    from asva.data import AVClipDataset, ClipConfig, check_dataset_leakage
    from asva.keyvid.config import keyvid_settings
    from asva.keyvid.training import KeyframeClips
    from asva.presets import get_preset
    from asva.train.config import KEYVID_STAGES

    p = get_preset(settings.preset)
    keyvid = keyvid_settings(p)
    is_keyvid = settings.stage in KEYVID_STAGES
    fps, seconds = (keyvid.fps, keyvid.frame_slots / keyvid.fps) if is_keyvid else (p.fps, p.frames / p.fps)
    clips = AVClipDataset(
        data,
        settings.split,
        ClipConfig(fps=fps, clip_s=seconds, height=p.height, width=p.width, missing_audio=missing_audio),
        shots=settings.shots or "all",
        seed=settings.seed,
        manifest=manifest,
    )
    check_dataset_leakage(str(data), train=clips.videos)  # no training clip may come from a test video
    if not is_keyvid:
        return PromptedClips(clips)
    ratio = settings.keyframe_ratio if settings.stage == "keyframe" else 1.0
    return KeyframeClips(PromptedClips(clips), keyvid.num_keyframes, ratio, settings.seed)


def oracle_validator(data: str, preset_fps: float, clips: int) -> Validator:
    """A validation hook: animate a few test clips and score them with the oracle sync error."""
    items: list[dict] = []  # the validation clips, decoded once on the first call

    def validate(model: nn.Module, preset: Preset, tokenizer: BPETokenizer, step: int) -> dict[str, float]:
        import numpy as np

        from asva.data import AVClipDataset, ClipConfig
        from asva.media import tensor_to_uint8
        from asva.metrics.oracle_sync import oracle_sync
        from asva.pipelines.animate import AnimatePipeline
        from asva.pipelines.test_set import class_prompt

        if not items:
            test = AVClipDataset(
                data, "test", ClipConfig(fps=preset_fps, height=preset.height, width=preset.width)
            )
            items.extend(test[index] for index in range(min(clips, len(test))))
        modes = [m.training for m in model.modules()]
        model.eval()  # no dropout while sampling; the training modes are restored below
        pipe = AnimatePipeline(model, preset, tokenizer, device=next(model.parameters()).device)
        errors = []
        for index, item in enumerate(items):
            first = tensor_to_uint8(item["video"][:, 0])  # (H, W, 3)
            result = pipe(first, class_prompt(item["class_name"]), audio=item["audio"].numpy(), seed=index)
            errors.append(oracle_sync(result.frames(), result.fps, result.audio).result.mean_offset_ms)
        for module, training in zip(model.modules(), modes, strict=True):
            module.train(training)
        return {"oracle_mean_offset_ms": float(np.mean(errors))}

    return validate


def train(
    preset: Annotated[str, typer.Option(help="Preset name (tiny trains on CPU).")],
    stage: Annotated[
        str, typer.Option(help="vae, backbone, pretrain, finetune, or KeyVID's keyframe and interpolate.")
    ],
    data: Annotated[
        Path, typer.Option(help="Dataset root in the common layout (videos/, train.txt, test.txt).")
    ],
    manifest: Annotated[Path | None, typer.Option(help="Curated manifest: train on its kept clips.")] = None,
    shots: Annotated[int | None, typer.Option(help="K clips per class (default: all).")] = None,
    out: Annotated[Path, typer.Option(help="Run folder (resumes if it holds a checkpoint).")] = Path(
        "runs/train"
    ),
    init: Annotated[Path | None, typer.Option(help="Model folder to start from.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of training options.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: Accelerate decides).")] = None,
    validate_every: Annotated[int | None, typer.Option(help="Score samples every N steps.")] = None,
    audio_weights: Annotated[Path | None, typer.Option(
        help="Audio encoders trained on SynthAV audio (asva.audio.pretrain) to start the frozen encoders "
             "from (stages pretrain and keyframe).")] = None,
) -> None:
    """Train one stage: only that stage's parts learn; re-running the command resumes."""
    from asva.presets import get_preset
    from asva.train.config import KEYVID_STAGES, TrainConfig, load_overrides
    from asva.train.recipe import train as run

    overrides = load_overrides(config) if config else {}
    cli = {
        "out": str(out),
        "init": str(init) if init else None,
        "shots": shots,
        "max_steps": max_steps,
        "device": device,
        "validate_every": validate_every,
        "audio_weights": str(audio_weights) if audio_weights else None,
    }
    overrides.update({k: v for k, v in cli.items() if v is not None})
    settings = TrainConfig.for_stage(preset, stage, str(data), overrides)
    if validate_every and stage in KEYVID_STAGES:
        raise typer.BadParameter("--validate-every renders with the uniform pipeline; not for KeyVID stages")
    p = get_preset(preset)
    clips = training_set(settings, data, manifest)
    validator = oracle_validator(str(data), p.fps, settings.validation_clips) if validate_every else None
    folder = run(settings, clips, validate=validator)
    typer.echo(f"model written to {folder}")


def train_audio(
    data: Annotated[Path, typer.Option(help="Dataset root whose train split's audio trains the encoders.")],
    out: Annotated[Path, typer.Option(help="Run folder (resumes); writes audio_encoders.safetensors.")] = (
        Path("runs/audio")
    ),
    preset: Annotated[str, typer.Option(help="Preset whose audio encoders are trained.")] = "tiny",
    config: Annotated[Path | None, typer.Option(
        help="YAML with max_steps, batch_size, lr (default: the tiny recipe's audio.yaml).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps (overrides the YAML).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train the preset's audio encoders on a dataset's audio (class and onset heads, then dropped);
    `--audio-weights` / `audio_weights:` of `asva train` then start the frozen encoders from them."""
    from asva.audio.pretrain import pretrain_audio_encoders
    from asva.experiments.spec import recipe
    from asva.presets import get_preset
    from asva.train.config import read_options

    settings = recipe("audio")
    if config is not None:
        loaded = read_options(config)
        unknown = sorted(set(loaded) - {"max_steps", "batch_size", "lr"})
        if unknown:
            raise typer.BadParameter(
                f"{config}: unknown options {unknown}; expected max_steps, batch_size, lr"
            )
        settings.update(loaded)
    if max_steps is not None:
        settings["max_steps"] = max_steps
    path = pretrain_audio_encoders(
        data,
        out,
        get_preset(preset).audio,
        steps=settings["max_steps"],
        batch_size=settings["batch_size"],
        lr=float(settings["lr"]),
        seed=seed,
    )
    typer.echo(f"audio encoders written to {path}")
