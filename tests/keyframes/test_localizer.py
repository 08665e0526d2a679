"""The keyframe localizer: shapes, the resized position table, loading ImageBind, training, the metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from asva.audio.config import IMAGEBIND_TINY
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.checkpoints.official import CheckpointError, KeyMismatchError
from asva.keyframes.localizer import (
    LOCALIZER_PRESETS,
    KeyframeLocalizer,
    LocalizerConfig,
    bundled_localizer,
    interpolate_pos_embed,
    load_localizer,
    localizer_from_imagebind,
    save_localizer,
)
from asva.keyframes.localizer_eval import centred_uniform, peak_recall, score_curves, smoothed_peaks
from asva.keyframes.localizer_training import (
    LocalizerClip,
    LocalizerTrainConfig,
    localizer_loss,
    motion_target,
    train_localizer,
)
from asva.keyframes.selection import KeyframeSelection

TINY = LOCALIZER_PRESETS["tiny"]


@pytest.fixture(scope="module")
def tiny() -> KeyframeLocalizer:
    torch.manual_seed(0)
    return KeyframeLocalizer(TINY).eval()


def test_full_preset_is_keyvids_geometry():
    full = LOCALIZER_PRESETS["full"]
    assert full.grid == (29, 46) and full.num_tokens == 1334 and full.mel_frames == 198
    assert full.clip_samples == 32000 and full.encoder.grid == (12, 19) and full.encoder.embed_dim == 768
    with torch.device("meta"):
        model = KeyframeLocalizer(full)
    assert model.to_slots.weight.shape == (48, 1334) and model.slot_mix.weight.shape == (48, 16 * 48)
    assert model.preprocessor.rgbt_stem.proj.stride == (4, 4)


def test_shapes_predict_and_keyframes(tiny):
    audio = torch.randn(32000) * 0.1
    assert tiny.mel(audio[None]).shape == (1, 1, 128, 198)
    # (S,) and (B, S); a longer clip counts only its first 2 s, a shorter one is padded
    long = torch.cat([audio, torch.randn(16000)])
    both = tiny.predict(np.stack([audio.numpy(), long[16000:].numpy()]))
    assert both.shape == (2, 48)
    torch.testing.assert_close(tiny.predict(long), both[:1])
    assert tiny.predict(audio[:8000]).shape == (1, 48)
    sel = tiny.keyframes(audio, num_keyframes=12, seed=0)
    assert isinstance(sel, KeyframeSelection) and len(sel.indices) == 12
    with pytest.raises(ValueError, match="one clip"):
        tiny.keyframes(torch.zeros(2, 32000))


def test_pos_embed_interpolation():
    table = torch.randn(1, 1 + 12 * 19, 8)
    same = interpolate_pos_embed(table, (12, 19), (12, 19), source_cls=True, target_cls=True)
    torch.testing.assert_close(same, table)  # bilinear onto the same grid is the identity
    resized = interpolate_pos_embed(table, (12, 19), (8, 46))
    assert resized.shape == (1, 8 * 46, 8)
    grid = table[:, 1:].reshape(1, 12, 19, 8).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(8, 46), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    torch.testing.assert_close(resized, want.reshape(1, 8 * 46, 8))
    kept = interpolate_pos_embed(table, (12, 19), (8, 46), target_cls=True)
    torch.testing.assert_close(kept[:, :1], table[:, :1])
    # a table that only varies along time stays constant along frequency after resizing
    ramp = torch.arange(19.0).repeat(12)[None, :, None]  # (1, 228, 1), freq-major
    out = interpolate_pos_embed(ramp, (12, 19), (29, 46), source_cls=False).reshape(29, 46)
    assert torch.allclose(out, out[:1].expand(29, 46)) and bool((out[0].diff() >= 0).all())
    with pytest.raises(ValueError, match="patch rows"):
        interpolate_pos_embed(table, (12, 18), (8, 46))


def _imagebind_file(path, model):
    state = dict(model.state_dict())
    state["modality_trunks.vision.blocks.0.attn.in_proj_weight"] = torch.zeros(6, 2)  # another modality
    torch.save(state, path)
    return path


def test_loads_an_official_layout_imagebind(tmp_path):
    torch.manual_seed(1)
    source = ImageBindAudioEncoder(IMAGEBIND_TINY)
    path = _imagebind_file(tmp_path / "imagebind_huge.pth", source)
    model = localizer_from_imagebind(path, TINY)
    ours, theirs = model.state_dict(), source.state_dict()
    for i in range(IMAGEBIND_TINY.num_blocks):
        for name in ("attn.in_proj_weight", "attn.bias_k", "mlp.fc2.weight", "norm_1.bias"):
            torch.testing.assert_close(
                ours[f"blocks.{i}.{name}"], theirs[f"modality_trunks.audio.blocks.{i}.{name}"]
            )
    for name in ("rgbt_stem.proj.weight", "rgbt_stem.norm_layer.weight"):
        torch.testing.assert_close(
            ours[f"preprocessor.{name}"], theirs[f"modality_preprocessors.audio.{name}"]
        )
    want = interpolate_pos_embed(
        theirs["modality_preprocessors.audio.pos_embedding_helper.pos_embed"], (12, 19), TINY.grid
    )
    torch.testing.assert_close(ours["preprocessor.pos_embedding_helper.pos_embed"], want)
    assert "preprocessor.cls_token" not in ours  # KeyVID's localizer has no CLS
    with_cls = localizer_from_imagebind(
        path, LocalizerConfig(encoder=IMAGEBIND_TINY, stride=(16, 4), use_cls=True)
    )
    torch.testing.assert_close(
        with_cls.state_dict()["preprocessor.cls_token"], theirs["modality_preprocessors.audio.cls_token"]
    )
    assert model.predict(torch.randn(32000) * 0.1).shape == (1, 48)


def test_imagebind_of_another_size_is_refused(tmp_path):
    wider = ImageBindAudioEncoder(IMAGEBIND_TINY.__class__(embed_dim=48, num_blocks=4, num_heads=4))
    path = _imagebind_file(tmp_path / "wide.pth", wider)
    with pytest.raises(CheckpointError, match="pos_embed has shape"):
        localizer_from_imagebind(path, TINY)
    state = {
        k: v for k, v in ImageBindAudioEncoder(IMAGEBIND_TINY).state_dict().items() if "blocks.3." not in k
    }
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(KeyMismatchError, match=r"blocks\.3\."):
        localizer_from_imagebind(tmp_path / "short.pth", TINY)


def test_save_and_load_round_trip(tmp_path, tiny):
    save_localizer(tiny, tmp_path, {"note": "test"})
    loaded = load_localizer(tmp_path)
    audio = torch.randn(2, 32000) * 0.1
    torch.testing.assert_close(loaded.predict(audio), tiny.predict(audio))
    assert loaded.config == TINY and not loaded.training
    meta_path = tmp_path / "keyframe_localizer.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["hidden"] = 3
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="unknown localizer config keys"):
        load_localizer(tmp_path)


def test_bundled_localizer_loads_when_shipped():
    model = bundled_localizer()
    if model is None:
        pytest.skip("no localizer bundled yet")
    assert model.predict(torch.zeros(32000)).shape == (1, 48)


def test_motion_target_slices_drops_first_resamples_and_normalises():
    # 95 values for 4 s; the first 2 s of audio -> indices ceil(0) .. ceil(47.5) = 0..47, drop 0
    target = motion_target(np.arange(95, dtype=np.float32), 0, 32000, 64000)
    np.testing.assert_allclose(target, np.linspace(0, 1, 48), atol=1e-6)
    # the second half: ceil(32000 * 95 / 64000) = 48 .. 95, drop the first -> 49..94
    late = motion_target(np.arange(95, dtype=np.float32) ** 2, 32000, 32000, 64000)
    want = np.interp(np.linspace(0, 1, 48), np.linspace(0, 1, 46), np.arange(49, 95.0) ** 2)
    np.testing.assert_allclose(late, (want - want.min()) / (want.max() - want.min()), atol=1e-5)
    assert not motion_target(np.full(95, 2.0, dtype=np.float32), 0, 32000, 64000).any()


def test_loss_l1_and_energy_term():
    pred, target, energy = torch.zeros(2, 48), torch.ones(2, 48), torch.full((2, 48), 0.5)
    assert localizer_loss(pred, target).item() == pytest.approx(1.0)
    assert localizer_loss(pred, target, energy, "mse", 0.3).item() == pytest.approx(1.0 + 0.3 * 0.25)
    with pytest.raises(ValueError, match="energy"):
        localizer_loss(pred, target, None, "l1", 0.3)


def _click_clips(n: int) -> list[LocalizerClip]:
    """2 s clips of clicks whose motion curve peaks at each click (50 values at 24 FPS + 1)."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        times = np.sort(rng.uniform(0.2, 1.8, 3))
        audio = np.zeros(32000, np.float32)
        for t in times:
            s = int(t * 16000)
            audio[s : s + 400] = rng.normal(0, 0.5, 400) * np.exp(-np.arange(400) / 80)
        grid = (np.arange(48) + 0.5) / 24
        motion = sum(np.exp(-((grid - t) ** 2) / (2 * 0.04**2)) for t in times).astype(np.float32)
        clips.append(LocalizerClip(f"click/{i}.mp4", audio, motion))
    return clips


