"""ImageBind's text tower: BPE ids (B, 77) -> unit embedding (B, 1024) (IB imagebind_model.py).

Same module layout as `imagebind_huge.pth` (modality_preprocessors.text.* with its stored causal
`mask`, modality_trunks.text.blocks.*, modality_heads.text.proj.*, modality_postprocessors.text.1.
log_logit_scale). The architecture equals OpenCLIP ViT-H/14's text transformer, but ImageBind
stores it under its own names (blocks.N.norm_1, mlp.fc1, ...), so it is built here rather than
from `asva.backbone.clip_text`. The tokenizer is the same CLIP BPE (`asva.backbone.tokenizer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from asva.metrics.imagebind_block import Block, init_blocks

TEXT = "text"


@dataclass(frozen=True)
class ImageBindTextConfig:
    """The text branch of ImageBind-huge; smaller values give test-sized towers."""

    embed_dim: int = 1024
    num_blocks: int = 24
    num_heads: int = 16
    mlp_ratio: int = 4
    out_embed_dim: int = 1024
    context_length: int = 77
    vocab_size: int = 49408

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ValueError(f"ImageBindTextConfig: embed_dim {self.embed_dim} not divisible by "
                             f"num_heads {self.num_heads}")


class TextPreprocessor(nn.Module):
    """Token ids (B, L) -> embeddings + positions (B, L, D); holds the causal mask (IB stores it)."""

    def __init__(self, config: ImageBindTextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.pos_embed = nn.Parameter(torch.empty(1, config.context_length, config.embed_dim))
        n = config.context_length
        self.register_buffer("mask", torch.full((n, n), float("-inf")).triu(1))  # additive, (L, L)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(tokens) + self.pos_embed  # (B, L, D)


class TextTrunk(nn.Module):
    """The blocks, run with the causal mask."""

    def __init__(self, config: ImageBindTextConfig) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[Block(config.embed_dim, config.num_heads, config.mlp_ratio)
                                      for _ in range(config.num_blocks)])


class SelectEOSAndProject(nn.Module):
    """Take the end-of-text token (the highest id of each row), LayerNorm, project."""

    def __init__(self, config: ImageBindTextConfig) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(config.embed_dim, eps=1e-6),
                                  nn.Linear(config.embed_dim, config.out_embed_dim, bias=False))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        eos = tokens.argmax(dim=-1)  # (B,): EOT = 49407 is the largest id
        return self.proj(x[torch.arange(x.shape[0], device=x.device), eos])  # (B, E)


class LearnableLogitScale(nn.Module):
    """The text tower's learnable logit scale (kept for strict loading; similarities divide it out)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_logit_scale = nn.Parameter(torch.full((), math.log(1 / 0.07)))


class _Normalize(nn.Module):
    """Weight-free L2 normalisation at index 0 of the postprocessor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1)


class ImageBindTextEncoder(nn.Module):
    """Token ids (B, 77) -> unit-norm embeddings (B, 1024)."""

    def __init__(self, config: ImageBindTextConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ImageBindTextConfig()
        self.modality_preprocessors = nn.ModuleDict({TEXT: TextPreprocessor(config)})
        self.modality_trunks = nn.ModuleDict({TEXT: TextTrunk(config)})
        self.modality_heads = nn.ModuleDict({TEXT: SelectEOSAndProject(config)})
        self.modality_postprocessors = nn.ModuleDict(
            {TEXT: nn.Sequential(_Normalize(), LearnableLogitScale())})
        if not any(p.is_meta for p in self.parameters()):
            self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random init (ImageBind's scheme, roughly); real weights come from a file."""
        pre = self.modality_preprocessors[TEXT]
        nn.init.normal_(pre.token_embedding.weight, std=0.02)
        nn.init.normal_(pre.pos_embed, std=0.01)
        init_blocks(self.modality_trunks[TEXT].blocks)
        nn.init.xavier_uniform_(self.modality_heads[TEXT].proj[1].weight)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit-norm embedding (B, E) of token ids (B, L)."""
        pre = self.modality_preprocessors[TEXT]
        x = pre(tokens)  # (B, L, D)
        # The stored `mask` is the causal mask (-inf above the diagonal): SDPA's is_causal is the same.
        for block in self.modality_trunks[TEXT].blocks:
            x = block(x, causal=True)
        # The postprocessor's logit scale is divided out again by every similarity: normalise only.
        return F.normalize(self.modality_heads[TEXT](x, tokens), dim=-1)  # (B, E)
