"""Keyframe selection (KeyVID): which T_K of a window's N frames to generate, from its motion curve.

KeyVID generates a few keyframes first and interpolates the rest, so the keyframes should sit where
the motion changes: at its peaks, and at the valleys between them. Given a motion curve of N values
(N = 48 for 2 s at 24 FPS, from the localizer or from `motion_score`), `select_keyframes` applies:

1. **Keypoints.** peaks = `scipy.signal.find_peaks(curve, distance=5, prominence=0.1)`; valleys =
   the same on `-curve` (KeyVID `keypoint_detection`, FACTS §12). The thresholds are in curve units:
   the curve is expected min-max normalised to [0, 1], as the localizer predicts it. find_peaks
   never returns the first or last index.
2. **Anchors.** Frame 0, plus the peaks; when there are more than `max_peaks` (default T_K/2 - 1,
   i.e. 5 of 12) a random subset of that size is kept.
3. **Valleys.** Between each pair of consecutive anchors, one valley lying strictly inside the gap;
   a random one when several do, none when there is none.
4. **Fill.** The remaining F = T_K - |points| slots are shared among the gaps between consecutive
   chosen points (anchors and valleys), in proportion to their length L_i, by the largest-remainder
   rule: gap i first gets floor(F·L_i / ΣL), then the leftover slots go to the largest fractional
   parts, ties to the earlier gap. A gap (a, b) given n slots receives the evenly spaced frames
   a + floor(k·L / (n + 1)), k = 1..n (KeyVID's `int(linspace(a, b, n + 1, endpoint=False))[1:]`).
   Nothing is added after the last chosen point.
5. **Exactly T_K.** Duplicates are dropped (a gap given more slots than it has interior frames);
   missing slots are topped up with random frames not yet chosen, anywhere in the window.

Random choices use one `numpy.random.Generator` seeded with `seed`, in this order: the peak subset
(`rng.choice(peaks, max_peaks, replace=False)`, only when there are too many), one
`rng.choice(valleys_in_gap)` per gap holding more than one valley, then the top-up
(`rng.choice(unused, missing, replace=False)`). A curve with at most `max_peaks` peaks, at most one
valley per gap and enough room in its gaps draws nothing: the result then depends on the curve only.

Strides follow KeyVID: strides[0] = round(N / T_K) (the uniform stride, 4 for 12 of 48;
`select_keyframe`'s `round(fps_ori / target_fps)`), strides[k] = indices[k] - indices[k - 1].

A curve with no peak falls back to uniform frames floor(k·N / T_K), k = 0..T_K - 1 (for 12 of 48:
0, 4, ..., 44, which is what KeyVID's {0, 44} plus fill gives), with a warning and `fallback=True`.

Where KeyVID's code differs (lvdm/data/utils_keyframe.py `select_keyframe`, the inference rule; and
lvdm/data/avsync15.py, the rule used to build training data):
- it keeps up to 6 = T_K/2 peaks, so frame 0 + 6 peaks + 6 valleys can reach 13 points and the last
  is cut; T_K/2 - 1 keeps every chosen peak and valley and always leaves a slot to fill;
- its inference fill is random: every gap but the last gets one extra frame with probability
  L_i / ΣL and the last gap gets the rest; its training-data rule uses the largest remainder, as here;
- its training-data rule takes the midpoint of a gap without a valley, adds the window's last valley,
  and smooths the curve with a 5-tap moving average first; `select_training_keyframes` is that rule;
- it draws with the global `np.random` / `random` state; here one seeded Generator.

`select_training_keyframes` is the rule KeyVID built its training data with (lvdm/data/avsync15.py
`keypoint_detection` + `select_keyframe`, FACTS §12 "selection (training data)"):

1. The curve is smoothed with a 5-tap moving average (`np.convolve(..., mode="same")`) and its
   peaks and valleys found as in step 1 above (in the curve's own units: KeyVID's raw RAFT flow).
2. Up to `max_peaks` = 6 peaks at random, plus frame 0; between each pair of consecutive points a
   random valley lying strictly inside, or the pair's midpoint ⌊(a + b)/2⌋ when none does; plus the
   window's last valley.
3. Fill as in step 4 above (largest remainder, evenly spaced); no peak: the points {0, N − round(N/T_K)}
   filled the same way, which gives the uniform frames 0, 4, …, 44 for 12 of 48 (`fallback=True`).
4. Sorted and cut to the first T_K.
Where it departs from KeyVID's code: the drawn peaks are sorted before pairing (KeyVID pairs them in
draw order, so a pair can run backwards and get its midpoint); duplicates are dropped and missing
slots topped up with random unused frames (KeyVID keeps duplicate frames); one seeded Generator
draws the peaks, then one valley per gap that has any, then the top-up. strides[0] = strides[1]
(KeyVID `np.insert(stride, 0, stride[0])`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from asva.log import get_logger

logger = get_logger(__name__)

PEAK_DISTANCE = 5  # frames between peaks (KeyVID keypoint_detection)
PEAK_PROMINENCE = 0.1  # in units of a [0, 1] curve
MIN_KEYFRAMES = 4  # the first frame, a peak, a valley and one filled frame
SMOOTHING_TAPS = 5  # moving average before the training-data rule finds keypoints (KeyVID avsync15.py)
TRAINING_MAX_PEAKS = 6  # peaks kept by the training-data rule (KeyVID `min(6, len(peaks))`)


@dataclass(frozen=True)
class KeyframeSelection:
    """The chosen frames of one window and why they were chosen.

    indices: (T_K,) sorted distinct frame indices in [0, N). strides: (T_K,) frame strides, the
    first the uniform stride round(N / T_K). peaks, valleys: the motion peaks and valleys among
    `indices` (sorted; a subset of what `detect_keypoints` finds). fallback: True when the curve
    had no peak and the frames are uniform.
    """

    indices: np.ndarray
    strides: np.ndarray
    peaks: np.ndarray
    valleys: np.ndarray
    fallback: bool


def _check_curve(curve: np.ndarray | list[float]) -> np.ndarray:
    values = np.asarray(curve, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"motion curve must be 1-D (N,), got shape {values.shape}")
    if len(values) < 2:
        raise ValueError(
            f"motion curve has {len(values)} point(s); keyframe selection needs at least 2 frames"
        )
    if not np.isfinite(values).all():
        raise ValueError(f"motion curve has {int((~np.isfinite(values)).sum())} non-finite value(s)")
    return values


def detect_keypoints(
    curve: np.ndarray | list[float], distance: int = PEAK_DISTANCE, prominence: float = PEAK_PROMINENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Motion peaks and valleys of a curve (N,): two sorted int arrays (scipy find_peaks, FACTS §12)."""
    values = _check_curve(curve)
    peaks = find_peaks(values, distance=distance, prominence=prominence)[0]
    valleys = find_peaks(-values, distance=distance, prominence=prominence)[0]
    return peaks.astype(np.int64), valleys.astype(np.int64)


