"""Training KeyVID on the tiny preset: the keyframe data, what trains, one step per stage, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from asva.checkpoints.backbone import load_backbone
from asva.checkpoints.folder import load_model, write_model_folder
from asva.checkpoints.keyvid import load_keyvid_model
from asva.keyvid.model import keyvid_from_backbone
from asva.keyvid.training import (
    KeyframeClips,
    fps_label,
    interpolation_window,
    keyvid_trainable,
)
from asva.presets import get_preset
from asva.train.config import TrainConfig
from asva.train.recipe import train
from tests.conftest import randomize_zero_parameters

PRESET = get_preset("tiny")


class SwingingBoxes(Dataset):
    """2-s clips at 24 FPS of a box swinging to and fro: its speed peaks every `period` / 2 frames."""

    def __init__(self, n: int = 4, frames: int = 48) -> None:
        self.n, self.frames = n, frames

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        period = 20 + 4 * (i % 3)
        video = torch.full((3, self.frames, PRESET.height, PRESET.width), -0.5)
        for f in range(self.frames):
            x = int(32 + 20 * np.sin(2 * np.pi * f / period))
            video[:, f, 24:40, x - 8 : x + 8] = 0.8
        audio = torch.from_numpy((np.random.default_rng(i).standard_normal(32000) * 0.1).astype(np.float32))
        return {"video": video, "audio": audio, "prompt": "a box"}


@pytest.fixture(scope="module")
def init_folder(tmp_path_factory):
    """A tiny backbone folder whose UNet's zero-initialised layers are random (so gradients flow)."""
    backbone = load_backbone(PRESET, seed=0)
    randomize_zero_parameters(backbone.unet)
    return write_model_folder(tmp_path_factory.mktemp("init") / "backbone", PRESET, backbone)


def _config(out, stage, init, **kw):
    values = {"out": str(out), "init": str(init), "batch_size": 2, "grad_accum": 1, "epochs": 1,
              "lr": 1e-3, "device": "cpu", "checkpoint_every": 1, "log_every": 1, **kw}
    return TrainConfig.for_stage("tiny", stage, "unused", values)


def _losses(out):
    return json.loads((out / "last" / "state.json").read_text())["losses"]


@pytest.fixture(scope="module")
def keyframe_run(init_folder, tmp_path_factory):
    """Two steps of the keyframe stage (batch 2 of 4 clips) from the random backbone."""
    out = tmp_path_factory.mktemp("keyframe")
    folder = train(_config(out, "keyframe", init_folder), KeyframeClips(SwingingBoxes()), show_progress=False)
    return out, folder


def _changed(before: torch.nn.Module, after: torch.nn.Module) -> set[str]:
    b, a = before.state_dict(), after.state_dict()
    return {k for k in b if not torch.equal(b[k], a[k])}


def _trainable_names(model, stage) -> set[str]:
    chosen = {id(p) for part in keyvid_trainable(model, stage).values() for p in part.parameters()}
    return {name for name, p in model.named_parameters() if id(p) in chosen}


def test_added_lr_scale_moves_keyvid_added_parameters_faster(init_folder, tmp_path):
    # Adam's first step moves every parameter by about lr (sign of its gradient); the parameters KeyVID
    # added move by lr * added_lr_scale, the pretrained ones it trains by lr.
    from asva.keyvid.training import keyvid_added, keyvid_training_model

    before = keyvid_training_model(init_folder, PRESET, seed=0)
    folder = train(_config(tmp_path / "run", "keyframe", init_folder, max_steps=1, added_lr_scale=8.0,
                           max_grad_norm=None), KeyframeClips(SwingingBoxes()), show_progress=False)
    after, _ = load_keyvid_model(folder)
    added_names = {name for name, p in before.named_parameters()
                   if id(p) in {id(q) for q in keyvid_added(before, "keyframe")}}
    old, new = before.state_dict(), after.state_dict()
    trained = _trainable_names(before, "keyframe")
    moved = {name: float((new[name] - old[name]).abs().max()) for name in trained}
    added = [moved[n] for n in added_names]
    others = [m for n, m in moved.items() if n not in added_names]
    assert added and others
    assert 6e-3 < max(added) <= 8e-3 * 1.001
    assert 0.5e-3 < max(others) <= 1e-3 * 1.001


def test_added_lr_scale_is_for_keyvid_stages_only(tmp_path):
    with pytest.raises(ValueError, match="KeyVID's added parameters"):
        TrainConfig.for_stage("tiny", "pretrain", "unused", {"added_lr_scale": 10.0})
    with pytest.raises(ValueError, match="must be positive"):
        TrainConfig.for_stage("tiny", "keyframe", "unused", {"added_lr_scale": 0.0})


