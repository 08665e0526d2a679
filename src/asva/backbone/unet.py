"""The DynamiCrafter 3D UNet (`openaimodel3d.UNetModel`), built from a `UNetConfig`.

Read bottom-up: `timestep_embedding`, the per-frame layers (`ResBlock` with its
`TemporalConvBlock`, `Downsample`, `Upsample`), the `UNetBlock` container, then `UNet3D`.
Transformers live in `asva.backbone.attention`. Module names match the official checkpoint
(`model.diffusion_model.` prefix), including its typo `temopral_conv`, so weights load strictly.

Frames are folded into the batch: between layers the hidden state is (B·F, C, H, W) and only the
temporal layers (temporal conv, temporal transformer) unfold it to see time.

Adapter hook. Every layer of every block is called the same way, `layer(h, inputs)`, with
h (B·F, C, H, W) and one `LayerInputs` (emb, context, batch_size, num_frames, extra), and returns
the new h. `extra` is whatever mapping the caller gave to `UNet3D.forward` (e.g.
`{"audio_tokens": ...}`); the backbone never reads it. To run an adapter before a temporal
transformer, replace that layer (`unet.temporal_transformers()` yields the 16 regular ones and
`init_attn.0` by dotted name) with a module that applies itself and then calls the original:

    for name, temporal in list(unet.temporal_transformers()):
        unet.set_submodule(name, AudioThenTemporal(audio_attn, temporal))

Such a wrapper moves the original's keys under its own child name; wrap after loading the base
checkpoint, or register the adapter with `register_forward_pre_hook` to keep base keys as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from asva.backbone.attention import LayerInputs, SpatialTransformer, TemporalTransformer
from asva.backbone.config import UNetConfig

__all__ = ["LayerInputs", "UNet3D", "timestep_embedding"]


def timestep_embedding(timesteps: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding (B,) → (B, dim): [cos(t·ω_k), sin(t·ω_k)], ω_k = max_period^(−k/(dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                           device=timesteps.device) / half)  # (dim/2,)
    args = timesteps[:, None].float() * freqs[None]  # (B, dim/2)
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, 2·(dim/2)); cos first
    if dim % 2:
        embedding = F.pad(embedding, (0, 1))  # (B, dim)
    return embedding


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the input dtype (the reference's ResBlock/out norm)."""

    def forward(self, x: Tensor) -> Tensor:
        """Normalise in float32, return in x's dtype."""
        return super().forward(x.float()).to(x.dtype)


