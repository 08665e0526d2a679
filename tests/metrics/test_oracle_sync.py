"""The oracle sync error on SynthAV ground truth, shifted audio, static video, 6 FPS, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from asva.cli_synth import sync
from asva.keyframes.motion import motion_score
from asva.media import write_video, write_wav
from asva.metrics.oracle_sync import (
    TOLERANCE_S,
    audio_onsets,
    best_offset,
    chance_distance_ms,
    mean_distance_ms,
    oracle_sync,
    oracle_sync_file,
    score_events,
    visual_events,
)
from asva.synth import CLASSES, generate_clip

FPS = 24.0
FRAME_MS = 1000 / FPS


def _shift(audio: np.ndarray, seconds: float, sr: int = 16000) -> np.ndarray:
    """Audio delayed by `seconds` (> 0) or advanced (< 0), zero-filled."""
    n = round(seconds * sr)
    out = np.zeros_like(audio)
    if n >= 0:
        out[n:] = audio[: len(audio) - n]
    else:
        out[:n] = audio[-n:]
    return out


def _score(motion: np.ndarray, audio: np.ndarray, fps: float = FPS):
    """Oracle result from a precomputed motion curve (the flow is the slow part: compute it once)."""
    t = (np.arange(len(motion)) + 0.5) / fps
    a = audio_onsets(audio, 16000)
    return score_events(a[(a >= t[0]) & (a <= t[-1])], visual_events(motion, fps), fps)


# ---- per class, from rendered arrays ---------------------------------------------------------


@pytest.fixture(scope="module")
def rendered():
    """Per class: a 4 s clip at 128 px (the oracle measures motion at 128 px anyway) and its motion."""
    out = {}
    for name in CLASSES:
        clip = generate_clip(name, seed=21, seconds=4.0, size=128)
        out[name] = (clip, motion_score(clip.frames))
    return out


@pytest.mark.parametrize("name", list(CLASSES))
def test_ground_truth_scores_within_a_frame(rendered, name):
    clip, motion = rendered[name]
    r = _score(motion, clip.audio)
    assert r.num_audio_events == len(clip.events)  # the onset detector finds every sound, no more
    assert r.mean_offset_ms <= FRAME_MS, r
    assert r.matched_fraction >= 0.9, r
    assert abs(r.best_offset_ms) <= FRAME_MS, r


@pytest.mark.parametrize("name", list(CLASSES))
def test_audio_onsets_match_the_ground_truth(rendered, name):
    clip, _ = rendered[name]
    found = audio_onsets(clip.audio, 16000)
    truth = np.array([e.onset for e in clip.events])
    assert len(found) == len(truth)
    np.testing.assert_allclose(found, truth, atol=0.015)


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("shift", [0.25, -0.25])
def test_shifted_audio_reports_the_shift(rendered, name, shift):
    clip, motion = rendered[name]
    r = _score(motion, _shift(clip.audio, shift))
    # audio delayed by 0.25 s: visual - audio = -250 ms
    assert abs(r.best_offset_ms - (-1000 * shift)) <= FRAME_MS, r


def test_static_video_is_the_worst_case(rendered):
    clip, _ = rendered["bouncing_ball"]
    static = np.repeat(clip.frames[:1], len(clip.frames), axis=0)  # first frame repeated
    r = oracle_sync(static, FPS, clip.audio).result
    assert r.mean_offset_ms == 1000 * TOLERANCE_S and r.matched_fraction == 0.0
    assert r.num_visual_events == 0 and r.best_offset_ms is None


def test_six_fps_and_two_second_clips():
    # Generated videos are short and slow: read every 4th frame (6 FPS) of 2 s clips.
    errors, matched = [], []
    for name in ("bouncing_ball", "hammer_anvil", "lamp_beep", "clapping_blocks"):
        clip = generate_clip(name, seed=4, seconds=2.0, size=128)
        r = oracle_sync(clip.frames[::4], 6.0, clip.audio).result
        static = oracle_sync(np.repeat(clip.frames[:1], 12, axis=0), 6.0, clip.audio).result
        assert r.num_audio_events >= 1 and static.mean_offset_ms == 500.0
        errors.append(r.mean_offset_ms)
        matched.append(r.matched_fraction)
    assert np.mean(errors) <= 1000 / 6, errors  # within one 6-FPS frame on average
    assert np.mean(matched) >= 0.5, matched


# ---- the matching rules on hand-made events ---------------------------------------------------


def test_matching_rules():
    r = score_events(np.array([1.0, 2.0, 3.0]), np.array([1.02, 2.3]), FPS)
    # nearest visual minus audio: +20 ms, +300 ms, -700 ms (beyond 500 ms: counts 500)
    assert r.offsets_ms[0] == pytest.approx(20.0) and r.offsets_ms[2] is None
    assert r.mean_offset_ms == pytest.approx((20 + 300 + 500) / 3)
    assert r.matched_fraction == pytest.approx(1 / 3)
    none = score_events(np.array([1.0]), np.array([]), FPS)
    assert none.mean_offset_ms == 500.0 and none.best_offset_ms is None
    silent = score_events(np.array([]), np.array([1.0]), FPS)
    assert silent.mean_offset_ms is None and silent.matched_fraction is None


def test_best_offset_sign_and_precision():
    rng = np.random.default_rng(0)
    visual = np.cumsum(rng.uniform(0.3, 0.8, 8))
    audio = visual + 0.25  # the sound comes 250 ms after the picture
    assert best_offset(audio, visual, 1 / FPS) == pytest.approx(-0.25, abs=1e-3)
    assert best_offset(audio - 0.5, visual, 1 / FPS) == pytest.approx(0.25, abs=1e-3)


def test_visual_events_find_valleys_peaks_and_ignore_plateaus():
    t = np.arange(40)
    v_curve = np.abs(t - 10.3).clip(max=4.0)  # a sharp stop centred between samples 10 and 11
    ev = visual_events(v_curve, FPS)
    assert np.any(np.abs(ev * FPS - 0.5 - 10.3) < 0.35), ev
    spike = np.zeros(40)
    spike[20] = 3.0
    assert visual_events(spike, FPS) == pytest.approx([20.5 / FPS])
    assert len(visual_events(np.full(40, 2.0), FPS)) == 0  # steady motion: no single time
    assert len(visual_events(np.full(40, 0.001), FPS)) == 0  # below the static floor


# ---- files and the command line ---------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sync")
    clip = generate_clip("jumping_figure", seed=8, seconds=4.0, size=128)
    write_video(d / "gt.mp4", clip.frames, FPS, clip.audio)
    write_video(d / "mute.mp4", clip.frames, FPS)
    write_wav(d / "late.wav", _shift(clip.audio, 0.25), 16000)
    return d


def test_file_ground_truth_and_separate_audio(files):
    r = oracle_sync_file(files / "gt.mp4").result
    assert r.mean_offset_ms <= FRAME_MS and r.matched_fraction >= 0.9
    late = oracle_sync_file(files / "mute.mp4", audio=files / "late.wav").result
    assert late.best_offset_ms == pytest.approx(-250, abs=FRAME_MS)


def test_video_without_audio_needs_audio(files):
    with pytest.raises(ValueError, match="no audio stream"):
        oracle_sync_file(files / "mute.mp4")


def test_cli_json_and_plot(files):
    app = typer.Typer()
    app.command("sync")(sync)
    app.command("noop")(lambda: None)
    plot = files / "plot.png"
    result = CliRunner().invoke(app, ["sync", str(files / "gt.mp4"), "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"mean_offset_ms", "matched_fraction", "best_offset_ms"} <= set(out)
    assert out["mean_offset_ms"] <= FRAME_MS
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = CliRunner().invoke(app, ["sync", str(files / "gt.mp4")])
    assert text.exit_code == 0 and "mean offset" in text.output


def test_mean_distance_is_the_oracles_capped_offset():
    onsets, events = np.array([0.2, 1.0, 1.9]), np.array([1.05, 0.1, 3.0])
    assert mean_distance_ms(onsets, events) == pytest.approx(1000 * (0.1 + 0.05 + 0.5) / 3)
    oracle = score_events(onsets, events, 24.0).mean_offset_ms
    assert mean_distance_ms(onsets, events) == pytest.approx(oracle)
    assert mean_distance_ms(onsets, np.zeros(0)) == 500.0  # no motion event: every onset counts the cap
    with pytest.raises(ValueError, match="at least one time"):
        mean_distance_ms(np.zeros(0), events)


def test_chance_distance_averages_over_a_uniform_time():
    # One event at 1 s over [0, 2] s: |t - 1| is uniform on [0, 1], capped at 0.5 -> 0.5 * 0.25 + 0.5 * 0.5.
    assert chance_distance_ms(np.array([1.0]), 0.0, 2.0) == pytest.approx(375.0, abs=0.5)
    # Events at every 0.1 s: the distance is uniform on [0, 0.05].
    assert chance_distance_ms(np.arange(0.0, 2.01, 0.1), 0.0, 2.0) == pytest.approx(25.0, abs=0.5)
