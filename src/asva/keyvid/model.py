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
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from asva.audio.fbank import imagebind_mel
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.backbone.model import Backbone
from asva.backbone.resampler import Resampler
from asva.backbone.unet import UNet3D
from asva.keyvid.config import KEYVID_SLOTS, keyvid_backbone_config
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


def resize_resampler_latents(latents: Tensor, num_queries: int, slots: int = KEYVID_SLOTS) -> Tensor:
    """Resampler queries (1, q·T, D) for T frames → (1, q·slots, D): the (T, q) grid resized
    bilinearly (align_corners=False), as KeyVID initialises its 48-slot Resampler from DC's 16 frames."""
    grid = rearrange(latents, "b (t q) d -> b d t q", q=num_queries)  # (1, D, T, q)
    resized = F.interpolate(grid, size=(slots, num_queries), mode="bilinear", align_corners=False)
    return rearrange(resized, "b d t q -> b (t q) d")  # (1, slots·q, D)


def keyvid_from_backbone(backbone: Backbone, preset: Preset, seed: int = 0) -> KeyVIDModel:
    """KeyVID's starting point (main/utils_train.py, FACTS §12): both networks are the backbone's UNet
    and Resampler (queries resized to 48 slots) with fresh, zero-gated extras; VAE and OpenCLIP towers
    are the backbone's. The audio encoder keeps its seeded weights (load a pretrained one after). Frozen."""
    torch.manual_seed(seed)
    model = KeyVIDModel(preset)
    state = backbone.state_dict()
    q = preset.backbone.resampler.num_queries
    state["resampler.latents"] = resize_resampler_latents(state["resampler.latents"], q)
    for name, unet, resampler, extras in (
        ("generator", model.backbone.unet, model.backbone.resampler, model.generator_extras),
        ("interpolator", model.interpolator_unet, model.interpolator_resampler, model.interpolator_extras),
    ):
        resampler.load_state_dict({k[len("resampler."):]: v for k, v in state.items()
                                   if k.startswith("resampler.")})
        missing, unexpected = unet.load_state_dict(backbone.unet.state_dict(), strict=False)
        added = {id(p) for p in extras.parameters()}
        extra_names = {n for n, p in unet.named_parameters() if id(p) in added}
        if unexpected or set(missing) != extra_names:
            raise RuntimeError(f"KeyVID {name} from the backbone UNet: missing "
                               f"{sorted(set(missing) - extra_names)}, unexpected {unexpected}")
    parts = {k: v for k, v in state.items() if not k.startswith(("unet.", "resampler."))}
    missing, unexpected = model.backbone.load_state_dict(parts, strict=False)
    if unexpected or any(not k.startswith(("unet.", "resampler.")) for k in missing):
        raise RuntimeError(f"KeyVID from the backbone: missing {missing}, unexpected {unexpected}")
    return model.freeze()
