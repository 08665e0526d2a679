"""Model folders: an `asva.json` naming a preset and the weight files that make up a model.

```
my-model/
  asva.json                   {"preset": "tiny", "backbone": "backbone.safetensors",
                               "audio_encoders": "audio_encoders.safetensors",
                               "adapters": "adapters.safetensors"}
```
Keys (all but `preset` optional): `checkpoint` (an official DynamiCrafter model.ckpt), `backbone`
(our safetensors of the backbone in the official key layout), `audio_encoders`, `adapters`
(safetensors + JSON sidecar each), `vocab` (the OpenCLIP BPE file), `keyvid` (a whole KeyVID model,
read by `asva.pipelines.keyvid`; see `asva.checkpoints.keyvid`), `overrides` (changes to the
preset's audio side, `asva.presets.with_overrides`: {"adapters": {"window": 2.5}, "audio":
{"encoders": ["imagebind"], "layers": [3]}}; research runs write it). With `adapters` the model is
an `AudioAnimationModel`; without, the backbone alone.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asva.adapters.model import AudioAnimationModel, build_audio_model
from asva.audio.config import AudioFeatureConfig
from asva.audio.taps import AudioFeatureExtractor
from asva.backbone.model import Backbone
from asva.checkpoints.backbone import load_backbone
from asva.checkpoints.official import load_official_state_dict, official_state_dict
from asva.checkpoints.trained import (
    CheckpointError,
    check_keys,
    check_meta,
    load_into,
    load_weights,
    save_weights,
)
from asva.diffusion.schedule import NoiseSchedule
from asva.log import get_logger
from asva.presets import Preset, get_preset, preset_overrides, with_overrides

log = get_logger(__name__)

CONFIG_FILE = "asva.json"
AUDIO_ENCODERS = "audio_encoders"  # the sidecar "part" of audio-encoder files
KEYS = ("preset", "checkpoint", "backbone", "audio_encoders", "adapters", "vocab", "keyvid", "overrides")


@dataclass
class ModelFolder:
    """What an `asva.json` says, with paths resolved against its folder."""

    folder: Path
    preset: Preset
    files: dict[str, Path]

    @classmethod
    def read(cls, folder: str | Path) -> ModelFolder:
        """Parse `folder/asva.json`; unknown keys and missing files are errors naming them."""
        folder = Path(folder)
        path = folder / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder} is not a model folder: no {CONFIG_FILE} in it")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        if not isinstance(config, dict) or "preset" not in config or set(config) - set(KEYS):
            raise ValueError(
                f"{path}: expected keys {list(KEYS)} ('preset' required), "
                f"got {sorted(config) if isinstance(config, dict) else config!r}"
            )
        files = {k: folder / v for k, v in config.items() if k not in ("preset", "overrides") and v}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{path} names files that do not exist: {missing}")
        try:
            preset = with_overrides(get_preset(config["preset"]), config.get("overrides"))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
        return cls(folder, preset, files)


def preset_meta(preset: Preset) -> dict[str, Any]:
    """What a weight file's sidecar records about the model it belongs to."""
    return {"preset": preset.name, "backbone_config": dataclasses.asdict(preset.backbone)}


def load_model(
    folder: str | Path, device: str | torch.device = "cpu"
) -> tuple[Preset, Backbone | AudioAnimationModel, ModelFolder]:
    """Build the model a folder describes: backbone, then (if named) audio encoders and adapters."""
    spec = ModelFolder.read(folder)
    preset, files = spec.preset, spec.files
    if "checkpoint" in files and "backbone" in files:
        raise ValueError(f"{spec.folder / CONFIG_FILE}: give 'checkpoint' or 'backbone', not both")
    backbone = load_backbone(preset, files.get("checkpoint"), weights_follow="backbone" in files)
    if "backbone" in files:
        load_backbone_weights(backbone, preset, files["backbone"])
    model: Backbone | AudioAnimationModel = backbone
    if "adapters" in files:
        model = build_audio_model(backbone, preset.audio, preset.adapters)
        if "audio_encoders" in files:
            load_into(
                model.audio_features,
                files["audio_encoders"],
                audio_encoder_meta(preset.audio),
            )
        else:
            log.warning("%s: no audio_encoders file; the audio encoders have random weights", spec.folder)
        load_adapters(model, preset, files["adapters"])
    elif "audio_encoders" in files:
        raise ValueError(f"{spec.folder / CONFIG_FILE}: 'audio_encoders' without 'adapters' has no use")
    return preset, model.to(device).eval(), spec