# -- data ------------------------------------------------------------------------------------------
def test_keyframe_clips_give_twelve_sorted_slots_or_consecutive_frames():
    clips = KeyframeClips(SwingingBoxes(), keyframe_ratio=1.0, seed=3)
    for i in range(len(clips)):
        item = clips[i]
        keys = item["keyframes"]
        assert keys.dtype == torch.int64 and keys.shape == (12,) and keys[0] == 0 and keys[-1] <= 47
        assert torch.all(keys.diff() > 0)  # sorted and distinct
        assert item["motion"].shape == (47,) and item["motion"].max() > 0.1
        assert item["video"].shape == (3, 48, 64, 64) and item["prompt"] == "a box"
    assert torch.equal(clips[1]["keyframes"], clips[1]["keyframes"])  # drawn from (seed, epoch, index)
    # the motion rule puts more keyframes where the box turns than 12 consecutive frames would
    assert clips[0]["keyframes"][-1] > 11
    consecutive = KeyframeClips(SwingingBoxes(), keyframe_ratio=0.0)
    assert consecutive[0]["keyframes"].tolist() == list(range(12))
    with pytest.raises(ValueError, match="24 FPS"):
        KeyframeClips(SwingingBoxes(frames=12))[0]


def test_fps_labels_and_the_interpolation_window():
    assert fps_label(torch.arange(12)[None], 24.0).tolist() == [24]
    assert fps_label(torch.arange(0, 48, 4)[None], 24.0).tolist() == [6]
    keyframes = torch.tensor([[0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44], list(range(0, 48, 4))])
    window, known = interpolation_window(keyframes, 12, 2, 48, torch.Generator().manual_seed(0))
    assert window.shape == known.shape == (2, 12)
    for row, mask in zip(window, known, strict=True):
        stride = int(row[1] - row[0])
        assert stride in (1, 2) and row.tolist() == list(range(0, 12 * stride, stride))
        assert mask.tolist() == [int(s) % 4 == 0 for s in row]  # the keyframes inside the window
    # at most one keyframe inside: the first and last frames are known
    _, known = interpolation_window(torch.tensor([[0, *range(30, 41)]]), 12, 1, 48, torch.Generator())
    assert known[0].nonzero()[:, 0].tolist() == [0, 11]


# -- what trains -----------------------------------------------------------------------------------
def test_trainable_parts_follow_keyvid_finetune_2():
    model = keyvid_from_backbone(load_backbone(PRESET, seed=0), PRESET)
    names = _trainable_names(model, "keyframe")
    assert names and all(n.startswith(("backbone.unet.", "backbone.resampler.")) for n in names)
    assert {n for n in names if n.startswith("backbone.resampler.")} == {
        f"backbone.resampler.{k}" for k in model.backbone.resampler.state_dict()
    }
    unet = {n.removeprefix("backbone.unet.") for n in names if n.startswith("backbone.unet.")}
    assert not any(n.startswith(("init_attn", "input_blocks.0", "out.", "time_embed")) for n in unet)
    assert {"fps_embedding.0.weight", "frame_idx_embedding.2.weight", "audio_proj_2.weight"} <= unet
    assert any(n.endswith("attn2.to_v_ap.weight") for n in unet)
    assert any(n.endswith("attn2.beta") for n in unet)
    assert any(".temopral_conv." in n for n in unet) and any(".2.proj_in." in n for n in unet)
    assert not any(n.endswith(".2.norm.weight") for n in unet)  # a temporal transformer's GroupNorm stays
    assert not any(n.endswith(("attn2.to_q.weight", "attn1.to_q.weight")) and ".1.transformer_blocks" in n
                   for n in unet)  # spatial attention stays
    interpolator = _trainable_names(model, "interpolate")
    assert interpolator
    assert all(n.startswith(("interpolator_unet.", "interpolator_resampler.")) for n in interpolator)
    assert not any("frame_idx_embedding" in n for n in interpolator)


# -- one step per stage ----------------------------------------------------------------------------
def test_keyframe_stage_changes_only_the_generators_chosen_parameters(keyframe_run, init_folder):
    out, folder = keyframe_run
    losses = _losses(out)
    assert len(losses) == 2 and all(np.isfinite(losses))
    trained, _ = load_keyvid_model(folder)
    start = keyvid_from_backbone(load_model(init_folder)[1], PRESET)
    changed = _changed(start, trained)
    assert changed and changed <= _trainable_names(start, "keyframe")
    assert any(n.endswith("to_v_ap.weight") for n in changed)  # the audio branch learns


def test_interpolate_stage_trains_the_interpolator_only(keyframe_run, tmp_path):
    _, keyframe_folder = keyframe_run
    folder = train(_config(tmp_path / "interp", "interpolate", keyframe_folder, max_steps=1),
                   KeyframeClips(SwingingBoxes(), keyframe_ratio=1.0), show_progress=False)
    start, _ = load_keyvid_model(keyframe_folder)
    trained, _ = load_keyvid_model(folder)
    changed = _changed(start, trained)
    assert changed and changed <= _trainable_names(start, "interpolate")


