"""IA and IT: per-frame ImageBind similarity of a video to its audio and to its prompt (FACTS §13).

Each frame is resized bicubic (antialias) to 224×224, CLIP-normalised and embedded by the vision
tower; the audio clip's ImageBind mel by the audio tower; the prompt (the raw category folder
name, as the ASVA code does) by the text tower. All embeddings are unit vectors (the audio
tower's ×20 logit scale is divided out), so a similarity is a cosine in [-1, 1]. IA / IT are the
mean over frames 2…F and over clips, reported ×100.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from asva.metrics.sync_classifier import preprocess_video

IMAGEBIND_IMAGE_SIZE = 224


@torch.no_grad()
def frame_embeddings(vision: nn.Module, video: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """Unit embeddings (B, F, E) of every frame of clips (B, 3, F, H, W) in [-1, 1]."""
    b, _, f = video.shape[:3]
    x = preprocess_video(video, IMAGEBIND_IMAGE_SIZE)  # (B, 3, F, 224, 224), CLIP-normalised
    frames = x.transpose(1, 2).reshape(b * f, 3, IMAGEBIND_IMAGE_SIZE, IMAGEBIND_IMAGE_SIZE)
    out = torch.cat([vision(chunk) for chunk in frames.split(batch)])  # (B·F, E)
    return F.normalize(out.float(), dim=-1).view(b, f, -1)


@torch.no_grad()
def audio_embeddings(audio_tower: nn.Module, mel: torch.Tensor) -> torch.Tensor:
    """Unit embeddings (B, E) of ImageBind mels (B, 1, 128, 204)."""
    return F.normalize(audio_tower(mel).float(), dim=-1)


@torch.no_grad()
def text_embeddings(text_tower: nn.Module, tokenizer: object, texts: Sequence[str]) -> torch.Tensor:
    """Unit embeddings (N, E) of prompts, tokenised with the CLIP BPE tokenizer."""
    tokens = tokenizer(list(texts))  # (N, 77)
    return F.normalize(text_tower(tokens).float(), dim=-1)


def frame_similarity(frames: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cosines (B, F) of frame embeddings (B, F, E) with one target embedding per clip (B, E)."""
    return torch.einsum("bfe,be->bf", frames, target)
