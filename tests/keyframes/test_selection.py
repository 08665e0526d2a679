"""Keyframe selection: keypoints, the anchor/valley/fill rule on hand-made curves, seeds, fallback, errors."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from asva.keyframes.selection import (
    KeyframeSelection,
    detect_keypoints,
    fill_gaps,
    select_keyframes,
    uniform_indices,
)

FRAMES = np.arange(48)


def _bump(centre: float, width: float, height: float = 1.0) -> np.ndarray:
    return height * np.exp(-((FRAMES - centre) ** 2) / (2 * width**2))


def _check_valid(sel: KeyframeSelection, n: int = 48, k: int = 12) -> None:
    assert sel.indices.dtype == np.int64 and sel.strides.dtype == np.int64
    assert len(sel.indices) == k and len(set(sel.indices.tolist())) == k
    assert np.all(np.diff(sel.indices) > 0) and sel.indices[0] == 0 and sel.indices[-1] < n
    assert sel.strides[0] == round(n / k)
    np.testing.assert_array_equal(sel.strides[1:], np.diff(sel.indices))
    assert set(sel.peaks.tolist()) <= set(sel.indices.tolist())
    assert set(sel.valleys.tolist()) <= set(sel.indices.tolist())


def test_keypoints_are_find_peaks_with_distance_5_and_prominence_01():
    curve = _bump(12, 2) + _bump(30, 2) + 0.05 * _bump(21, 1)  # the small bump is below prominence 0.1
    peaks, valleys = detect_keypoints(curve)
    assert peaks.tolist() == [12, 30]
    assert valleys.tolist() == [23]  # the lowest point between the two bumps, beside the small one
    # two peaks 3 frames apart: only the higher survives distance 5
    peaks, _ = detect_keypoints(_bump(20, 1) + 0.8 * _bump(23, 1))
    assert peaks.tolist() == [20]


def test_single_peak_fills_evenly_up_to_it():
    # anchors {0, 20}, no valley; 10 fill frames in the gap (0, 20): floor(k * 20 / 11), k = 1..10
    sel = select_keyframes(_bump(20, 3))
    assert sel.indices.tolist() == [0, 1, 3, 5, 7, 9, 10, 12, 14, 16, 18, 20]
    assert sel.strides.tolist() == [4, 1, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2]
    assert sel.peaks.tolist() == [20] and sel.valleys.tolist() == [] and not sel.fallback
    _check_valid(sel)


def test_two_peaks_a_valley_and_largest_remainder_fill():
    # peaks 12, 30, valley 21 -> points {0, 12, 21, 30}: gaps 12, 9, 9 (sum 30), 8 frames to fill.
    # quotas 8 * (12, 9, 9) / 30 = 3.2, 2.4, 2.4 -> floors 3, 2, 2; the one left over goes to the
    # largest remainder, a tie of gaps 2 and 3 won by the earlier -> 3, 3, 2 frames:
    # (0, 12): 3, 6, 9; (12, 21): 12 + floor(9k/4) = 14, 16, 18; (21, 30): 21 + floor(9k/3) = 24, 27
    sel = select_keyframes(_bump(12, 2) + _bump(30, 2))
    assert sel.indices.tolist() == [0, 3, 6, 9, 12, 14, 16, 18, 21, 24, 27, 30]
    assert sel.peaks.tolist() == [12, 30] and sel.valleys.tolist() == [21]
    _check_valid(sel)


def test_valleys_between_frame_zero_and_peaks_and_remainder_ties_go_to_earlier_gaps():
    # cosine with period 20: peaks 20, 40; valleys 10, 30 -> points {0, 10, 20, 30, 40}, 7 to fill
    # over four gaps of 10: one each, the 3 left over tie and go to the first three gaps.
    curve = 0.5 + 0.5 * np.cos(2 * np.pi * (FRAMES - 20) / 20)
    sel = select_keyframes(curve)
    assert sel.indices.tolist() == [0, 3, 6, 10, 13, 16, 20, 23, 26, 30, 35, 40]
    assert sel.peaks.tolist() == [20, 40] and sel.valleys.tolist() == [10, 30]
    _check_valid(sel)


def test_fill_gaps_closed_form():
    assert fill_gaps(np.array([0, 10, 20]), 3).tolist() == [3, 6, 15]  # tie -> first gap gets 2
    assert fill_gaps(np.array([0, 44]), 10).tolist() == list(range(4, 44, 4))
    assert fill_gaps(np.array([0, 5]), 0).tolist() == []


def test_too_many_peaks_keeps_five_random_ones_deterministically():
    curve = sum(_bump(c, 1.2) for c in (5, 11, 17, 23, 29, 35, 41))  # 7 peaks, 6 valleys between
    peaks, valleys = detect_keypoints(curve)
    assert len(peaks) == 7
    a, b = select_keyframes(curve, seed=3), select_keyframes(curve, seed=3)
    np.testing.assert_array_equal(a.indices, b.indices)
    for seed in range(6):
        sel = select_keyframes(curve, seed=seed)
        _check_valid(sel)
        assert len(sel.peaks) == 5 and set(sel.peaks.tolist()) <= set(peaks.tolist())
        anchors = [0, *sel.peaks.tolist()]
        # at most one valley per gap between consecutive anchors, and only detected ones
        assert set(sel.valleys.tolist()) <= set(valleys.tolist())
        for lo, hi in itertools.pairwise(anchors):
            assert sum(lo < v < hi for v in sel.valleys) <= 1
    assert len({tuple(select_keyframes(curve, seed=s).indices) for s in range(6)}) > 1


def test_max_peaks_above_the_default_truncates_like_keyvid():
    curve = sum(_bump(c, 1.2) for c in (5, 11, 17, 23, 29, 35, 41))
    sel = select_keyframes(curve, max_peaks=6)  # 0 + 6 peaks + 6 valleys = 13 points, cut to 12
    _check_valid(sel)
    assert len(sel.peaks) + len(sel.valleys) == 11


def test_crowded_gap_is_topped_up_with_unused_frames():
    # one peak at 6: the gap (0, 6) holds only 5 interior frames for 10 slots; the rest are random
    sel = select_keyframes(_bump(6, 1.5))
    _check_valid(sel)
    assert sel.indices[:7].tolist() == list(range(7))
    np.testing.assert_array_equal(sel.indices, select_keyframes(_bump(6, 1.5)).indices)


def test_flat_curve_falls_back_to_uniform_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="asva"):
        sel = select_keyframes(np.full(48, 0.3))
    assert sel.fallback and sel.indices.tolist() == list(range(0, 48, 4))
    assert sel.strides.tolist() == [4] * 12 and len(sel.peaks) == 0 and len(sel.valleys) == 0
    assert any("no peak" in r.getMessage() and "uniform" in r.getMessage() for r in caplog.records)
    assert select_keyframes(np.linspace(0, 1, 48)).fallback  # a ramp has no peak either
    assert uniform_indices(50, 12).tolist() == [0, 4, 8, 12, 16, 20, 25, 29, 33, 37, 41, 45]


def test_curve_of_exactly_num_keyframes_frames_takes_them_all():
    sel = select_keyframes(_bump(6, 1.5)[:12] + 0.0, num_keyframes=12)
    assert sel.indices.tolist() == list(range(12))


@pytest.mark.parametrize(
    ("curve", "kwargs", "words"),
    [
        (np.zeros(10), {"num_keyframes": 12}, ["num_keyframes=12", "10 frames"]),
        (np.zeros(1), {}, ["1 point", "at least 2"]),
        (np.zeros((2, 48)), {}, ["1-D"]),
        (np.r_[np.zeros(47), np.nan], {}, ["non-finite"]),
        (np.zeros(48), {"num_keyframes": 3}, ["at least 4"]),
        (np.zeros(48), {"num_keyframes": 12.0}, ["int"]),
    ],
)
def test_bad_input_is_refused_with_a_specific_message(curve, kwargs, words):
    with pytest.raises(ValueError) as info:
        select_keyframes(curve, **kwargs)
    assert all(w in str(info.value) for w in words), str(info.value)


# -- the training-data rule (KeyVID avsync15.py) ---------------------------------------------------
def test_training_rule_midpoint_when_no_valley_then_largest_remainder_fill():
    from asva.keyframes.selection import select_training_keyframes

    sel = select_training_keyframes(_bump(12, 2) + _bump(30, 2), 12, seed=0)
    # points 0, midpoint 6 (no valley before the first peak), 12, valley 21, 30; fill 2, 1, 2, 2
    assert sel.indices.tolist() == [0, 2, 4, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert sel.peaks.tolist() == [12, 30] and sel.valleys.tolist() == [21] and not sel.fallback
    assert sel.strides[0] == sel.strides[1] and sel.strides[1:].tolist() == np.diff(sel.indices).tolist()


def test_training_rule_keeps_six_peaks_and_the_last_valley_then_cuts_to_twelve():
    from asva.keyframes.selection import select_training_keyframes

    curve = sum(_bump(p, 1.2) for p in range(4, 47, 6))  # 7 peaks (4 … 40), valleys 7 … 43
    for seed in range(4):
        sel = select_training_keyframes(curve, 12, seed=seed)
        assert len(sel.indices) == 12 and len(set(sel.indices.tolist())) == 12
        assert np.all(np.diff(sel.indices) > 0) and sel.indices[0] == 0
        assert 2 in sel.indices  # the midpoint of (0, 4): no valley lies before the first peak


def test_training_rule_without_peaks_is_uniform_over_the_window():
    from asva.keyframes.selection import select_training_keyframes

    sel = select_training_keyframes(np.zeros(47), 12, seed=0, num_frames=48)  # a 48-frame window's 47 pairs
    assert sel.indices.tolist() == list(range(0, 48, 4)) and sel.fallback
    with pytest.raises(ValueError, match="num_frames"):
        select_training_keyframes(np.zeros(47), 12, num_frames=40)
