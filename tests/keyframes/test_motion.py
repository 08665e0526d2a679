"""The motion score: units (pixels per frame), invariance to input size, pluggable flow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from asva.keyframes.motion import FLOW_METHODS, analysis_size, motion_score, motion_times


def _moving_square(size: int, steps: list[float], side_frac: float = 0.25) -> np.ndarray:
    """Frames (T, size, size, 3): a textured square sliding right by steps[k] (in units of size/128)."""
    rng = np.random.default_rng(0)
    # A textured background pins the flow there to zero; on a flat one estimators let the
    # square's motion spill into the surroundings (the score then over-counts the moving area).
    bg = cv2.resize(
        rng.integers(60, 120, (16, 16, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC
    )
    side = round(side_frac * size)
    tex = cv2.resize(
        rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (side, side), interpolation=cv2.INTER_CUBIC
    )
    x = 0.3 * size
    frames = []
    for dx in [0.0, *steps]:
        x += dx * size / 128
        m = np.float32([[1, 0, x], [0, 1, 0.35 * size]])
        img = bg.copy()
        warped = cv2.warpAffine(
            tex, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT, dst=img
        )
        frames.append(warped)
    return np.stack(frames)


def test_static_video_scores_zero():
    frames = np.repeat(_moving_square(64, [0.0])[:1], 5, axis=0)
    score = motion_score(frames)
    assert score.shape == (4,) and score.dtype == np.float32
    np.testing.assert_allclose(score, 0.0, atol=1e-3)


def test_score_grows_in_proportion_to_speed():
    # A square covering 1/16 of the frame moving 4 px/frame: exactly 0.25 with perfect flow;
    # estimators smear motion a little past the edges, so allow up to ~2.5x, but be linear.
    fast = motion_score(_moving_square(128, [4.0] * 4), flow="farneback")
    slow = motion_score(_moving_square(128, [2.0] * 4), flow="farneback")
    assert np.all((fast > 0.2) & (fast < 0.65)), fast
    np.testing.assert_allclose(fast / slow, 2.0, rtol=0.15)


def test_scores_do_not_depend_on_input_size():
    small = motion_score(_moving_square(128, [3.0] * 3))
    large = motion_score(_moving_square(256, [3.0] * 3))  # same motion, twice the pixels
    np.testing.assert_allclose(large, small, rtol=0.25)


def test_custom_flow_callable_and_its_resolution_is_rescaled():
    frames = _moving_square(64, [1.0] * 3)

    def constant_flow(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        h, w = prev.shape[:2]
        return np.broadcast_to(np.array([1.0, 2.0], np.float32), (h // 2, w // 2, 2))  # half resolution

    # At half resolution (1, 2) px means (2, 4) px at the analysis size: 6 per pixel.
    np.testing.assert_allclose(motion_score(frames, flow=constant_flow, max_side=64), 6.0)


@pytest.mark.parametrize("method", sorted(FLOW_METHODS))
def test_builtin_flows_agree_on_a_translation(method):
    score = motion_score(_moving_square(128, [3.0] * 3), flow=method)
    assert np.all((score > 0.15) & (score < 0.5)), (method, score)


def test_bad_input_is_refused():
    frames = _moving_square(32, [1.0])
    with pytest.raises(ValueError, match="uint8"):
        motion_score(frames.astype(np.float32))
    with pytest.raises(ValueError, match="T >= 2"):
        motion_score(frames[:1])
    with pytest.raises(ValueError, match="unknown flow"):
        motion_score(frames, flow="raft")
    with pytest.raises(ValueError, match="max_side"):
        motion_score(frames, max_side=0)


def test_helpers():
    assert analysis_size(256, 512, 128) == (64, 128)
    assert analysis_size(100, 50, None) == (100, 50)
    np.testing.assert_allclose(motion_times(3, 2.0), [0.25, 0.75, 1.25])
