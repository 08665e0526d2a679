"""Training the keyframe localizer: targets from optical flow, the loss, and the recipe.

Target (KeyVID motion_scores/network/audiodataset.py, FACTS §12): the video's motion curve at its
native rate (`motion_score` on frames read at 24 FPS), sliced to the 2 s audio window with
start/end index = ceil(sample · len(curve) / len(audio)), its first value dropped, linearly
resampled to 48 points and min-max normalised to [0, 1] (a constant slice gives zeros).

Loss: L1 between the predicted and the target curve, plus `energy_weight` times the same distance
to the audio's mel-energy curve (the normalised mel averaged over bins, first frame dropped,
resampled to 48 and min-max normalised). KeyVID trained with MSE + 0.3 · MSE to that energy curve;
`distance="mse", energy_weight=0.3` reproduces it. The default is plain L1: the energy term pulls
the prediction towards loudness, which on SynthAV peaks at the sounds, where most motion curves
have valleys (impacts stop the object).

Recipe: windows start at a random sample in training (KeyVID: `np.random.randint`) and at 0 for
evaluation; AdamW with a cosine-decayed learning rate; the weights are written atomically after
every epoch, so a killed run loses at most one epoch and `resume=True` continues from the last
one (the optimizer's moments restart).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from asva.audio.config import SAMPLE_RATE
from asva.checkpoints.trained import sidecar
from asva.data.layout import DatasetLayout
from asva.keyframes.localizer import (
    WEIGHTS_NAME,
    KeyframeLocalizer,
    get_localizer_config,
    load_localizer,
    localizer_from_imagebind,
    save_localizer,
)
from asva.keyframes.motion import motion_score
from asva.log import get_logger
from asva.media import read_audio, read_video_frames

log = get_logger(__name__)

VIDEO_FPS = 24.0  # the localizer's frame rate: targets are read at it
DISTANCES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "mse": F.mse_loss,
}


@dataclass
class LocalizerClip:
    """One video: its 16 kHz mono audio and its motion curve at 24 FPS."""

    name: str  # `<class>/<name>.mp4`
    audio: np.ndarray  # (S,) float32
    motion: np.ndarray  # (T - 1,) float32, pixels per frame


def slot_curves(values: torch.Tensor, num_slots: int) -> torch.Tensor:
    """(B, L) curves -> (B, num_slots): first value dropped, linear resampling, min-max to [0, 1]."""
    values = values[:, 1:]  # (B, L - 1); KeyVID drops the first value
    if values.shape[1] < 2:
        raise ValueError(f"a curve needs at least 3 values to resample, got {values.shape[1] + 1}")
    # np.interp on linspace(0, 1) grids = linear interpolation with aligned corners
    resampled = F.interpolate(values[:, None].float(), size=num_slots, mode="linear", align_corners=True)[
        :, 0
    ]
    low = resampled.amin(dim=1, keepdim=True)
    span = resampled.amax(dim=1, keepdim=True) - low
    return torch.where(span > 0, (resampled - low) / span.clamp_min(1e-12), torch.zeros_like(resampled))


def motion_target(
    motion: np.ndarray, start_sample: int, window_samples: int, total_samples: int, num_slots: int = 48
) -> np.ndarray:
    """The localizer's target (num_slots,) for the audio window [start, start + window) of a clip."""
    n = len(motion)
    start = math.ceil(start_sample * n / total_samples)
    end = math.ceil((start_sample + window_samples) * n / total_samples)
    piece = torch.as_tensor(np.asarray(motion[start:end], dtype=np.float32))[None]  # (1, L)
    return slot_curves(piece, num_slots)[0].numpy()


def energy_target(mel: torch.Tensor, num_slots: int) -> torch.Tensor:
    """The mel-energy curve (B, num_slots) of a normalised mel image (B, 1, M, F)."""
    return slot_curves(mel.mean(dim=(1, 2)), num_slots)


def localizer_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    energy: torch.Tensor | None = None,
    distance: str = "l1",
    energy_weight: float = 0.0,
) -> torch.Tensor:
    """distance(pred, target) + energy_weight · distance(pred, energy), all (B, num_slots)."""
    fn = DISTANCES[distance]
    loss = fn(pred, target)
    if energy_weight:
        if energy is None:
            raise ValueError("energy_weight > 0 needs the mel-energy curve")
        loss = loss + energy_weight * fn(pred, energy)
    return loss


def load_clips(
    root: str | Path, split: str, flow: str = "dis", min_seconds: float = 2.0
) -> list[LocalizerClip]:
    """Decode a split of a dataset in the common layout: audio, and motion at 24 FPS from optical flow."""
    clips = []
    for item in DatasetLayout(root).split(split):
        audio = read_audio(item.path, SAMPLE_RATE)
        if len(audio) < min_seconds * SAMPLE_RATE:
            log.warning(
                "%s: %.2f s of audio, shorter than the %.1f s window; skipped",
                item.rel,
                len(audio) / SAMPLE_RATE,
                min_seconds,
            )
            continue
        frames = read_video_frames(item.path, VIDEO_FPS, duration_s=len(audio) / SAMPLE_RATE)
        clips.append(LocalizerClip(item.rel, audio, motion_score(frames, flow)))
    if not clips:
        raise ValueError(
            f"{root}: no usable video in the {split} split (each needs {min_seconds} s of audio)"
        )
    return clips