def test_interpolate_stage_with_keyvid_finetune_unet_trains_spatial_layers_too(keyframe_run, tmp_path):
    _, keyframe_folder = keyframe_run
    folder = train(_config(tmp_path / "interp", "interpolate", keyframe_folder, max_steps=1,
                           keyvid_finetune="unet"),
                   KeyframeClips(SwingingBoxes(), keyframe_ratio=1.0), show_progress=False)
    start, _ = load_keyvid_model(keyframe_folder)
    changed = _changed(start, load_keyvid_model(folder)[0])
    whole = {f"interpolator_unet.{k}" for k in start.interpolator_unet.state_dict()} | {
        f"interpolator_resampler.{k}" for k in start.interpolator_resampler.state_dict()}
    assert changed <= whole  # the generator and the shared encoders stay as they were
    # beyond KeyVID's finetune 2: the input convolution and spatial attention learn
    assert changed - _trainable_names(start, "interpolate")
    assert "interpolator_unet.input_blocks.0.0.weight" in changed
    assert any(n.endswith("attn1.to_q.weight") and ".1.transformer_blocks" in n for n in changed)


def test_keyvid_finetune_is_checked():
    with pytest.raises(ValueError, match="keyvid_finetune must be one of"):
        TrainConfig.for_stage("tiny", "interpolate", "unused", {"keyvid_finetune": "all"})
    with pytest.raises(ValueError, match="KeyVID stage"):
        TrainConfig.for_stage("tiny", "finetune", "unused", {"keyvid_finetune": "unet"})
    model = keyvid_from_backbone(load_backbone(PRESET, seed=0), PRESET)
    with pytest.raises(ValueError, match="finetune must be"):
        keyvid_trainable(model, "interpolate", "spatial")


def test_keyframe_stage_resume_is_exact(keyframe_run, init_folder, tmp_path):
    out, _ = keyframe_run
    config = _config(tmp_path / "b", "keyframe", init_folder)
    first = TrainConfig(**{**config.to_dict(), "max_steps": 1})
    train(first, KeyframeClips(SwingingBoxes()), show_progress=False)
    train(config, KeyframeClips(SwingingBoxes()), show_progress=False)
    assert _losses(tmp_path / "b") == _losses(out)


def test_exported_folder_animates_in_keyframe_mode(keyframe_run):
    from asva.pipelines.keyvid import KeyframePipeline

    _, folder = keyframe_run
    pipe = KeyframePipeline.from_model(folder)
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    audio = (np.random.default_rng(1).standard_normal(32000) * 0.1).astype(np.float32)
    result = pipe(image, "a box", audio=audio, steps=1, guidance_image=1.0, guidance_text=1.0,
                  guidance_audio=1.0)
    assert result.video.shape == (1, 3, 48, 64, 64) and result.fps == 24.0


def test_tiny_means_the_installed_keyvid_model_else_random_weights(keyframe_run, monkeypatch, caplog):
    import asva.pipelines.keyvid as keyvid_pipeline

    _, folder = keyframe_run
    trained, _ = load_keyvid_model(folder)
    monkeypatch.setattr(keyvid_pipeline, "bundled_keyvid_folder", lambda: folder)
    pipe = keyvid_pipeline.KeyframePipeline.from_model("tiny")
    assert all(torch.equal(a, b) for a, b in zip(pipe.model.state_dict().values(),
                                                 trained.state_dict().values(), strict=True))
    monkeypatch.setattr(keyvid_pipeline, "bundled_keyvid_folder", lambda: None)
    with caplog.at_level("WARNING"):
        keyvid_pipeline.KeyframePipeline.from_model("tiny")
    assert "not trained yet" in caplog.text and "RANDOM" in caplog.text


def test_keyframe_stage_starts_from_trained_imagebind_weights(init_folder, tmp_path):
    # An audio-encoder file (asva.audio.pretrain writes one) gives the KeyVID audio encoder its
    # ImageBind weights; they stay frozen and travel with the exported folder.
    from dataclasses import asdict

    from asva.audio.taps import AudioFeatureExtractor
    from asva.checkpoints.folder import save_part
    from asva.checkpoints.keyvid import load_keyvid_model

    torch.manual_seed(321)
    trained = AudioFeatureExtractor(PRESET.audio)
    path = save_part(trained, tmp_path / "enc.safetensors",
                     {"part": "audio_encoders", "audio_config": asdict(PRESET.audio)})
    folder = train(_config(tmp_path / "run", "keyframe", init_folder, max_steps=1, audio_weights=str(path)),
                   KeyframeClips(SwingingBoxes()), show_progress=False)
    model, _ = load_keyvid_model(folder)
    want = trained.encoders["imagebind"].state_dict()
    for key, value in model.audio_encoder.state_dict().items():
        assert torch.equal(value, want[key]), key
    with pytest.raises(ValueError, match="KeyVID folder"):  # a KeyVID folder keeps its own encoder
        train(_config(tmp_path / "again", "keyframe", folder, max_steps=1, audio_weights=str(path)),
              KeyframeClips(SwingingBoxes()), show_progress=False)
    with pytest.raises(ValueError, match="'pretrain' and 'keyframe' only"):
        _config(tmp_path / "bad", "interpolate", init_folder, audio_weights=str(path))
