"""Synthesised event sounds: decaying noise bursts, tones and filtered clicks, numpy only.

Every sound starts at its sample 0 (the event onset) with a sharp attack, so the onset in the
ground truth is where the energy is. Timbre (filter band, decay, pitch) is drawn per video by
the caller and passed in, so sounds vary between videos and stay alike within one.
"""

from __future__ import annotations

import numpy as np


def bandpass(x: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Zero-phase band-pass of (S,) float by an FFT mask with smooth (raised-cosine) edges."""
    n = len(x)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    # A soft edge an octave wide avoids the long ringing of a brick-wall filter.
    lo = np.clip(np.log2(np.maximum(f, 1e-3) / low_hz) + 0.5, 0.0, 1.0) if low_hz > 0 else np.ones_like(f)
    hi = np.clip(np.log2(high_hz / np.maximum(f, 1e-3)) + 0.5, 0.0, 1.0)
    gain = np.sin(0.5 * np.pi * lo) ** 2 * np.sin(0.5 * np.pi * hi) ** 2
    return np.fft.irfft(spec * gain, n).astype(np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.abs(x).max())
    return (x / peak).astype(np.float32) if peak > 0 else x.astype(np.float32)


def _decay(n: int, sample_rate: int, tau_s: float, attack_s: float = 0.001) -> np.ndarray:
    """Envelope (n,): linear attack over `attack_s`, then exp(-t / tau)."""
    t = np.arange(n) / sample_rate
    return (np.minimum(t / attack_s, 1.0) * np.exp(-t / tau_s)).astype(np.float32)


def noise_burst(
    rng: np.random.Generator, sample_rate: int, low_hz: float, high_hz: float, tau_s: float
) -> np.ndarray:
    """Band-passed white noise with an exponential decay: claps, thuds, clanks' body."""
    n = int(sample_rate * min(6 * tau_s, 0.6))
    noise = rng.standard_normal(n + 2048).astype(np.float32)
    # Filter a longer stretch, then cut: the FFT filter's wrap-around stays outside the sound.
    body = bandpass(noise, sample_rate, low_hz, high_hz)[1024 : 1024 + n]
    return _normalise(body * _decay(n, sample_rate, tau_s))


def modes(
    rng: np.random.Generator, sample_rate: int, freqs_hz: list[float], tau_s: float, noise_mix: float = 0.2
) -> np.ndarray:
    """A sum of decaying sinusoids (struck metal, drum skin) with a short noise transient."""
    n = int(sample_rate * min(6 * tau_s, 0.8))
    t = np.arange(n) / sample_rate
    out = np.zeros(n, dtype=np.float64)
    for k, f in enumerate(freqs_hz):
        # Higher modes die faster, as in real struck bodies.
        out += (
            np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
            * np.exp(-t * (1 + 0.5 * k) / tau_s)
            / (1 + k)
        )
    click = rng.standard_normal(n) * np.exp(-t / 0.004)
    out = _normalise(out) + noise_mix * click
    return _normalise(out * _decay(n, sample_rate, 10 * tau_s, attack_s=0.0005))


def boom(rng: np.random.Generator, sample_rate: int, f0_hz: float, tau_s: float) -> np.ndarray:
    """A drum boom: a sine whose pitch falls from 1.6 f0 to f0, plus a beater click."""
    n = int(sample_rate * min(5 * tau_s, 0.6))
    t = np.arange(n) / sample_rate
    freq = f0_hz * (1.0 + 0.6 * np.exp(-t / 0.03))  # (n,)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    body = np.sin(phase) * np.exp(-t / tau_s)
    click = bandpass(rng.standard_normal(n).astype(np.float32), sample_rate, 1500, 6000) * np.exp(-t / 0.005)
    return _normalise((body + 0.5 * _normalise(click)) * _decay(n, sample_rate, 1e3, attack_s=0.0005))


def click(rng: np.random.Generator, sample_rate: int, centre_hz: float, tau_s: float) -> np.ndarray:
    """A metronome tick: a very short resonant click around `centre_hz`."""
    n = int(sample_rate * 0.06)
    t = np.arange(n) / sample_rate
    ring = np.sin(2 * np.pi * centre_hz * t) * np.exp(-t / tau_s)
    grit = bandpass(rng.standard_normal(n).astype(np.float32), sample_rate, centre_hz / 2, centre_hz * 2)
    return _normalise((ring + 0.3 * grit * np.exp(-t / (tau_s / 2))) * _decay(n, sample_rate, 1e3, 0.0003))


def tone(
    sample_rate: int,
    freq_hz: float,
    duration_s: float,
    harmonics: float,
    attack_s: float = 0.004,
    release_s: float = 0.02,
) -> np.ndarray:
    """A steady beep of `duration_s` with `harmonics` in [0, 1] of odd overtones.

    The release is longer than the attack: an abrupt stop splatters energy over all bands, which
    onset detectors mistake for a new sound.
    """
    n = max(1, round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    x = np.sin(2 * np.pi * freq_hz * t)
    x += harmonics * (np.sin(6 * np.pi * freq_hz * t) / 3 + np.sin(10 * np.pi * freq_hz * t) / 5)
    ramp = np.minimum(np.clip(t / attack_s, 0.0, 1.0), np.clip((t[-1] - t) / release_s, 0.0, 1.0))
    return _normalise(x * np.sin(0.5 * np.pi * ramp) ** 2)


def croak_envelope(
    sample_rate: int, duration_s: float, attack_s: float, release_s: float, swell: float
) -> np.ndarray:
    """Loudness (n,) in [0, 1] of a croak: fast attack, a swell in the middle, release to 0."""
    n = max(1, round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    rise = np.clip(t / attack_s, 0.0, 1.0)
    fall = np.clip((duration_s - t) / release_s, 0.0, 1.0)
    body = 1.0 - swell + swell * np.sin(np.pi * np.clip(t / duration_s, 0.0, 1.0))  # (n,)
    return (np.sin(0.5 * np.pi * rise) ** 2 * np.sin(0.5 * np.pi * fall) ** 2 * body).astype(np.float32)


def croak(
    rng: np.random.Generator, sample_rate: int, envelope: np.ndarray, f0_hz: float, formant_hz: float
) -> np.ndarray:
    """A voiced croak: a pulse train at a wobbling f0, shaped around a formant, times `envelope`."""
    n = len(envelope)
    t = np.arange(n) / sample_rate
    f = f0_hz * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(4, 9) * t))
    phase = np.cumsum(f) / sample_rate
    saw = 2.0 * (phase - np.floor(phase)) - 1.0  # (n,) rich in harmonics
    voiced = bandpass(np.pad(saw, 1024).astype(np.float32), sample_rate, formant_hz / 2.5, formant_hz * 2.5)
    return _normalise(voiced[1024 : 1024 + n] * envelope) * envelope.max()


def add_at(track: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Mix `sound` into `track` (both (S,)) from sample `start`, cut at the end of the track."""
    if start >= len(track) or start < 0:
        return
    n = min(len(sound), len(track) - start)
    track[start : start + n] += gain * sound[:n]
