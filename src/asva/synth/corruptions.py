"""Corruptions of SynthAV clips: the defects curation must catch, each labelled in the ground truth.

Syntax (the `--corrupt` option): comma-separated `KIND` or `KIND=VALUE`, e.g. `offset=0.25,noise=10`
or `cut,text`. Kinds, their value and its default:

| kind | value (default) | what it does |
|---|---|---|
| cut | cut time in s (random, 35-65 % in) | splices another class's video in from that frame on |
| text | - | burns a caption box with random words into every frame |
| shake | amplitude as a fraction of the frame size (0.03) | smooth random camera shake |
| whip | pan duration in s (0.25) | a whip pan: the view slides a full frame sideways, blurred |
| short | duration in s (1.0) | trims the clip to that length |
| lowfps | frame rate (6) | keeps every frame nearest to a slower clock |
| lowres | downscale factor (4) | writes the video that many times smaller |
| offset | seconds, > 0 delays the audio (0.25) | shifts the audio against the picture |
| noise | SNR in dB (10) | adds pink background noise at that signal-to-noise ratio |
| noaudio | - | drops the audio track |

They are applied in the order of this table whatever the order given, each at most once, and
each draws its randomness from the clip's seed and its own name, so a corrupted video is as
reproducible as a clean one.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from asva.synth.clip import Clip, generate_clip
from asva.synth.scene import Event


@dataclass(frozen=True)
class Corruption:
    """One requested corruption: its kind and its value (None: the kind's default)."""

    kind: str
    value: float | None = None


@dataclass(frozen=True)
class _Kind:
    apply: Callable[[Clip, float | None, np.random.Generator], Clip]
    default: float | None  # None with takes_value: drawn at random; without it, no value
    takes_value: bool
    check: Callable[[float], bool] = lambda v: True
    expect: str = ""


def parse_corruptions(spec: str | None) -> list[Corruption]:
    """Parse `KIND[=VALUE][,KIND[=VALUE]]...` into Corruptions, in application order."""
    if spec is None or not spec.strip():
        return []
    seen: dict[str, Corruption] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"empty item in --corrupt {spec!r}; use KIND or KIND=VALUE separated by commas")
        kind, _, raw = item.partition("=")
        kind = kind.strip()
        if kind not in KINDS:
            raise ValueError(f"unknown corruption {kind!r} in {spec!r}; known: {', '.join(KINDS)}")
        spec_k = KINDS[kind]
        value: float | None = None
        if "=" in item:
            if not spec_k.takes_value:
                raise ValueError(f"corruption {kind!r} takes no value, got {item!r}")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"corruption {kind!r} needs a number, got {raw!r}") from None
            if not math.isfinite(value) or not spec_k.check(value):
                raise ValueError(f"corruption {kind!r}: value {raw} out of range; expected {spec_k.expect}")
        if kind in seen:
            raise ValueError(f"corruption {kind!r} given twice in {spec!r}")
        seen[kind] = Corruption(kind, value)
    return [seen[k] for k in KINDS if k in seen]


# One entry of a corruption mix: these corruptions together, given to this fraction of the videos.
MixEntry = tuple[tuple[Corruption, ...], float]


def parse_corruption_mix(spec: str | None) -> list[MixEntry]:
    """Parse `SPEC:FRACTION[|SPEC:FRACTION]...` (SPEC as for `--corrupt`); the rest stay clean.

    `offset=0.5:0.2|cut:0.1|text,noise=5:0.1` gives 20 % of the videos a 0.5-s audio offset, 10 % a
    scene cut, 10 % a caption and background noise together, and leaves 60 % untouched.
    """
    if spec is None or not spec.strip():
        return []
    entries: list[MixEntry] = []
    for item in spec.split("|"):
        item = item.strip()
        corrupt, sep, raw = item.rpartition(":")
        if not sep or not corrupt.strip():
            raise ValueError(f"corruption mix item {item!r} in {spec!r}: expected SPEC:FRACTION")
        try:
            fraction = float(raw)
        except ValueError:
            raise ValueError(f"corruption mix item {item!r}: fraction {raw!r} is not a number") from None
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"corruption mix item {item!r}: fraction must be in (0, 1], got {fraction}")
        entries.append((tuple(parse_corruptions(corrupt)), fraction))
    total = sum(f for _, f in entries)
    if total > 1.0 + 1e-9:
        raise ValueError(f"corruption mix {spec!r}: fractions add up to {total:g}, more than 1")
    return entries


