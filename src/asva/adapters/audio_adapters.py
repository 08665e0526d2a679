"""The audio adapters of Efficient two-stage ASVA and how they attach to the frozen UNet.

`AudioAdapters` holds every trainable piece: one Linear per tapped audio feature (e.g. ImageBind
and BEATs layers 3/7/11, 768 → context_dim) producing audio tokens, and one
`WindowedAudioAttention` per temporal transformer of the UNet. `attach_audio_adapters` runs each
attention right before its temporal transformer through a forward pre-hook, so the UNet's own
modules and state-dict keys stay untouched: an official checkpoint loads strictly whether or not
adapters are attached, and the adapters' keys live under their own module.

The audio reaches the hooks through the UNet's `extra` mapping: `extra["audio_tokens"]` (B, N, D)
and `extra["audio_mask"]` (B, F, N) bool. Without them the hooks do nothing, and the UNet is the
plain backbone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from asva.adapters.audio_attention import AUDIO_MASK, AUDIO_TOKENS, WindowedAudioAttention
from asva.adapters.config import AdapterConfig
from asva.adapters.window import window_mask

__all__ = ["AUDIO_MASK", "AUDIO_TOKENS", "AudioAdapters", "AudioTapSpec", "attach_audio_adapters"]


@dataclass(frozen=True)
class AudioTapSpec:
    """One tapped audio feature: its name (e.g. 'imagebind_3') and token width."""

    name: str
    dim: int


def site_key(name: str) -> str:
    """A UNet module path as a ModuleDict key ('input_blocks.1.2' -> 'input_blocks_1_2')."""
    return name.replace(".", "_")


class AudioAdapters(nn.Module):
    """Per-feature audio projections and per-site windowed audio attention (all trainable)."""

    def __init__(
        self, taps: list[AudioTapSpec], sites: Mapping[str, int], context_dim: int, config: AdapterConfig
    ) -> None:
        super().__init__()
        if not taps:
            raise ValueError("AudioAdapters needs at least one audio feature tap")
        self.config = config
        self.tap_names = [tap.name for tap in taps]
        self.projections = nn.ModuleDict({tap.name: nn.Linear(tap.dim, context_dim) for tap in taps})
        self.sites = nn.ModuleDict(
            {
                site_key(name): WindowedAudioAttention(channels, context_dim, config.head_channels)
                for name, channels in sites.items()
            }
        )
        self.site_names = list(sites)

    def project(self, features: Mapping[str, tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """{tap name: (tokens (B, N_i, D_i), times (N_i,))} -> audio tokens (B, ΣN_i, C) and times (ΣN_i,).

        Each tapped layer keeps its own tokens (with their times); they are concatenated along the
        sequence so every frame reads all layers of both encoders inside its window.
        """
        missing = [name for name in self.tap_names if name not in features]
        if missing:
            raise ValueError(f"audio features {missing} missing; got {sorted(features)}")
        tokens = [self.projections[name](features[name][0]) for name in self.tap_names]  # (B, N_i, C)
        times = [features[name][1].to(tokens[0].device) for name in self.tap_names]  # (N_i,)
        return torch.cat(tokens, dim=1), torch.cat(times)

    def mask(self, token_times: Tensor, frame_time: Tensor, fps: float, batch: int) -> Tensor:
        """(B, F, N) window mask for radius `window` / fps seconds around each frame's time."""
        radius = self.config.window / fps
        return window_mask(frame_time, token_times, radius)[None].expand(batch, -1, -1)


def temporal_sites(unet: nn.Module, config: AdapterConfig) -> dict[str, int]:
    """{dotted name: channels} of the temporal transformers that get an audio attention."""
    sites = {}
    for name, module in unet.temporal_transformers():
        if name.startswith("init_attn") and not config.include_init_attn:
            continue
        sites[name] = module.norm.num_channels
    return sites


def attach_audio_adapters(unet: nn.Module, adapters: AudioAdapters) -> list[RemovableHandle]:
    """Run each site's audio attention right before its temporal transformer; returns the hook handles."""
    modules = dict(unet.temporal_transformers())
    unknown = [name for name in adapters.site_names if name not in modules]
    if unknown:
        raise ValueError(f"adapter sites {unknown[:5]} are not temporal transformers of this UNet")
    return [
        modules[name].register_forward_pre_hook(adapters.sites[site_key(name)].pre_hook)
        for name in adapters.site_names
    ]
