"""BEATs (Chen et al. 2023, arXiv:2212.09058): mel patches -> conv positions -> 12 post-LN layers.

Module names follow `ckpt["model"]` of the released `.pt` files (BEATs BEATs.py / backbone.py,
FACTS §10b). Two layout quirks are kept so those files load strictly and save back the same way:
the relative-position table is one `nn.Embedding` shared by all layers (so `state_dict()` writes it
under every layer, as the reference does), and the positional conv stores its weight in the old
`weight_norm` form (`weight_g`, `weight_v`). Dropout and layer drop are left out (frozen use).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from asva.audio.config import BEATsConfig


class WeightNormConv1d(nn.Module):
    """Conv1d whose weight is g * v / ||v|| with the norm over all axes but `dim` (torch `weight_norm`)."""

    def __init__(self, channels: int, kernel_size: int, groups: int, dim: int = 2) -> None:
        super().__init__()
        self.dim, self.groups, self.padding = dim, groups, kernel_size // 2
        # Same order as the legacy hook leaves them: bias, then weight_g, weight_v.
        self.bias = nn.Parameter(torch.empty(channels))
        shape = [channels, channels // groups, kernel_size]
        self.weight_g = nn.Parameter(torch.empty([n if i == dim else 1 for i, n in enumerate(shape)]))
        self.weight_v = nn.Parameter(torch.empty(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        others = [i for i in range(self.weight_v.ndim) if i != self.dim]
        weight = self.weight_v * (self.weight_g / self.weight_v.norm(dim=others, keepdim=True))
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


class DropLast(nn.Module):
    """Remove the extra output step an even kernel with padding k/2 makes (fairseq `SamePad`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1]


def relative_position_buckets(length: int, num_buckets: int, max_distance: int,
                              device: torch.device | None = None) -> torch.Tensor:
    """T5 bidirectional log-spaced buckets of key-minus-query offsets, (L, L) int64 (backbone.py)."""
    position = torch.arange(length, device=device)
    relative = position[None, :] - position[:, None]  # (Lq, Lk): key - query
    half = num_buckets // 2
    buckets = (relative > 0).long() * half  # the upper half of the table is for keys after the query
    distance = relative.abs()
    exact = half // 2
    # Float32 log as in the reference, so bucket edges fall on the same integers.
    far = exact + (torch.log(distance.clamp(min=1).float() / exact) / math.log(max_distance / exact)
                   * (half - exact)).long()
    far = far.clamp(max=half - 1)
    return buckets + torch.where(distance < exact, distance, far)  # (L, L)


class BEATsAttention(nn.Module):
    """Multi-head self-attention with a gated, shared relative-position bias (backbone.py)."""

    def __init__(self, config: BEATsConfig, shared_bias: nn.Embedding | None = None) -> None:
        super().__init__()
        dim, heads = config.encoder_embed_dim, config.encoder_attention_heads
        self.num_heads, self.head_dim = heads, dim // heads
        self.num_buckets, self.max_distance = config.num_buckets, config.max_distance
        self.gru_rel_pos = config.gru_rel_pos
        if config.gru_rel_pos:
            self.grep_a = nn.Parameter(torch.empty(1, heads, 1, 1))
        # The first layer owns the table and registers it before its projections; later layers
        # get the same module registered last. Both orders are the checkpoint's key order.
        owns_bias = config.relative_position_embedding and shared_bias is None
        if owns_bias:
            # Uninitialised (reset_parameters fills it): nn.Embedding's own normal_ init takes seconds
            # the first time it runs on the meta device.
            self.relative_attention_bias = nn.Embedding.from_pretrained(
                torch.empty(config.num_buckets, heads), freeze=False)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        if config.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
        if config.relative_position_embedding and not owns_bias:
            self.relative_attention_bias = shared_bias

    def position_bias(self, length: int) -> torch.Tensor:
        """The ungated bias table for a sequence, (H, L, L)."""
        weight = self.relative_attention_bias.weight
        buckets = relative_position_buckets(length, self.num_buckets, self.max_distance, weight.device)
        return F.embedding(buckets, weight).permute(2, 0, 1)  # (H, L, L)

    def forward(self, x: torch.Tensor, pos_bias: torch.Tensor | None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (proj(x).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))  # 3 x (B, H, N, Dh)
        bias = None
        if pos_bias is not None:
            bias = pos_bias.unsqueeze(0)  # (1, H, N, N)
            if self.gru_rel_pos:
                # Gated relative position (WavLM, Chen et al. 2022 §2.2): a per-query, per-head scale
                # from the unscaled query; grep_linear's 8 outputs are summed in two groups of 4.
                gates = torch.sigmoid(self.grep_linear(q).unflatten(-1, (2, 4)).sum(-1))  # (B, H, N, 2)
                gate_a, gate_b = gates.chunk(2, dim=-1)  # 2 x (B, H, N, 1)
                bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias  # (B, H, N, N)
            bias = bias.to(q.dtype)
        # The reference pre-scales q by 1/(sqrt(Dh) * 32) and multiplies the max-shifted logits back
        # by 32: a stabiliser for fp16 that leaves softmax(qk/sqrt(Dh) + bias) unchanged.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B, H, N, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))  # (B, N, D)


