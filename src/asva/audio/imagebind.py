"""ImageBind's audio branch: mel patches -> 12 pre-norm transformer blocks -> CLS embedding.

Module names follow the keys of `imagebind_huge.pth` (IB imagebind_model.py, FACTS §10a), so the
audio subset of that file loads with strict key matching. Drop-path and dropout are left out:
the encoder is used frozen, where both are identities.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from asva.audio.config import ImageBindAudioConfig

MODALITY = "audio"


class PatchStem(nn.Module):
    """Conv patchify + LayerNorm (IB `PatchEmbedGeneric` with one conv)."""

    def __init__(self, config: ImageBindAudioConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, config.embed_dim, kernel_size=config.kernel_size, stride=config.stride,
                              bias=False)
        self.norm_layer = nn.LayerNorm(config.embed_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.proj(mel)  # (B, D, F, T) patch grid, F = freq patches, T = time patches
        # Flatten freq-major (index = f * T + t), as IB's `flatten(2)` does.
        return self.norm_layer(x.flatten(2).transpose(1, 2))  # (B, F*T, D)


class PosEmbedding(nn.Module):
    """Learned position table for CLS + patches (IB `SpatioTemporalPosEmbeddingHelper`, learnable)."""

    def __init__(self, config: ImageBindAudioConfig) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.empty(1, config.num_tokens, config.embed_dim))


class AudioPreprocessor(nn.Module):
    """Mel image (B, 1, 128, 204) -> tokens (B, 229, D): patches, CLS in front, plus positions."""

    def __init__(self, config: ImageBindAudioConfig) -> None:
        super().__init__()
        # Registration order reproduces the checkpoint's key order (cls_token first).
        self.cls_token = nn.Parameter(torch.empty(1, 1, config.embed_dim))
        self.rgbt_stem = PatchStem(config)
        self.pos_embedding_helper = PosEmbedding(config)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        patches = self.rgbt_stem(mel)  # (B, P, D)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)  # (B, 1, D)
        tokens = torch.cat([cls, patches], dim=1)  # (B, 1+P, D)
        table = self.pos_embedding_helper.pos_embed  # (1, N, D)
        if tokens.shape[1] != table.shape[1]:
            raise ValueError(f"mel image {tuple(mel.shape[-2:])} gives {tokens.shape[1]} tokens; position "
                             f"table has {table.shape[1]} (pad/crop the mel to the configured target_len)")
        return tokens + table  # (B, N, D)


class BiasKVAttention(nn.Module):
    """Self-attention with one learned extra key/value token (nn.MultiheadAttention, add_bias_kv=True).

    Parameter names match `nn.MultiheadAttention`; the product runs in `scaled_dot_product_attention`.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        # nn.MultiheadAttention concatenates these, already projected, after the keys and values.
        self.bias_k = nn.Parameter(torch.empty(1, 1, dim))
        self.bias_v = nn.Parameter(torch.empty(1, 1, dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # 3 x (B, N, D)
        k = torch.cat([k, self.bias_k.expand(b, 1, d)], dim=1)  # (B, N+1, D)
        v = torch.cat([v, self.bias_v.expand(b, 1, d)], dim=1)  # (B, N+1, D)
        q, k, v = (t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2) for t in (q, k, v))  # (B, H, *, Dh)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, N, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))  # (B, N, D)


class Mlp(nn.Module):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (IB transformer.py `BlockWithMasking`, no layer scale)."""

    def __init__(self, config: ImageBindAudioConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.attn = BiasKVAttention(dim, config.num_heads)
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, config.mlp_ratio * dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm_1(x))  # (B, N, D)
        return x + self.mlp(self.norm_2(x))  # (B, N, D)


class AudioTrunk(nn.Module):
    """The stack of blocks; no LayerNorm before the first or after the last (IB `instantiate_trunk`)."""

    def __init__(self, config: ImageBindAudioConfig) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.num_blocks)])


class SelectCLS(nn.Module):
    """Take token 0 (IB `SelectElement(index=0)`); holds no weights but keeps the head's key indices."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


class L2Normalize(nn.Module):
    """Unit-normalise the last axis (IB `Normalize`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1)


class LogitScale(nn.Module):
    """Multiply by a fixed exp(log_logit_scale), clipped (IB `LearnableLogitScaling`, learnable=False)."""

    def __init__(self, init: float, max_scale: float) -> None:
        super().__init__()
        self.max_scale = max_scale
        self.register_buffer("log_logit_scale", torch.full((), math.log(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=self.max_scale) * x


class ImageBindAudioEncoder(nn.Module):
    """ImageBind audio: mel (B, 1, 128, 204) -> tokens (B, 229, 768) -> embedding (B, 1024)."""

    def __init__(self, config: ImageBindAudioConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ImageBindAudioConfig()
        self.modality_preprocessors = nn.ModuleDict({MODALITY: AudioPreprocessor(config)})
        self.modality_trunks = nn.ModuleDict({MODALITY: AudioTrunk(config)})
        self.modality_heads = nn.ModuleDict({MODALITY: nn.Sequential(
            nn.LayerNorm(config.embed_dim, eps=1e-6), SelectCLS(),
            nn.Linear(config.embed_dim, config.out_embed_dim, bias=False))})
        self.modality_postprocessors = nn.ModuleDict({MODALITY: nn.Sequential(
            L2Normalize(), LogitScale(config.logit_scale_init, config.max_logit_scale))})
        if not any(p.is_meta for p in self.parameters()):
            self.reset_parameters()

    @property
    def blocks(self) -> nn.Sequential:
        """The transformer blocks, in order."""
        return self.modality_trunks[MODALITY].blocks

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random init as IB does (OpenCLIP-style tokens, xavier linears); real weights come from a file."""
        pre = self.modality_preprocessors[MODALITY]
        scale = self.config.embed_dim**-0.5
        nn.init.normal_(pre.cls_token, std=scale)
        nn.init.normal_(pre.pos_embedding_helper.pos_embed, std=scale)
        nn.init.kaiming_uniform_(pre.rgbt_stem.proj.weight, a=math.sqrt(5))
        for block in self.blocks:
            nn.init.xavier_uniform_(block.attn.in_proj_weight)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.xavier_normal_(block.attn.bias_k)
            nn.init.xavier_normal_(block.attn.bias_v)
            for linear in (block.attn.out_proj, block.mlp.fc1, block.mlp.fc2):
                nn.init.xavier_uniform_(linear.weight)
                nn.init.zeros_(linear.bias)
        nn.init.xavier_uniform_(self.modality_heads[MODALITY][2].weight)

    def hidden_states(self, mel: torch.Tensor, layers: tuple[int, ...] | None = None
                      ) -> dict[int, torch.Tensor]:
        """Outputs of the chosen blocks (0-based; default all), each (B, 229, D), CLS first."""
        wanted = set(range(len(self.blocks)) if layers is None else layers)
        if not wanted <= set(range(len(self.blocks))):
            raise ValueError(f"layers {sorted(wanted)} out of range for {len(self.blocks)} blocks (0-based)")
        x = self.modality_preprocessors[MODALITY](mel)  # (B, N, D)
        out: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            if not wanted - out.keys():
                break  # later blocks are not needed
            x = block(x)  # (B, N, D)
            if i in wanted:
                out[i] = x
        return out

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """The ImageBind audio embedding (B, out_embed_dim): unit-norm CLS projection times 20."""
        x = self.hidden_states(mel, (len(self.blocks) - 1,))[len(self.blocks) - 1]  # (B, N, D)
        return self.modality_postprocessors[MODALITY](self.modality_heads[MODALITY](x))  # (B, E)
