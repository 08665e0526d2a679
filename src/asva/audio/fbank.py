"""Kaldi-compatible log-mel filterbanks in plain torch, and the two encoders' mel front-ends.

`kaldi_fbank` follows Kaldi's `compute-fbank-feats` (feature-window.cc, mel-computations.cc) as
torchaudio's `compliance.kaldi.fbank` does, batched over (B, S) and without dither, so the
encoders see the features they were trained on without needing torchaudio:
frames (snip edges) -> remove DC -> pre-emphasis -> window -> zero-pad to a power of two ->
power spectrum -> triangular mel banks (Kaldi mel scale, 1127 ln(1 + f/700)) -> log with a floor.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from asva.audio.config import (
    BEATS_FBANK,
    IMAGEBIND_FBANK,
    BEATsConfig,
    ImageBindAudioConfig,
    KaldiFbankConfig,
)
from asva.log import get_logger

log = get_logger(__name__)

# Kaldi and torchaudio floor mel energies at float32 epsilon before the log, whatever the dtype.
LOG_FLOOR = float(np.finfo(np.float32).eps)
MIN_SECONDS = 0.1  # shorter clips hold too few frames for any encoder patch to mean anything
# Peaks above this (12 dB over full scale) are not overs of float audio but unscaled int16 samples.
SUSPICIOUS_PEAK = 4.0
BEATS_SCALE = 2.0**15  # BEATs.py `preprocess`: float audio back to the int16 range Kaldi expects


def check_waveform(audio: torch.Tensor, sample_rate: int, min_seconds: float = MIN_SECONDS) -> None:
    """Raise ValueError unless `audio` is a finite float (B, S) batch of at least `min_seconds`."""
    if not isinstance(audio, torch.Tensor):
        raise TypeError(f"audio must be a torch.Tensor of shape (B, S), got {type(audio).__name__}")
    if audio.ndim != 2:
        hint = {1: "; add a batch axis with audio[None]",
                3: "; down-mix channels first (asva.media.read_audio returns mono)"}.get(audio.ndim, "")
        raise ValueError(f"audio must have shape (B, S) (batch, samples), got {tuple(audio.shape)}{hint}")
    if not audio.is_floating_point():
        raise ValueError(f"audio must be floating point in [-1, 1], got dtype {audio.dtype}")
    seconds = audio.shape[1] / sample_rate
    if seconds < min_seconds:
        raise ValueError(f"audio is {audio.shape[1]} samples ({seconds:.3f} s at {sample_rate} Hz); "
                         f"at least {min_seconds} s is needed")
    if audio.device.type == "meta":
        return
    finite = torch.isfinite(audio)
    if not bool(finite.all()):
        n_nan, n_inf = int(torch.isnan(audio).sum()), int(torch.isinf(audio).sum())
        b, s = (int(i) for i in torch.nonzero(~finite)[0])
        raise ValueError(f"audio contains {n_nan} NaN and {n_inf} Inf sample(s) (first at batch {b}, "
                         f"sample {s}); clean the input before feature extraction")
    peak = float(audio.abs().max())
    if peak > SUSPICIOUS_PEAK:
        # Clipped (+-1) or slightly over full-scale audio is fine and used as is.
        log.warning("audio peaks at %.4g, far outside [-1, 1]: expected float audio "
                    "(int16 samples not divided by 32768?)", peak)


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


@lru_cache(maxsize=8)
def _mel_banks_np(num_bins: int, padded_length: int, sample_rate: int, low: float, high: float) -> np.ndarray:
    # Kaldi MelBanks: triangles equally spaced on the mel scale over FFT bins 0..N/2-1; the Nyquist
    # bin gets weight 0 (torchaudio pads that column with zeros).
    nyquist = 0.5 * sample_rate
    high = high if high > 0 else nyquist + high
    if not 0.0 <= low < high <= nyquist:
        raise ValueError(f"mel bank edges must satisfy 0 <= low < high <= Nyquist, got {low}, {high}")
    mel_low, mel_high = _mel(low), _mel(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    left = mel_low + delta * np.arange(num_bins)[:, None]  # (M, 1)
    centre, right = left + delta, left + 2 * delta
    fft_mel = _mel(sample_rate / padded_length * np.arange(padded_length // 2))[None, :]  # (1, N/2)
    up = (fft_mel - left) / (centre - left)
    down = (right - fft_mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))  # (M, N/2)
    return np.pad(banks, ((0, 0), (0, 1)))  # (M, N/2 + 1)


def mel_banks(config: KaldiFbankConfig, device: torch.device | None = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Kaldi's triangular mel filters, (num_mel_bins, n_fft // 2 + 1)."""
    padded = 1 << math.ceil(math.log2(config.frame_length))  # Kaldi round_to_power_of_two
    banks = _mel_banks_np(config.num_mel_bins, padded, config.sample_rate, config.low_freq, config.high_freq)
    return torch.as_tensor(banks, dtype=dtype, device=device)


