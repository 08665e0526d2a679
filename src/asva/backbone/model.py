"""The frozen DynamiCrafter backbone: its five parts under one module, built from one config."""

from __future__ import annotations

import torch
from torch import nn

from asva.backbone.clip_image import OpenCLIPImageEncoder
from asva.backbone.clip_text import OpenCLIPTextEncoder
from asva.backbone.config import BackboneConfig
from asva.backbone.resampler import Resampler
from asva.backbone.unet import UNet3D
from asva.backbone.vae import VAE

# Attribute name of each part -> its class; checkpoints/ maps these names to the official prefixes.
COMPONENTS: dict[str, type[nn.Module]] = {
    "unet": UNet3D,
    "vae": VAE,
    "text_encoder": OpenCLIPTextEncoder,
    "image_encoder": OpenCLIPImageEncoder,
    "resampler": Resampler,
}


class Backbone(nn.Module):
    """UNet, VAE, OpenCLIP text and image towers and the image Resampler of DynamiCrafter."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        self.unet = UNet3D(config.unet)
        self.vae = VAE(config.vae)
        self.text_encoder = OpenCLIPTextEncoder(config.text)
        self.image_encoder = OpenCLIPImageEncoder(config.image)
        self.resampler = Resampler(config.resampler)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids (B, 77) -> text context (B, 77, context_dim)."""
        return self.text_encoder(tokens)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """Image (B, 3, H, W) in [-1, 1] -> image tokens (B, num_queries * video_length, context_dim)."""
        return self.resampler(self.image_encoder(image))

    def freeze(self) -> Backbone:
        """Freeze every parameter and switch to eval mode (the backbone never trains here)."""
        self.requires_grad_(False)
        return self.eval()
