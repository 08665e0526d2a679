"""Windowed audio cross-attention: the spatial tokens of each frame attend to nearby audio tokens."""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

AUDIO_TOKENS = "audio_tokens"  # keys of the UNet's `extra` mapping that carry the audio
AUDIO_MASK = "audio_mask"


class WindowedAudioAttention(nn.Module):
    """LayerNorm → q from the frame's H·W tokens, k/v from audio tokens → masked SDPA → zero-init out.

    Inserted before a temporal transformer; with `to_out` at zero the block is exactly the identity,
    so at initialisation the adapted UNet computes what the frozen one does.
    Parameters per site of C channels: 2C² + 2·context_dim·C + 3C (LayerNorm, q, k, v, out + bias).
    """

    def __init__(self, channels: int, context_dim: int, head_channels: int = 64) -> None:
        super().__init__()
        if channels % head_channels:
            raise ValueError(f"channels {channels} not divisible by head_channels {head_channels}")
        self.heads = channels // head_channels
        self.norm = nn.LayerNorm(channels)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(context_dim, channels, bias=False)
        self.to_v = nn.Linear(context_dim, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, h: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """h (B·F, C, H, W), audio tokens (B, N, D), mask (B, F, N) bool → h + attention (B·F, C, H, W)."""
        batch, frames, _ = mask.shape
        _, _, height, width = h.shape
        x = rearrange(self.norm(rearrange(h, "n c h w -> n (h w) c")), "(b f) l c -> b f l c", b=batch)
        q = rearrange(self.to_q(x), "b f l (g d) -> b f g l d", g=self.heads)  # (B, F, g, HW, d)
        k = rearrange(self.to_k(tokens), "b n (g d) -> b 1 g n d", g=self.heads)  # (B, 1, g, N, d)
        v = rearrange(self.to_v(tokens), "b n (g d) -> b 1 g n d", g=self.heads)  # (B, 1, g, N, d)
        # k/v are shared by every frame (broadcast, not copied); the mask selects each frame's window.
        k, v = k.expand(-1, frames, -1, -1, -1), v.expand(-1, frames, -1, -1, -1)
        visible = mask[:, :, None, None, :]  # (B, F, 1, 1, N)
        # A frame whose window holds no token (audio ended early) gets no update. Its row is opened
        # to every token first: an all-masked softmax is NaN, and NaN would leak into the gradients.
        has_audio = visible.any(-1, keepdim=True)  # (B, F, 1, 1, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=visible | ~has_audio)  # (B, F, g, HW, d)
        out = self.to_out(rearrange(out, "b f g l d -> (b f) l (g d)"))  # (B·F, HW, C)
        out = out * rearrange(has_audio, "b f 1 1 1 -> (b f) 1 1")  # silent frames: no update at all
        return h + rearrange(out, "n (h w) c -> n c h w", h=height, w=width)

    def pre_hook(self, _module: nn.Module, args: tuple) -> tuple | None:
        """Forward pre-hook for a temporal transformer: apply this attention to its input `h`.

        A bound method rather than a closure, so `copy.deepcopy` of a model (e.g. for EMA) gives
        the copy hooks that call the copy's adapters.
        """
        h, inputs = args
        extra = inputs.extra or {}
        if AUDIO_TOKENS not in extra:
            return None  # no audio given: the backbone runs unchanged
        return (self(h, extra[AUDIO_TOKENS], extra[AUDIO_MASK]), inputs)