def pick_from_mix(mix: list[MixEntry] | tuple[MixEntry, ...], seed: int) -> tuple[Corruption, ...]:
    """The corruptions a video with this seed gets from `mix` (none for the clean remainder)."""
    u = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(b"mix")])).random()
    edge = 0.0
    for corruptions, fraction in mix:
        edge += fraction
        if u < edge:
            return corruptions
    return ()


def apply_corruptions(clip: Clip, corruptions: list[Corruption]) -> Clip:
    """Apply corruptions in the fixed order, recording each in `clip.corruptions`."""
    for c in sorted(corruptions, key=lambda c: list(KINDS).index(c.kind)):
        rng = np.random.default_rng(np.random.SeedSequence([clip.seed, zlib.crc32(c.kind.encode())]))
        clip = KINDS[c.kind].apply(clip, c.value, rng)
    return clip


def _label(clip: Clip, **label: object) -> list[dict]:
    return [*clip.corruptions, {k: (round(v, 6) if isinstance(v, float) else v) for k, v in label.items()}]


# ---- picture -----------------------------------------------------------------------------------


def _cut(clip: Clip, at: float | None, rng: np.random.Generator) -> Clip:
    """Splice another class's clip in from frame round(at * fps) on (a scene cut)."""
    from asva.synth.classes import CLASSES

    others = [c for c in CLASSES if c != clip.class_name]
    other_class = others[int(rng.integers(len(others)))]
    other_seed = int(rng.integers(2**31))
    h = clip.frames.shape[1]
    other = generate_clip(
        other_class,
        other_seed,
        seconds=max(clip.seconds, 2.0),
        size=h,
        fps=clip.fps,
        sample_rate=clip.sample_rate,
    )
    at_s = rng.uniform(0.35, 0.65) * clip.seconds if at is None else at
    if not 0 < at_s < clip.seconds:
        raise ValueError(f"cut time {at_s} s is outside the clip (0, {clip.seconds:g}) s")
    k = max(1, min(len(clip.frames) - 1, round(at_s * clip.fps)))
    t_cut = k / clip.fps  # the cut lies on a frame boundary
    s_cut = round(t_cut * clip.sample_rate)
    frames = np.concatenate([clip.frames[:k], other.frames[k : len(clip.frames)]])  # (T, H, W, 3)
    audio = clip.audio
    if audio is not None and other.audio is not None:
        audio = np.concatenate([audio[:s_cut], other.audio[s_cut : len(audio)]])
    # Events keep their side of the cut; a sound running across it is cut short there.
    events = [
        Event(e.onset, e.kind, None if e.offset is None else min(e.offset, t_cut))
        for e in clip.events
        if e.onset < t_cut
    ]
    events += [e for e in other.events if t_cut <= e.onset < clip.seconds]
    signals = {
        key: np.concatenate([v[:k], other.signals[key][k : len(v)]])
        for key, v in clip.signals.items()
        if key in other.signals
    }
    return clip.with_changes(
        frames=frames,
        audio=audio,
        events=events,
        signals=signals,
        corruptions=_label(clip, kind="cut", at_s=t_cut, other_class=other_class, other_seed=other_seed),
    )


_WORDS = (
    "breaking",
    "news",
    "live",
    "subscribe",
    "now",
    "today",
    "best",
    "moments",
    "watch",
    "replay",
    "score",
    "click",
    "here",
    "amazing",
    "sound",
    "exclusive",
    "full",
    "video",
    "link",
    "below",
)


