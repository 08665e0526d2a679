"""`AudioAnimationModel`: frozen backbone + frozen audio encoders + trainable audio adapters."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asva.adapters.audio_adapters import (
    AUDIO_MASK,
    AUDIO_TOKENS,
    AudioAdapters,
    AudioTapSpec,
    attach_audio_adapters,
    temporal_sites,
)
from asva.adapters.config import AdapterConfig
from asva.adapters.window import frame_times
from asva.audio.config import AudioFeatureConfig
from asva.audio.taps import AudioFeatureExtractor
from asva.backbone.model import Backbone

# Token width of each encoder's hidden states, read from its config.
_TAP_DIMS = {
    "imagebind": lambda cfg: cfg.imagebind.embed_dim,
    "beats": lambda cfg: cfg.beats.encoder_embed_dim,
}


def tap_specs(config: AudioFeatureConfig) -> list[AudioTapSpec]:
    """One spec per (encoder, layer), named '<encoder>_<layer>' (e.g. 'imagebind_3')."""
    return [
        AudioTapSpec(f"{enc}_{layer}", _TAP_DIMS[enc](config))
        for enc in config.encoders
        for layer in config.layers
    ]


class AudioAnimationModel(nn.Module):
    """The DynamiCrafter backbone with ASVA's audio adapters attached; only the adapters train.

    State-dict layout: `backbone.*` (the official parts), `audio_features.*` (ImageBind / BEATs),
    `adapters.*` (ours). The adapters run through forward pre-hooks on the UNet's temporal
    transformers, so `backbone.unet` keeps its official keys.
    """

    def __init__(
        self, backbone: Backbone, audio_features: AudioFeatureExtractor, config: AdapterConfig
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.audio_features = audio_features
        self.adapters = AudioAdapters(
            tap_specs(audio_features.config),
            temporal_sites(backbone.unet, config),
            backbone.config.unet.context_dim,
            config,
        )
        self._hooks = attach_audio_adapters(backbone.unet, self.adapters)
        mark_only_adapters_trainable(self)

    def train(self, mode: bool = True) -> AudioAnimationModel:
        """Only the adapters switch mode; the frozen backbone and encoders stay in eval mode."""
        super().train(mode)
        self.backbone.eval()
        self.audio_features.eval()
        return self

    def audio_condition(
        self, audio: Tensor, num_frames: int, fps: float, null: bool = False
    ) -> dict[str, Tensor]:
        """Audio (B, S) at 16 kHz -> the UNet's `extra`: audio tokens (B, N, C) and window mask (B, F, N).

        `null=True` gives the null-audio condition (encoders fed an all-zero mel; see
        `AudioFeatureExtractor.forward`), used for guidance and condition dropout.
        """
        taps = self.audio_features(audio, null=null)
        tokens, times = self.adapters.project(
            {f"{enc}_{layer}": (tap.tokens, tap.times) for (enc, layer), tap in taps.items()}
        )  # (B, N, C), (N,)
        mask = self.adapters.mask(times, frame_times(num_frames, fps, tokens.device), fps, audio.shape[0])
        return {AUDIO_TOKENS: tokens, AUDIO_MASK: mask}


def mark_only_adapters_trainable(model: AudioAnimationModel) -> None:
    """requires_grad on the adapters, off everywhere else (the frozen backbone and encoders)."""
    model.requires_grad_(False)
    model.adapters.requires_grad_(True)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that train: exactly the adapters' (checked, so nothing else slips in)."""
    params = [p for p in model.parameters() if p.requires_grad]
    adapter_ids = {id(p) for p in model.adapters.parameters()} if hasattr(model, "adapters") else set()
    stray = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in adapter_ids]
    if stray:
        raise RuntimeError(f"parameters outside the adapters require grad: {stray[:5]}")
    return params


def build_audio_model(
    backbone: Backbone, audio_config: AudioFeatureConfig, adapter_config: AdapterConfig
) -> AudioAnimationModel:
    """Fresh audio encoders (random; load real ones with `asva.checkpoints.audio`) and new adapters."""
    return AudioAnimationModel(backbone, AudioFeatureExtractor(audio_config), adapter_config)


def unet_prediction(unet: nn.Module, x: Tensor, t: Tensor, cond: dict[str, Tensor]) -> Tensor:
    """The UNet on (noisy latent ++ image latent) with its context, fs and (if any) audio condition.

    `cond` holds "concat" (B, 4, T, h, w), "context" (B, L, C), "fs" (B,) and optionally the audio
    keys; this is the network call both sampling and training make.
    """
    x_in = torch.cat([x, cond["concat"]], dim=1)  # (B, 8, T, h, w)
    extra = {key: cond[key] for key in (AUDIO_TOKENS, AUDIO_MASK) if key in cond} or None
    return unet(x_in, t, cond["context"], fs=cond["fs"], extra=extra)