class EncoderLayer(nn.Module):
    """Post-LN layer with DeepNorm residual scaling (Wang et al. 2022, x * alpha + f(x))."""

    def __init__(self, config: BEATsConfig, shared_bias: nn.Embedding | None = None) -> None:
        super().__init__()
        dim = config.encoder_embed_dim
        self.self_attn = BEATsAttention(config, shared_bias)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, config.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.alpha = (2 * config.encoder_layers) ** 0.25 if config.deep_norm else 1.0

    def forward(self, x: torch.Tensor, pos_bias: torch.Tensor | None) -> torch.Tensor:
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, pos_bias))  # (B, N, D)
        return self.final_layer_norm(x * self.alpha + self.fc2(F.gelu(self.fc1(x))))  # (B, N, D)


class TransformerEncoder(nn.Module):
    """Conv positional embedding, LayerNorm, then the layers (backbone.py `TransformerEncoder`)."""

    def __init__(self, config: BEATsConfig) -> None:
        super().__init__()
        dim = config.encoder_embed_dim
        self.pos_conv = nn.Sequential(WeightNormConv1d(dim, config.conv_pos, config.conv_pos_groups),
                                      DropLast() if config.conv_pos % 2 == 0 else nn.Identity(), nn.GELU())
        first = EncoderLayer(config)
        shared = first.self_attn.relative_attention_bias if config.relative_position_embedding else None
        self.layers = nn.ModuleList([first] + [EncoderLayer(config, shared)
                                               for _ in range(config.encoder_layers - 1)])
        self.layer_norm = nn.LayerNorm(dim)


class BEATs(nn.Module):
    """BEATs: normalised mel (B, T, 128) -> tokens (B, (T//16)*8, 768), time-major."""

    def __init__(self, config: BEATsConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BEATsConfig()
        self.post_extract_proj = (nn.Linear(config.embed_dim, config.encoder_embed_dim)
                                  if config.embed_dim != config.encoder_embed_dim else None)
        self.patch_embedding = nn.Conv2d(1, config.embed_dim, kernel_size=config.input_patch_size,
                                         stride=config.input_patch_size, bias=config.conv_bias)
        self.encoder = TransformerEncoder(config)
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        if not any(p.is_meta for p in self.parameters()):
            self.reset_parameters()

    @property
    def layers(self) -> nn.ModuleList:
        """The encoder layers, in order."""
        return self.encoder.layers

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random init like the reference (BERT normal, DeepNorm gains); real weights come from files."""
        cfg = self.config
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.kaiming_uniform_(self.patch_embedding.weight, a=math.sqrt(5))
        conv = self.encoder.pos_conv[0]
        nn.init.normal_(conv.weight_v, std=math.sqrt(4 / (cfg.conv_pos * cfg.encoder_embed_dim)))
        others = [i for i in range(conv.weight_v.ndim) if i != conv.dim]
        conv.weight_g.copy_(conv.weight_v.norm(dim=others, keepdim=True))
        nn.init.zeros_(conv.bias)
        beta = (8 * cfg.encoder_layers) ** -0.25 if cfg.deep_norm else 1.0
        for layer in self.layers:
            attn = layer.self_attn
            for linear, gain in ((attn.k_proj, 1.0), (attn.v_proj, beta), (attn.q_proj, 1.0),
                                 (attn.out_proj, beta), (layer.fc1, beta), (layer.fc2, beta)):
                nn.init.xavier_normal_(linear.weight, gain=gain)
            if cfg.gru_rel_pos:
                nn.init.ones_(attn.grep_a)

    def embed(self, mel: torch.Tensor) -> torch.Tensor:
        """Patch tokens after the conv positions and the input LayerNorm, (B, N, D)."""
        patch = self.config.input_patch_size
        if mel.ndim != 3 or mel.shape[1] < patch:
            raise ValueError(f"BEATs needs a mel batch (B, T, {self.config.num_mel_bins}) with T >= {patch} "
                             f"frames ({patch} frames = {(patch - 1) * 10 + 25} ms of audio), "
                             f"got {tuple(mel.shape)}")
        x = self.patch_embedding(mel.unsqueeze(1))  # (B, C, T//16, M//16): time x freq patches
        x = self.layer_norm(x.flatten(2).transpose(1, 2))  # (B, N, C), time-major: index = t * F + f
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)  # (B, N, D)
        x = x + self.encoder.pos_conv(x.transpose(1, 2)).transpose(1, 2)  # (B, N, D)
        return self.encoder.layer_norm(x)  # post-LN model: LayerNorm before the first layer

    def hidden_states(self, mel: torch.Tensor, layers: tuple[int, ...] | None = None
                      ) -> dict[int, torch.Tensor]:
        """Outputs of the chosen layers (0-based; default all), each (B, N, D)."""
        wanted = set(range(len(self.layers)) if layers is None else layers)
        if not wanted <= set(range(len(self.layers))):
            raise ValueError(f"layers {sorted(wanted)} out of range for {len(self.layers)} layers (0-based)")
        x = self.embed(mel)  # (B, N, D)
        # One table for all layers (the reference computes it in layer 0 and passes it on).
        pos_bias = self.layers[0].self_attn.position_bias(x.shape[1]) \
            if self.config.relative_position_embedding else None  # (H, N, N)
        out: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(self.layers):
            if not wanted - out.keys():
                break
            x = layer(x, pos_bias)  # (B, N, D)
            if i in wanted:
                out[i] = x
        return out

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Last-layer tokens (B, N, D), the reference `extract_features` output."""
        last = len(self.layers) - 1
        return self.hidden_states(mel, (last,))[last]
