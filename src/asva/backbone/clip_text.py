"""OpenCLIP text tower (ViT-H-14 text side), as DynamiCrafter's `FrozenOpenCLIPEmbedder` runs it.

Read top to bottom: `CLIPAttention` (the packed-projection multi-head attention of
`nn.MultiheadAttention`, run with scaled-dot-product attention), `ResidualAttentionBlock`,
`CLIPTransformer` (shared with the image tower), then `OpenCLIPTextEncoder`.

DynamiCrafter builds the whole open_clip `CLIP`, deletes `visual` and keeps the rest under
`model.`; the checkpoint therefore also stores `text_projection` and `logit_scale`, which the
conditioning never uses. The context it feeds the UNet is the hidden state of the penultimate
block after `ln_final` (not the pooled EOT embedding), for all 77 positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from asva.backbone.config import TextConfig


class CLIPAttention(nn.Module):
    """Multi-head self-attention with `nn.MultiheadAttention`'s parameter names and numerics."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        # q, k, v projections packed in one matrix, named as nn.MultiheadAttention stores them.
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        """Tokens (B, L, W) -> (B, L, W); `causal`: position i attends to positions <= i only."""
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, L, 3W)
        q, k, v = rearrange(qkv, "b l (s h d) -> s b h l d", s=3, h=self.heads)  # (B, h, L, d) each
        # is_causal is the lower-triangular mask open_clip adds as -inf above the diagonal.
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, h, L, d); scale d^-1/2
        return self.out_proj(rearrange(out, "b h l d -> b l (h d)"))  # (B, L, W)


class MLP(nn.Module):
    """Position-wise feed-forward `c_fc -> GELU -> c_proj` (keys `mlp.c_fc`, `mlp.c_proj`)."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.gelu = nn.GELU()  # exact erf GELU: ViT-H-14 does not use QuickGELU
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, W) -> (B, L, W)."""
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualAttentionBlock(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln_1 x), then + mlp(ln_2 x)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CLIPAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, int(width * mlp_ratio))

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        """(B, L, W) -> (B, L, W)."""
        x = x + self.attn(self.ln_1(x), causal=causal)  # (B, L, W)
        return x + self.mlp(self.ln_2(x))  # (B, L, W)


class CLIPTransformer(nn.Module):
    """A stack of `ResidualAttentionBlock`s (`transformer.resblocks.N`), batch-first."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.width = width
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, mlp_ratio) for _ in range(layers))

    def forward(self, x: Tensor, causal: bool = False, num_layers: int | None = None) -> Tensor:
        """(B, L, W) -> (B, L, W) after the first `num_layers` blocks (all when None)."""
        for block in self.resblocks[:num_layers]:
            x = block(x, causal=causal)  # (B, L, W)
        return x

    def reset_parameters(self) -> None:
        """OpenCLIP's initialisation of the blocks (std scaled with width and depth)."""
        attn_std = self.width**-0.5
        proj_std = attn_std * (2 * len(self.resblocks)) ** -0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * self.width) ** -0.5)
            nn.init.zeros_(block.mlp.c_fc.bias)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
            nn.init.zeros_(block.mlp.c_proj.bias)


class OpenCLIPModel(nn.Module):
    """open_clip's `CLIP` as DynamiCrafter stores it: one tower plus the text-side parameters.

    Both wrappers keep `token_embedding`, `positional_embedding`, `ln_final`, `text_projection`
    and `logit_scale` (the image wrapper only for strict loading). The tower (`transformer` for
    text, `visual` for images) is registered between the direct parameters and
    `token_embedding`, which reproduces the checkpoints' state-dict order.
    """

    def __init__(self, cfg: TextConfig, tower_name: str, tower: nn.Module) -> None:
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, cfg.width))
        self.text_projection = nn.Parameter(torch.empty(cfg.width, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.empty(()))
        self.add_module(tower_name, tower)
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.width)
        self.ln_final = nn.LayerNorm(cfg.width)

    def reset_parameters(self) -> None:
        """OpenCLIP's initialisation of the embeddings, projection and temperature."""
        width = self.positional_embedding.shape[1]
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)
        nn.init.constant_(self.logit_scale, math.log(1 / 0.07))
        self.ln_final.reset_parameters()


class OpenCLIPTextEncoder(nn.Module):
    """Token ids (B, L) -> penultimate-layer hidden states after `ln_final` (B, L, width).

    `state_dict()` keys are those stored under `cond_stage_model.` in DynamiCrafter checkpoints.
    """

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        transformer = CLIPTransformer(cfg.width, cfg.layers, cfg.heads, cfg.mlp_ratio)
        self.model = OpenCLIPModel(cfg, "transformer", transformer)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random initialisation as OpenCLIP does it (official weights replace it)."""
        self.model.reset_parameters()
        self.model.transformer.reset_parameters()

    def forward(self, tokens: Tensor) -> Tensor:
        """Token ids (B, L <= context_length) -> context (B, L, width)."""
        if tokens.ndim != 2 or tokens.dtype not in (torch.long, torch.int32):
            raise ValueError(f"tokens must be integer ids of shape (B, L), got {tuple(tokens.shape)} "
                             f"{tokens.dtype}")
        length = tokens.shape[1]
        if length > self.cfg.context_length:
            raise ValueError(f"tokens have length {length}, more than context_length "
                             f"{self.cfg.context_length}")
        m = self.model
        x = m.token_embedding(tokens) + m.positional_embedding[:length]  # (B, L, W)
        # The attention is causal, so a shorter sequence gives the first L rows of a 77-token run.
        x = m.transformer(x, causal=True, num_layers=self.cfg.layers - self.cfg.skip_last_layers)  # (B, L, W)
        return m.ln_final(x)  # (B, L, W)
