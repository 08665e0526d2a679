"""Loading and saving sync-classifier weights: the released ASVA folders and our safetensors files.

Released layout (ASVA `load_avsync_model`): a folder with `audio_encoder/`, `video_encoder/` and
`head/`, each holding `diffusion_pytorch_model.bin` (or `.safetensors`) and a diffusers
`config.json`. Each part is checked key by key and shape by shape (BatchNorm buffers included)
before anything is copied. Ours: `sync_classifier.safetensors` (the whole state dict) and
`sync_classifier.json` (the config, plus how the weights were trained).
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from asva.checkpoints.official import CheckpointError, check_keys, read_state_dict
from asva.log import get_logger
from asva.metrics.sync_classifier import SYNC_PRESETS, SyncClassifier, SyncClassifierConfig

log = get_logger(__name__)

PARTS: tuple[str, ...] = ("audio_encoder", "video_encoder", "head")
WEIGHTS_NAME = "sync_classifier.safetensors"
CONFIG_NAME = "sync_classifier.json"
_DIFFUSERS_FILES = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors")


def shipped_sync_classifier_dir() -> Path:
    """The folder of the classifier trained on SynthAV that ships with asva."""
    return Path(str(resources.files("asva.assets").joinpath("sync_classifier")))


def _part_file(folder: Path, part: str) -> Path:
    for name in _DIFFUSERS_FILES:
        if (folder / part / name).is_file():
            return folder / part / name
    raise CheckpointError(f"{folder / part}: no {' or '.join(_DIFFUSERS_FILES)} "
                          "(the released classifier is three folders: audio_encoder/, video_encoder/, head/)")


def _check_head_config(folder: Path, config: SyncClassifierConfig) -> None:
    path = folder / "head" / "config.json"
    if not path.is_file():
        return
    cfg = json.loads(path.read_text())
    for key, want in (("dim", config.head_dim), ("out_dim", 1)):
        if key in cfg and cfg[key] != want:
            raise CheckpointError(f"{path}: {key}={cfg[key]}, the classifier expects {want}")


def load_official_sync_classifier(folder: str | Path, config: SyncClassifierConfig | None = None, *,
                                  device: torch.device | str = "cpu",
                                  dtype: torch.dtype = torch.float32) -> SyncClassifier:
    """Load the released ASVA classifier from its three diffusers folders, strictly, frozen, eval mode."""
    folder = Path(folder)
    config = config or SYNC_PRESETS["asva"]
    _check_head_config(folder, config)
    model = SyncClassifier(config)
    states = {}
    for part in PARTS:
        path = _part_file(folder, part)
        states[part] = read_state_dict(path)
        check_keys(getattr(model, part), states[part], str(path))  # all parts checked before any copy
    for part in PARTS:
        getattr(model, part).load_state_dict(states[part], strict=True)
    log.info("loaded the sync classifier from %s (%s)", folder, ", ".join(PARTS))
    return model.to(device=device, dtype=dtype).requires_grad_(False).eval()


def save_sync_classifier(model: SyncClassifier, folder: str | Path, notes: dict[str, Any] | None = None
                         ) -> Path:
    """Write `sync_classifier.safetensors` + `sync_classifier.json` (config and `notes`) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_NAME))
    meta = {"config": dataclasses.asdict(model.config), **(notes or {})}
    (folder / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def _config_from_json(data: dict[str, Any], source: str) -> SyncClassifierConfig:
    raw = data.get("config")
    if not isinstance(raw, dict):
        raise CheckpointError(f"{source}: no 'config' object")
    fields = {f.name for f in dataclasses.fields(SyncClassifierConfig)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise CheckpointError(f"{source}: unknown config keys {unknown}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        return SyncClassifierConfig(**values)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: invalid config ({err})") from err


def load_sync_classifier(path: str | Path | None = None, *, device: torch.device | str = "cpu",
                         dtype: torch.dtype = torch.float32) -> SyncClassifier:
    """Load a classifier: None = the shipped SynthAV one; a released ASVA folder; or one of our folders."""
    folder = shipped_sync_classifier_dir() if path is None else Path(path)
    if all((folder / part).is_dir() for part in PARTS):
        return load_official_sync_classifier(folder, device=device, dtype=dtype)
    meta_path = folder / CONFIG_NAME
    if not meta_path.is_file():
        raise CheckpointError(f"{folder}: neither a released classifier (audio_encoder/, video_encoder/, "
                              f"head/) nor one of ours ({CONFIG_NAME} + {WEIGHTS_NAME})")
    config = _config_from_json(json.loads(meta_path.read_text()), str(meta_path))
    state = read_state_dict(folder / WEIGHTS_NAME)
    model = SyncClassifier(config)
    check_keys(model, state, str(folder / WEIGHTS_NAME))
    model.load_state_dict(state, strict=True)
    return model.to(device=device, dtype=dtype).requires_grad_(False).eval()
