"""SynthAV clips: every class renders, is deterministic, and its events are where the sound is."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asva.synth import CLASSES, generate_clip, ground_truth_json, video_seed


@pytest.fixture(scope="module")
def clips():
    """One small clip per class (2 s, 64 px)."""
    return {c: generate_clip(c, seed=11, seconds=2.0, size=64) for c in CLASSES}


def test_at_least_eight_classes():
    assert len(CLASSES) >= 8


@pytest.mark.parametrize("name", list(CLASSES))
def test_every_class_renders_consistent_arrays(clips, name):
    clip = clips[name]
    assert clip.frames.shape == (48, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.audio is not None and clip.audio.shape == (32000,) and clip.audio.dtype == np.float32
    assert np.abs(clip.audio).max() <= 1.0
    assert clip.events and all(0 < e.onset < 2.0 for e in clip.events)
    assert all(e.offset is None or e.onset < e.offset <= 2.0 for e in clip.events)
    assert all(len(v) == 48 for v in clip.signals.values())
    assert {"x", "y", "size", "brightness"} <= set(clip.signals)
    assert clip.frames.std(axis=0).max() > 0, "something must move"


@pytest.mark.parametrize("name", list(CLASSES))
def test_audio_energy_rises_at_every_onset(clips, name):
    # Energy in the 30 ms after each onset is at least 10x (10 dB) that of the 30 ms before it.
    clip = clips[name]
    sr, n = clip.sample_rate, round(0.03 * clip.sample_rate)
    for e in clip.events:
        k = round(e.onset * sr)
        before = np.mean(clip.audio[k - n : k] ** 2)
        after = np.mean(clip.audio[k : k + n] ** 2)
        assert after > 10 * before, (name, e.onset, after, before)


def test_same_seed_same_clip_and_bytes():
    a = generate_clip("bouncing_ball", seed=5, seconds=2.0, size=64)
    b = generate_clip("bouncing_ball", seed=5, seconds=2.0, size=64)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert ground_truth_json(a.ground_truth()) == ground_truth_json(b.ground_truth())
    c = generate_clip("bouncing_ball", seed=6, seconds=2.0, size=64)
    assert ground_truth_json(c.ground_truth()) != ground_truth_json(a.ground_truth())


def test_ground_truth_json_round_trips():
    clip = generate_clip("lamp_beep", seed=2, seconds=2.0, size=64)
    gt = json.loads(ground_truth_json(clip.ground_truth()))
    assert gt["class"] == "lamp_beep" and gt["seed"] == 2 and gt["fps"] == 24.0 and gt["num_frames"] == 48
    assert all("offset" in e for e in gt["events"])  # sustained sounds carry their end
    assert len(gt["signals"]["brightness"]) == 48


def test_video_seed_is_stable_and_distinct():
    # A fixed value: the derivation must not change between versions or processes.
    assert video_seed(0, "bouncing_ball", 0) == video_seed(0, "bouncing_ball", 0)
    seeds = {video_seed(s, c, i) for s in (0, 1) for c in CLASSES for i in range(3)}
    assert len(seeds) == 2 * len(CLASSES) * 3
    assert video_seed(0, "lamp_beep", 0) == 1690413330


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"class_name": "unicorn"}, "unknown SynthAV class"),
        ({"seconds": 0.0}, "seconds"),
        ({"seconds": -1.0}, "seconds"),
        ({"seconds": 1.5}, "seconds"),
        ({"size": 100}, "divisible by 8"),
        ({"size": 0}, "divisible by 8"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    args = {"class_name": "metronome", "seed": 0, "seconds": 2.0, "size": 64, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate_clip(**args)