def test_a_few_training_steps_lower_the_loss_and_resume(tmp_path):
    clips = _click_clips(4)  # 2 s each: every window starts at 0, so each step sees the same batch
    summary = train_localizer("unused", tmp_path, LocalizerTrainConfig(epochs=6, batch_size=4), clips=clips)
    history = summary["loss_history"]
    assert len(history) == 6 and history[-1] < 0.8 * history[0]
    meta = json.loads((tmp_path / "keyframe_localizer.json").read_text())
    assert meta["epoch"] == 6 and meta["training"]["preset"] == "tiny"
    config = LocalizerTrainConfig(epochs=7, batch_size=4)
    longer = train_localizer("unused", tmp_path, config, clips=clips, resume=True)
    assert longer["epoch"] == 7 and len(longer["loss_history"]) == 1


def test_peak_recall_and_uniform_baseline_on_known_curves():
    assert peak_recall(np.array([10, 30]), np.array([11, 20, 32]), 1) == pytest.approx(1 / 3)
    assert peak_recall(np.array([10, 30]), np.array([11, 20, 32]), 2) == pytest.approx(2 / 3)
    assert peak_recall(np.array([], dtype=int), np.array([5]), 2) == 0.0
    assert peak_recall(np.array([5]), np.array([], dtype=int), 2) is None
    assert centred_uniform(48, 4).tolist() == [6, 18, 30, 42] and centred_uniform(48, 0).tolist() == []
    frames = np.arange(48)
    target = np.exp(-((frames - 15) ** 2) / 8) + np.exp(-((frames - 33) ** 2) / 8)
    assert smoothed_peaks(target, 0.1).tolist() == [15, 33]
    shifted = np.roll(target, 2)  # peaks at 17 and 35: found at ±2, not at ±1
    report = score_curves(np.stack([target, shifted]), np.stack([target, target]), np.stack([target, target]))
    assert report.recall["predicted_peaks"] == {1: 0.5, 2: 1.0}
    assert report.recall["keyframes_true_curve"][1] == 1.0
    assert report.frames_chosen["keyframes_uniform"] == 12 and report.clips_with_peaks == 2
    assert "predicted_peaks" in report.table()


def test_cli_trains_and_evaluates_on_a_small_synthav(tmp_path):
    from asva.cli import app
    from asva.synth import SynthConfig, generate_dataset

    data = tmp_path / "synthav"
    generate_dataset(
        data,
        SynthConfig(classes=("metronome",), videos_per_class=2, train_per_class=1, seconds=2.0, size=64),
        workers=1,
    )
    runner = CliRunner()
    out = tmp_path / "model"
    result = runner.invoke(
        app, ["keyframes", "train-localizer", "--data", str(data), "--out", str(out), "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "keyframe_localizer.safetensors").is_file()
    result = runner.invoke(
        app, ["keyframes", "evaluate-localizer", "--model", str(out), "--data", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["clips"] == 1 and set(report["recall"]["keyframes_uniform"]) == {"1", "2"}
    video = next((data / "videos" / "metronome").glob("*.mp4"))
    result = runner.invoke(app, ["keyframes", "select", str(video), "--model", str(out)])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(maxsplit=1) for line in result.output.splitlines() if line[:1].isalpha())
    assert len(lines["curve"].split()) == 48 and len(lines["keyframes"].split()) == 12
