"""OpenCLIP visual tower (ViT-H-14), as DynamiCrafter's `FrozenOpenCLIPImageEmbedderV2` runs it.

The image conditioning takes the tokens after the last block — class token and all patches,
before `ln_post` and `proj` — and hands them to the Resampler. Preprocessing is part of the
module because the checkpoint was trained with it: kornia's bicubic resize (align_corners=True,
with its Gaussian antialiasing) straight to image_size × image_size (no crop, aspect not kept),
then [-1, 1] -> [0, 1] and CLIP's mean/std. `resize_bicubic_antialias` reproduces kornia in plain torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asva.backbone.clip_text import CLIPTransformer, OpenCLIPModel
from asva.backbone.config import ImageConfig

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _gaussian_kernel1d(size: int, sigma: float, like: Tensor) -> Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - size // 2  # (size,) centred taps
    kernel = torch.exp(-(x**2) / (2 * sigma**2))  # (size,)
    return kernel / kernel.sum()


def _blur_axis(x: Tensor, kernel: Tensor, dim: int) -> Tensor:
    # Depthwise 1-D convolution along H (dim=2) or W (dim=3) with reflect padding, as kornia's filter2d.
    if kernel.numel() == 1:
        return x
    channels, pad = x.shape[1], kernel.numel() // 2
    if dim == 2:
        weight = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)  # (C, 1, k, 1)
        x = F.pad(x, (0, 0, pad, pad), mode="reflect")  # (B, C, H + 2p, W)
    else:
        weight = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)  # (C, 1, 1, k)
        x = F.pad(x, (pad, pad, 0, 0), mode="reflect")  # (B, C, H, W + 2p)
    return F.conv2d(x, weight, groups=channels)


def resize_bicubic_antialias(image: Tensor, size: tuple[int, int]) -> Tensor:
    """`kornia.geometry.resize(image, size, 'bicubic', align_corners=True, antialias=True)` in torch."""
    h, w = image.shape[-2:]
    factors = (h / size[0], w / size[1])
    if max(factors) > 1:
        # kornia's antialiasing: a Gaussian blur before interpolating, sigma = (factor - 1) / 2 per
        # axis (at least 0.001), odd kernel size of at least 3 covering about ±2 sigma; applied to
        # both axes as soon as either one shrinks.
        sigmas = [max((f - 1.0) / 2.0, 0.001) for f in factors]
        sizes = [int(max(4.0 * s, 3)) for s in sigmas]
        sizes = [k if k % 2 else k + 1 for k in sizes]
        # A 1-pixel axis has nothing to blur (and cannot be reflect-padded).
        sizes = [1 if n == 1 else k for n, k in zip((h, w), sizes, strict=True)]
        # kornia filters W first, then H.
        image = _blur_axis(image, _gaussian_kernel1d(sizes[1], sigmas[1], image), dim=3)  # (B, C, H, W)
        image = _blur_axis(image, _gaussian_kernel1d(sizes[0], sigmas[0], image), dim=2)  # (B, C, H, W)
    return F.interpolate(image, size=size, mode="bicubic", align_corners=True)  # (B, C, h', w')


class VisionTransformer(nn.Module):
    """ViT with a class token (open_clip `VisionTransformer`); returns all tokens after the last block."""

    def __init__(self, cfg: ImageConfig) -> None:
        super().__init__()
        grid = cfg.image_size // cfg.patch_size
        # Registration order = checkpoint state-dict order.
        self.class_embedding = nn.Parameter(torch.empty(cfg.width))
        self.positional_embedding = nn.Parameter(torch.empty(grid * grid + 1, cfg.width))
        self.proj = nn.Parameter(torch.empty(cfg.width, cfg.embed_dim))  # stored, unused here
        self.conv1 = nn.Conv2d(3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.ln_pre = nn.LayerNorm(cfg.width)
        self.transformer = CLIPTransformer(cfg.width, cfg.layers, cfg.heads, cfg.mlp_ratio)
        self.ln_post = nn.LayerNorm(cfg.width)  # stored, unused here

    def reset_parameters(self) -> None:
        """OpenCLIP's initialisation (embeddings and projection ~ N(0, width^-1))."""
        scale = self.class_embedding.shape[0] ** -0.5
        for p in (self.class_embedding, self.positional_embedding, self.proj):
            nn.init.normal_(p, std=scale)
        self.conv1.reset_parameters()
        self.transformer.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Normalised pixels (B, 3, S, S) -> tokens (B, 1 + (S/patch)², width)."""
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (B, N, W) patches in row-major order
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (B, 1, W)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)  # (B, 1 + N, W)
        return self.transformer(self.ln_pre(x))  # (B, 1 + N, W)


class OpenCLIPImageEncoder(nn.Module):
    """Image (B, 3, H, W) in [-1, 1] -> CLIP tokens after the last block (B, num_tokens, width).

    `state_dict()` keys are those stored under `embedder.` in DynamiCrafter checkpoints (the
    visual tower plus the unused text-side parameters).
    """

    def __init__(self, cfg: ImageConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = OpenCLIPModel(cfg.text, "visual", VisionTransformer(cfg))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random initialisation as OpenCLIP does it (official weights replace it)."""
        self.model.reset_parameters()
        self.model.visual.reset_parameters()

    def preprocess(self, image: Tensor) -> Tensor:
        """[-1, 1] (B, 3, H, W) -> CLIP-normalised (B, 3, image_size, image_size)."""
        size = self.cfg.image_size
        x = resize_bicubic_antialias(image, (size, size))  # (B, 3, S, S)
        x = (x + 1.0) / 2.0  # (B, 3, S, S) in [0, 1] (bicubic may overshoot slightly, as in the reference)
        mean = torch.tensor(CLIP_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std  # (B, 3, S, S)

    def forward(self, image: Tensor) -> Tensor:
        """Image (B, 3, H, W) in [-1, 1] -> tokens (B, 1 + (image_size/patch_size)², width)."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image must have shape (B, 3, H, W) with values in [-1, 1], "
                             f"got {tuple(image.shape)}")
        if not image.is_floating_point():
            raise ValueError(f"image must be a floating-point tensor in [-1, 1], got {image.dtype}")
        return self.model.visual(self.preprocess(image))  # (B, num_tokens, W)

