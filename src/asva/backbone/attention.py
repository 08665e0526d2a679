"""Attention blocks of the DynamiCrafter 3D UNet: spatial and temporal transformers.

Read bottom-up: `CrossAttention` (text + image-token attention, scaled-dot-product), `GEGLU` /
`FeedForward`, `BasicTransformerBlock` (self-attention, cross-attention, feed-forward, each
pre-LayerNorm with a residual), then the two wrappers that turn feature maps into token sequences:

- `SpatialTransformer`: tokens are the H·W positions of one frame; `attn2` attends to that
  frame's context (text tokens, then image tokens through a second key/value projection).
- `TemporalTransformer`: tokens are the F frames at one position; `attn1` and `attn2` are both
  self-attention over time and there is no positional encoding (as in the checkpoints).

Module and parameter names follow the official checkpoints (`to_out.0`, `ff.net.2`, ...), so
`state_dict()` keys load unchanged. Every UNet layer is called as `layer(h, inputs)` with the
hidden state `h` of shape (B·F, C, H, W) and a `LayerInputs`; see `asva.backbone.unet`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


@dataclass(frozen=True)
class LayerInputs:
    """What every UNet layer receives besides the hidden state (B·F, C, H, W)."""

    emb: Tensor  # (B·F, E) timestep (+ fs) embedding, repeated per frame
    context: Tensor  # (B·F, N, D) cross-attention tokens of each frame: [text ; image]
    batch_size: int  # B
    num_frames: int  # F
    extra: Mapping[str, Any] | None = None  # passed through untouched, for adapters (e.g. audio tokens)


def _zero_(module: nn.Module) -> nn.Module:
    # Output projections start at zero so a fresh block is the identity (reference init).
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class CrossAttention(nn.Module):
    """Multi-head attention; with `image_cross_attention`, a second branch attends to image tokens.

    With a context of N tokens, the first `text_length` are text and the rest image tokens:
    out = attn(q, K_txt, V_txt) + λ·attn(q, K_img, V_img), λ = tanh(alpha) + 1 when learnable
    (DynamiCrafter 256, alpha starts at 0 so λ = 1) and 1 otherwise (512).
    """

    def __init__(self, query_dim: int, heads: int, dim_head: int, context_dim: int | None = None,
                 image_cross_attention: bool = False, scale_learnable: bool = False,
                 text_length: int = 77) -> None:
        super().__init__()
        inner_dim = heads * dim_head
        context_dim = context_dim or query_dim
        self.heads = heads
        self.image_cross_attention = image_cross_attention
        self.text_length = text_length
        if image_cross_attention and scale_learnable:
            self.alpha = nn.Parameter(torch.zeros(()))
        else:
            self.alpha = None
        self.to_q = nn.Linear(query_dim, inner_dim, bias=False)
        self.to_k = nn.Linear(context_dim, inner_dim, bias=False)
        self.to_v = nn.Linear(context_dim, inner_dim, bias=False)
        # index 0 of a Sequential, as in the checkpoint (`to_out.0`); the reference's dropout is p=0
        self.to_out = nn.Sequential(nn.Linear(inner_dim, query_dim))
        if image_cross_attention:
            self.to_k_ip = nn.Linear(context_dim, inner_dim, bias=False)
            self.to_v_ip = nn.Linear(context_dim, inner_dim, bias=False)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        q, k, v = (rearrange(t, "n l (h d) -> n h l d", h=self.heads) for t in (q, k, v))  # (N, h, L, d)
        out = F.scaled_dot_product_attention(q, k, v)  # (N, h, Lq, d); scale d^-1/2
        return rearrange(out, "n h l d -> n l (h d)")  # (N, Lq, h·d)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """Attend from x (N, Lq, C) to context (N, Lc, D), or to x itself when context is None."""
        q = self.to_q(x)  # (N, Lq, h·d)
        if context is None:  # self-attention
            return self.to_out(self._attend(q, self.to_k(x), self.to_v(x)))  # (N, Lq, C)
        text = context[:, : self.text_length]  # (N, Nt, D)
        out = self._attend(q, self.to_k(text), self.to_v(text))  # (N, Lq, h·d)
        if self.image_cross_attention:
            image = context[:, self.text_length :]  # (N, Ni, D)
            # No image tokens: the reference's attention over an empty set adds zeros; skip it.
            if image.shape[1] > 0:
                out_ip = self._attend(q, self.to_k_ip(image), self.to_v_ip(image))  # (N, Lq, h·d)
                if self.alpha is not None:
                    out_ip = out_ip * (torch.tanh(self.alpha) + 1)
                out = out + out_ip
        return self.to_out(out)  # (N, Lq, C)


class GEGLU(nn.Module):
    """Linear to 2·dim_out, split into value and gate: value · GELU(gate) (Shazeer 2020)."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: Tensor) -> Tensor:
        """(…, dim_in) → (…, dim_out)."""
        value, gate = self.proj(x).chunk(2, dim=-1)  # (…, dim_out) each
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """GEGLU feed-forward with hidden width 4·dim."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        # slot 1 held the reference's dropout (p=0); Identity keeps the Linear at `net.2`
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim))

    def forward(self, x: Tensor) -> Tensor:
        """(…, dim) → (…, dim)."""
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    """Pre-LayerNorm block: x + attn1(x), then x + attn2(x, context), then x + ff(x)."""

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int | None = None,
                 image_cross_attention: bool = False, scale_learnable: bool = False,
                 text_length: int = 77) -> None:
        super().__init__()
        # Registration order = checkpoint key order: attn1, ff, attn2, norm1..3.
        self.attn1 = CrossAttention(dim, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, heads, dim_head, context_dim, image_cross_attention,
                                    scale_learnable, text_length)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """x (N, L, C), context (N, Lc, D) or None (attn2 becomes self-attention) → (N, L, C)."""
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """Transformer over the H·W positions of each frame, cross-attending to that frame's context."""

    def __init__(self, channels: int, heads: int, dim_head: int, context_dim: int, depth: int = 1,
                 norm_groups: int = 32, scale_learnable: bool = False, text_length: int = 77) -> None:
        super().__init__()
        inner_dim = heads * dim_head
        self.norm = nn.GroupNorm(norm_groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, inner_dim)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(inner_dim, heads, dim_head, context_dim, image_cross_attention=True,
                                  scale_learnable=scale_learnable, text_length=text_length)
            for _ in range(depth)
        )
        self.proj_out = _zero_(nn.Linear(inner_dim, channels))

    def forward(self, x: Tensor, inputs: LayerInputs) -> Tensor:
        """x (B·F, C, H, W) → (B·F, C, H, W), attending to `inputs.context` (B·F, N, D)."""
        _, _, height, width = x.shape
        h = rearrange(self.norm(x), "n c h w -> n (h w) c")  # (B·F, H·W, C); norm per frame
        h = self.proj_in(h)  # (B·F, H·W, inner)
        for block in self.transformer_blocks:
            h = block(h, inputs.context)
        h = self.proj_out(h)  # (B·F, H·W, C)
        return x + rearrange(h, "n (h w) c -> n c h w", h=height, w=width)


