"""Layer taps: hidden states of chosen encoder layers as timed token sequences.

Conventions (FACTS §10, §11):
* Layers are 0-based block indices: layer i is the output of block i (after its residuals; for
  BEATs after the layer's final LayerNorm). The default (3, 7, 11) closes each third of the
  12-block encoders; 11 is the last block.
* A token's time is the centre, in seconds from the start of the input audio, of the span its
  time patch covers. Kaldi frame k (25 ms window, 10 ms shift, snip_edges) covers
  [10k, 10k + 25] ms, so a patch over frames s..s+K-1 is centred at (s + (K-1)/2) * 10 + 12.5 ms:
  ImageBind column t (frames 10t..10t+15) at 100t + 87.5 ms, BEATs time patch t (frames
  16t..16t+15) at 160t + 87.5 ms.
* ImageBind's CLS token summarises the whole clip and has no time: its time is NaN. Windowed
  attention by time must treat NaN as "visible from every frame" (ASVA lets every frame see CLS).
* Token order is each encoder's own: ImageBind CLS then freq-major (index 1 + f * 19 + t), BEATs
  time-major (index t * 8 + f).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
from torch import nn

from asva.audio.beats import BEATs
from asva.audio.config import (
    BEATS_FBANK,
    IMAGEBIND_FBANK,
    AudioFeatureConfig,
    BEATsConfig,
    ImageBindAudioConfig,
    KaldiFbankConfig,
)
from asva.audio.fbank import beats_mel, check_waveform, imagebind_mel, num_frames
from asva.audio.imagebind import ImageBindAudioEncoder


class AudioTap(NamedTuple):
    """One tapped layer: tokens (B, N, D) and their times (N,) in seconds (NaN: no time)."""

    tokens: torch.Tensor
    times: torch.Tensor


def patch_centre_seconds(first_frame: torch.Tensor, frames_per_patch: int, fbank: KaldiFbankConfig
                         ) -> torch.Tensor:
    """Centre (s) of the span covered by Kaldi frames first_frame .. first_frame + frames_per_patch - 1."""
    middle = first_frame.double() + (frames_per_patch - 1) / 2  # fractional frame index
    return (middle * fbank.frame_shift_ms + fbank.frame_length_ms / 2) / 1000.0


def imagebind_token_times(config: ImageBindAudioConfig | None = None) -> torch.Tensor:
    """Times (N,) of ImageBind's 229 tokens: NaN for CLS, then freq-major patch centres."""
    config = config or ImageBindAudioConfig()
    freq, time = config.grid
    centres = patch_centre_seconds(torch.arange(time) * config.stride, config.kernel_size, IMAGEBIND_FBANK)
    return torch.cat([torch.full((1,), math.nan, dtype=torch.float64), centres.repeat(freq)]).float()  # (N,)


