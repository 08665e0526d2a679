"""The training recipe on the tiny preset: the loss falls, resume is exact, bad input is refused."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from asva.checkpoints.folder import load_model, write_model_folder
from asva.presets import get_preset
from asva.train.config import TrainConfig, load_overrides
from asva.train.recipe import train
from tests.conftest import randomize_zero_parameters

PRESET = get_preset("tiny")


class MovingSquares(Dataset):
    """Tiny clips whose motion follows their audio: a square jumps on each click."""

    def __init__(self, n: int = 8, frames: int = 4) -> None:
        self.n, self.frames = n, frames

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        video = torch.full((3, self.frames, PRESET.height, PRESET.width), -0.5)
        audio = torch.zeros(round(self.frames / PRESET.fps * 16_000))
        for f in range(self.frames):
            x = int(torch.randint(0, PRESET.width - 16, (1,), generator=g))
            video[:, f, 20:36, x : x + 16] = 0.8
            audio[round(f / PRESET.fps * 16_000) :][:200] = 0.5
        return {"video": video, "audio": audio, "prompt": "a square" if i % 2 else "a box"}


def _config(tmp_path, stage="vae", **kw):
    base = {
        "out": str(tmp_path / stage),
        "batch_size": 4,
        "epochs": 2,
        "device": "cpu",
        "checkpoint_every": 1,
        "log_every": 1,
    }
    base.update(kw)
    return TrainConfig.for_stage("tiny", stage, "unused", base)


def _losses(out):
    return json.loads((out / "last" / "state.json").read_text())["losses"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A trained tiny VAE; the exported folder's UNet gets random (non-zero) output layers so the
    adapters downstream receive gradients (a reference-initialised UNet ignores its input)."""
    tmp = tmp_path_factory.mktemp("vae")
    folder = train(_config(tmp, "vae", epochs=3), MovingSquares(), show_progress=False)
    return tmp, backbone_with_random_unet(folder, tmp / "init")


def backbone_with_random_unet(folder, out):
    """Copy a model folder, giving the UNet's zero-initialised layers random values."""
    preset, backbone, _ = load_model(folder)
    randomize_zero_parameters(backbone.unet)
    return write_model_folder(out, preset, backbone)


def test_vae_stage_trains_and_exports_a_model_folder(vae_run):
    tmp, _ = vae_run
    losses = _losses(tmp / "vae")
    assert len(losses) == 6 and losses[-1] < losses[0]
    preset, model, _ = load_model(tmp / "vae" / "model")
    assert preset.name == "tiny" and model.vae.config == PRESET.backbone.vae


