"""The transformer block of ImageBind's vision and text trunks (IB transformer.py `BlockWithMasking`).

Pre-norm, `nn.MultiheadAttention` parameter names, no extra bias key/value (that is the audio
trunk's, `asva.audio.imagebind.BiasKVAttention`), no layer scale; drop-path is an identity at
evaluation and left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asva.audio.imagebind import Mlp


class MHAttention(nn.Module):
    """Self-attention with `nn.MultiheadAttention`'s parameters, via SDPA; optional additive mask."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # 3 x (B, N, D)
        q, k, v = (t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2) for t in (q, k, v))  # (B, H, N, Dh)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, N, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))  # (B, N, D)


class Block(nn.Module):
    """x + attn(LN(x)), then x + MLP(LN(x)); LayerNorm eps 1e-6."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.attn = MHAttention(dim, num_heads)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm_1(x), mask)  # (B, N, D)
        return x + self.mlp(self.norm_2(x))  # (B, N, D)


@torch.no_grad()
def init_blocks(blocks: nn.Sequential) -> None:
    """Xavier linears and zero biases, as ImageBind initialises its trunks (real weights come from a file)."""
    for block in blocks:
        nn.init.xavier_uniform_(block.attn.in_proj_weight)
        nn.init.zeros_(block.attn.in_proj_bias)
        for linear in (block.attn.out_proj, block.mlp.fc1, block.mlp.fc2):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
