"""Camera-motion estimates: the phase-correlation shift, the border-band flow, and the per-pair series."""

import cv2
import numpy as np

from asva.curate.motion_stats import GlobalShift, pair_motion, periphery_motion


def _texture(size: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth random texture (size, size, 3) uint8, like a wall a flow estimator can lock onto."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)


def _moved(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def _flat_scene(size: int = 128, ball_x: int = 64, floor_y: int = 100) -> np.ndarray:
    """A flat wall, a floor line across the whole width and a ball in the middle (SynthAV-like)."""
    frame = np.full((size, size, 3), (120, 110, 140), np.uint8)
    frame[floor_y:] = (70, 60, 50)
    cv2.circle(frame, (ball_x, 70), 10, (40, 30, 30), -1)
    return frame


def test_global_shift_finds_a_pan_a_third_of_the_frame_long():
    a = _texture()
    s = GlobalShift(64)(a, _moved(a, 40, 0))
    assert abs(s.length - 40) < 2
    assert s.fit < 0.3


def test_global_shift_fit_allows_for_motion_blur():
    a = _texture()
    smeared = cv2.blur(_moved(a, 40, 0), (21, 1))  # the frame taken mid-pan is blurred along it
    s = GlobalShift(64)(a, smeared)
    assert s.length >= 16  # blur blunts the peak: 33 px here
    assert s.fit <= 0.8


def test_an_object_moving_on_a_textured_wall_is_not_a_fitting_shift():
    a = _texture(seed=1)
    b = a.copy()
    patch = _texture(48, seed=2)
    a[40:88, 10:58], b[40:88, 50:98] = patch, patch  # a large square moving 40 px across the wall
    s = GlobalShift(64)(a, b)
    assert not (s.length >= 16 and s.fit <= 0.8), s


def test_periphery_motion_is_the_camera_not_a_central_subject():
    grey = cv2.cvtColor(_flat_scene(), cv2.COLOR_RGB2GRAY)
    camera = np.zeros((128, 128, 2), np.float32)
    camera[..., 1] = 3.0  # everything moves 3 px down
    assert periphery_motion(camera, grey) == 3.0
    subject = np.zeros((128, 128, 2), np.float32)
    subject[50:90, 44:84] = 6.0  # only the ball moves
    assert periphery_motion(subject, grey) == 0.0
    one_side = np.zeros((128, 128, 2), np.float32)
    one_side[:, :20] = 5.0  # something passing the left border
    assert periphery_motion(one_side, grey) == 0.0


def test_periphery_motion_needs_texture_on_both_sides():
    flat = np.full((128, 128), 120, np.uint8)
    assert periphery_motion(np.ones((128, 128, 2), np.float32), flat) is None


def test_camera_motion_sees_a_shake_on_a_flat_wall_and_ignores_a_moving_ball():
    still = _flat_scene()
    dy = [0, 4, -3, 5, -4, 3, -5, 4]
    shaken = np.stack([_moved(still, 0, d) for d in dy])  # (8, 128, 128, 3)
    rolling = np.stack([_flat_scene(ball_x=40 + 6 * k) for k in range(8)])
    shake = pair_motion(shaken)
    ball = pair_motion(rolling)
    assert np.median(shake.camera) > 3.0  # true |dy| per pair is 5-9 px
    assert np.max(ball.camera) < 0.5
    assert np.median(ball.motion) > 0.05  # the ball's motion still counts as motion


def test_camera_motion_sees_a_fast_pan_on_a_flat_wall():
    still = _flat_scene()
    frames = np.stack([_moved(still, 25 * k, 0) for k in range(3)])  # 25 px per frame, the ball stays in view
    assert np.all(pair_motion(frames).camera > 16)
