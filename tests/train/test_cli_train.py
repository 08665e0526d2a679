"""`asva train` on a small SynthAV dataset: builds the clip dataset, checks leakage, trains, exports."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from asva.checkpoints.folder import load_model
from asva.cli import app
from asva.synth import SynthConfig, generate_dataset


@pytest.fixture(scope="module")
def synthav(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthav")
    config = SynthConfig(
        classes=("bouncing_ball", "metronome"), videos_per_class=4, train_per_class=2, seconds=2.0, size=64
    )
    generate_dataset(root, config, workers=1)
    return root


def test_train_command_runs_a_stage_and_exports_a_model(synthav, tmp_path):
    (tmp_path / "c.yaml").write_text("batch_size: 2\n")
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--preset",
            "tiny",
            "--stage",
            "vae",
            "--data",
            str(synthav),
            "--out",
            str(tmp_path / "run"),
            "--config",
            str(tmp_path / "c.yaml"),
            "--max-steps",
            "1",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    preset, _, _ = load_model(tmp_path / "run" / "model")
    assert preset.name == "tiny"


def test_train_command_refuses_a_test_video_in_training(synthav, tmp_path):
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    (leaky / "videos").symlink_to(synthav / "videos")
    (leaky / "test.txt").write_text((synthav / "test.txt").read_text())
    (leaky / "train.txt").write_text((synthav / "train.txt").read_text() + (synthav / "test.txt").read_text())
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--preset",
            "tiny",
            "--stage",
            "vae",
            "--data",
            str(leaky),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "1",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "DataLeakError"


def test_train_command_runs_the_keyframe_stage_on_24_fps_clips(synthav, tmp_path):
    from dataclasses import asdict

    import torch

    from asva.audio.taps import AudioFeatureExtractor
    from asva.checkpoints.backbone import load_backbone
    from asva.checkpoints.folder import ModelFolder, save_part, write_model_folder
    from asva.checkpoints.keyvid import load_keyvid_model
    from asva.presets import get_preset

    preset = get_preset("tiny")
    init = write_model_folder(tmp_path / "backbone", preset, load_backbone("tiny", seed=0))
    torch.manual_seed(5)  # "trained" audio encoders: any weights other than the seeded random ones
    encoders = AudioFeatureExtractor(preset.audio)
    weights = save_part(encoders, tmp_path / "enc.safetensors",
                        {"part": "audio_encoders", "audio_config": asdict(preset.audio)})
    (tmp_path / "c.yaml").write_text("batch_size: 2\ngrad_accum: 1\n")
    args = ["train", "--preset", "tiny", "--stage", "keyframe", "--data", str(synthav), "--init", str(init),
            "--out", str(tmp_path / "run"), "--config", str(tmp_path / "c.yaml"), "--max-steps", "1",
            "--device", "cpu", "--audio-weights", str(weights)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "keyvid" in ModelFolder.read(tmp_path / "run" / "model").files
    model, _ = load_keyvid_model(tmp_path / "run" / "model")
    want = encoders.encoders["imagebind"].state_dict()
    assert all(torch.equal(v, want[k]) for k, v in model.audio_encoder.state_dict().items())


def test_train_audio_command_writes_encoders_that_train_loads(synthav, tmp_path):
    (tmp_path / "a.yaml").write_text("batch_size: 2\nlr: 0.002\n")
    out = tmp_path / "audio"
    args = ["train-audio", "--data", str(synthav), "--out", str(out), "--config", str(tmp_path / "a.yaml"),
            "--max-steps", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["settings"]["steps"] == 2 and meta["settings"]["batch_size"] == 2
    assert meta["settings"]["lr"] == pytest.approx(0.002)
    # The file is what `asva train --audio-weights` reads: it loads into the tiny preset's extractor.
    from asva.audio.pretrain import load_audio_encoders
    from asva.presets import get_preset

    extractor = load_audio_encoders(out / "audio_encoders.safetensors", get_preset("tiny").audio)
    assert sum(p.numel() for p in extractor.parameters()) > 0


def test_train_audio_command_refuses_an_unknown_option(synthav, tmp_path):
    (tmp_path / "a.yaml").write_text("max_step: 5\n")
    out, config = tmp_path / "audio", tmp_path / "a.yaml"
    args = ["train-audio", "--data", str(synthav), "--out", str(out), "--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "max_step" in result.output and "expected max_steps" in result.output
    assert not out.exists()