class TemporalConvBlock(nn.Module):
    """Four [GroupNorm → SiLU → (Dropout) → Conv3d k(3,1,1)] stages over time, plus identity.

    The last conv starts at zero so a fresh block is the identity.
    """

    def __init__(self, channels: int, dropout: float, norm_groups: int = 32) -> None:
        super().__init__()

        def stage(with_dropout: bool) -> nn.Sequential:
            layers = [nn.GroupNorm(norm_groups, channels), nn.SiLU()]
            if with_dropout:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))
            return nn.Sequential(*layers)

        self.conv1 = stage(with_dropout=False)
        self.conv2 = stage(with_dropout=True)
        self.conv3 = stage(with_dropout=True)
        self.conv4 = stage(with_dropout=True)
        nn.init.zeros_(self.conv4[-1].weight)
        nn.init.zeros_(self.conv4[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, C, F, H, W) → (B, C, F, H, W)."""
        # GroupNorm here sees the whole clip: statistics are shared across frames.
        return x + self.conv4(self.conv3(self.conv2(self.conv1(x))))


class ResBlock(nn.Module):
    """Per-frame residual block with the timestep embedding added, then a `TemporalConvBlock`."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int, dropout: float,
                 norm_groups: int = 32) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(
            GroupNorm32(norm_groups, channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            GroupNorm32(norm_groups, out_channels), nn.SiLU(), nn.Dropout(dropout),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        nn.init.zeros_(self.out_layers[-1].weight)
        nn.init.zeros_(self.out_layers[-1].bias)
        if out_channels == channels:
            self.skip_connection = nn.Identity()
        else:
            self.skip_connection = nn.Conv2d(channels, out_channels, 1)
        self.temopral_conv = TemporalConvBlock(out_channels, dropout, norm_groups)  # sic: checkpoint key

    def forward(self, x: Tensor, inputs: LayerInputs) -> Tensor:
        """x (B·F, C_in, H, W) → (B·F, C_out, H, W)."""
        h = self.in_layers(x)  # (B·F, C_out, H, W)
        h = h + self.emb_layers(inputs.emb).to(h.dtype)[:, :, None, None]  # + (B·F, C_out, 1, 1)
        h = self.skip_connection(x) + self.out_layers(h)  # (B·F, C_out, H, W)
        video = rearrange(h, "(b f) c h w -> b c f h w", b=inputs.batch_size)  # (B, C_out, F, H, W)
        return rearrange(self.temopral_conv(video), "b c f h w -> (b f) c h w")


class Downsample(nn.Module):
    """3×3 conv with stride 2 on each frame."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor, inputs: LayerInputs) -> Tensor:
        """x (B·F, C, H, W) → (B·F, C, ⌈H/2⌉, ⌈W/2⌉)."""
        return self.op(x)


class Upsample(nn.Module):
    """Nearest ×2 on each frame, then a 3×3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, inputs: LayerInputs) -> Tensor:
        """x (B·F, C, H, W) → (B·F, C, 2H, 2W)."""
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class InputConv(nn.Conv2d):
    """The first 3×3 conv (`input_blocks.0.0`), with the uniform layer signature."""

    def forward(self, x: Tensor, inputs: LayerInputs) -> Tensor:  # type: ignore[override]
        """x (B·F, C_in, H, W) → (B·F, C, H, W)."""
        return super().forward(x)


class UNetBlock(nn.ModuleList):
    """A sequence of layers, each called as `layer(h, inputs)` (see the module docstring)."""

    def forward(self, h: Tensor, inputs: LayerInputs) -> Tensor:
        """h (B·F, C, H, W) through every layer in order."""
        for layer in self:
            h = layer(h, inputs)
        return h


class UNet3D(nn.Module):
    """The DynamiCrafter video UNet: predicts noise (or v) for latent video x at timesteps t.

    Layout (state-dict order): time_embed, fps_embedding, input_blocks, init_attn, middle_block,
    output_blocks, out. Each level has `num_res_blocks` × [ResBlock, SpatialTransformer,
    TemporalTransformer] (transformers only at `attention_resolutions`), then a Downsample.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        self.gradient_checkpointing = False  # True: recompute each block in backward
        c = config
        emb_dim = c.model_channels * 4
        self.time_embed = nn.Sequential(
            nn.Linear(c.model_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.fps_embedding = nn.Sequential(
            nn.Linear(c.model_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        nn.init.zeros_(self.fps_embedding[-1].weight)
        nn.init.zeros_(self.fps_embedding[-1].bias)

        def res(ch_in: int, ch_out: int) -> ResBlock:
            return ResBlock(ch_in, emb_dim, ch_out, c.dropout, c.norm_groups)

        def transformers(ch: int) -> list[nn.Module]:
            heads = ch // c.num_head_channels
            return [
                SpatialTransformer(ch, heads, c.num_head_channels, c.context_dim, c.transformer_depth,
                                   c.norm_groups, c.image_cross_attention_scale_learnable, c.text_length),
                TemporalTransformer(ch, heads, c.num_head_channels, c.transformer_depth, c.norm_groups),
            ]

        # 1. Encoder: remember each block's output channels for the skip connections.
        self.input_blocks = nn.ModuleList(
            [UNetBlock([InputConv(c.in_channels, c.model_channels, 3, padding=1)])]
        )
        self.init_attn = UNetBlock([
            TemporalTransformer(c.model_channels, c.init_attn_heads, c.num_head_channels,
                                c.transformer_depth, c.norm_groups, conv_proj=True)
        ])
        skip_channels = [c.model_channels]
        ch, ds = c.model_channels, 1
        for level, mult in enumerate(c.channel_mult):
            for _ in range(c.num_res_blocks):
                layers: list[nn.Module] = [res(ch, c.model_channels * mult)]
                ch = c.model_channels * mult
                if ds in c.attention_resolutions:
                    layers += transformers(ch)
                self.input_blocks.append(UNetBlock(layers))
                skip_channels.append(ch)
            if level != len(c.channel_mult) - 1:
                self.input_blocks.append(UNetBlock([Downsample(ch)]))
                skip_channels.append(ch)
                ds *= 2

        # 2. Middle: always has transformers.
        self.middle_block = UNetBlock([res(ch, ch), *transformers(ch), res(ch, ch)])

        # 3. Decoder: each block takes the concatenated skip; the last of a level upsamples.
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(c.channel_mult))):
            for i in range(c.num_res_blocks + 1):
                layers = [res(ch + skip_channels.pop(), c.model_channels * mult)]
                ch = c.model_channels * mult
                if ds in c.attention_resolutions:
                    layers += transformers(ch)
                if level and i == c.num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(UNetBlock(layers))

        self.out = nn.Sequential(
            GroupNorm32(c.norm_groups, ch), nn.SiLU(), nn.Conv2d(ch, c.out_channels, 3, padding=1)
        )
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def temporal_transformers(self) -> Iterator[tuple[str, TemporalTransformer]]:
        """Yield (dotted name, module) of every temporal transformer, `init_attn.0` included."""
        for name, module in self.named_modules():
            if isinstance(module, TemporalTransformer):
                yield name, module

    def _frame_context(self, context: Tensor, num_frames: int) -> Tensor:
        # Per-frame image tokens when the length says so: frame f sees [text ; image tokens of f].
        # Otherwise every frame sees the whole context (e.g. one image's tokens, or text only).
        c = self.config
        if context.shape[1] == c.text_length + num_frames * c.image_tokens_per_frame:
            text = context[:, : c.text_length].repeat_interleave(num_frames, dim=0)  # (B·F, Nt, D)
            image = rearrange(context[:, c.text_length :], "b (f n) d -> (b f) n d", f=num_frames)
            return torch.cat([text, image], dim=1)  # (B·F, Nt + Ni, D)
        return context.repeat_interleave(num_frames, dim=0)  # (B·F, L, D)

    def _run(self, block: UNetBlock, h: Tensor, inputs: LayerInputs) -> Tensor:
        if self.gradient_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, h, inputs, use_reentrant=False)
        return block(h, inputs)

    def forward(self, x: Tensor, timesteps: Tensor, context: Tensor, fs: Tensor | None = None,
                extra: Mapping[str, Any] | None = None) -> Tensor:
        """x (B, C_in, F, h, w), timesteps (B,), context (B, L, D), fs (B,) → (B, C_out, F, h, w).

        `timesteps` may also be a scalar shared by the batch. `fs` is the frame stride (256) or FPS
        (512) condition, `config.default_fs` when None;
        `extra` reaches every layer untouched (adapter inputs).
        """
        c = self.config
        if x.ndim != 5 or x.shape[1] != c.in_channels:
            raise ValueError(f"UNet3D: x must be (B, {c.in_channels}, F, h, w), got {tuple(x.shape)}")
        batch, _, frames, height, width = x.shape
        factor = 2 ** (len(c.channel_mult) - 1)
        if height % factor or width % factor:
            raise ValueError(f"UNet3D: latent height and width must be multiples of {factor} "
                             f"(one halving per level), got {height}x{width}")
        if timesteps.ndim == 0:
            timesteps = timesteps.expand(batch)
        if timesteps.shape != (batch,):
            raise ValueError(f"UNet3D: timesteps must be ({batch},), got {tuple(timesteps.shape)}")
        if context.ndim != 3 or context.shape[0] != batch or context.shape[2] != c.context_dim:
            raise ValueError(f"UNet3D: context must be ({batch}, L, {c.context_dim}), "
                             f"got {tuple(context.shape)}")
        if fs is None:
            fs = torch.full((batch,), c.default_fs, dtype=torch.long, device=x.device)
        if fs.shape != (batch,):
            raise ValueError(f"UNet3D: fs must be ({batch},) or None, got {tuple(fs.shape)}")

        # 1. Conditioning: timestep + fs embeddings and per-frame context, folded to B·F rows.
        emb = self.time_embed(timestep_embedding(timesteps, c.model_channels).to(x.dtype))  # (B, E)
        emb = emb + self.fps_embedding(timestep_embedding(fs, c.model_channels).to(x.dtype))  # (B, E)
        inputs = LayerInputs(
            emb=emb.repeat_interleave(frames, dim=0),  # (B·F, E)
            context=self._frame_context(context, frames),  # (B·F, N, D)
            batch_size=batch,
            num_frames=frames,
            extra=extra,
        )
        h = rearrange(x, "b c f h w -> (b f) c h w")  # (B·F, C_in, h, w)

        # 2. Encoder (init_attn runs right after the input conv), middle, decoder with skips.
        skips = []
        for index, block in enumerate(self.input_blocks):
            h = self._run(block, h, inputs)
            if index == 0:
                h = self._run(self.init_attn, h, inputs)
            skips.append(h)
        h = self._run(self.middle_block, h, inputs)
        for block in self.output_blocks:
            h = self._run(block, torch.cat([h, skips.pop()], dim=1), inputs)  # (B·F, C + C_skip, ., .)

        y = self.out(h)  # (B·F, C_out, h, w)
        return rearrange(y, "(b f) c h w -> b c f h w", b=batch)
