"""Typed config of the audio adapters (Efficient two-stage ASVA)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdapterConfig:
    """Sizes and the time window of the audio adapters.

    `window` is the radius r of the audio window in frames: frame i attends to audio tokens whose
    time lies within r / FPS seconds of its own time (1.5 by default; 0.5 reproduces the older
    many-to-one split where each frame sees only its own slice of the audio).
    """

    window: float = 1.5
    head_channels: int = 64  # attention heads = channels / head_channels, as in the UNet
    include_init_attn: bool = False  # the papers' 55M count uses the 16 regular temporal sites

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"AdapterConfig.window must be positive (frames), got {self.window}")
        if self.head_channels <= 0:
            raise ValueError(f"AdapterConfig.head_channels must be positive, got {self.head_channels}")
