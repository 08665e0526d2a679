"""The oracle sync error: audio onsets against motion events, with no learned judge.

1. Audio events: spectral-flux onsets of the waveform (log band energies, half-wave rectified
   rise, Bello et al. 2005) picked with an adaptive threshold (local median plus a fraction of
   the clip's strongest onset), then each refined in the time domain to where a 2 ms energy
   envelope first crosses halfway (in dB) from the level before it to the sound's peak.
2. Visual events: local peaks and valleys of the motion score (`asva.keyframes.motion`) whose
   prominence is at least a tenth of the curve's maximum, placed to sub-frame precision by a
   parabola through the extremum and its neighbours. An impact reverses or stops an object, a
   light switches on, a body inflates: each shows up as an extremum of the motion curve.
3. Matching: each audio event is paired with the nearest visual event. `mean_offset_ms` is the
   mean absolute time between them, counting 500 ms when none is within 500 ms (so a static
   video scores 500); `matched_fraction` is the share of audio events with a visual event
   within one frame (1 / fps). `best_offset_ms` is the global shift Δ = visual - audio that
   lines up most events to within a frame: audio delayed by 0.25 s gives -250 ms, and it is
   positive when the picture lags the sound.

Only audio events inside the span of the motion curve (from the middle of the first frame pair
to the middle of the last) are scored: outside it no picture change could show them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from asva.keyframes.motion import FlowFn, motion_score, motion_times
from asva.log import get_logger

logger = get_logger(__name__)

TOLERANCE_S = 0.5  # an audio event with no visual event this close counts this much
MAX_OFFSET_S = 0.5  # the global offset is searched within +-this


@dataclass(frozen=True)
class SyncResult:
    """Oracle sync scores of one video, and the events they were computed from."""

    mean_offset_ms: float | None  # None when the audio has no events
    matched_fraction: float | None
    best_offset_ms: float | None  # visual - audio; None when there are no audio or no visual events
    num_audio_events: int
    num_visual_events: int
    fps: float
    frame_ms: float
    audio_events_s: list[float]
    visual_events_s: list[float]
    offsets_ms: list[float | None]  # per audio event: nearest visual minus audio, None beyond 500 ms

    def to_dict(self) -> dict:
        """A JSON-ready dict (times rounded to 0.1 ms)."""
        d = asdict(self)
        for k in ("audio_events_s", "visual_events_s"):
            d[k] = [round(t, 4) for t in d[k]]
        d["offsets_ms"] = [None if o is None else round(o, 1) for o in d["offsets_ms"]]
        for k in ("mean_offset_ms", "best_offset_ms", "frame_ms"):
            d[k] = None if d[k] is None else round(d[k], 2)
        if d["matched_fraction"] is not None:
            d["matched_fraction"] = round(d["matched_fraction"], 4)
        return d


# ---- audio events -----------------------------------------------------------------------------


def onset_strength(
    audio: np.ndarray, sample_rate: int, hop_s: float = 0.005, win_s: float = 0.032
) -> tuple[np.ndarray, np.ndarray]:
    """Spectral flux of (S,) audio: (times (N,) s, flux (N,) in dB per hop, mean over 24 log bands)."""
    hop, win = max(1, round(hop_s * sample_rate)), max(16, round(win_s * sample_rate))
    x = np.asarray(audio, np.float64)
    # Centre frames on their time stamps: pad half a window each side.
    xp = np.pad(x, (win // 2, win // 2 + hop))
    n = 1 + (len(xp) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]  # (N, win)
    power = np.abs(np.fft.rfft(xp[idx] * np.hanning(win), axis=1)) ** 2  # (N, F)
    freqs = np.fft.rfftfreq(win, 1.0 / sample_rate)
    # 24 log-spaced bands from 50 Hz to Nyquist: a low boom and a high tick weigh the same.
    edges = np.geomspace(50.0, sample_rate / 2, 25)
    band = np.clip(np.searchsorted(edges, freqs) - 1, 0, 23)
    energy = np.zeros((n, 24))
    np.add.at(energy.T, band, power.T)  # (N, 24)
    db = 10 * np.log10(energy + 1e-12)
    # Floor 60 dB under the loudest band: fluctuations of near-silence do not count as rises.
    db = np.maximum(db, db.max() - 60.0)
    flux = np.maximum(np.diff(db, axis=0, prepend=db[:1]), 0.0).mean(axis=1)  # (N,)
    return np.arange(n) * hop / sample_rate, flux


def audio_onsets(
    audio: np.ndarray,
    sample_rate: int,
    min_gap_s: float = 0.06,
    delta: float = 0.12,
    min_level_db: float = -50.0,
) -> np.ndarray:
    """Onset times (K,) in seconds of (S,) mono audio: flux peaks over an adaptive threshold, refined."""
    x = np.asarray(audio, np.float64)
    if x.ndim != 1:
        raise ValueError(f"audio must be mono (S,), got shape {x.shape}")
    if len(x) < sample_rate // 20 or np.abs(x).max() < 10 ** (min_level_db / 20):
        return np.zeros(0)  # too short or silent
    times, flux = onset_strength(x, sample_rate)
    hop_s = times[1] - times[0]
    top = flux.max()
    if top <= 0:
        return np.zeros(0)
    o = flux / top  # (N,)
    sep = max(1, round(min_gap_s / hop_s))
    med = max(1, round(0.15 / hop_s))  # local median over +-150 ms follows sustained sounds
    picks = []
    for i in range(1, len(o) - 1):
        lo, hi = max(0, i - sep), min(len(o), i + sep + 1)
        if o[i] < o[lo:hi].max() or o[i] <= o[i - 1]:
            continue
        if o[i] >= np.median(o[max(0, i - med) : i + med + 1]) + delta and o[i] >= 2 * delta:
            picks.append(i)
    # A rise in some bands while the total falls is the splatter of a sound stopping, not an onset.
    picks = [i for i in picks if _level_rise_db(x, sample_rate, times[i]) >= 3.0]
    return np.array([_refine_onset(x, sample_rate, times[i]) for i in picks])


def _level_rise_db(x: np.ndarray, sample_rate: int, t: float, span_s: float = 0.025) -> float:
    """Energy of the `span_s` after `t` over the `span_s` before it, in dB."""
    k, n = round(t * sample_rate), round(span_s * sample_rate)
    before = np.mean(x[max(0, k - n) : max(1, k)] ** 2) + 1e-12
    after = np.mean(x[k : k + n] ** 2) + 1e-12 if k < len(x) else 1e-12
    return float(10 * np.log10(after / before))


def _refine_onset(x: np.ndarray, sample_rate: int, t: float) -> float:
    """Move a coarse onset `t` to where a 2 ms energy envelope crosses halfway (dB) to its peak."""
    w = max(1, round(0.002 * sample_rate))
    lo = max(0, round((t - 0.03) * sample_rate))
    hi = min(len(x), round((t + 0.03) * sample_rate))
    if hi - lo < 4 * w:
        return t
    seg = x[lo:hi] ** 2
    env = 10 * np.log10(np.convolve(seg, np.ones(w) / w, mode="full")[: len(seg)] + 1e-12)  # (L,), causal
    pre = np.median(env[: max(1, w * 4)])  # level in the first 8 ms of the window, before the onset
    peak = env.max()
    if peak - pre < 6.0:
        return t  # no clear rise: keep the flux estimate
    k = int(np.argmax(env >= (pre + peak) / 2))
    return (lo + k - w / 2) / sample_rate


# ---- visual events ----------------------------------------------------------------------------


def visual_events(
    motion: np.ndarray,
    fps: float,
    rel_prominence: float = 0.1,
    rel_step: float = 0.08,
    min_motion: float = 0.02,
) -> np.ndarray:
    """Times (K,) in seconds of the sharp peaks and valleys of a motion curve (T - 1,) at `fps`.

    An extremum is a run of one or two samples (two when the event falls between frame pairs)
    that stands more than `rel_step` above (or below) the samples on both sides of it and has a
    prominence of at least `rel_prominence`, both relative to the curve's maximum. Longer runs
    (an object at rest or moving steadily) and runs at either end of the curve mark no single
    time. A curve whose maximum is under `min_motion` px/frame is
    static: no events.
    """
    m = np.asarray(motion, np.float64)
    if m.ndim != 1:
        raise ValueError(f"motion must be a 1-D curve (T - 1,), got shape {m.shape}")
    if len(m) < 3 or m.max() < min_motion:
        return np.zeros(0)
    times = motion_times(len(m), fps)
    top = m.max()
    tol, n = rel_step * top, len(m)
    out: set[float] = set()
    for sign in (1.0, -1.0):  # peaks, then valleys (peaks of -m)
        c = sign * m
        for i in range(1, n - 1):
            if c[i] < c[i - 1] or c[i] < c[i + 1]:
                continue
            lo, hi = i, i  # grow the run of samples level with c[i]
            while lo > 0 and c[i] - c[lo - 1] <= tol:
                lo -= 1
            while hi < n - 1 and c[i] - c[hi + 1] <= tol:
                hi += 1
            # The samples beyond the run are more than `tol` lower: the extremum is sharp.
            if lo == 0 or hi == n - 1 or hi - lo > 1 or _prominence(c, lo, hi + 1) < rel_prominence * top:
                continue
            # Sub-frame position: vertex of a parabola fitted to the run and its two neighbours,
            # kept within the run.
            k = np.arange(lo - 1, hi + 2)
            qa, qb, _ = np.polyfit(k - i, c[k], 2)
            x = -qb / (2 * qa) if qa < 0 else 0.0
            x = float(np.clip(x, lo - i - 0.5, hi - i + 0.5))
            out.add(round(float(times[i] + x / fps), 6))
    return np.array(sorted(out))


def _prominence(c: np.ndarray, start: int, end: int) -> float:
    """How far a peak run stands above the higher of its two bases (scipy's definition)."""
    h = c[start]
    left = start - 1
    lmin = h
    while left >= 0 and c[left] <= h:
        lmin = min(lmin, c[left])
        left -= 1
    right = end
    rmin = h
    while right < len(c) and c[right] <= h:
        rmin = min(rmin, c[right])
        right += 1
    return float(h - max(lmin, rmin))


# ---- matching ---------------------------------------------------------------------------------


def _nearest(visual: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Signed offset (K,) from each time in `t` to the nearest of the sorted `visual` times."""
    j = np.clip(np.searchsorted(visual, t), 1, len(visual) - 1) if len(visual) > 1 else np.zeros(len(t), int)
    left, right = visual[j - 1] if len(visual) > 1 else visual[j], visual[j]
    return np.where(np.abs(left - t) <= np.abs(right - t), left - t, right - t)


def mean_distance_ms(times: np.ndarray, events: np.ndarray) -> float:
    """Mean distance (ms) from each of `times` (K,) s to the nearest of `events` (M,) s, capped at
    `TOLERANCE_S` as the oracle caps it: the oracle's mean offset when `times` are the onsets."""
    t = np.asarray(times, np.float64)
    if len(t) == 0:
        raise ValueError("mean_distance_ms needs at least one time")
    v = np.sort(np.asarray(events, np.float64))
    if len(v) == 0:
        return 1000 * TOLERANCE_S
    return float(1000 * np.minimum(np.abs(_nearest(v, t)), TOLERANCE_S).mean())


def chance_distance_ms(events: np.ndarray, start_s: float, end_s: float) -> float:
    """`mean_distance_ms` of a time drawn uniformly over [start_s, end_s] (a 1 ms grid): what
    onsets unrelated to the events would score, whatever their number."""
    return mean_distance_ms(np.arange(start_s, end_s, 0.001), events)


def best_offset(
    audio_s: np.ndarray, visual_s: np.ndarray, frame_s: float, max_offset_s: float = MAX_OFFSET_S
) -> float | None:
    """The shift Δ (s, visual - audio) within +-max_offset_s under which most audio events land
    within a frame of a visual event (cost: mean of min(|error|, frame)); ties go to the smaller |Δ|."""
    if len(audio_s) == 0 or len(visual_s) == 0:
        return None
    v = np.sort(visual_s)
    grid = np.arange(-round(max_offset_s * 1000), round(max_offset_s * 1000) + 1) / 1000.0  # (G,) 1 ms steps
    cost = np.array([np.minimum(np.abs(_nearest(v, audio_s + d)), frame_s).mean() for d in grid])  # (G,)
    best = cost.min()
    ties = grid[cost <= best + 1e-9]
    d0 = float(ties[np.argmin(np.abs(ties))])
    err = _nearest(v, audio_s + d0)
    close = np.abs(err) < frame_s
    # Refine to the median residual of the events it lines up (sub-millisecond, robust).
    return d0 + float(np.median(err[close])) if close.any() else d0


def score_events(audio_s: np.ndarray, visual_s: np.ndarray, fps: float) -> SyncResult:
    """Match audio events to the nearest visual event and summarise (see the module docstring)."""
    a, v = np.sort(np.asarray(audio_s, np.float64)), np.sort(np.asarray(visual_s, np.float64))
    frame_s = 1.0 / fps
    if len(a) == 0:
        logger.warning("no audio events: the sync error is undefined")
        return SyncResult(None, None, None, 0, len(v), fps, 1000 * frame_s, [], v.tolist(), [])
    signed = _nearest(v, a) if len(v) else np.full(len(a), np.inf)  # (K,) visual - audio
    dist = np.minimum(np.abs(signed), TOLERANCE_S)
    bo = best_offset(a, v, frame_s)
    return SyncResult(
        mean_offset_ms=float(1000 * dist.mean()),
        matched_fraction=float(np.mean(np.abs(signed) <= frame_s + 1e-9)),
        best_offset_ms=None if bo is None else 1000 * bo,
        num_audio_events=len(a),
        num_visual_events=len(v),
        fps=fps,
        frame_ms=1000 * frame_s,
        audio_events_s=a.tolist(),
        visual_events_s=v.tolist(),
        offsets_ms=[float(1000 * s) if abs(s) <= TOLERANCE_S else None for s in signed],
    )


@dataclass(frozen=True)
class SyncAnalysis:
    """A `SyncResult` with what it came from (`asva.viz.sync_plot` draws it)."""

    result: SyncResult
    audio: np.ndarray  # (S,) float32
    sample_rate: int
    motion: np.ndarray  # (T - 1,) px/frame
    frames: np.ndarray  # (T, H, W, 3) uint8


def oracle_sync(
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray,
    sample_rate: int = 16000,
    flow: FlowFn | str = "dis",
    max_side: int | None = 128,
) -> SyncAnalysis:
    """Oracle sync error of frames (T, H, W, 3) uint8 at `fps` against mono audio (S,) starting at frame 0."""
    if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a number > 0, got {fps!r}")
    motion = motion_score(frames, flow=flow, max_side=max_side)  # (T - 1,)
    mt = motion_times(len(motion), fps)
    onsets = audio_onsets(audio, sample_rate)
    inside = onsets[(onsets >= mt[0]) & (onsets <= mt[-1])]
    result = score_events(inside, visual_events(motion, fps), float(fps))
    return SyncAnalysis(result, np.asarray(audio, np.float32), sample_rate, motion, frames)


def oracle_sync_file(
    video: str | Path,
    audio: str | Path | None = None,
    fps: float | None = None,
    flow: FlowFn | str = "dis",
    max_side: int | None = 128,
) -> SyncAnalysis:
    """Oracle sync error of a video file, against its own audio or a separate audio file `audio`.

    Frames are read at `fps` (default: the video's own rate); the audio is read from its start
    for the video's duration at 16 kHz. Raises ValueError for a video without audio and no `audio`.
    """
    from asva.media import probe_video, read_audio, read_video_frames

    info = probe_video(video)
    if audio is None and not info.has_audio:
        raise ValueError(
            f"{video}: the video has no audio stream; pass a separate audio file "
            "(asva sync VIDEO --audio FILE) to score it"
        )
    rate = float(fps) if fps is not None else info.fps
    frames = read_video_frames(video, fps=rate)  # (T, H, W, 3)
    if len(frames) < 3:
        raise ValueError(f"{video}: {len(frames)} frames at {rate:g} FPS; the oracle needs at least 3")
    sound = read_audio(audio if audio is not None else video, sample_rate=16000)  # (S,)
    sound = sound[: round(len(frames) / rate * 16000)]
    return oracle_sync(frames, rate, sound, 16000, flow=flow, max_side=max_side)


def result_json(result: SyncResult) -> str:
    """The `asva sync --json` text: the result's fields, the three scores first."""
    return json.dumps(result.to_dict())