def _text(clip: Clip, _: float | None, rng: np.random.Generator) -> Clip:
    """Burn a caption (random words on a dark box) into every frame."""
    h, w = clip.frames.shape[1:3]
    words = " ".join(_WORDS[int(i)] for i in rng.integers(len(_WORDS), size=int(rng.integers(2, 4)))).upper()
    scale, thick = h / 400, max(1, round(h / 160))
    (tw, th), base = cv2.getTextSize(words, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    while tw > 0.9 * w and scale > 0.15:  # shrink to fit the width
        scale *= 0.9
        (tw, th), base = cv2.getTextSize(words, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, h // 64)
    x0 = int(rng.integers(pad, max(pad + 1, w - tw - pad)))
    y0 = int(rng.uniform(0.05, 0.2) * h) if rng.uniform() < 0.5 else int(rng.uniform(0.75, 0.88) * h)
    box = (x0 - pad, y0 - th - pad, x0 + tw + pad, y0 + base + pad)
    frames = clip.frames.copy()
    colour = (255, 255, 255) if rng.uniform() < 0.7 else (255, 230, 0)
    for f in frames:
        cv2.rectangle(f, box[:2], box[2:], (15, 15, 15), -1)
        cv2.putText(f, words, (x0, y0), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    box_clipped = [max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])]
    return clip.with_changes(
        frames=frames, corruptions=_label(clip, kind="text", text=words, box=box_clipped)
    )


def _translate(frames: np.ndarray, dx: np.ndarray, dy: np.ndarray, border: int) -> np.ndarray:
    """Shift each frame (T, H, W, 3) by (dx[t], dy[t]) pixels, filling with `border` mode."""
    out = np.empty_like(frames)
    h, w = frames.shape[1:3]
    for k, f in enumerate(frames):
        m = np.float32([[1, 0, dx[k]], [0, 1, dy[k]]])
        out[k] = cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
    return out


def _shake(clip: Clip, amplitude: float | None, rng: np.random.Generator) -> Clip:
    """Smooth random camera shake of `amplitude` x frame size (RMS per axis)."""
    amp = 0.03 if amplitude is None else amplitude
    t, h = len(clip.frames), clip.frames.shape[1]
    # White noise low-passed to a few Hz: a hand-held wobble, not per-frame jitter.
    k = max(1, round(clip.fps / 6))
    walk = rng.standard_normal((t + 4 * k, 2))
    smooth = np.stack(
        [np.convolve(walk[:, i], np.hanning(2 * k + 1), mode="same")[2 * k : 2 * k + t] for i in (0, 1)], 1
    )
    smooth *= amp * h / (smooth.std(axis=0) + 1e-9)
    frames = _translate(clip.frames, smooth[:, 0], smooth[:, 1], cv2.BORDER_REFLECT101)
    return clip.with_changes(
        frames=frames,
        corruptions=_label(
            clip,
            kind="shake",
            amplitude=amp,
            dx=[round(float(v), 2) for v in smooth[:, 0]],
            dy=[round(float(v), 2) for v in smooth[:, 1]],
        ),
    )


def _whip(clip: Clip, duration: float | None, rng: np.random.Generator) -> Clip:
    """A whip pan: the view slides one frame width sideways over `duration` s, motion-blurred."""
    dur = 0.25 if duration is None else duration
    t, _, w = clip.frames.shape[:3]
    start = rng.uniform(0.2, max(0.25, clip.seconds - dur - 0.2))
    direction = 1.0 if rng.uniform() < 0.5 else -1.0
    u = np.clip((np.arange(t) / clip.fps - start) / dur, 0.0, 1.0)
    dx = direction * w * (3 * u**2 - 2 * u**3)  # smoothstep: accelerate, then brake
    frames = _translate(clip.frames, dx, np.zeros(t), cv2.BORDER_WRAP)
    speed = np.abs(np.diff(dx, prepend=dx[0]))  # (T,) px per frame
    for k in np.nonzero(speed > 2)[0]:
        n = int(min(speed[k], w // 2)) | 1
        frames[k] = cv2.blur(frames[k], (n, 1))
    return clip.with_changes(
        frames=frames,
        corruptions=_label(
            clip, kind="whip", start_s=start, end_s=start + dur, distance_px=float(direction * w)
        ),
    )


# ---- time and size ------------------------------------------------------------------------------


def _short(clip: Clip, seconds: float | None, _: np.random.Generator) -> Clip:
    """Trim the clip to `seconds`."""
    s = 1.0 if seconds is None else seconds
    if s >= clip.seconds:
        raise ValueError(f"short={s:g} must be shorter than the clip ({clip.seconds:g} s)")
    k = max(1, round(s * clip.fps))
    audio = None if clip.audio is None else clip.audio[: round(k / clip.fps * clip.sample_rate)]
    end = k / clip.fps
    events = [
        Event(e.onset, e.kind, None if e.offset is None else min(e.offset, end))
        for e in clip.events
        if e.onset < end
    ]
    return clip.with_changes(
        frames=clip.frames[:k],
        audio=audio,
        events=events,
        signals={n: v[:k] for n, v in clip.signals.items()},
        corruptions=_label(clip, kind="short", seconds=end),
    )


def _lowfps(clip: Clip, fps: float | None, _: np.random.Generator) -> Clip:
    """Resample the picture to `fps` by taking the frame nearest each new frame time."""
    new = 6.0 if fps is None else fps
    if new >= clip.fps:
        raise ValueError(f"lowfps={new:g} must be below the clip's {clip.fps:g} FPS")
    n = max(1, round(clip.seconds * new))
    idx = np.minimum(np.rint(np.arange(n) * clip.fps / new).astype(int), len(clip.frames) - 1)  # (T',)
    return clip.with_changes(
        frames=clip.frames[idx],
        fps=float(new),
        signals={k: v[idx] for k, v in clip.signals.items()},
        corruptions=_label(clip, kind="lowfps", fps=float(new)),
    )


def _lowres(clip: Clip, factor: float | None, _: np.random.Generator) -> Clip:
    """Downscale the frames by `factor` (sizes rounded to even, at least 8 px)."""
    f = 4.0 if factor is None else factor
    h, w = clip.frames.shape[1:3]
    nh, nw = max(8, round(h / f / 2) * 2), max(8, round(w / f / 2) * 2)
    frames = np.stack([cv2.resize(fr, (nw, nh), interpolation=cv2.INTER_AREA) for fr in clip.frames])
    sx = nw / w
    signals = {k: (v * sx if k in ("x", "y", "size", "gap") else v) for k, v in clip.signals.items()}
    return clip.with_changes(
        frames=frames,
        signals=signals,
        corruptions=_label(clip, kind="lowres", factor=float(f), width=nw, height=nh),
    )


# ---- sound --------------------------------------------------------------------------------------


def _offset(clip: Clip, seconds: float | None, rng: np.random.Generator) -> Clip:
    """Shift the audio by `seconds` (> 0: the sound comes late); the gap is filled with room tone."""
    d = 0.25 if seconds is None else seconds
    if clip.audio is None:
        return clip.with_changes(corruptions=_label(clip, kind="offset", seconds=d))
    if abs(d) >= clip.seconds:
        raise ValueError(f"offset={d:g} s is not shorter than the clip ({clip.seconds:g} s)")
    a = clip.audio
    n = round(d * clip.sample_rate)
    out = (0.001 * rng.standard_normal(len(a))).astype(np.float32)  # room tone where nothing was recorded
    if n >= 0:
        out[n:] = a[: len(a) - n]
    else:
        out[:n] = a[-n:]
    return clip.with_changes(
        audio=out,
        audio_offset_s=clip.audio_offset_s + n / clip.sample_rate,
        corruptions=_label(clip, kind="offset", seconds=n / clip.sample_rate),
    )


def _noise(clip: Clip, snr_db: float | None, rng: np.random.Generator) -> Clip:
    """Add pink noise so that signal power / noise power over the clip is `snr_db`."""
    snr = 10.0 if snr_db is None else snr_db
    if clip.audio is None:
        return clip.with_changes(corruptions=_label(clip, kind="noise", snr_db=snr))
    a = clip.audio.astype(np.float64)
    spec = np.fft.rfft(rng.standard_normal(len(a)))
    f = np.fft.rfftfreq(len(a), 1.0 / clip.sample_rate)
    pink = np.fft.irfft(spec / np.sqrt(np.maximum(f, 20.0)), len(a))  # 1/f power
    pink *= np.sqrt(np.mean(a**2) / np.mean(pink**2) / 10 ** (snr / 10))
    mix = a + pink
    peak = np.abs(mix).max()
    if peak > 0.99:  # scale both together: the ratio stays exact
        mix *= 0.99 / peak
    return clip.with_changes(audio=mix.astype(np.float32), corruptions=_label(clip, kind="noise", snr_db=snr))


def _noaudio(clip: Clip, _v: float | None, _r: np.random.Generator) -> Clip:
    """Drop the audio track."""
    return clip.with_changes(audio=None, corruptions=_label(clip, kind="noaudio"))


def _positive(v: float) -> bool:
    return v > 0


KINDS: dict[str, _Kind] = {
    "cut": _Kind(_cut, None, True, _positive, "a time in seconds > 0"),
    "text": _Kind(_text, None, False),
    "shake": _Kind(_shake, 0.03, True, lambda v: 0 < v <= 0.5, "a fraction of the frame size in (0, 0.5]"),
    "whip": _Kind(_whip, 0.25, True, lambda v: 0.02 <= v <= 2.0, "a duration in [0.02, 2] s"),
    "short": _Kind(_short, 1.0, True, _positive, "a duration in seconds > 0"),
    "lowfps": _Kind(_lowfps, 6.0, True, _positive, "a frame rate > 0"),
    "lowres": _Kind(_lowres, 4.0, True, lambda v: v > 1, "a downscale factor > 1"),
    "offset": _Kind(_offset, 0.25, True, lambda v: v != 0, "a non-zero shift in seconds"),
    "noise": _Kind(_noise, 10.0, True, lambda v: -20 <= v <= 60, "an SNR in dB in [-20, 60]"),
    "noaudio": _Kind(_noaudio, None, False),
}