def beats_token_times(frames: int, config: BEATsConfig | None = None) -> torch.Tensor:
    """Times (N,) of BEATs' tokens for `frames` mel frames: time-major, 8 tokens per time patch."""
    config = config or BEATsConfig()
    patch = config.input_patch_size
    centres = patch_centre_seconds(torch.arange(frames // patch) * patch, patch, BEATS_FBANK)
    return centres.repeat_interleave(config.freq_patches).float()  # (N,)


def _imagebind_taps(encoder: nn.Module, audio: torch.Tensor, layers: tuple[int, ...], null: bool
                    ) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    config = encoder.config
    dtype = next(encoder.parameters()).dtype
    mel = imagebind_mel(audio, config).to(dtype)  # (B, 1, 128, 204)
    if null:
        mel = torch.zeros_like(mel)
    return encoder.hidden_states(mel, layers), imagebind_token_times(config)


def _beats_taps(encoder: nn.Module, audio: torch.Tensor, layers: tuple[int, ...], null: bool
                ) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    config = encoder.config
    dtype = next(encoder.parameters()).dtype
    mel = beats_mel(audio, config).to(dtype)  # (B, T, 128)
    if null:
        mel = torch.zeros_like(mel)
    return encoder.hidden_states(mel, layers), beats_token_times(mel.shape[1], config)


# Encoder name -> (builder from the feature config, taps function). Chosen explicitly, by name.
ENCODERS: dict[str, tuple[Callable[[AudioFeatureConfig], nn.Module], Callable]] = {
    "imagebind": (lambda cfg: ImageBindAudioEncoder(cfg.imagebind), _imagebind_taps),
    "beats": (lambda cfg: BEATs(cfg.beats), _beats_taps),
}


def _min_samples(config: AudioFeatureConfig) -> int:
    # BEATs needs one whole time patch (16 frames = 175 ms); ImageBind pads its mel, 0.1 s is the floor.
    need = round(0.1 * config.sample_rate)
    if "beats" in config.encoders:
        fb = BEATS_FBANK
        need = max(need, fb.frame_length + (config.beats.input_patch_size - 1) * fb.frame_shift)
    return need


class AudioFeatureExtractor(nn.Module):
    """Frozen audio encoders -> per (encoder, layer) timed tokens, from (B, S) float32 16 kHz audio.

    Audio longer than `clip_seconds` is cut to its centred window (as ASVA/KeyVID's
    `waveform_to_melspectrogram`); token times stay relative to the start of the given audio.
    Shorter audio is used as is: ImageBind pads its mel to 204 frames, BEATs returns fewer tokens.
    """

    def __init__(self, config: AudioFeatureConfig | None = None,
                 encoders: Mapping[str, nn.Module] | None = None) -> None:
        super().__init__()
        self.config = config = config or AudioFeatureConfig()
        given = dict(encoders or {})
        extra = sorted(set(given) - set(config.encoders))
        if extra:
            raise ValueError(f"encoders {extra} given but not in config.encoders {config.encoders}")
        self.encoders = nn.ModuleDict({name: given[name] if name in given else ENCODERS[name][0](config)
                                       for name in config.encoders})
        self.encoders.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> AudioFeatureExtractor:
        """Switch mode for any added modules; the frozen encoders stay in eval mode."""
        super().train(mode)
        self.encoders.eval()
        return self

    def forward(self, audio: torch.Tensor, null: bool = False) -> dict[tuple[str, int], AudioTap]:
        """Timed tokens of each configured (encoder, layer), tokens (B, N, D) and times (N,) in seconds.

        `null=True` gives the null-audio condition of classifier-free guidance: the encoders see an
        all-zero normalised mel of the same length (ASVA's form, FACTS §5), not the given sound.
        """
        config = self.config
        check_waveform(audio, config.sample_rate)
        need = _min_samples(config)
        if audio.shape[1] < need:
            seconds = audio.shape[1] / config.sample_rate
            raise ValueError(f"audio is {audio.shape[1]} samples ({seconds:.3f} s); "
                             f"the configured encoders {config.encoders} need at least {need} samples "
                             f"({need / config.sample_rate:.3f} s)")
        offset = max(0, (audio.shape[1] - config.clip_samples) // 2)
        audio = audio[:, offset: offset + config.clip_samples]  # (B, S') centred clip
        out: dict[tuple[str, int], AudioTap] = {}
        with torch.no_grad():
            for name, encoder in self.encoders.items():
                states, times = ENCODERS[name][1](encoder, audio, config.layers, null)
                times = (times + offset / config.sample_rate).to(audio.device)  # (N,)
                for layer in config.layers:
                    out[(name, layer)] = AudioTap(states[layer], times)
        return out


def token_counts(config: AudioFeatureConfig | None = None) -> dict[str, int]:
    """Tokens per tap for a full clip of `clip_seconds`: {"imagebind": 229, "beats": 96} at 2 s."""
    config = config or AudioFeatureConfig()
    counts = {"imagebind": config.imagebind.num_tokens,
              "beats": num_frames(config.clip_samples, BEATS_FBANK) // config.beats.input_patch_size
              * config.beats.freq_patches}
    return {name: counts[name] for name in config.encoders}
