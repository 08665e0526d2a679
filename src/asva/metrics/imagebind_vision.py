"""ImageBind's vision tower: image (B, 3, 224, 224) -> unit embedding (B, 1024) (IB imagebind_model.py).

Module names follow `imagebind_huge.pth` (modality_preprocessors.vision.*, modality_trunks.vision.*,
modality_heads.vision.*; the vision postprocessor is a weight-free L2 normalisation), so the vision
subset of that file loads strictly. An image is made a 2-frame clip by repetition (IB `PadIm2Video`)
and patchified by one Conv3d with kernel (2, 14, 14): 16×16 patches + CLS = 257 tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from asva.audio.imagebind import SelectCLS
from asva.metrics.imagebind_block import Block, init_blocks

VISION = "vision"


@dataclass(frozen=True)
class ImageBindVisionConfig:
    """The vision branch of ImageBind-huge (ViT-H/14); smaller values give test-sized towers."""

    embed_dim: int = 1280
    num_blocks: int = 32
    num_heads: int = 16
    mlp_ratio: int = 4
    out_embed_dim: int = 1024
    patch_size: int = 14
    image_size: int = 224
    time_kernel: int = 2  # frames the single image is repeated to (IB PadIm2Video ntimes)

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads or self.image_size % self.patch_size:
            raise ValueError(f"ImageBindVisionConfig: embed_dim must divide by num_heads and image_size by "
                             f"patch_size, got {self}")

    @property
    def num_tokens(self) -> int:
        """CLS + patches: 257 at full size."""
        return 1 + (self.image_size // self.patch_size) ** 2


class PadIm2Video(nn.Module):
    """(B, 3, H, W) -> (B, 3, T, H, W) by repeating the image; no weights (keeps the stem's index 1)."""

    def __init__(self, ntimes: int) -> None:
        super().__init__()
        self.ntimes = ntimes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(2).expand(-1, -1, self.ntimes, -1, -1)


class VisionStem(nn.Module):
    """IB `PatchEmbedGeneric([PadIm2Video, Conv3d])`: keys `proj.1.weight`."""

    def __init__(self, config: ImageBindVisionConfig) -> None:
        super().__init__()
        kernel = (config.time_kernel, config.patch_size, config.patch_size)
        self.proj = nn.Sequential(PadIm2Video(config.time_kernel),
                                  nn.Conv3d(3, config.embed_dim, kernel, stride=kernel, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, P, D), P = (H/14)·(W/14)


class PosEmbedding(nn.Module):
    """Learned position table (IB `SpatioTemporalPosEmbeddingHelper`, learnable)."""

    def __init__(self, config: ImageBindVisionConfig) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.empty(1, config.num_tokens, config.embed_dim))


class VisionPreprocessor(nn.Module):
    """Image -> tokens (B, 257, D): patches, CLS in front, plus positions (IB `RGBDTPreprocessor`)."""

    def __init__(self, config: ImageBindVisionConfig) -> None:
        super().__init__()
        self.rgbt_stem = VisionStem(config)
        self.pos_embedding_helper = PosEmbedding(config)
        self.cls_token = nn.Parameter(torch.empty(1, 1, config.embed_dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        patches = self.rgbt_stem(image)  # (B, P, D)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)  # (B, 1, D)
        return torch.cat([cls, patches], dim=1) + self.pos_embedding_helper.pos_embed  # (B, N, D)


class VisionTrunk(nn.Module):
    """LayerNorm before the first block (`pre_transformer_layer.0`), then the blocks."""

    def __init__(self, config: ImageBindVisionConfig) -> None:
        super().__init__()
        # Index 1 of the original Sequential is a weight-free rearrange.
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(config.embed_dim, eps=1e-6))
        self.blocks = nn.Sequential(*[Block(config.embed_dim, config.num_heads, config.mlp_ratio)
                                      for _ in range(config.num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_transformer_layer(x)  # (B, N, D)
        for block in self.blocks:
            x = block(x)
        return x


class ImageBindVisionEncoder(nn.Module):
    """Images (B, 3, 224, 224), CLIP-normalised -> unit-norm embeddings (B, 1024)."""

    def __init__(self, config: ImageBindVisionConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ImageBindVisionConfig()
        self.modality_preprocessors = nn.ModuleDict({VISION: VisionPreprocessor(config)})
        self.modality_trunks = nn.ModuleDict({VISION: VisionTrunk(config)})
        self.modality_heads = nn.ModuleDict({VISION: nn.Sequential(
            nn.LayerNorm(config.embed_dim, eps=1e-6), SelectCLS(),
            nn.Linear(config.embed_dim, config.out_embed_dim, bias=False))})
        if not any(p.is_meta for p in self.parameters()):
            self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random init (ImageBind's scheme, roughly); real weights come from a file."""
        pre = self.modality_preprocessors[VISION]
        scale = self.config.embed_dim**-0.5
        nn.init.normal_(pre.cls_token, std=scale)
        nn.init.normal_(pre.pos_embedding_helper.pos_embed, std=scale)
        nn.init.kaiming_uniform_(pre.rgbt_stem.proj[1].weight, a=math.sqrt(5))
        init_blocks(self.modality_trunks[VISION].blocks)
        nn.init.xavier_uniform_(self.modality_heads[VISION][2].weight)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Unit-norm embedding (B, E) of CLIP-normalised images (B, 3, 224, 224)."""
        x = self.modality_trunks[VISION](self.modality_preprocessors[VISION](image))  # (B, N, D)
        return F.normalize(self.modality_heads[VISION](x), dim=-1)  # (B, E)