def test_adapter_stage_trains_only_adapters_and_resume_is_exact(vae_run, tmp_path):
    _, vae_folder = vae_run
    config = _config(tmp_path, "pretrain", init=str(vae_folder), epochs=2, lr=1e-3)
    full = train(config, MovingSquares(), show_progress=False)
    uninterrupted = _losses(tmp_path / "pretrain")
    _, model, _ = load_model(full)
    assert len(uninterrupted) == 4

    # Same run, stopped after 1 step then resumed to the end: the same losses, bit for bit.
    config2 = _config(tmp_path, "pretrain", init=str(vae_folder), epochs=2, lr=1e-3, out=str(tmp_path / "b"))
    train(TrainConfig(**{**config2.to_dict(), "max_steps": 1}), MovingSquares(), show_progress=False)
    train(config2, MovingSquares(), show_progress=False)
    assert _losses(tmp_path / "b") == uninterrupted

    # The backbone in the exported folder is the one it started from.
    _, start, _ = load_model(vae_folder)
    for (name, a), (_, b) in zip(
        start.state_dict().items(), model.backbone.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    # ... and the adapters moved away from their zero-initialised output layers.
    assert any(site.to_out.weight.abs().sum() > 0 for site in model.adapters.sites.values())


def test_resume_refuses_other_settings(vae_run, tmp_path):
    _, vae_folder = vae_run
    train(
        _config(tmp_path, "pretrain", init=str(vae_folder), max_steps=1), MovingSquares(), show_progress=False
    )
    with pytest.raises(ValueError, match="other settings"):
        train(
            _config(tmp_path, "pretrain", init=str(vae_folder), lr=0.5), MovingSquares(), show_progress=False
        )


def test_resume_accepts_a_checkpoint_older_than_a_new_option(vae_run, tmp_path):
    # A checkpoint written before a TrainConfig field existed has no value for it: it counts as the
    # field's default, so an upgrade of asva does not strand a half-finished run.
    _, vae_folder = vae_run
    config = _config(tmp_path, "pretrain", init=str(vae_folder), max_steps=1)
    train(config, MovingSquares(), show_progress=False)
    state_file = Path(config.out) / "last" / "state.json"
    state = json.loads(state_file.read_text())
    del state["config"]["cond_dropout"]  # as if written by a version without this option
    state_file.write_text(json.dumps(state))
    more = _config(tmp_path, "pretrain", init=str(vae_folder), max_steps=2)
    train(more, MovingSquares(), show_progress=False)
    assert len(_losses(Path(config.out))) == 2


def test_interrupted_checkpoint_write_keeps_the_previous_one(vae_run, tmp_path, monkeypatch):
    _, vae_folder = vae_run
    config = _config(tmp_path, "pretrain", init=str(vae_folder), max_steps=1)
    train(config, MovingSquares(), show_progress=False)
    before = (tmp_path / "pretrain" / "last" / "adapters.safetensors").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("asva.train.recipe.torch.save", disk_full)
    with pytest.raises(OSError, match="No space"):
        train(TrainConfig(**{**config.to_dict(), "max_steps": 2}), MovingSquares(), show_progress=False)
    assert (tmp_path / "pretrain" / "last" / "adapters.safetensors").read_bytes() == before
    assert json.loads((tmp_path / "pretrain" / "last" / "state.json").read_text())["step"] == 1


def test_finetune_needs_pretrained_adapters(vae_run, tmp_path):
    _, vae_folder = vae_run
    with pytest.raises(ValueError, match="pretrained adapters"):
        train(_config(tmp_path, "finetune", init=str(vae_folder)), MovingSquares(), show_progress=False)


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.for_stage("tiny", "pretrain", "d", {"learning_rate": 1})
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("lr: 0.001\nbogus: 3\n")
    with pytest.raises(ValueError, match=r"bogus"):
        load_overrides(yaml_file)
    with pytest.raises(ValueError, match="stage must be"):
        TrainConfig.for_stage("tiny", "warmup", "d")
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(_config(tmp_path), MovingSquares(n=2), show_progress=False)


def test_paper_defaults_per_stage():
    pre = TrainConfig.for_stage("dynamicrafter-256", "pretrain", "d")
    fin = TrainConfig.for_stage("dynamicrafter-256", "finetune", "d")
    assert (pre.lr, pre.batch_size, pre.epochs) == (1e-4, 32, 30)
    assert (fin.lr, fin.batch_size, fin.epochs) == (5e-5, 16, 500)
    assert pre.cond_dropout == 0.05


def test_audio_overrides_train_export_and_must_match_at_finetune(vae_run, tmp_path):
    # A research run (asva experiment window / features): another window radius and one encoder with
    # one tap; the exported folder records it and loads back into the same architecture.
    _, vae_folder = vae_run
    overrides = {"adapter_window": 2.5, "audio_encoders": ["imagebind"], "audio_layers": [3]}
    pre = train(_config(tmp_path, "pretrain", init=str(vae_folder), max_steps=1, **overrides),
                MovingSquares(), show_progress=False)
    assert json.loads((pre / "asva.json").read_text())["overrides"] == {
        "adapters": {"window": 2.5}, "audio": {"encoders": ["imagebind"], "layers": [3]}}
    preset, model, _ = load_model(pre)
    assert preset.adapters.window == 2.5 and preset.audio.encoders == ("imagebind",)
    assert list(model.audio_features.encoders) == ["imagebind"]

    with pytest.raises(ValueError, match="same adapter_window"):
        train(_config(tmp_path, "finetune", init=str(pre), max_steps=1), MovingSquares(), show_progress=False)
    fin = train(_config(tmp_path, "finetune", init=str(pre), max_steps=1, **overrides), MovingSquares(),
                show_progress=False)
    assert load_model(fin)[0] == preset


def test_pretrain_starts_from_trained_audio_encoders(vae_run, tmp_path):
    # An audio-encoder file holding both encoders (asva.audio.pretrain) feeds a run that uses one of
    # them: the encoder's weights are the file's, not random ones.
    from asva.audio.taps import AudioFeatureExtractor
    from asva.checkpoints.folder import save_part

    _, vae_folder = vae_run
    torch.manual_seed(123)
    trained = AudioFeatureExtractor(PRESET.audio)
    path = save_part(trained, tmp_path / "enc.safetensors",
                     {"part": "audio_encoders", "audio_config": asdict(PRESET.audio)})
    out = train(_config(tmp_path, "pretrain", init=str(vae_folder), max_steps=1, audio_weights=str(path),
                        audio_encoders=["beats"]), MovingSquares(), show_progress=False)
    _, model, _ = load_model(out)
    for key, value in model.audio_features.encoders["beats"].state_dict().items():
        assert torch.equal(value, trained.encoders["beats"].state_dict()[key]), key
    with pytest.raises(ValueError, match="'pretrain' and 'keyframe' only"):
        _config(tmp_path, "finetune", audio_weights=str(path))
    with pytest.raises(ValueError, match="out of range"):
        _config(tmp_path, "pretrain", audio_layers=[9])