@dataclass(frozen=True)
class LocalizerTrainConfig:
    """Hyper-parameters of `train_localizer`."""

    preset: str = "tiny"
    epochs: int = 100  # about 10 minutes with one CPU thread for 240 clips at tiny size
    batch_size: int = 8
    lr: float = 1e-3  # from scratch at tiny size; KeyVID fine-tuned ImageBind-huge at 1.5e-5
    weight_decay: float = 0.01
    distance: str = "l1"
    energy_weight: float = 0.0
    seed: int = 0
    threads: int = 1
    imagebind: str | None = None  # an ImageBind checkpoint to start the encoder from

    def __post_init__(self) -> None:
        get_localizer_config(self.preset)
        if self.distance not in DISTANCES:
            raise ValueError(f"distance must be one of {sorted(DISTANCES)}, got {self.distance!r}")
        if (
            self.epochs < 1
            or self.batch_size < 1
            or self.lr <= 0
            or self.energy_weight < 0
            or self.threads < 1
        ):
            raise ValueError(f"LocalizerTrainConfig: bad values {self}")


def batch_windows(
    clips: list[LocalizerClip], window: int, num_slots: int, rng: np.random.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio windows (B, window) and their targets (B, num_slots); random starts, or 0 without `rng`."""
    audio, targets = [], []
    for clip in clips:
        start = int(rng.integers(0, len(clip.audio) - window + 1)) if rng is not None else 0
        audio.append(clip.audio[start : start + window])
        targets.append(motion_target(clip.motion, start, window, len(clip.audio), num_slots))
    return torch.from_numpy(np.stack(audio)), torch.from_numpy(np.stack(targets))


def train_localizer(
    data: str | Path,
    out: str | Path,
    config: LocalizerTrainConfig | None = None,
    *,
    resume: bool = False,
    clips: list[LocalizerClip] | None = None,
) -> dict[str, Any]:
    """Train a localizer on the train split of `data`; weights and config go to `out` after each epoch.

    `clips` skips decoding (pre-loaded train clips).
    Returns the summary also stored in the weights' JSON sidecar.
    """
    # 1. setup
    config = config or LocalizerTrainConfig()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(out)
    started = time.perf_counter()
    clips = clips if clips is not None else load_clips(data, "train")
    log.info("localizer: %d training clips decoded in %.1f s", len(clips), time.perf_counter() - started)
    model_config = get_localizer_config(config.preset)
    first_epoch = 0
    if resume:
        model = load_localizer(out).requires_grad_(True)
        first_epoch = _saved_epoch(out, config)
    elif config.imagebind:
        model = localizer_from_imagebind(config.imagebind, model_config)
    else:
        model = KeyframeLocalizer(model_config)
    model.train()
    window, slots = model_config.clip_samples, model_config.num_slots
    steps_per_epoch = math.ceil(len(clips) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    done = first_epoch * steps_per_epoch  # a resumed run continues the same learning-rate curve
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step + done, total_steps) / total_steps))
    )

    # 2. loop
    history: list[float] = []
    for epoch in range(first_epoch, config.epochs):
        rng = np.random.default_rng([config.seed, epoch])  # epoch-seeded: a resumed run sees the same data
        order = rng.permutation(len(clips))
        losses = []
        for step in range(steps_per_epoch):
            batch = [clips[i] for i in order[step * config.batch_size : (step + 1) * config.batch_size]]
            audio, target = batch_windows(batch, window, slots, rng)  # (B, S), (B, 48)
            mel = model.mel(audio)  # (B, 1, 128, 198)
            energy = energy_target(mel, slots) if config.energy_weight else None
            loss = localizer_loss(model(mel), target, energy, config.distance, config.energy_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
        # 3. checkpoint, atomically, every epoch
        summary = {
            "training": {**dataclasses.asdict(config), "data": str(data), "train_clips": len(clips)},
            "epoch": epoch + 1,
            "train_loss": history[-1],
            "seconds": round(time.perf_counter() - started, 1),
        }
        save_localizer(model, out, summary)
        log.info("localizer epoch %d/%d: loss %.4f", epoch + 1, config.epochs, history[-1])
    return {**summary, "loss_history": history} if history else {"epoch": first_epoch}


def _saved_epoch(out: Path, config: LocalizerTrainConfig) -> int:
    meta = json.loads(sidecar(out / WEIGHTS_NAME).read_text())
    saved = meta.get("training", {})
    if saved.get("preset") != config.preset:
        raise ValueError(f"{out}: cannot resume a {saved.get('preset')!r} run as {config.preset!r}")
    return int(meta.get("epoch", 0))
