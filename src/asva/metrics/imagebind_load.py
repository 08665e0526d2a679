"""Loading the ImageBind towers the metrics use (vision, audio, text) from `imagebind_huge.pth`, strictly.

The file is flat over all six modalities; each requested tower takes the entries under its four
prefixes (modality_preprocessors/trunks/heads/postprocessors.<modality>.), is checked key by key and
shape by shape, and the rest of the file is ignored with a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from asva.audio.config import ImageBindAudioConfig
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.checkpoints.official import CheckpointError, check_keys, read_state_dict
from asva.log import get_logger
from asva.metrics.imagebind_text import ImageBindTextConfig, ImageBindTextEncoder
from asva.metrics.imagebind_vision import ImageBindVisionConfig, ImageBindVisionEncoder

log = get_logger(__name__)

MODALITIES = ("vision", "audio", "text")
_PARTS = ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors")


@dataclass
class ImageBindTowers:
    """The loaded towers (None for those not asked for), frozen, in eval mode."""

    vision: ImageBindVisionEncoder | None = None
    audio: ImageBindAudioEncoder | None = None
    text: ImageBindTextEncoder | None = None


def _prefixes(modality: str) -> tuple[str, ...]:
    return tuple(f"{part}.{modality}." for part in _PARTS)


def _build(modality: str, vision: ImageBindVisionConfig | None, audio: ImageBindAudioConfig | None,
           text: ImageBindTextConfig | None) -> nn.Module:
    if modality == "vision":
        return ImageBindVisionEncoder(vision)
    if modality == "audio":
        return ImageBindAudioEncoder(audio)
    return ImageBindTextEncoder(text)


def towers_from_state(state: Mapping[str, torch.Tensor], source: str,
                      modalities: tuple[str, ...] = MODALITIES, *,
                      vision: ImageBindVisionConfig | None = None, audio: ImageBindAudioConfig | None = None,
                      text: ImageBindTextConfig | None = None, device: torch.device | str = "cpu",
                      dtype: torch.dtype = torch.float32) -> ImageBindTowers:
    """Build the requested towers from a flat ImageBind state dict, strictly."""
    unknown = sorted(set(modalities) - set(MODALITIES))
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {modalities}")
    subsets = {m: {k: v for k, v in state.items() if k.startswith(_prefixes(m))} for m in modalities}
    for m, sub in subsets.items():
        if not sub:
            raise CheckpointError(f"{source}: no {m} entries ({', '.join(p + '*' for p in _prefixes(m))}); "
                                  "is this an ImageBind checkpoint?")
    used = sum(len(s) for s in subsets.values())
    if used < len(state):
        log.info("%s: loading %d entries (%s); ignored %d entries of other modalities", source, used,
                 ", ".join(modalities), len(state) - used)
    towers = ImageBindTowers()
    models = {}
    for m in modalities:
        with torch.device("meta"):
            models[m] = _build(m, vision, audio, text)
        check_keys(models[m], subsets[m], source)  # every tower is checked before any is filled
    for m, model in models.items():
        model.to_empty(device=device)
        model.load_state_dict(subsets[m], strict=True)
        setattr(towers, m, model.to(dtype=dtype).requires_grad_(False).eval())
    return towers


def load_imagebind(path: str | Path, modalities: tuple[str, ...] = MODALITIES, *,
                   vision: ImageBindVisionConfig | None = None, audio: ImageBindAudioConfig | None = None,
                   text: ImageBindTextConfig | None = None, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32) -> ImageBindTowers:
    """Load the requested towers from an ImageBind file (e.g. `imagebind_huge.pth`), strictly, frozen."""
    return towers_from_state(read_state_dict(path), str(path), modalities, vision=vision, audio=audio,
                             text=text, device=device, dtype=dtype)
