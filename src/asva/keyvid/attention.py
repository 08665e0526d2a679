"""KeyVID's spatial cross-attention: DynamiCrafter's text + image branches plus a gated audio branch.

KeyVID lvdm/modules/attention.py `CrossAttention` (audio_cross_attention, scale learnable): the
per-frame context is [text (77) ; image tokens (16) ; audio tokens (12)], split by those fixed
lengths; one query attends to each part with its own keys and values, and the outputs add up
before the shared output projection:

    out = to_out( attn(q, K_txt, V_txt) + λ·attn(q, K_img, V_img) + (tanh(β) + 1)·attn(q, K_aud, V_aud) )

λ is DynamiCrafter's image gate (1.0 in the 512 model, whose `alpha` is not learnable). β starts
at 0 (gate 1) and `to_k_ap`, `to_v_ap` start at zero, so a fresh branch adds exactly nothing: with
zero values every audio token's value is 0, whatever the attention weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asva.backbone.attention import CrossAttention


class AudioGatedCrossAttention(CrossAttention):
    """`CrossAttention` with KeyVID's audio branch; same child names, so base keys load unchanged."""

    def __init__(self, query_dim: int, heads: int, dim_head: int, context_dim: int,
                 scale_learnable: bool = False, text_length: int = 77, image_length: int = 16) -> None:
        super().__init__(query_dim, heads, dim_head, context_dim, image_cross_attention=True,
                         scale_learnable=scale_learnable, text_length=text_length)
        inner_dim = heads * dim_head
        self.image_length = image_length
        # Checkpoint key order: own parameters (alpha, beta) first, then to_q … to_v_ip, to_k_ap, to_v_ap.
        self.beta = nn.Parameter(torch.zeros(()))
        self.to_k_ap = nn.Linear(context_dim, inner_dim, bias=False)
        self.to_v_ap = nn.Linear(context_dim, inner_dim, bias=False)
        nn.init.zeros_(self.to_k_ap.weight)
        nn.init.zeros_(self.to_v_ap.weight)

    @classmethod
    def extend(cls, base: CrossAttention, image_length: int) -> AudioGatedCrossAttention:
        """A copy of `base` (sharing its weights) with a fresh audio branch, on base's device and dtype."""
        if not base.image_cross_attention:
            raise ValueError("KeyVID's audio branch extends an image cross-attention (a spatial attn2)")
        weight = base.to_q.weight
        with torch.device(weight.device):
            new = cls(base.to_q.in_features, base.heads, base.to_q.out_features // base.heads,
                      base.to_k.in_features, base.alpha is not None, base.text_length, image_length)
        new.to(weight.dtype)
        # assign=True adopts base's tensors instead of copying them (and works on the meta device).
        missing, unexpected = new.load_state_dict(base.state_dict(), strict=False, assign=True)
        if unexpected or set(missing) != {"beta", "to_k_ap.weight", "to_v_ap.weight"}:
            raise RuntimeError(f"extending {type(base).__name__}: missing {missing}, unexpected {unexpected}")
        return new

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """x (N, Lq, C), context (N, Nt + Ni + Na, D) → (N, Lq, C); without audio, the base attention."""
        split = self.text_length + self.image_length
        if context is None or context.shape[1] <= split:
            return super().forward(x, context)
        text = context[:, : self.text_length]  # (N, Nt, D)
        image = context[:, self.text_length : split]  # (N, Ni, D)
        audio = context[:, split:]  # (N, Na, D)
        q = self.to_q(x)  # (N, Lq, h·d)
        out = self._attend(q, self.to_k(text), self.to_v(text))  # (N, Lq, h·d)
        out_ip = self._attend(q, self.to_k_ip(image), self.to_v_ip(image))  # (N, Lq, h·d)
        if self.alpha is not None:
            out_ip = out_ip * (torch.tanh(self.alpha) + 1)
        out_ap = self._attend(q, self.to_k_ap(audio), self.to_v_ap(audio))  # (N, Lq, h·d)
        out = out + out_ip + out_ap * (torch.tanh(self.beta) + 1)
        return self.to_out(out)  # (N, Lq, C)
