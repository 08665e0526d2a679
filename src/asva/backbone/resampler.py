"""The image-token Resampler of DynamiCrafter (IP-Adapter / Flamingo-style perceiver).

A fixed set of learned queries — `num_queries` per frame for `video_length` frames — reads the
CLIP image tokens through `depth` rounds of cross-attention (keys and values from the image tokens
*and* the queries themselves) and a feed-forward layer, then is projected to the UNet's context
width. Frame f of the video gets queries f·num_queries … (f+1)·num_queries − 1 (FACTS §6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from asva.backbone.config import ResamplerConfig


class PerceiverAttention(nn.Module):
    """Queries attend to [image tokens ; queries]; LayerNorm on both inputs, no biases."""

    def __init__(self, dim: int, dim_head: int, heads: int) -> None:
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)  # image tokens
        self.norm2 = nn.LayerNorm(dim)  # queries
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: Tensor, latents: Tensor) -> Tensor:
        """Image tokens (B, N, D) and queries (B, Q, D) -> update of the queries (B, Q, D)."""
        x = self.norm1(x)  # (B, N, D)
        latents = self.norm2(latents)  # (B, Q, D)
        q = self.to_q(latents)  # (B, Q, h·d)
        k, v = self.to_kv(torch.cat([x, latents], dim=1)).chunk(2, dim=-1)  # (B, N + Q, h·d) each
        q, k, v = (rearrange(t, "b l (h d) -> b h l d", h=self.heads) for t in (q, k, v))
        # The reference scales q and k by d^-1/4 each and takes the softmax in float32; in float32
        # this equals SDPA's d^-1/2 scaling (our parity test: relative error ~1e-7).
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, Q, d)
        return self.to_out(rearrange(out, "b h l d -> b l (h d)"))  # (B, Q, D)


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    """LayerNorm -> Linear -> GELU -> Linear, no biases; a Sequential so keys are `.0`, `.1`, `.3`."""
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


class Resampler(nn.Module):
    """CLIP image tokens (B, N, embedding_dim) -> image context (B, num_queries·video_length, output_dim)."""

    def __init__(self, cfg: ResamplerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # Registration order = checkpoint state-dict order.
        self.latents = nn.Parameter(torch.empty(1, cfg.num_queries * cfg.video_length, cfg.dim))
        self.proj_in = nn.Linear(cfg.embedding_dim, cfg.dim)
        self.proj_out = nn.Linear(cfg.dim, cfg.output_dim)
        self.norm_out = nn.LayerNorm(cfg.output_dim)
        self.layers = nn.ModuleList(
            nn.ModuleList([PerceiverAttention(cfg.dim, cfg.dim_head, cfg.heads),
                           feed_forward(cfg.dim, cfg.ff_mult)])
            for _ in range(cfg.depth)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The reference's initialisation of the queries, N(0, 1/dim); layers keep torch defaults."""
        nn.init.normal_(self.latents, std=self.cfg.dim**-0.5)

    def forward(self, tokens: Tensor) -> Tensor:
        """Image tokens (B, N, embedding_dim) -> (B, num_queries·video_length, output_dim)."""
        if tokens.ndim != 3 or tokens.shape[-1] != self.cfg.embedding_dim:
            raise ValueError(f"tokens must have shape (B, N, {self.cfg.embedding_dim}), "
                             f"got {tuple(tokens.shape)}")
        x = self.proj_in(tokens)  # (B, N, D)
        latents = self.latents.expand(x.shape[0], -1, -1)  # (B, Q·T, D)
        for attn, ff in self.layers:
            latents = latents + attn(x, latents)  # (B, Q·T, D)
            latents = latents + ff(latents)  # (B, Q·T, D)
        return self.norm_out(self.proj_out(latents))  # (B, Q·T, output_dim)
