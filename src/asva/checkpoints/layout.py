"""Parameter layouts (`key -> shape`) of model parts, built on the meta device: no memory, no weights."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from asva.adapters.model import AudioAnimationModel, build_audio_model
from asva.audio.beats import BEATs
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.backbone.model import COMPONENTS, Backbone
from asva.backbone.resampler import Resampler
from asva.keyvid.config import keyvid_backbone_config
from asva.keyvid.unet import build_keyvid_unet
from asva.presets import Preset


def _part(attr: str, field: str) -> Callable[[Preset], nn.Module]:
    return lambda preset: COMPONENTS[attr](getattr(preset.backbone, field))


# `asva inspect layout --component NAME` -> a builder of that part from a preset.
LAYOUT_COMPONENTS: dict[str, Callable[[Preset], nn.Module]] = {
    "unet": _part("unet", "unet"),
    "vae": _part("vae", "vae"),
    "text": _part("text_encoder", "text"),
    "image": _part("image_encoder", "image"),
    "resampler": _part("resampler", "resampler"),
    "imagebind-audio": lambda preset: ImageBindAudioEncoder(preset.audio.imagebind),
    "beats": lambda preset: BEATs(preset.audio.beats),
    "adapters": lambda preset: build_full_model(preset).adapters,
}


# `--variant NAME` -> builders of the parts that variant changes (KeyVID: the keyframe generator's
# UNet, and its Resampler with 48 frame slots); every other part is the base one.
LAYOUT_VARIANTS: dict[str, dict[str, Callable[[Preset], nn.Module]]] = {
    "base": {},
    "keyvid": {
        "unet": build_keyvid_unet,
        "resampler": lambda preset: Resampler(keyvid_backbone_config(preset.backbone).resampler),
    },
}


def build_full_model(preset: Preset) -> AudioAnimationModel:
    """Backbone + audio encoders + adapters of a preset (random weights; on meta inside build_on_meta)."""
    return build_audio_model(Backbone(preset.backbone), preset.audio, preset.adapters)


def build_on_meta(preset: Preset, component: str, variant: str = "base") -> nn.Module:
    """Instantiate one part of a preset (of a model variant) on the meta device (shapes only)."""
    if component not in LAYOUT_COMPONENTS:
        raise KeyError(f"unknown component {component!r}; expected one of {sorted(LAYOUT_COMPONENTS)}")
    if variant not in LAYOUT_VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; expected one of {sorted(LAYOUT_VARIANTS)}")
    builder = LAYOUT_VARIANTS[variant].get(component, LAYOUT_COMPONENTS[component])
    with torch.device("meta"):
        return builder(preset)


def component_layout(
    preset: Preset, component: str, variant: str = "base"
) -> list[tuple[str, tuple[int, ...]]]:
    """`(key, shape)` of every state-dict entry of one part, in state-dict order."""
    module = build_on_meta(preset, component, variant)
    return [(key, tuple(value.shape)) for key, value in module.state_dict().items()]


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; shared parameters are counted once."""
    params = {id(p): p for p in module.parameters()}.values()
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return total, trainable
