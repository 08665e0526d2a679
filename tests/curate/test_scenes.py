import cv2
import numpy as np

from asva.curate import CurateConfig
from asva.curate.analyze import _inside_camera_motion
from asva.curate.scenes import SceneCutDetector, candidate_clips, scene_spans
from asva.synth.clip import generate_clip


def test_scene_spans_from_cut_frames():
    assert scene_spans([24], 12.0, 5.0) == [(0.0, 2.0), (2.0, 5.0)]
    assert scene_spans([], 12.0, 3.0) == [(0.0, 3.0)]


def test_candidate_clips_are_non_overlapping_inside_scenes_and_clear_of_cuts():
    spans = scene_spans([30], 12.0, 7.0)  # cut at 2.5 s
    clips = candidate_clips(spans, 7.0, clip_s=2.0, stride_s=2.0, margin_s=0.1, fps=12.0)
    # scene 0: [0, 2.4] holds one clip; scene 1 starts at the first frame >= 2.6 s (2.666..)
    assert [(c.scene, c.start_s, c.end_s) for c in clips] == [
        (0, 0.0, 2.0), (1, 2.666667, 4.666667), (1, 4.666667, 6.666667)]
    for c in clips:
        assert not (c.start_s < 2.5 < c.end_s)


def test_no_clip_in_a_short_scene():
    assert candidate_clips([(0.0, 1.9)], 1.9, 2.0, 2.0, 0.1, 12.0) == []


def _texture(seed: int, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)  # (size, size, 3)


def _cuts(frames: np.ndarray) -> list[int]:
    detector = SceneCutDetector(12.0)
    detector.add(frames)
    return detector.finish()


def test_a_hard_cut_is_found_at_its_frame():
    frames = np.stack([_texture(0)] * 24 + [_texture(1)] * 24)
    assert _cuts(frames) == [24]


def test_a_lamp_switching_on_is_not_a_cut():
    # a SynthAV lamp blinking on a flat wall: the colour changes, the edges stay
    frames = generate_clip("lamp_beep", 3004, seconds=4.0, size=128).frames[::2]  # 12 FPS, (48, 128, 128, 3)
    without_edge_test = SceneCutDetector(12.0, min_edges=0.0)
    without_edge_test.add(frames)
    assert len(without_edge_test.finish()) >= 3  # every switch passes the content and ratio tests
    assert _cuts(frames) == []


def test_a_fast_pan_is_not_a_cut():
    wall = np.concatenate([_texture(0), _texture(1), _texture(2)], axis=1)  # (128, 384, 3)
    offsets = [0] * 20 + [30 * k for k in range(1, 8)] + [210] * 21  # 7 frames of 30 px each
    frames = np.stack([wall[:, x : x + 128] for x in offsets])
    assert _cuts(frames) == []


def test_a_cut_inside_camera_motion_is_dropped():
    cfg = CurateConfig()
    steady = np.full(47, 0.2, np.float32)
    assert not _inside_camera_motion(24, steady, cfg)
    whip = steady.copy()
    whip[24] = 40.0  # the pair after the cut: a whip pan
    assert _inside_camera_motion(24, whip, cfg)
    shaking = np.full(47, 3.0, np.float32)
    shaking[23] = 50.0  # the cut pair itself does not count; its surroundings shake
    assert _inside_camera_motion(24, shaking, cfg)
    lit = steady.copy()
    lit[20:28] = np.nan  # lighting changes carry no camera motion
    assert not _inside_camera_motion(24, lit, cfg)
