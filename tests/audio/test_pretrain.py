"""Pretraining the tiny audio encoders on a tiny SynthAV set: targets, scores, recipe, resume, errors."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from asva.audio import AUDIO_FEATURES_TINY, AudioFeatureExtractor
from asva.audio import pretrain as pretrain_module
from asva.audio.config import AudioFeatureConfig, ImageBindAudioConfig
from asva.audio.pretrain import (
    LAST,
    METRICS,
    curve_peaks,
    encoder_tokens,
    load_audio_encoders,
    match_onsets,
    onset_target,
    pretrain_audio_encoders,
    read_onsets,
    roc_auc,
)
from asva.checkpoints.official import CheckpointError
from asva.checkpoints.trained import load_into, load_weights
from asva.data.layout import VideoItem
from asva.media import write_video
from asva.presets import get_preset
from asva.synth import SynthConfig, generate_dataset

AUDIO = AUDIO_FEATURES_TINY
# 2 train and 1 test video per class, 3 s each: windows start anywhere in the first second.
SMALL = SynthConfig(classes=("drum_hit", "metronome", "lamp_beep"), videos_per_class=3, train_per_class=2,
                    seconds=3.0, size=64)
QUICK = {"batch_size": 2, "progress": False}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthav") / "ds"
    generate_dataset(root, SMALL, workers=1)
    return root


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """30 steps on both tiny encoders: the output folder."""
    out = tmp_path_factory.mktemp("pretrain")
    pretrain_audio_encoders(dataset, out, AUDIO, steps=30, batch_size=6, lr=3e-3, progress=False)
    return out


@pytest.fixture
def copy(dataset, tmp_path):
    """A private copy of the dataset, to break."""
    root = tmp_path / "ds"
    shutil.copytree(dataset, root)
    return root


def _initial_extractor(seed: int = 0) -> AudioFeatureExtractor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AudioFeatureExtractor(AUDIO)


# ---- targets and scores ----


def test_onset_target_is_clipped_gaussian_bumps():
    times = np.array([math.nan, 0.0, 0.1, 0.2, 1.0])
    target = onset_target(np.array([0.1]), times, sigma=0.1)
    assert np.isnan(target[0])
    np.testing.assert_allclose(target[1:], [math.exp(-0.5), 1.0, math.exp(-0.5), math.exp(-40.5)], rtol=1e-6)
    close = onset_target(np.array([0.1, 0.12]), times[1:], sigma=0.1)  # two bumps sum past 1: clipped
    assert close.max() == 1.0 and close[1] == 1.0
    assert onset_target(np.array([]), times[1:], sigma=0.1).tolist() == [0, 0, 0, 0]


def test_peaks_matching_and_auc():
    steps = np.arange(10) * 0.1 + 0.05
    curve = np.array([0.1, 0.9, 0.2, 0.6, 0.6, 0.1, 0.4, 0.1, 0.0, 0.7])
    peaks = curve_peaks(curve, steps)
    np.testing.assert_allclose(peaks, [0.15, 0.45, 0.95])  # 0.4 is below the threshold; a plateau counts once
    # 0.16 found by 0.15; 0.5 found by 0.45; 0.7 missed; 0.95 is paired with 1.04, an onset past the span
    # the tokens cover (up to 1.0): neither a hit nor a false alarm.
    found, n_peaks, n_true = match_onsets(peaks, np.array([0.16, 0.5, 0.7, 1.04]), steps, tolerance=0.1)
    assert (found, n_peaks, n_true) == (2, 2, 3)
    found, n_peaks, n_true = match_onsets(peaks, np.array([0.16, 1.2]), steps, tolerance=0.1)
    assert (found, n_peaks, n_true) == (1, 3, 1)  # 1.2 lies outside the span the tokens cover
    # one peak cannot find two onsets
    assert match_onsets(np.array([0.45]), np.array([0.4, 0.5]), steps, 0.1) == (1, 1, 2)
    labels = np.array([0, 0, 1, 1], bool)
    assert roc_auc(np.array([0.1, 0.2, 0.3, 0.4]), labels) == 1.0
    assert roc_auc(np.array([0.4, 0.3, 0.2, 0.1]), labels) == 0.0
    assert roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert math.isnan(roc_auc(np.array([0.1, 0.2]), np.array([1, 1], bool)))


def test_onsets_move_with_the_audio_offset(tmp_path):
    video = tmp_path / "drum_hit" / "a.mp4"
    video.parent.mkdir()
    events = [{"onset": 0.5, "kind": "boom"}, {"onset": 1.25, "kind": "boom"}]
    truth = {"events": events, "audio_offset_s": 0.25}
    video.with_suffix(".json").write_text(json.dumps(truth))
    item = VideoItem("drum_hit/a.mp4", video, "drum_hit", "a")
    np.testing.assert_allclose(read_onsets(item), [0.75, 1.5])  # the sound comes 0.25 s after the picture


def test_training_tokens_are_the_extractors_features():
    extractor = _initial_extractor()
    audio = torch.randn(2, AUDIO.clip_samples) * 0.1
    features = extractor(audio)
    for name in AUDIO.encoders:
        last = features[(name, max(AUDIO.layers))].tokens  # (B, N, D)
        torch.testing.assert_close(encoder_tokens(extractor, name, audio), last)


# ---- the recipe ----


def test_loss_decreases_and_heads_beat_chance(trained):
    metrics = json.loads((trained / METRICS).read_text())
    total = [row["loss"] for row in metrics["losses"]]
    assert len(total) == 30
    assert np.mean(total[-5:]) < 0.8 * np.mean(total[:5]), total
    for name in AUDIO.encoders:
        scores = metrics["test"][name]
        assert scores["windows"] == 9 and scores["true_onsets"] > 0
        assert 0 <= scores["onset_f1"] <= 1 and 0 <= scores["class_accuracy"] <= 1
        # better than chance (AUC 0.5, accuracy 1/3): the heads learn something in 30 steps
        assert scores["onset_auc"] > 0.7 and scores["class_accuracy"] > 1 / 3, scores


def test_weights_change_and_the_file_loads_strictly(trained):
    path = trained / "audio_encoders.safetensors"
    state, meta = load_weights(path)
    before = _initial_extractor().state_dict()
    assert set(state) == set(before)  # the encoders alone: the heads are thrown away
    changed = [k for k in state if not torch.equal(state[k], before[k])]
    assert any(k.startswith("encoders.imagebind.") for k in changed)
    assert any(k.startswith("encoders.beats.") for k in changed)
    # what write_model_folder writes and load_model checks for `model.audio_features` of the tiny preset
    assert get_preset("tiny").audio == AUDIO
    fresh = AudioFeatureExtractor(AUDIO)
    load_into(fresh, path, {"part": "audio_encoders", "audio_config": dataclasses.asdict(AUDIO)})
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(value, state[key])
    assert meta["pretrain"]["test"] == json.loads((trained / METRICS).read_text())["test"]
    assert meta["pretrain"]["settings"]["steps"] == 30
    assert meta["pretrain"]["classes"] == sorted(SMALL.classes)
    loaded = load_audio_encoders(path, AUDIO)
    assert not any(p.requires_grad for p in loaded.parameters())
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_load_a_subset_of_encoders_with_other_layers(trained):
    path = trained / "audio_encoders.safetensors"
    beats_only = dataclasses.replace(AUDIO, encoders=("beats",), layers=(0,))
    loaded = load_audio_encoders(path, beats_only)
    assert list(loaded.encoders) == ["beats"]
    state = load_file(str(path))
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_load_refuses_other_sizes_and_other_files(trained, tmp_path):
    path = trained / "audio_encoders.safetensors"
    wider = dataclasses.replace(AUDIO, imagebind=ImageBindAudioConfig(embed_dim=64, num_blocks=4, num_heads=4,
                                                                      out_embed_dim=16))
    with pytest.raises(CheckpointError, match=r"imagebind\.embed_dim"):
        load_audio_encoders(path, wider)
    heads = trained / LAST / "heads.safetensors"
    with pytest.raises(CheckpointError, match="not an audio-encoder file"):
        load_audio_encoders(heads, AUDIO)


def test_resume_after_a_stop_equals_an_uninterrupted_run(dataset, tmp_path, monkeypatch):
    settings = {"audio": AudioFeatureConfig(encoders=("beats",), layers=(3,), beats=AUDIO.beats),
                "steps": 6, "checkpoint_every": 2, **QUICK}
    pretrain_audio_encoders(dataset, tmp_path / "whole", **settings)

    save = pretrain_module.save_checkpoint

    def save_then_stop(folder, *args):
        save(folder, *args)
        if args[-2] == 4:  # step
            raise KeyboardInterrupt

    monkeypatch.setattr(pretrain_module, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        pretrain_audio_encoders(dataset, tmp_path / "stopped", **settings)
    assert json.loads((tmp_path / "stopped" / LAST / "state.json").read_text())["step"] == 4
    monkeypatch.setattr(pretrain_module, "save_checkpoint", save)
    pretrain_audio_encoders(dataset, tmp_path / "stopped", **settings)

    whole, stopped = (json.loads((tmp_path / run / METRICS).read_text()) for run in ("whole", "stopped"))
    assert stopped["losses"] == whole["losses"] and stopped["test"] == whole["test"]
    a, b = (load_file(str(tmp_path / run / "audio_encoders.safetensors")) for run in ("whole", "stopped"))
    assert all(torch.equal(a[k], b[k]) for k in a)

    with pytest.raises(ValueError, match=r"other settings \(lr: saved 0.001, now 0.003\)"):
        pretrain_audio_encoders(dataset, tmp_path / "stopped", **{**settings, "lr": 3e-3})


# ---- bad input ----


@pytest.mark.parametrize("change, match", [({"steps": 0}, "steps must be an int >= 1"),
                                           ({"batch_size": 0}, "batch_size"),
                                           ({"lr": -1.0}, "lr must be"),
                                           ({"checkpoint_every": 0}, "checkpoint_every")])
def test_bad_settings_are_refused(dataset, tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        pretrain_audio_encoders(dataset, tmp_path, AUDIO, **{**QUICK, **change})
    assert not any(tmp_path.iterdir())


def test_no_train_video_is_an_error(copy, tmp_path):
    (copy / "train.txt").write_text("")
    with pytest.raises(ValueError, match="no usable train video"):
        pretrain_audio_encoders(copy, tmp_path / "out", AUDIO, steps=1, **QUICK)


def test_videos_without_audio_are_skipped_and_counted(copy, tmp_path, caplog):
    silent = copy / "videos" / "metronome" / "metronome_0000.mp4"
    write_video(silent, np.zeros((24, 64, 64, 3), np.uint8), 24)  # no audio track
    audio = dataclasses.replace(AUDIO, encoders=("beats",))
    with caplog.at_level(logging.WARNING, logger="asva.audio.pretrain"):
        pretrain_audio_encoders(copy, tmp_path / "out", audio, steps=1, **QUICK)
    assert "1 of 6 train videos have no audio track" in caplog.text
    assert json.loads((tmp_path / "out" / METRICS).read_text())["train_videos"] == 5
    for line in (copy / "train.txt").read_text().split():
        write_video(copy / "videos" / line, np.zeros((24, 64, 64, 3), np.uint8), 24)
    with pytest.raises(ValueError, match=r"no usable train video .*6 without audio"):
        pretrain_audio_encoders(copy, tmp_path / "out2", audio, steps=1, **QUICK)


def test_a_test_class_missing_from_train_is_an_error(copy, tmp_path):
    lines = (copy / "train.txt").read_text().split()
    (copy / "train.txt").write_text("".join(f"{ln}\n" for ln in lines if not ln.startswith("lamp_beep/")))
    with pytest.raises(ValueError, match=r"test classes \['lamp_beep'\] have no usable train video"):
        pretrain_audio_encoders(copy, tmp_path / "out", AUDIO, steps=1, **QUICK)


def test_a_video_without_ground_truth_is_an_error(copy, tmp_path):
    (copy / "videos" / "drum_hit" / "drum_hit_0000.json").unlink()
    with pytest.raises(FileNotFoundError, match="ground-truth JSON"):
        pretrain_audio_encoders(copy, tmp_path / "out", AUDIO, steps=1, **QUICK)