def analysis_window(config: KaldiFbankConfig, device: torch.device | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Kaldi's symmetric analysis window of `frame_length` samples ("hanning" or "povey" = hann^0.85)."""
    window = torch.hann_window(config.frame_length, periodic=False, device=device, dtype=dtype)
    return window.pow(0.85) if config.window_type == "povey" else window


def num_frames(num_samples: int, config: KaldiFbankConfig) -> int:
    """Frames Kaldi takes from `num_samples` with snip_edges (198 for 2 s at 25/10 ms)."""
    if num_samples < config.frame_length:
        return 0
    return 1 + (num_samples - config.frame_length) // config.frame_shift


def kaldi_fbank(waveform: torch.Tensor, config: KaldiFbankConfig) -> torch.Tensor:
    """Log-mel filterbank energies of a (B, S) waveform batch, (B, T, num_mel_bins); no dither."""
    length, shift = config.frame_length, config.frame_shift
    if waveform.ndim != 2 or waveform.shape[1] < length:
        raise ValueError(f"kaldi_fbank needs (B, S) with S >= {length} samples, got {tuple(waveform.shape)}")
    frames = waveform.unfold(-1, length, shift)  # (B, T, L); snip_edges: only whole frames
    if config.remove_dc_offset:
        frames = frames - frames.mean(dim=-1, keepdim=True)  # (B, T, L)
    if config.preemphasis:
        # Kaldi treats the sample before the frame as a copy of its first sample.
        previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # (B, T, L)
        frames = frames - config.preemphasis * previous
    frames = frames * analysis_window(config, frames.device, frames.dtype)  # (B, T, L)
    padded = 1 << math.ceil(math.log2(length))
    power = torch.fft.rfft(frames, n=padded).abs().pow(2)  # (B, T, N/2 + 1)
    mel = power @ mel_banks(config, frames.device, frames.dtype).T  # (B, T, M)
    return mel.clamp_min(LOG_FLOOR).log()


def imagebind_mel(waveform: torch.Tensor, config: ImageBindAudioConfig | None = None) -> torch.Tensor:
    """ImageBind's normalised mel image of 16 kHz audio (B, S) -> (B, 1, 128, 204) (IB data.py)."""
    config = config or ImageBindAudioConfig()
    fbank_config = IMAGEBIND_FBANK
    if config.num_mel_bins != fbank_config.num_mel_bins:
        fbank_config = KaldiFbankConfig(window_type="hanning", num_mel_bins=config.num_mel_bins)
    # The whole clip's mean is removed before framing (in addition to Kaldi's per-frame DC removal).
    waveform = waveform - waveform.mean(dim=-1, keepdim=True)  # (B, S)
    fbank = kaldi_fbank(waveform, fbank_config).transpose(1, 2)  # (B, M, T)
    # Zero-pad (in log-mel units, before normalising) or crop on the right to target_len frames.
    extra = config.target_len - fbank.shape[-1]
    fbank = torch.nn.functional.pad(fbank, (0, extra)) if extra > 0 else fbank[..., : config.target_len]
    return ((fbank - config.mel_mean) / config.mel_std).unsqueeze(1)  # (B, 1, M, target_len)


def beats_mel(waveform: torch.Tensor, config: BEATsConfig | None = None) -> torch.Tensor:
    """BEATs' normalised log-mel frames of 16 kHz audio (B, S) -> (B, T, 128) (BEATs.py `preprocess`)."""
    config = config or BEATsConfig()
    fbank_config = BEATS_FBANK
    if config.num_mel_bins != fbank_config.num_mel_bins:
        fbank_config = KaldiFbankConfig(window_type="povey", num_mel_bins=config.num_mel_bins)
    fbank = kaldi_fbank(waveform * BEATS_SCALE, fbank_config)  # (B, T, M)
    return (fbank - config.fbank_mean) / (2 * config.fbank_std)