def load_encoder_weights(extractor: AudioFeatureExtractor, path: Path) -> None:
    """Trained audio encoders (a file written for any set of taps and encoders, e.g. by
    `asva.audio.pretrain`) into the encoders `extractor` has; each must exist in the file with the
    same architecture. Which layers are tapped does not matter: taps have no weights."""
    state, saved = _read_audio_encoders(path)
    for name in extractor.config.encoders:
        _load_encoder(extractor.encoders[name], name, state, saved, path)


def load_one_encoder(encoder: nn.Module, name: str, path: Path) -> None:
    """The `name` encoder ("imagebind" or "beats") of an audio-encoder file into `encoder` (an
    encoder of that kind, whose `config` must equal the file's)."""
    state, saved = _read_audio_encoders(path)
    _load_encoder(encoder, name, state, saved, path)


def _read_audio_encoders(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors of an audio-encoder file and the audio config it was saved with."""
    state, meta = load_weights(path)
    if meta.get("part") != AUDIO_ENCODERS or not isinstance(meta.get("audio_config"), dict):
        raise CheckpointError(f"{path} is not an audio-encoder file (sidecar part {meta.get('part')!r})")
    return state, meta["audio_config"]


def _load_encoder(encoder: nn.Module, name: str, state: dict[str, torch.Tensor], saved: dict[str, Any],
                  path: Path) -> None:
    if name not in saved.get("encoders", []):
        raise CheckpointError(f"{path} has no {name!r} encoder (it holds {saved.get('encoders')})")
    check_meta(saved, {name: dataclasses.asdict(encoder.config)}, path)
    prefix = f"encoders.{name}."
    part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    check_keys(encoder, part, f"{path} ({name})")
    encoder.load_state_dict(part, strict=True)


def load_backbone_weights(backbone: Backbone, preset: Preset, path: Path) -> None:
    """Our backbone safetensors (official key layout) into `backbone`, strictly, after the sidecar check."""
    state, meta = load_weights(path)
    check_meta(meta, {"part": "backbone", **preset_meta(preset)}, path)  # sizes too, not just the name
    load_official_state_dict(backbone, state, str(path), NoiseSchedule(preset.schedule).official_buffers())


def save_backbone_weights(backbone: Backbone, preset: Preset, path: Path, extra: dict | None = None) -> Path:
    """The backbone in the official key layout, as safetensors + sidecar."""
    meta = {"part": "backbone", **preset_meta(preset), **(extra or {})}
    return save_weights(path, official_state_dict(backbone), meta)


def audio_encoder_meta(audio: AudioFeatureConfig) -> dict[str, Any]:
    """The sidecar fields of an audio-encoder file made for encoders configured by `audio`."""
    return {"part": AUDIO_ENCODERS, "audio_config": dataclasses.asdict(audio)}


def adapter_meta(preset: Preset) -> dict[str, Any]:
    """The sidecar fields an adapters file must match to load into a model."""
    return {
        "part": "adapters",
        **preset_meta(preset),
        "audio_config": dataclasses.asdict(preset.audio),
        "adapter_config": dataclasses.asdict(preset.adapters),
    }


def load_adapters(model: AudioAnimationModel, preset: Preset, path: Path) -> None:
    """Adapter weights into `model.adapters`, after checking they were made for this preset."""
    load_into(model.adapters, path, adapter_meta(preset))


def save_part(module: nn.Module, path: Path, meta: dict[str, Any]) -> Path:
    """Any part's state dict as safetensors + sidecar."""
    return save_weights(path, module.state_dict(), meta)


def write_model_folder(folder: str | Path, preset: Preset, model: Backbone | AudioAnimationModel) -> Path:
    """Write every part of `model` and an `asva.json` that names them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    backbone = model.backbone if isinstance(model, AudioAnimationModel) else model
    config: dict[str, Any] = {"preset": preset.name, "backbone": "backbone.safetensors"}
    if overrides := preset_overrides(preset):
        config["overrides"] = overrides
    save_backbone_weights(backbone, preset, folder / "backbone.safetensors")
    if isinstance(model, AudioAnimationModel):
        save_part(
            model.audio_features,
            folder / "audio_encoders.safetensors",
            audio_encoder_meta(preset.audio),
        )
        save_part(model.adapters, folder / "adapters.safetensors", adapter_meta(preset))
        config.update(audio_encoders="audio_encoders.safetensors", adapters="adapters.safetensors")
    tmp = folder / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(folder / CONFIG_FILE)
    return folder
