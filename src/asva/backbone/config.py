"""Typed configs of the DynamiCrafter backbone parts.

Field names follow the official configs (`configs/inference_*_v1.0.yaml` of DynamiCrafter) so a
reader can check them side by side; defaults are the full-size values. Presets that pick sizes
live in `asva.presets`.
"""

from __future__ import annotations

from dataclasses import dataclass


def _check_positive(owner: str, **values: int | float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{owner}.{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class UNetConfig:
    """The 3D UNet (DynamiCrafter `openaimodel3d.UNetModel`)."""

    in_channels: int = 8  # noisy latent (4) + repeated image latent (4)
    out_channels: int = 4
    model_channels: int = 320
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (4, 2, 1)  # downsampling factors with transformers
    num_head_channels: int = 64
    transformer_depth: int = 1
    context_dim: int = 1024
    dropout: float = 0.1
    norm_groups: int = 32
    init_attn_heads: int = 8  # `init_attn` temporal transformer after input_blocks.0
    image_cross_attention_scale_learnable: bool = True  # 256: learnable `alpha`; 512: fixed 1.0
    text_length: int = 77
    image_tokens_per_frame: int = 16
    temporal_length: int = 16
    default_fs: int = 3

    def __post_init__(self) -> None:
        _check_positive(
            "UNetConfig",
            model_channels=self.model_channels,
            num_res_blocks=self.num_res_blocks,
            num_head_channels=self.num_head_channels,
            context_dim=self.context_dim,
            norm_groups=self.norm_groups,
        )
        for mult in self.channel_mult:
            if (self.model_channels * mult) % self.norm_groups:
                raise ValueError(
                    f"UNetConfig: channels {self.model_channels * mult} not divisible by "
                    f"norm_groups {self.norm_groups}"
                )
            if (self.model_channels * mult) % self.num_head_channels:
                raise ValueError(
                    f"UNetConfig: channels {self.model_channels * mult} not divisible by "
                    f"num_head_channels {self.num_head_channels}"
                )


@dataclass(frozen=True)
class VAEConfig:
    """The KL-f8 autoencoder (LDM layout; DynamiCrafter `first_stage_config`)."""

    in_channels: int = 3
    out_ch: int = 3
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = 4
    embed_dim: int = 4
    norm_groups: int = 32
    scale_factor: float = 0.18215

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    def __post_init__(self) -> None:
        _check_positive(
            "VAEConfig",
            ch=self.ch,
            num_res_blocks=self.num_res_blocks,
            z_channels=self.z_channels,
            embed_dim=self.embed_dim,
            norm_groups=self.norm_groups,
            scale_factor=self.scale_factor,
        )
        if not self.ch_mult:
            raise ValueError("VAEConfig.ch_mult must name at least one level, got ()")
        for mult in self.ch_mult:
            if (self.ch * mult) % self.norm_groups:
                raise ValueError(
                    f"VAEConfig: channels {self.ch * mult} not divisible by norm_groups {self.norm_groups}"
                )


@dataclass(frozen=True)
class TextConfig:
    """OpenCLIP text tower (ViT-H-14: width 1024, 24 layers, 16 heads); DynamiCrafter uses the
    penultimate layer's hidden states after `ln_final` as the cross-attention context."""

    vocab_size: int = 49408
    context_length: int = 77
    width: int = 1024
    layers: int = 24
    heads: int = 16
    mlp_ratio: float = 4.0
    embed_dim: int = 1024  # text_projection output (stored, unused by DynamiCrafter)
    skip_last_layers: int = 1  # "penultimate": run layers[: layers - 1]

    def __post_init__(self) -> None:
        _check_positive(
            "TextConfig", vocab_size=self.vocab_size, width=self.width, layers=self.layers, heads=self.heads
        )
        if self.width % self.heads:
            raise ValueError(f"TextConfig: width {self.width} not divisible by heads {self.heads}")
        if not 0 <= self.skip_last_layers < self.layers:
            raise ValueError(
                f"TextConfig: skip_last_layers must be in [0, {self.layers}), got {self.skip_last_layers}"
            )


@dataclass(frozen=True)
class ImageConfig:
    """OpenCLIP visual tower (ViT-H-14: 224 px, patch 14, width 1280, 32 layers, 16 heads).

    DynamiCrafter stores the whole CLIP minus the text blocks under `embedder.`, so the text-side
    embeddings (`token_embedding`, `positional_embedding`, `ln_final`, `text_projection`,
    `logit_scale`) are parameters of this module too; `text` sizes them.
    """

    image_size: int = 224
    patch_size: int = 14
    width: int = 1280
    layers: int = 32
    heads: int = 16
    mlp_ratio: float = 4.0
    embed_dim: int = 1024  # visual.proj output (stored, unused: tokens are taken after the last block)
    text: TextConfig = TextConfig()

    @property
    def num_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2 + 1

    def __post_init__(self) -> None:
        _check_positive(
            "ImageConfig",
            image_size=self.image_size,
            patch_size=self.patch_size,
            width=self.width,
            layers=self.layers,
            heads=self.heads,
        )
        if self.image_size % self.patch_size:
            raise ValueError(
                f"ImageConfig: image_size {self.image_size} not divisible by patch_size {self.patch_size}"
            )


@dataclass(frozen=True)
class ResamplerConfig:
    """The image-token Resampler (IP-Adapter-style perceiver; DynamiCrafter `image_proj_stage_config`)."""

    dim: int = 1024
    depth: int = 4
    dim_head: int = 64
    heads: int = 12
    num_queries: int = 16
    embedding_dim: int = 1280  # = ImageConfig.width
    output_dim: int = 1024  # = UNetConfig.context_dim
    ff_mult: int = 4
    video_length: int = 16  # latents = num_queries * video_length

    def __post_init__(self) -> None:
        _check_positive(
            "ResamplerConfig",
            dim=self.dim,
            depth=self.depth,
            dim_head=self.dim_head,
            heads=self.heads,
            num_queries=self.num_queries,
            video_length=self.video_length,
        )


@dataclass(frozen=True)
class BackboneConfig:
    """All parts of the frozen DynamiCrafter backbone."""

    unet: UNetConfig = UNetConfig()
    vae: VAEConfig = VAEConfig()
    text: TextConfig = TextConfig()
    image: ImageConfig = ImageConfig()
    resampler: ResamplerConfig = ResamplerConfig()

    def __post_init__(self) -> None:
        # The parts hand tensors to each other; catch size mismatches at build time, not mid-forward.
        checks = {
            "resampler.embedding_dim == image.width": (self.resampler.embedding_dim, self.image.width),
            "resampler.output_dim == unet.context_dim": (self.resampler.output_dim, self.unet.context_dim),
            "text.width == unet.context_dim": (self.text.width, self.unet.context_dim),
            "resampler.num_queries == unet.image_tokens_per_frame": (
                self.resampler.num_queries,
                self.unet.image_tokens_per_frame,
            ),
            "text.context_length == unet.text_length": (self.text.context_length, self.unet.text_length),
            "vae.embed_dim * 2 == unet.in_channels": (self.vae.embed_dim * 2, self.unet.in_channels),
            "vae.embed_dim == unet.out_channels": (self.vae.embed_dim, self.unet.out_channels),
        }
        for rule, (left, right) in checks.items():
            if left != right:
                raise ValueError(f"BackboneConfig: expected {rule}, got {left} vs {right}")