def uniform_indices(num_frames: int, num_keyframes: int) -> np.ndarray:
    """floor(k·N / T_K) for k = 0..T_K - 1: T_K evenly spaced frames of N, starting at 0."""
    return (np.arange(num_keyframes, dtype=np.int64) * num_frames) // num_keyframes


def fill_gaps(points: np.ndarray, count: int) -> np.ndarray:
    """`count` frames spread over the gaps of sorted `points`, in proportion to gap length (step 4)."""
    lengths = np.diff(points)  # (G,)
    total = int(lengths.sum())
    if count <= 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    # Largest remainder in exact integer arithmetic: quota_i = count·L_i / ΣL.
    share = count * lengths
    slots = share // total
    leftover = count - int(slots.sum())
    order = sorted(range(len(lengths)), key=lambda i: -int(share[i] % total))  # stable: ties to earlier
    for i in order[:leftover]:
        slots[i] += 1
    added = [
        a + (k * length) // (n + 1)
        for a, length, n in zip(points[:-1], lengths, slots, strict=True)
        for k in range(1, n + 1)
    ]
    return np.asarray(added, dtype=np.int64)


def select_keyframes(
    curve: np.ndarray | list[float],
    num_keyframes: int = 12,
    seed: int = 0,
    *,
    max_peaks: int | None = None,
    distance: int = PEAK_DISTANCE,
    prominence: float = PEAK_PROMINENCE,
) -> KeyframeSelection:
    """Choose `num_keyframes` frames of a motion curve (N,): frame 0, peaks, valleys, even fill.

    The rule, its random draws and where it differs from KeyVID's code are in the module docstring.
    """
    values = _check_curve(curve)
    n = len(values)
    if isinstance(num_keyframes, bool) or not isinstance(num_keyframes, int | np.integer):
        raise ValueError(f"num_keyframes must be an int, got {num_keyframes!r}")
    if num_keyframes > n:
        raise ValueError(f"cannot choose num_keyframes={num_keyframes} from a curve of {n} frames")
    if num_keyframes < MIN_KEYFRAMES:
        raise ValueError(
            f"num_keyframes must be at least {MIN_KEYFRAMES} (frame 0, a peak, a valley, a filled frame), "
            f"got {num_keyframes}"
        )
    max_peaks = num_keyframes // 2 - 1 if max_peaks is None else max_peaks
    if max_peaks < 1:
        raise ValueError(f"max_peaks must be at least 1, got {max_peaks}")
    first_stride = round(n / num_keyframes)

    all_peaks, all_valleys = detect_keypoints(values, distance, prominence)
    if len(all_peaks) == 0:
        logger.warning(
            "motion curve of %d frames has no peak (distance %d, prominence %g): using %d uniform frames",
            n,
            distance,
            prominence,
            num_keyframes,
        )
        indices = uniform_indices(n, num_keyframes)
        empty = np.zeros(0, dtype=np.int64)
        return KeyframeSelection(indices, _strides(indices, first_stride), empty, empty, fallback=True)

    rng = np.random.default_rng(seed)
    # 2. anchors: frame 0 and at most max_peaks peaks (find_peaks never returns frame 0)
    peaks = all_peaks
    if len(peaks) > max_peaks:
        peaks = np.sort(rng.choice(peaks, max_peaks, replace=False))
    anchors = np.concatenate([[0], peaks])
    # 3. one valley strictly inside each gap between consecutive anchors
    valleys = []
    for a, b in itertools.pairwise(anchors):
        inside = all_valleys[(all_valleys > a) & (all_valleys < b)]
        if len(inside) == 1:
            valleys.append(int(inside[0]))
        elif len(inside) > 1:
            valleys.append(int(rng.choice(inside)))
    points = np.sort(np.concatenate([anchors, np.asarray(valleys, dtype=np.int64)]))
    # 4. the remaining slots, spread over the gaps in proportion to their length
    indices = np.unique(np.concatenate([points, fill_gaps(points, num_keyframes - len(points))]))
    # 5. exactly num_keyframes: cut (only when max_peaks exceeds the default) or top up at random
    if len(indices) > num_keyframes:
        indices = indices[:num_keyframes]
    elif len(indices) < num_keyframes:
        unused = np.setdiff1d(np.arange(n, dtype=np.int64), indices)
        extra = rng.choice(unused, num_keyframes - len(indices), replace=False)
        indices = np.sort(np.concatenate([indices, extra]))
    return KeyframeSelection(
        indices=indices,
        strides=_strides(indices, first_stride),
        peaks=np.intersect1d(peaks, indices),
        valleys=np.intersect1d(np.asarray(valleys, dtype=np.int64), indices),
        fallback=False,
    )


