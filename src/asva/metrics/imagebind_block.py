"""The transformer block of ImageBind's vision and text trunks (IB transformer.py `BlockWithMasking`).

Pre-norm, `nn.MultiheadAttention` parameter names, no extra bias key/value (that is the audio
trunk's, `asva.audio.imagebind.BiasKVAttention`), no layer scale; drop-path is an identity at
evaluation and left out.
"""

from __future__ import annotations

import torch
from torch import nn

from asva.audio.imagebind import Mlp
from asva.backbone.clip_text import CLIPAttention


class Block(nn.Module):
    """x + attn(LN(x)), then x + MLP(LN(x)); LayerNorm eps 1e-6."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.attn = CLIPAttention(dim, num_heads)  # nn.MultiheadAttention's parameter names, via SDPA
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """(B, N, D) -> (B, N, D); `causal` for the text trunk."""
        x = x + self.attn(self.norm_1(x), causal)  # (B, N, D)
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
