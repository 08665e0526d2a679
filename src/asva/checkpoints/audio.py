"""Loading the released audio-encoder files strictly: `imagebind_huge.pth` and BEATs `.pt`.

Files are read with `weights_only=True` (a checkpoint can never run code on load) and checked key
by key and shape by shape before any weight is copied; a mismatch names the missing, unexpected
and wrongly shaped keys (first 10 of each) and the file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asva.audio.beats import BEATs
from asva.audio.config import (
    BEATS_ARCHITECTURE_FIELDS,
    BEATS_REFERENCE_DEFAULTS,
    AudioFeatureConfig,
    BEATsConfig,
    ImageBindAudioConfig,
)
from asva.audio.imagebind import MODALITY, ImageBindAudioEncoder
from asva.checkpoints.official import CheckpointError, check_keys
from asva.log import get_logger

log = get_logger(__name__)

# imagebind_huge.pth is flat over all modalities; these prefixes are the audio branch.
IMAGEBIND_AUDIO_PREFIXES: tuple[str, ...] = tuple(
    f"{part}.{MODALITY}."
    for part in ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors")
)
_SHARED_BIAS = re.compile(r"encoder\.layers\.(\d+)\.self_attn\.relative_attention_bias\.weight")


def _torch_load(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or non-torch files
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {err}") from err


def _materialise(
    model: nn.Module, state: Mapping[str, torch.Tensor], device: torch.device | str, dtype: torch.dtype
) -> nn.Module:
    # The model was built on the meta device: allocate, then copy (and cast) every checked tensor.
    model.to_empty(device=device)
    model.load_state_dict(state, strict=True)
    return model.to(dtype=dtype).requires_grad_(False).eval()


def load_imagebind_audio(
    path: str | Path,
    config: ImageBindAudioConfig | None = None,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> ImageBindAudioEncoder:
    """Load the audio branch of an ImageBind file (e.g. `imagebind_huge.pth`), strictly, frozen."""
    config = config or ImageBindAudioConfig()
    state = _torch_load(path)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path}: expected a flat state dict of tensors (as imagebind_huge.pth is), "
            f"got {type(state).__name__}"
        )
    audio = {k: v for k, v in state.items() if k.startswith(IMAGEBIND_AUDIO_PREFIXES)}
    if not audio:
        wanted = ", ".join(p + "*" for p in IMAGEBIND_AUDIO_PREFIXES)
        raise CheckpointError(f"{path}: no audio entries ({wanted}); is this an ImageBind checkpoint?")
    ignored = len(state) - len(audio)
    if ignored:
        log.info(
            "%s: ignored %d entries of other modalities; loading %d audio entries", path, ignored, len(audio)
        )
    with torch.device("meta"):
        model = ImageBindAudioEncoder(config)
    check_keys(model, audio, str(path))
    return _materialise(model, audio, device, dtype)


def beats_config_from_cfg(
    cfg: Mapping[str, Any], source: str = "BEATs cfg", base: BEATsConfig | None = None
) -> BEATsConfig:
    """Our `BEATsConfig` from a checkpoint's `cfg` dict; fields it omits take BEATs.py's defaults."""
    if not isinstance(cfg, Mapping):
        raise CheckpointError(f"{source}: 'cfg' must be a dict, got {type(cfg).__name__}")
    arch = {name: cfg.get(name, BEATS_REFERENCE_DEFAULTS[name]) for name in BEATS_ARCHITECTURE_FIELDS}
    try:
        return dataclasses.replace(base or BEATsConfig(), **arch)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: cannot build BEATs from its cfg: {err}") from err


def _check_shared_bias(state: Mapping[str, torch.Tensor], source: str) -> None:
    # The reference saves one shared table under every layer; copies that differ mean the file was
    # edited, and loading would silently keep only the last one.
    copies = {int(m.group(1)): v for k, v in state.items() if (m := _SHARED_BIAS.fullmatch(k))}
    if not copies:
        return
    first = min(copies)
    differing = [
        i
        for i, v in sorted(copies.items())
        if v.shape != copies[first].shape or not torch.equal(v, copies[first])
    ]
    if differing:
        raise CheckpointError(
            f"{source}: relative_attention_bias is shared by all layers, but the copies "
            f"under layers {differing} differ from layer {first}'s"
        )


def load_beats(
    path: str | Path,
    config: BEATsConfig | None = None,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> BEATs:
    """Load a BEATs `{'cfg', 'model'}` file strictly, frozen; the architecture comes from its cfg.

    With `config`, the file's architecture fields must equal it (otherwise a CheckpointError lists
    each differing field); with None the file's cfg alone decides.
    """
    ckpt = _torch_load(path)
    if not isinstance(ckpt, Mapping) or not {"cfg", "model"} <= ckpt.keys():
        keys = sorted(ckpt)[:10] if isinstance(ckpt, Mapping) else type(ckpt).__name__
        raise CheckpointError(
            f"{path}: expected a BEATs file {{'cfg': dict, 'model': state_dict}}, got {keys}"
        )
    built = beats_config_from_cfg(ckpt["cfg"], str(path), base=config)
    if config is not None:
        differing = [
            f"{name} (file {getattr(built, name)!r}, expected {getattr(config, name)!r})"
            for name in BEATS_ARCHITECTURE_FIELDS
            if getattr(built, name) != getattr(config, name)
        ]
        if differing:
            raise CheckpointError(
                f"{path}: BEATs architecture differs from the config: " + "; ".join(differing)
            )
    state = ckpt["model"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model' must be a state dict of tensors")
    with torch.device("meta"):
        model = BEATs(built)
    check_keys(model, state, str(path))
    _check_shared_bias(state, str(path))
    return _materialise(model, state, device, dtype)


def save_beats(model: BEATs, path: str | Path) -> Path:
    """Write `{'cfg', 'model'}` as the released BEATs files are (the shared table under every layer)."""
    path = Path(path)
    cfg = {name: getattr(model.config, name) for name in BEATS_ARCHITECTURE_FIELDS}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"cfg": cfg, "model": model.state_dict()}, tmp)
    tmp.replace(path)
    return path


def load_audio_features(
    config: AudioFeatureConfig | None = None,
    *,
    imagebind: str | Path | None = None,
    beats: str | Path | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """An `AudioFeatureExtractor` whose encoders come from the released files (one per configured encoder)."""
    from asva.audio.taps import AudioFeatureExtractor

    config = config or AudioFeatureConfig()
    paths = {"imagebind": imagebind, "beats": beats}
    missing = [name for name in config.encoders if paths[name] is None]
    if missing:
        raise ValueError(
            f"no checkpoint path given for encoder(s) {missing} (config.encoders = {config.encoders})"
        )
    loaders = {
        "imagebind": lambda p: load_imagebind_audio(p, config.imagebind, device=device, dtype=dtype),
        "beats": lambda p: load_beats(p, config.beats, device=device, dtype=dtype),
    }
    encoders = {name: loaders[name](paths[name]) for name in config.encoders}
    return AudioFeatureExtractor(config, encoders=encoders)
