"""`load_backbone`: a preset's backbone with official weights, or random weights for tests and demos."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from asva.backbone.model import Backbone
from asva.backbone.tokenizer import BPETokenizer
from asva.checkpoints.official import load_official_state_dict, read_state_dict
from asva.diffusion.schedule import NoiseSchedule
from asva.log import get_logger
from asva.presets import Preset, get_preset

log = get_logger(__name__)


def resolve_preset(preset: str | Preset) -> Preset:
    """A preset object from a name or the object itself."""
    return get_preset(preset) if isinstance(preset, str) else preset


def load_backbone(
    preset: str | Preset,
    checkpoint: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    weights_follow: bool = False,
) -> Backbone:
    """Build the frozen backbone of `preset`; load an official `model.ckpt` strictly if given.

    Without a checkpoint the weights are random (seeded), which is what tests and the untrained
    demo use; a warning says so, unless `weights_follow` (the caller loads other weights next).
    """
    preset = resolve_preset(preset)
    torch.manual_seed(seed)  # random init is reproducible; overwritten when a checkpoint loads
    backbone = Backbone(preset.backbone)
    if checkpoint is None:
        if not weights_follow:
            log.warning("backbone %r has RANDOM weights (no checkpoint given)", preset.name)
    else:
        state = read_state_dict(checkpoint)
        load_official_state_dict(
            backbone,
            state,
            str(checkpoint),
            schedule_buffers=NoiseSchedule(preset.schedule).official_buffers(),
        )
    return backbone.freeze().to(device=device, dtype=dtype)


def load_tokenizer(preset: Preset, vocab: str | Path | None = None) -> BPETokenizer:
    """The BPE tokenizer for `preset`: from `vocab` if given, else the vocabulary the package ships for it."""
    if vocab is not None:
        return BPETokenizer(vocab)
    if preset.bundled_vocab is None:
        raise ValueError(
            f"preset {preset.name!r} needs the OpenCLIP vocabulary file: pass vocab=PATH to "
            "bpe_simple_vocab_16e6.txt.gz (it ships inside the open_clip package)"
        )
    return BPETokenizer(resources.files("asva.assets").joinpath(preset.bundled_vocab))