class TemporalTransformer(nn.Module):
    """Self-attention transformer over the F frames at each spatial position.

    `conv_proj` selects 1×1 Conv1d projections (the `init_attn` layer's checkpoint layout,
    weights (out, in, 1)) instead of Linear ones; both compute the same map.
    """

    def __init__(self, channels: int, heads: int, dim_head: int, depth: int = 1, norm_groups: int = 32,
                 conv_proj: bool = False) -> None:
        super().__init__()
        inner_dim = heads * dim_head
        self.norm = nn.GroupNorm(norm_groups, channels, eps=1e-6)
        if conv_proj:
            self.proj_in = nn.Conv1d(channels, inner_dim, kernel_size=1)
        else:
            self.proj_in = nn.Linear(channels, inner_dim)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(inner_dim, heads, dim_head) for _ in range(depth)
        )
        if conv_proj:
            self.proj_out = _zero_(nn.Conv1d(inner_dim, channels, kernel_size=1))
        else:
            self.proj_out = _zero_(nn.Linear(inner_dim, channels))

    @staticmethod
    def _project(proj: nn.Module, x: Tensor) -> Tensor:
        # A k=1 Conv1d over (N, C, F) is a Linear over (N, F, C) with weight[..., 0].
        if isinstance(proj, nn.Conv1d):
            return F.linear(x, proj.weight[..., 0], proj.bias)
        return proj(x)

    def forward(self, x: Tensor, inputs: LayerInputs) -> Tensor:
        """x (B·F, C, H, W) → (B·F, C, H, W); frames of one video attend to each other."""
        _, _, height, width = x.shape
        video = rearrange(x, "(b f) c h w -> b c f h w", b=inputs.batch_size)  # (B, C, F, H, W)
        # GroupNorm over the whole clip (statistics shared across frames), as in the reference.
        h = rearrange(self.norm(video), "b c f h w -> (b h w) f c")  # (B·H·W, F, C)
        h = self._project(self.proj_in, h)  # (B·H·W, F, inner)
        for block in self.transformer_blocks:
            h = block(h)  # context None: both attentions are self-attention over time
        h = self._project(self.proj_out, h)  # (B·H·W, F, C)
        h = rearrange(h, "(b h w) f c -> (b f) c h w", b=inputs.batch_size, h=height, w=width)
        return x + h  # (B·F, C, H, W)
