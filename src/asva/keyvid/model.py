"""`KeyVIDModel`: both KeyVID networks on one frozen DynamiCrafter backbone, plus the audio encoder.

KeyVID trains two models from DynamiCrafter-512 (FACTS §12): a keyframe generator (frame-index
embedding, 12 keyframes) and an interpolator (no frame-index embedding, keyframes given through
the concat channels). Each has its own fine-tuned UNet and Resampler (48 frame slots); the VAE, the
OpenCLIP towers and the audio encoder are shared and frozen.

State-dict layout: `backbone.*` (VAE, text, image tower, and the generator's `unet` and
`resampler`, official key names below those prefixes), `interpolator_unet.*`,
`interpolator_resampler.*`, `audio_encoder.*` (ImageBind's audio branch, imagebind_huge names).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asva.audio.fbank import imagebind_mel
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.backbone.model import Backbone
from asva.backbone.resampler import Resampler
from asva.backbone.unet import UNet3D
from asva.keyvid.config import keyvid_backbone_config
from asva.keyvid.unet import KeyVIDExtras, attach_keyvid, keyvid_config
from asva.presets import Preset


class KeyVIDModel(nn.Module):
    """Keyframe generator (`backbone.unet`, `backbone.resampler`) + interpolator + shared parts."""

    def __init__(self, preset: Preset) -> None:
        super().__init__()
        config = keyvid_backbone_config(preset.backbone)
        self.preset = preset
        self.backbone = Backbone(config)
        self.interpolator_unet = UNet3D(config.unet)
        self.interpolator_resampler = Resampler(config.resampler)
        self.audio_encoder = ImageBindAudioEncoder(preset.audio.imagebind)
        self.generator_extras: KeyVIDExtras = attach_keyvid(self.backbone.unet, keyvid_config(preset))
        self.interpolator_extras: KeyVIDExtras = attach_keyvid(
            self.interpolator_unet, keyvid_config(preset, frame_index_embedding=False)
        )

    @property
    def generator_unet(self) -> UNet3D:
        """The keyframe generator's UNet (frame-index embedding + audio branch)."""
        return self.backbone.unet

    def freeze(self) -> KeyVIDModel:
        """No gradients anywhere and eval mode (inference)."""
        self.requires_grad_(False)
        return self.eval()

    def audio_tokens(self, audio: Tensor, null: bool = False) -> Tensor:
        """16 kHz audio (B, S) → ImageBind trunk tokens (B, 1 + F·T, D), CLS first (KeyVID uses the raw
        trunk output). `null=True`: the tokens of an all-zero normalised mel (null condition, FACTS §5)."""
        encoder = self.audio_encoder
        mel = imagebind_mel(audio, encoder.config).to(next(encoder.parameters()).dtype)  # (B, 1, 128, 204)
        if null:
            mel = torch.zeros_like(mel)
        last = len(encoder.blocks) - 1
        return encoder.hidden_states(mel, (last,))[last]  # (B, N, D)


def build_keyvid_model(preset: Preset, seed: int = 0) -> KeyVIDModel:
    """A KeyVID model with seeded random weights, frozen (load real weights into it)."""
    torch.manual_seed(seed)
    return KeyVIDModel(preset).freeze()
