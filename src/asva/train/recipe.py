"""The two-stage training recipe, read top to bottom: setup, resume, loop, checkpoint, export.

Runs through Hugging Face Accelerate, so one script serves CPU, one GPU, several GPUs and nodes
(`torchrun` / `accelerate launch`). Only the stage's parameters train (the adapters for `pretrain`
and `finetune`, KeyVID's chosen parts for `keyframe` and `interpolate`, `asva.keyvid.training`);
everything else is frozen and kept in eval mode, which is asserted at start.

Reproducibility: the data order is a permutation seeded by (seed, epoch), sharded by rank, and all
randomness of a step (timesteps, noise, condition dropout, the VAE posterior, dropout layers) comes
from a generator seeded by (seed, step, rank). A run resumed from its last checkpoint therefore
continues with exactly the losses of an uninterrupted run on CPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from asva.adapters.model import AudioAnimationModel, build_audio_model
from asva.backbone.model import Backbone
from asva.backbone.tokenizer import BPETokenizer
from asva.backbone.unet import UNet3D
from asva.checkpoints.backbone import load_backbone, load_tokenizer
from asva.checkpoints.folder import load_encoder_weights, load_model, write_model_folder
from asva.checkpoints.keyvid import write_keyvid_folder
from asva.checkpoints.trained import load_weights, replace_dir, save_weights
from asva.diffusion.schedule import NoiseSchedule
from asva.keyvid.config import keyvid_settings
from asva.keyvid.model import KeyVIDModel
from asva.keyvid.training import keyvid_added, keyvid_loss, keyvid_trainable, keyvid_training_model
from asva.log import get_logger
from asva.presets import Preset, preset_overrides
from asva.train.config import KEYVID_STAGES, TrainConfig
from asva.train.losses import Batch, diffusion_loss, vae_loss

log = get_logger(__name__)

LAST = "last"  # the resumable checkpoint folder inside `out`
FINAL = "model"  # the exported model folder inside `out`

# Validation hook: (model, preset, tokenizer, step) -> {metric: value}; the CLI passes one that
# renders samples and scores them with the oracle sync error.
Validator = Callable[[nn.Module, Preset, BPETokenizer, int], dict[str, float]]


@dataclass
class RunState:
    """What a resumed run needs besides weights: where it stopped, and the losses so far."""

    step: int = 0
    losses: list[float] | None = None


class StageModule(nn.Module):
    """One module whose forward returns the stage's loss, so DDP sees a single call per micro-step."""

    def __init__(
        self,
        config: TrainConfig,
        preset: Preset,
        model: Backbone | AudioAnimationModel | KeyVIDModel,
        tokenizer: BPETokenizer,
    ) -> None:
        super().__init__()
        self.config, self.preset, self.model = config, preset, model
        self.backbone = model if isinstance(model, Backbone) else model.backbone
        self.tokenizer = tokenizer
        self.schedule = NoiseSchedule(preset.schedule)

    def forward(self, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        """The loss of one micro-batch."""
        if self.config.stage == "vae":
            return vae_loss(self.backbone, batch.video, self.config.kl_weight, generator)
        tokens = self.tokenizer(batch.prompts).to(batch.video.device)  # (B, 77)
        null = self.tokenizer([""]).to(batch.video.device)  # (1, 77)
        c = self.config
        if isinstance(self.model, KeyVIDModel):
            return keyvid_loss(
                self.model,
                c.stage,
                tokens,
                null,
                batch,
                self.schedule,
                c.cond_dropout,
                generator,
                window_frames=c.interpolation_frames,
                max_stride=c.interpolation_max_stride,
            )
        audio_model = self.model if isinstance(self.model, AudioAnimationModel) else None
        return diffusion_loss(
            self.backbone,
            audio_model,
            tokens,
            null,
            batch,
            self.schedule,
            self.preset.fs,
            self.config.cond_dropout,
            generator,
        )


def trainable_modules(
    model: Backbone | AudioAnimationModel | KeyVIDModel, stage: str, keyvid_finetune: str = "temporal"
) -> dict[str, nn.Module]:
    """The parts a stage trains, by name (explicit: never chosen by parameter-name substrings);
    `keyvid_finetune` (KeyVID stages): `TrainConfig.keyvid_finetune`."""
    if stage in KEYVID_STAGES:
        if not isinstance(model, KeyVIDModel):
            raise TypeError(f"stage {stage!r} trains a KeyVID network; got a {type(model).__name__}")
        return keyvid_trainable(model, stage, keyvid_finetune)
    backbone = model.backbone if isinstance(model, AudioAnimationModel) else model
    if stage == "vae":
        return {"vae": backbone.vae}
    if stage == "backbone":
        return {"unet": backbone.unet, "resampler": backbone.resampler}
    if not isinstance(model, AudioAnimationModel):
        raise TypeError(f"stage {stage!r} trains audio adapters; got a model without them")
    return {"adapters": model.adapters}


def freeze_all_but(model: nn.Module, parts: dict[str, nn.Module]) -> list[nn.Parameter]:
    """requires_grad only on `parts`, eval mode elsewhere; returns the trainable parameters."""
    model.requires_grad_(False)
    model.eval()
    for part in parts.values():
        part.requires_grad_(True)
        part.train()
    params = [p for p in model.parameters() if p.requires_grad]
    inside = {id(p) for part in parts.values() for p in part.parameters()}
    if any(id(p) not in inside for p in params) or not params:
        raise RuntimeError("trainable parameters do not match the stage's parts")
    return params


def param_groups(model: nn.Module, config: TrainConfig, params: list[nn.Parameter]) -> list[dict]:
    """Adam's parameter groups: one at `lr`; KeyVID stages with `added_lr_scale` != 1 put KeyVID's
    added parameters in a second group at `lr * added_lr_scale` (one group otherwise, so checkpoints
    of single-rate runs resume unchanged)."""
    if config.added_lr_scale == 1.0:
        return [{"params": params}]
    if not isinstance(model, KeyVIDModel):
        raise TypeError(f"added_lr_scale needs a KeyVID model; got a {type(model).__name__}")
    added = {id(p) for p in keyvid_added(model, config.stage)}
    trainable = {id(p) for p in params}
    if not added or not added <= trainable:
        raise RuntimeError(f"stage {config.stage!r}: KeyVID's added parameters are not all trainable")
    return [
        {"params": [p for p in params if id(p) not in added]},
        {"params": [p for p in params if id(p) in added], "lr": config.lr * config.added_lr_scale},
    ]


def build_model(config: TrainConfig, preset: Preset) -> Backbone | AudioAnimationModel | KeyVIDModel:
    """The stage's starting model: from `init` (a model folder or a run's output) or fresh."""
    init = Path(config.init) if config.init else None
    if init is not None and (init / FINAL / "asva.json").is_file():
        init = init / FINAL
    if config.stage in KEYVID_STAGES:
        return keyvid_training_model(init, preset, config.seed, config.audio_weights)
    if config.stage in ("vae", "backbone"):
        if init is None:
            if config.stage == "backbone":
                raise ValueError("stage 'backbone' needs --init: a model folder holding a trained VAE")
            return load_backbone(preset, seed=config.seed)
        _, model, _ = load_model(init)
        return model.backbone if isinstance(model, AudioAnimationModel) else model
    if init is None:
        raise ValueError(
            f"stage {config.stage!r} needs --init: a model folder holding the frozen backbone "
            "(and, for finetune, the pretrained adapters)"
        )
    loaded, model, _ = load_model(init)
    if isinstance(model, Backbone):
        if config.stage == "finetune":
            raise ValueError(f"stage 'finetune' starts from pretrained adapters; {init} has none")
        torch.manual_seed(config.seed)
        model = build_audio_model(model, preset.audio, preset.adapters)
        if config.audio_weights is not None:
            load_encoder_weights(model.audio_features, Path(config.audio_weights))
    elif (loaded.audio, loaded.adapters) != (preset.audio, preset.adapters):
        raise ValueError(
            f"{init} holds adapters for audio settings {preset_overrides(loaded) or 'of the preset'}; "
            f"this run asks for {config.preset_overrides() or 'those of the preset'}: give the same "
            "adapter_window / audio_encoders / audio_layers as its pretraining"
        )
    return model


class EMA:
    """Exponential moving average of the trainable parameters (kept on their device, float32)."""

    def __init__(self, params: list[nn.Parameter], decay: float) -> None:
        self.decay, self.params = decay, params
        self.shadow = [p.detach().float().clone() for p in params]

    @torch.no_grad()
    def update(self) -> None:
        """shadow ← decay·shadow + (1 − decay)·param."""
        for s, p in zip(self.shadow, self.params, strict=True):
            s.lerp_(p.detach().float(), 1.0 - self.decay)

    def state(self) -> dict[str, torch.Tensor]:
        """The shadow weights by position (for checkpoints)."""
        return {str(i): s for i, s in enumerate(self.shadow)}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        """Restore shadow weights written by `state`."""
        for i, s in enumerate(self.shadow):
            s.copy_(state[str(i)])


def epoch_order(size: int, epoch: int, seed: int, rank: int, world: int) -> list[int]:
    """This rank's share of a (seed, epoch)-seeded permutation of the dataset indices."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(size, generator=generator)[rank::world].tolist()


def collate(items: list[dict], fps: float) -> Batch:
    """Stack dataset items (video (3, T, H, W), audio (S,), prompt, keyframes (K,) if any) into a `Batch`."""
    return Batch(
        video=torch.stack([it["video"] for it in items]),
        audio=torch.stack([it["audio"] for it in items]),
        prompts=[it["prompt"] for it in items],
        fps=fps,
        keyframes=torch.stack([it["keyframes"] for it in items]) if "keyframes" in items[0] else None,
    )


def clip_fps(stage: str, preset: Preset) -> float:
    """The frame rate of a stage's training clips: KeyVID's 24 FPS slots, else the preset's."""
    return keyvid_settings(preset).fps if stage in KEYVID_STAGES else preset.fps


def export_model(folder: Path, preset: Preset, model: Backbone | AudioAnimationModel | KeyVIDModel) -> Path:
    """The model folder of a finished stage (`asva animate --model`; KeyVID: `--mode keyframe`)."""
    if isinstance(model, KeyVIDModel):
        return write_keyvid_folder(folder, model)
    return write_model_folder(folder, preset, model)


def batches(
    dataset: Dataset, config: TrainConfig, fps: float, epoch: int, rank: int, world: int, skip: int
) -> Iterator[Batch]:
    """Micro-batches of one epoch in the seeded order, skipping the first `skip` (for resume)."""
    if hasattr(dataset, "set_epoch"):  # datasets that draw random clip starts per epoch
        dataset.set_epoch(epoch)
    order = epoch_order(len(dataset), epoch, config.seed, rank, world)
    size = config.batch_size // world  # the configured batch is the global one
    for start in range(skip * size, len(order) - size + 1, size):  # a short last batch is dropped
        yield collate([dataset[i] for i in order[start : start + size]], fps)


def _step_generator(
    config: TrainConfig, step: int, micro: int, rank: int, device: torch.device
) -> torch.Generator:
    seed = ((config.seed * 1_000_003 + step) * 97 + micro) * 131 + rank
    torch.manual_seed(seed)  # dropout layers draw from the global generator
    return torch.Generator(device).manual_seed(seed)


def save_checkpoint(
    out: Path,
    parts: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    ema: EMA | None,
    state: RunState,
    config: TrainConfig,
) -> None:
    """Write `out/last/` whole (weights, optimizer, EMA, state) then swap it in: a crash keeps the old one."""
    tmp = out / f".{LAST}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    meta = {"config": config.to_dict(), "step": state.step}
    for name, part in parts.items():
        save_weights(tmp / f"{name}.safetensors", part.state_dict(), {"part": name, **meta})
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    if ema is not None:
        save_weights(tmp / "ema.safetensors", ema.state(), {"part": "ema", **meta})
    (tmp / "state.json").write_text(
        json.dumps({"step": state.step, "losses": state.losses, "config": config.to_dict()}, indent=1) + "\n"
    )
    replace_dir(tmp, out / LAST)


def load_checkpoint(
    out: Path,
    parts: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    ema: EMA | None,
    config: TrainConfig,
) -> RunState:
    """Restore `out/last/` written by the same configuration (other settings are refused)."""
    folder = out / LAST
    saved = json.loads((folder / "state.json").read_text())
    ignore = {
        "max_steps",
        "epochs",
        "checkpoint_every",
        "log_every",
        "validate_every",
        "num_workers",
        "device",
    }
    # A field added to TrainConfig after the checkpoint was written counts as its default there.
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    differ = sorted(
        k
        for k, v in config.to_dict().items()
        if k not in ignore and saved["config"].get(k, defaults[k]) != v
    )
    if differ:
        raise ValueError(
            f"{folder} was written by a run with other settings ({differ}); use another --out "
            "or the same settings to resume"
        )
    for name, part in parts.items():
        weights, _ = load_weights(folder / f"{name}.safetensors")
        part.load_state_dict(weights, strict=True)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    if ema is not None:
        ema.load(load_weights(folder / "ema.safetensors")[0])
    return RunState(step=saved["step"], losses=list(saved["losses"] or []))


def train(
    config: TrainConfig,
    dataset: Dataset,
    validate: Validator | None = None,
    show_progress: bool = True,
    on_step: Callable[[int, nn.Module], None] | None = None,
) -> Path:
    """Run one stage to the end (or `max_steps`), resuming from `out/last`; returns the model folder."""
    from accelerate import Accelerator

    # 1. Setup: devices, model, the trainable parts, optimizer.
    accelerator = Accelerator(
        cpu=config.device == "cpu",
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.grad_accum,
    )
    rank, world, device = accelerator.process_index, accelerator.num_processes, accelerator.device
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the {world} processes")
    if len(dataset) < config.batch_size:
        raise ValueError(
            f"the training set has {len(dataset)} clips, fewer than one batch "
            f"({config.batch_size}); lower batch_size or add data"
        )
    preset = config.run_preset()
    model = build_model(config, preset)
    tokenizer = load_tokenizer(preset)
    parts = trainable_modules(model, config.stage, config.keyvid_finetune)
    params = freeze_all_but(model, parts)
    for unet in (m for m in model.modules() if isinstance(m, UNet3D)):
        unet.gradient_checkpointing = config.gradient_checkpointing
    log.info(
        "stage %s: training %s (%d parameters); %d clips",
        config.stage,
        ", ".join(parts),
        sum(p.numel() for p in params),
        len(dataset),
    )
    optimizer = torch.optim.Adam(param_groups(model, config, params), lr=config.lr,
                                 weight_decay=config.weight_decay)
    ema = EMA(params, config.ema_decay) if config.ema_decay else None
    module = StageModule(config, preset, model, tokenizer)
    module, optimizer = accelerator.prepare(module, optimizer)

    # 2. Resume.
    out = Path(config.out)
    state = RunState(losses=[])
    if (out / LAST / "state.json").is_file():
        state = load_checkpoint(out, parts, optimizer, ema, config)
        log.info("resumed %s at step %d", out / LAST, state.step)
    steps_per_epoch = len(dataset) // config.batch_size // config.grad_accum
    if steps_per_epoch == 0:
        raise ValueError(
            "one optimizer step needs batch_size x grad_accum clips; the training set is smaller"
        )
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    writer = _tensorboard(out) if accelerator.is_main_process else None

    # 3. Loop: each optimizer step takes grad_accum micro-batches.
    started, done_at_start = time.perf_counter(), state.step
    progress = _progress(show_progress and accelerator.is_main_process, total, state.step, config.log_every)
    while state.step < total:
        epoch, within = divmod(state.step, steps_per_epoch)
        micro_batches = batches(
            dataset, config, clip_fps(config.stage, preset), epoch, rank, world, within * config.grad_accum
        )
        for micro, batch in enumerate(micro_batches):
            with accelerator.accumulate(module):
                generator = _step_generator(config, state.step, micro % config.grad_accum, rank, device)
                batch = batch.to(device)
                loss = module(batch, generator)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            if not accelerator.sync_gradients:
                continue
            if ema is not None:
                ema.update()
            state.step += 1
            if on_step is not None:  # every rank: e.g. to check that replicas agree
                on_step(state.step, model)
            value = accelerator.reduce(loss.detach(), reduction="mean").item()
            state.losses.append(value)
            rate = (
                (state.step - done_at_start)
                * config.batch_size
                * config.grad_accum
                / (time.perf_counter() - started)
            )
            progress(state.step, value, rate)
            if writer is not None and state.step % config.log_every == 0:
                writer.add_scalar("loss", value, state.step)
                writer.add_scalar("clips_per_second", rate, state.step)
            if state.step % config.checkpoint_every == 0 or state.step == total:
                if accelerator.is_main_process:
                    save_checkpoint(out, parts, optimizer, ema, state, config)
                accelerator.wait_for_everyone()
            if (
                validate
                and config.validate_every
                and state.step % config.validate_every == 0
                and accelerator.is_main_process
            ):
                for name, metric in validate(model, preset, tokenizer, state.step).items():
                    log.info("step %d validation %s = %.4g", state.step, name, metric)
                    if writer is not None:
                        writer.add_scalar(f"val/{name}", metric, state.step)
            if state.step >= total:
                break

    # 4. Export: the model folder (EMA weights if kept) that `asva animate --model` takes.
    if ema is not None:
        with torch.no_grad():
            for p, s in zip(params, ema.shadow, strict=True):
                p.copy_(s.to(p.dtype))
    final = out / FINAL
    if accelerator.is_main_process:
        export_model(final, preset, model)
        log.info(
            "stage %s done: %d steps, last loss %.4f; model in %s",
            config.stage,
            state.step,
            state.losses[-1] if state.losses else math.nan,
            final,
        )
        if writer is not None:
            writer.close()
    accelerator.wait_for_everyone()
    return final


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard not installed: no TensorBoard logs")
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _progress(enabled: bool, total: int, start: int, every: int) -> Callable[[int, float, float], None]:
    if not enabled:
        return lambda *_: None
    if not sys.stderr.isatty():  # a log file: a line every `every` steps instead of a redrawn bar
        started = time.perf_counter()

        def report(step: int, loss: float, rate: float) -> None:
            if step % every == 0 or step >= total:
                spent = time.perf_counter() - started
                eta = spent / max(step - start, 1) * (total - step)
                log.info("step %d/%d  loss %.4f  %.2f clips/s  eta %.0f min", step, total, loss, rate,
                         eta / 60)

        return report
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:.1f} clips/s"),
        TimeRemainingColumn(),
        transient=False,
    )
    task = bar.add_task("training", total=total, completed=start, loss=math.nan, rate=0.0)
    bar.start()

    def update(step: int, loss: float, rate: float) -> None:
        bar.update(task, completed=step, loss=loss, rate=rate)
        if step >= total:
            bar.stop()

    return update