def select_training_keyframes(
    curve: np.ndarray | list[float],
    num_keyframes: int = 12,
    seed: int = 0,
    *,
    num_frames: int | None = None,
    max_peaks: int = TRAINING_MAX_PEAKS,
    distance: int = PEAK_DISTANCE,
    prominence: float = PEAK_PROMINENCE,
) -> KeyframeSelection:
    """KeyVID's training-data keyframes of one window from its motion curve (the module docstring).

    `curve` holds one value per frame pair of the window (N − 1 values) or per frame; `num_frames`
    is the window's frame count N (default: len(curve)), the range of the returned indices.
    """
    values = _check_curve(curve)
    n = len(values) if num_frames is None else num_frames
    if not MIN_KEYFRAMES <= num_keyframes <= n or len(values) > n:
        raise ValueError(f"need {MIN_KEYFRAMES} <= num_keyframes <= num_frames and a curve of at most "
                         f"num_frames values; got num_keyframes={num_keyframes}, num_frames={n}, "
                         f"{len(values)} curve values")
    rng = np.random.default_rng(seed)
    # 1. keypoints of the smoothed curve
    smoothed = np.convolve(values, np.ones(SMOOTHING_TAPS) / SMOOTHING_TAPS, mode="same")
    all_peaks, all_valleys = detect_keypoints(smoothed, distance, prominence)
    fallback = len(all_peaks) == 0
    if fallback:
        logger.debug("motion curve without a peak: uniform training keyframes")
        peaks, valleys = all_peaks, all_valleys[:0]
        points = np.asarray([0, n - round(n / num_keyframes)], dtype=np.int64)
    else:
        # 2. frame 0 + random peaks, a valley (or the midpoint) per gap, the window's last valley
        peaks = np.sort(rng.choice(all_peaks, min(max_peaks, len(all_peaks)), replace=False))
        anchors = np.concatenate([[0], peaks])
        chosen = []
        for a, b in itertools.pairwise(anchors):
            inside = all_valleys[(all_valleys > a) & (all_valleys < b)]
            chosen.append(int(rng.choice(inside)) if len(inside) else (int(a) + int(b)) // 2)
        if len(all_valleys) and all_valleys[-1] not in chosen:
            chosen.append(int(all_valleys[-1]))
        valleys = np.intersect1d(np.asarray(chosen, dtype=np.int64), all_valleys)
        points = np.unique(np.concatenate([anchors, np.asarray(chosen, dtype=np.int64)]))
    # 3.-4. fill, cut to T_K, then (our addition) distinct: top up with random unused frames
    indices = np.unique(np.concatenate([points, fill_gaps(points, num_keyframes - len(points))]))
    indices = indices[:num_keyframes]
    if len(indices) < num_keyframes:
        unused = np.setdiff1d(np.arange(n, dtype=np.int64), indices)
        indices = np.sort(np.concatenate([indices, rng.choice(unused, num_keyframes - len(indices),
                                                               replace=False)]))
    strides = np.diff(indices)
    return KeyframeSelection(
        indices=indices,
        strides=np.concatenate([strides[:1], strides]).astype(np.int64),
        peaks=np.intersect1d(peaks, indices),
        valleys=np.intersect1d(valleys, indices),
        fallback=fallback,
    )


def _strides(indices: np.ndarray, first: int) -> np.ndarray:
    return np.concatenate([[first], np.diff(indices)]).astype(np.int64)
