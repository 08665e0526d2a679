"""The KeyVID networks: the DynamiCrafter UNet plus KeyVID's extras, attached on top of it.

KeyVID lvdm/modules/networks/openaimodel3d_v4.py adds to DynamiCrafter-512's UNet (FACTS §11):

- `frame_idx_embedding` (keyframe generator only): each frame's slot k in the 24-FPS index space
  (0…47) → sinusoidal embedding (dim model_channels, the timestep embedding's formula) → MLP
  (last layer zero-initialised) → added to that frame's timestep + fps embedding;
- `audio_proj_2`: Linear(audio width → context_dim), then L2-normalised, on each frame's audio
  tokens, which are appended to that frame's cross-attention context: [text ; image ; audio];
- in every spatial transformer's attn2, the gated audio branch (`AudioGatedCrossAttention`).

`attach_keyvid` registers those parts under the UNet with KeyVID's key names, in its checkpoint
order, so `unet.state_dict()` equals a KeyVID checkpoint's `model.diffusion_model.*` and loads
strictly. The backbone's code is unchanged: hooks carry the inputs. Call the UNet with

    unet(x, t, context, fs, extra={FRAME_INDEX: (B, F) long, AUDIO_SEGMENTS: (B, F, L, D_a)})

where context is [text ; per-frame image tokens] as for DynamiCrafter. A pre-hook on the UNet
computes the frame embeddings and the projected audio once per call; pre-hooks on its ResBlocks
add the former to their embedding, pre-hooks on its spatial transformers append the latter to
their context (KeyVID's `TimestepEmbedSequential`). Without those keys the UNet is the backbone.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from asva.backbone.attention import SpatialTransformer
from asva.backbone.unet import ResBlock, UNet3D, timestep_embedding
from asva.keyvid.attention import AudioGatedCrossAttention
from asva.keyvid.config import KeyVIDConfig
from asva.presets import Preset

FRAME_INDEX = "frame_index"  # extra key: (B, F) long, each frame's slot in the 24-FPS index space
AUDIO_SEGMENTS = "keyvid_audio"  # extra key: (B, F, L, D_a), each frame's audio tokens before projection
_FRAME_EMB = "_keyvid_frame_emb"  # computed by the UNet pre-hook: (B·F, E)
_AUDIO_CONTEXT = "_keyvid_audio_context"  # computed by the UNet pre-hook: (B·F, L, D)


class FrameIndexEmbedding(nn.Sequential):
    """Sinusoidal frame index (B·F, C) → MLP → (B·F, E); the last layer starts at zero."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__(nn.Linear(channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        nn.init.zeros_(self[-1].weight)
        nn.init.zeros_(self[-1].bias)


