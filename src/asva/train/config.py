"""Typed training config: one dataclass, per-stage defaults from the paper, YAML overrides.

Stages:
- `vae`: the tiny preset's autoencoder (reconstruction + KL). The released models ship a trained
  VAE; the CPU-sized one must learn its own before anything else can.
- `backbone`: the image-animation backbone without audio (UNet and Resampler train; VAE and
  OpenCLIP towers frozen). For tiny models only: the full-size backbone is DynamiCrafter's.
- `pretrain`: audio adapters on automatically curated, noisy data (Adam, lr 1e-4, batch 32, 30 epochs).
- `finetune`: audio adapters on K clean clips per class from a pretrain checkpoint (lr 5e-5, batch 16,
  500 epochs).
- `keyframe`: KeyVID's keyframe generator on a frozen backbone: 12 keyframes of a 2-s, 48-slot window
  at 24 FPS (KeyVID configs/training/keyframe_generation.yaml: lr 1e-5, batch 2 x 4 accumulated,
  gradient clip 0.5, 100k steps).
- `interpolate`: KeyVID's motion interpolator: a window of consecutive 24-FPS frames conditioned on
  the keyframes inside it (keyframe_interpolation.yaml, the same optimisation settings).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asva.presets import Preset

STAGES = ("vae", "backbone", "pretrain", "finetune", "keyframe", "interpolate")
KEYVID_STAGES = ("keyframe", "interpolate")
KEYVID_FINETUNE = ("temporal", "unet")  # TrainConfig.keyvid_finetune
_KEYVID_DEFAULTS = {"lr": 1e-5, "batch_size": 2, "grad_accum": 4, "max_grad_norm": 0.5, "epochs": 600,
                    "max_steps": 100_000}  # 100k steps of 8 clips: ~600 epochs of AVSync15's train split

# The papers' defaults per stage; everything else takes the dataclass defaults.
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "vae": {"lr": 2e-4, "batch_size": 16, "epochs": 20},
    "backbone": {"lr": 1e-4, "batch_size": 16, "epochs": 100},
    "pretrain": {"lr": 1e-4, "batch_size": 32, "epochs": 30},
    "finetune": {"lr": 5e-5, "batch_size": 16, "epochs": 500},
    "keyframe": _KEYVID_DEFAULTS,
    "interpolate": _KEYVID_DEFAULTS,
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; `for_stage` fills the stage's paper defaults."""

    preset: str
    stage: str
    data: str  # dataset root (the DESIGN layout) or, for pretrain, a curated manifest (.parquet)
    out: str = "runs/train"
    init: str | None = None  # model folder or checkpoint folder to start from (backbone, adapters)
    shots: int | None = None  # K clips per class (finetune); None = all
    split: str = "train"
    lr: float = 1e-4
    batch_size: int = 16
    epochs: int = 1
    max_steps: int | None = None  # stop early (after this many optimizer steps)
    grad_accum: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "no"  # "no", "fp16", "bf16" (GPU)
    gradient_checkpointing: bool = False
    ema_decay: float | None = None  # e.g. 0.999; None: no EMA
    cond_dropout: float = 0.05  # each of image, text, audio dropped independently with this probability
    kl_weight: float = 1e-6  # vae stage
    keyframe_ratio: float = 0.4  # keyframe stage: share of clips with motion-chosen (not consecutive) frames
    interpolation_frames: int = 12  # interpolate stage: frames per training window (KeyVID video_length 12)
    interpolation_max_stride: int = 2  # interpolate stage: window stride in 1..this (KeyVID randint(1, 2))
    # The audio side of the preset (research runs, `asva experiment`): window radius r in frames,
    # which encoders and 0-based layers feed the adapters (None: the preset's), and a file of trained
    # audio encoders (`asva.audio.pretrain`) to start from instead of random ones (pretrain stage;
    # keyframe stage: its ImageBind encoder becomes the KeyVID audio encoder).
    adapter_window: float | None = None
    audio_encoders: list[str] | None = None
    audio_layers: list[int] | None = None
    audio_weights: str | None = None
    # KeyVID stages: learning-rate multiplier for the parameters KeyVID adds to the UNet (frame-index
    # embedding, audio projection, the audio branches' gates and keys/values; see `keyvid_added`), the
    # ones that start from zero or fresh. 1 = KeyVID's single rate (the tiny recipes keep it).
    added_lr_scale: float = 1.0
    # KeyVID stages: what trains in the stage's UNet. "temporal" is KeyVID's `finetune: 2` (temporal
    # layers, fps embedding, KeyVID's extras; `keyvid_trainable`); "unet" trains the whole UNet of
    # the stage (spatial layers and input convolution too), for a backbone whose spatial layers have
    # never seen what the stage feeds them (the tiny interpolator: zero concat between keyframes).
    keyvid_finetune: str = "temporal"
    seed: int = 0
    num_workers: int = 0
    checkpoint_every: int = 200  # optimizer steps
    log_every: int = 10
    validate_every: int | None = None  # optimizer steps; renders samples and their oracle sync error
    validation_clips: int = 2
    device: str | None = None  # None: Accelerate decides (cuda if present)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        positive = {
            "lr": self.lr,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "grad_accum": self.grad_accum,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if not 0.0 <= self.cond_dropout < 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1), got {self.cond_dropout}")
        if self.shots is not None and self.shots < 1:
            raise ValueError(f"shots must be >= 1 (or unset for all clips), got {self.shots}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be 'no', 'fp16' or 'bf16', got {self.mixed_precision!r}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if not 0.0 <= self.keyframe_ratio <= 1.0:
            raise ValueError(f"keyframe_ratio must be in [0, 1], got {self.keyframe_ratio}")
        if self.preset_overrides():
            if self.stage not in ("pretrain", "finetune"):
                raise ValueError(f"adapter_window / audio_encoders / audio_layers change the audio adapters; "
                                 f"stage {self.stage!r} has none")
            self.run_preset()  # bad values (a layer out of range, an unknown encoder) fail here
        if self.audio_weights is not None and self.stage not in ("pretrain", "keyframe"):
            raise ValueError(f"audio_weights starts the audio encoders from trained weights: stages "
                             f"'pretrain' and 'keyframe' only (the later stages keep the model's they start "
                             f"from); got {self.stage!r}")
        if not self.added_lr_scale > 0:
            raise ValueError(f"added_lr_scale must be positive, got {self.added_lr_scale!r}")
        if self.added_lr_scale != 1.0 and self.stage not in KEYVID_STAGES:
            raise ValueError(f"added_lr_scale scales the learning rate of KeyVID's added parameters: stages "
                             f"{KEYVID_STAGES} only; got {self.stage!r}")
        if self.keyvid_finetune not in KEYVID_FINETUNE:
            raise ValueError(f"keyvid_finetune must be one of {KEYVID_FINETUNE}, "
                             f"got {self.keyvid_finetune!r}")
        if self.keyvid_finetune != "temporal" and self.stage not in KEYVID_STAGES:
            raise ValueError(f"keyvid_finetune chooses what a KeyVID stage trains: stages {KEYVID_STAGES} "
                             f"only; got {self.stage!r}")
        if self.interpolation_frames < 2 or self.interpolation_max_stride < 1:
            raise ValueError(f"need interpolation_frames >= 2 and interpolation_max_stride >= 1, got "
                             f"{self.interpolation_frames} and {self.interpolation_max_stride}")

    def preset_overrides(self) -> dict[str, dict[str, Any]]:
        """The `asva.presets.with_overrides` mapping these settings ask for (empty: the named preset)."""
        out: dict[str, dict[str, Any]] = {}
        if self.adapter_window is not None:
            out["adapters"] = {"window": self.adapter_window}
        audio = {k: list(v) for k, v in (("encoders", self.audio_encoders), ("layers", self.audio_layers))
                 if v is not None}
        if audio:
            out["audio"] = audio
        return out

    def run_preset(self) -> Preset:
        """The named preset with `preset_overrides` applied (validated: bad layers fail here)."""
        from asva.presets import get_preset, with_overrides

        return with_overrides(get_preset(self.preset), self.preset_overrides())

    @classmethod
    def for_stage(
        cls, preset: str, stage: str, data: str, overrides: dict[str, Any] | None = None
    ) -> TrainConfig:
        """The stage's paper defaults, then `overrides` (from YAML or the command line; unknown keys fail)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        values: dict[str, Any] = {"preset": preset, "stage": stage, "data": data, **STAGE_DEFAULTS[stage]}
        values.update(_checked(overrides or {}, "overrides"))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for the JSON sidecar of checkpoints)."""
        return dataclasses.asdict(self)


def _checked(values: dict[str, Any], source: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{source}: unknown training option(s) {unknown}; known: {sorted(names)}")
    return values


def read_options(path: str | Path) -> dict[str, Any]:
    """A YAML file of option: value pairs (an empty file gives {}); a missing file or a YAML that is
    not a mapping is an error naming the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
    return data


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a YAML file of TrainConfig fields; unknown keys are an error naming the key and file."""
    return _checked(read_options(path), str(path))


def field_names() -> list[str]:
    """Names of every TrainConfig field (for help texts)."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


__all__ = ["KEYVID_STAGES", "STAGES", "STAGE_DEFAULTS", "TrainConfig", "load_overrides", "read_options"]