class AudioProjection(nn.Linear):
    """`audio_proj_2`: audio tokens (…, D_a) → unit-norm context tokens (…, D)."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """(…, D_a) → (…, D), L2-normalised."""
        return F.normalize(super().forward(x), dim=-1)


def _insert_after(parent: nn.Module, anchor: str, name: str, child: nn.Module) -> None:
    # Register `child` right after `anchor` so state_dict() lists keys in the checkpoint's order
    # (time_embed, fps_embedding, frame_idx_embedding, audio_proj_2, input_blocks, ...). Strict
    # loading does not care about order; `asva inspect layout` and the listings do.
    parent.add_module(name, child)
    modules = parent._modules
    names = list(modules)
    for later in names[names.index(anchor) + 1 : -1]:
        modules[later] = modules.pop(later)  # move to the end, behind `child`


class KeyVIDExtras:
    """Handles to what `attach_keyvid` added to one UNet; `detach()` removes the hooks."""

    def __init__(self, unet: UNet3D, config: KeyVIDConfig) -> None:
        self.config = config
        self.unet_config = unet.config
        self.frame_embedding: FrameIndexEmbedding | None = getattr(unet, "frame_idx_embedding", None)
        self.audio_projection: AudioProjection = unet.audio_proj_2
        self.attentions = {
            name: module
            for name, module in unet.named_modules()
            if isinstance(module, AudioGatedCrossAttention)
        }
        self._signature = inspect.signature(unet.forward)
        self.handles: list[RemovableHandle] = [
            unet.register_forward_pre_hook(self._prepare, with_kwargs=True)
        ]
        for module in unet.modules():
            if isinstance(module, ResBlock) and self.frame_embedding is not None:
                self.handles.append(module.register_forward_pre_hook(self._add_frame_embedding))
            elif isinstance(module, SpatialTransformer):
                self.handles.append(module.register_forward_pre_hook(self._append_audio))

    def parameters(self) -> Iterator[nn.Parameter]:
        """The parameters KeyVID added (28,397,072 for the 512 UNet with the frame embedding)."""
        if self.frame_embedding is not None:
            yield from self.frame_embedding.parameters()
        yield from self.audio_projection.parameters()
        for attention in self.attentions.values():
            yield from (attention.beta, attention.to_k_ap.weight, attention.to_v_ap.weight)

    def detach(self) -> None:
        """Remove the hooks: the UNet keeps the extra modules but runs as the plain backbone."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    # -- hooks -------------------------------------------------------------------------------------
    def _prepare(self, unet: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        """UNet pre-hook: frame embeddings and projected audio, once per call, into `extra`."""
        bound = self._signature.bind(*args, **kwargs)
        extra = bound.arguments.get("extra") or {}
        if FRAME_INDEX not in extra and AUDIO_SEGMENTS not in extra:
            return None
        x, context = bound.arguments["x"], bound.arguments["context"]
        batch, frames = x.shape[0], x.shape[2]
        added: dict[str, Tensor] = {}
        if FRAME_INDEX in extra:
            index = extra[FRAME_INDEX]
            if self.frame_embedding is None:
                raise ValueError(f"extra[{FRAME_INDEX!r}] given, but this UNet has no frame-index "
                                 "embedding (KeyVID's interpolator has none)")
            if tuple(index.shape) != (batch, frames) or index.dtype.is_floating_point:
                raise ValueError(f"extra[{FRAME_INDEX!r}] must be an integer ({batch}, {frames}) tensor, "
                                 f"got {index.dtype} {tuple(index.shape)}")
            sinusoid = timestep_embedding(index.reshape(-1), self.unet_config.model_channels)  # (B·F, C)
            added[_FRAME_EMB] = self.frame_embedding(sinusoid.to(x.dtype))  # (B·F, E)
        if AUDIO_SEGMENTS in extra:
            audio = extra[AUDIO_SEGMENTS]
            if audio.ndim != 4 or tuple(audio.shape[:2]) != (batch, frames) \
                    or audio.shape[3] != self.config.audio_dim:
                raise ValueError(f"extra[{AUDIO_SEGMENTS!r}] must be ({batch}, {frames}, L, "
                                 f"{self.config.audio_dim}), got {tuple(audio.shape)}")
            c = self.unet_config
            per_frame = c.text_length + frames * c.image_tokens_per_frame
            if context.shape[1] != per_frame:
                # The attention splits each frame's context by fixed lengths: text, image, audio.
                raise ValueError(f"KeyVID audio needs per-frame image tokens: context length must be "
                                 f"{c.text_length} + {frames}·{c.image_tokens_per_frame} = {per_frame}, "
                                 f"got {context.shape[1]}")
            tokens = rearrange(audio, "b f l d -> (b f) l d").to(x.dtype)  # (B·F, L, D_a)
            added[_AUDIO_CONTEXT] = self.audio_projection(tokens)  # (B·F, L, D)
        bound.arguments["extra"] = {**extra, **added}
        return bound.args, bound.kwargs

    @staticmethod
    def _add_frame_embedding(_module: nn.Module, args: tuple) -> tuple | None:
        """ResBlock pre-hook: emb (B·F, E) += the frame's index embedding."""
        h, inputs = args
        extra = inputs.extra or {}
        if _FRAME_EMB not in extra:
            return None
        return h, dataclasses.replace(inputs, emb=inputs.emb + extra[_FRAME_EMB])

    @staticmethod
    def _append_audio(_module: nn.Module, args: tuple) -> tuple | None:
        """SpatialTransformer pre-hook: each frame's context becomes [text ; image ; audio]."""
        h, inputs = args
        extra = inputs.extra or {}
        if _AUDIO_CONTEXT not in extra:
            return None
        context = torch.cat([inputs.context, extra[_AUDIO_CONTEXT].to(inputs.context.dtype)], dim=1)
        return h, dataclasses.replace(inputs, context=context)  # (B·F, Nt + Ni + L, D)


def attach_keyvid(unet: UNet3D, config: KeyVIDConfig) -> KeyVIDExtras:
    """Add KeyVID's parts to `unet` (fresh, zero-gated: the output is unchanged until trained).

    Load a DynamiCrafter checkpoint before attaching (its keys are a subset); load a KeyVID
    checkpoint after (its keys are exactly the attached UNet's).
    """
    if hasattr(unet, "audio_proj_2"):
        raise ValueError("KeyVID extras are already attached to this UNet")
    c = unet.config
    weight = unet.time_embed[0].weight
    with torch.device(weight.device):
        parts: list[tuple[str, nn.Module]] = []
        if config.frame_index_embedding:
            parts.append(("frame_idx_embedding", FrameIndexEmbedding(c.model_channels, c.model_channels * 4)))
        parts.append(("audio_proj_2", AudioProjection(config.audio_dim, c.context_dim)))
    anchor = "fps_embedding"
    for name, module in parts:
        _insert_after(unet, anchor, name, module.to(weight.dtype))
        anchor = name
    for transformer in [m for m in unet.modules() if isinstance(m, SpatialTransformer)]:
        for block in transformer.transformer_blocks:
            block.attn2 = AudioGatedCrossAttention.extend(block.attn2, c.image_tokens_per_frame)
    return KeyVIDExtras(unet, config)


def keyvid_config(preset: Preset, frame_index_embedding: bool = True) -> KeyVIDConfig:
    """The extras' config for a preset: audio width from its ImageBind config."""
    return KeyVIDConfig(audio_dim=preset.audio.imagebind.embed_dim,
                        frame_index_embedding=frame_index_embedding)


def build_keyvid_unet(preset: Preset, frame_index_embedding: bool = True) -> UNet3D:
    """A preset's UNet with KeyVID's extras attached: the keyframe generator (or, without the frame
    embedding, the interpolator). Random weights; build under `torch.device("meta")` for shapes."""
    unet = UNet3D(preset.backbone.unet)
    attach_keyvid(unet, keyvid_config(preset, frame_index_embedding))
    return unet


def keyvid_prediction(unet: nn.Module, x: Tensor, t: Tensor, cond: dict[str, Tensor]) -> Tensor:
    """The KeyVID network call: UNet on (noisy latent ++ concat latent) with context, fs, frame index, audio.

    `cond` holds "concat" (B, 4, F, h, w), "context" (B, L, D), "fs" (B,) and optionally
    FRAME_INDEX (B, F) and AUDIO_SEGMENTS (B, F, L, D_a).
    """
    x_in = torch.cat([x, cond["concat"]], dim=1)  # (B, 8, F, h, w)
    extra = {key: cond[key] for key in (FRAME_INDEX, AUDIO_SEGMENTS) if key in cond} or None
    return unet(x_in, t, cond["context"], fs=cond["fs"], extra=extra)


__all__ = [
    "AUDIO_SEGMENTS",
    "FRAME_INDEX",
    "AudioProjection",
    "FrameIndexEmbedding",
    "KeyVIDExtras",
    "attach_keyvid",
    "build_keyvid_unet",
    "keyvid_config",
    "keyvid_prediction",
]
