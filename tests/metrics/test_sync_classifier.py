"""The sync classifier: official layout, strict loading of the released folder format, our format."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from asva.checkpoints.official import KeyMismatchError
from asva.metrics.sync_checkpoint import (
    PARTS,
    load_official_sync_classifier,
    load_sync_classifier,
    save_sync_classifier,
    shipped_sync_classifier_dir,
)
from asva.metrics.sync_classifier import SYNC_PRESETS, SyncClassifier, SyncClassifierConfig
from tests.conftest import read_spec, spec_total

SPEC = "asva_avsync_classifier"


def test_full_size_layout_matches_spec() -> None:
    spec = read_spec(SPEC)
    with torch.device("meta"):
        model = SyncClassifier(SYNC_PRESETS["asva"])
    ours = {f"{part}.{k}": tuple(v.shape)
            for part in PARTS for k, v in getattr(model, part).state_dict().items()}
    assert ours == spec
    assert sum(p.numel() for p in model.parameters()) == spec_total(SPEC)


def _write_released(model: SyncClassifier, folder: Path) -> None:
    """Random weights in the released layout: three diffusers folders with a .bin each."""
    for part in PARTS:
        (folder / part).mkdir(parents=True)
        torch.save(getattr(model, part).state_dict(), folder / part / "diffusion_pytorch_model.bin")
        (folder / part / "config.json").write_text('{"_class_name": "x"}')


def _randomise(model: SyncClassifier) -> SyncClassifier:
    torch.manual_seed(0)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if "running" in name:
                buf.uniform_(0.5, 1.5)
    return model.eval()


def test_released_folders_load_strictly(tmp_path: Path) -> None:
    cfg = SYNC_PRESETS["synthav-small"]  # same code paths and key names as the full size, smaller
    src = _randomise(SyncClassifier(cfg))
    _write_released(src, tmp_path / "modules")
    loaded = load_official_sync_classifier(tmp_path / "modules", cfg)
    mel, video = torch.randn(2, 1, 128, 204), torch.rand(2, 3, 12, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(mel, video), src(mel, video))
    # load_sync_classifier recognises the released layout by its folders
    assert not any(p.requires_grad for p in loaded.parameters())


def test_released_folder_key_error_names_key(tmp_path: Path) -> None:
    cfg = SYNC_PRESETS["synthav-small"]
    src = SyncClassifier(cfg)
    _write_released(src, tmp_path)
    state = torch.load(tmp_path / "head" / "diffusion_pytorch_model.bin", weights_only=True)
    state["fc.9.weight"] = state.pop("fc.6.weight")
    torch.save(state, tmp_path / "head" / "diffusion_pytorch_model.bin")
    with pytest.raises(KeyMismatchError, match=r"fc\.6\.weight") as err:
        load_official_sync_classifier(tmp_path, cfg)
    assert "fc.9.weight" in str(err.value) and "diffusion_pytorch_model.bin" in str(err.value)


def test_our_format_round_trip(tmp_path: Path) -> None:
    cfg = SyncClassifierConfig(audio_widths=(4, 4, 8, 8, 8), video_widths=(4, 4, 8, 8, 8), head_dim=8,
                               video_size=32)
    src = _randomise(SyncClassifier(cfg))
    save_sync_classifier(src, tmp_path, {"note": "test"})
    loaded = load_sync_classifier(tmp_path)
    assert loaded.config == cfg
    mel, video = torch.randn(1, 1, 128, 204), torch.rand(1, 3, 12, 40, 40) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(mel, video), src(mel, video))


def test_shipped_classifier_loads_and_is_small() -> None:
    folder = shipped_sync_classifier_dir()
    if not (folder / "sync_classifier.safetensors").is_file():
        pytest.skip("shipped classifier not trained yet")
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10 * 2**20
    model = load_sync_classifier()
    assert model.config == SYNC_PRESETS["synthav-small"]
    with torch.no_grad():
        assert model(torch.randn(1, 1, 128, 204), torch.zeros(1, 3, 12, 256, 256)).shape == (1,)


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="head_dim"):
        SyncClassifierConfig(head_dim=256)


def test_time_bins_and_strides_keep_the_key_layout() -> None:
    """Keeping time changes no key, only the head's input width; one bin is the global mean."""
    flat = SyncClassifierConfig(audio_widths=(4, 4, 8, 8, 8), video_widths=(4, 4, 8, 8, 8), head_dim=8,
                                video_size=32)
    timed = dataclasses.replace(flat, video_time_strides=(1, 1, 1), time_bins=12)
    a, b = SyncClassifier(flat).state_dict(), SyncClassifier(timed).state_dict()
    assert a.keys() == b.keys()
    assert [k for k in a if a[k].shape != b[k].shape] == ["head.fc.0.weight"]
    assert b["head.fc.0.weight"].shape == (8, 2 * 8 * 12)
    model = _randomise(SyncClassifier(timed))
    mel, video = torch.randn(2, 1, 128, 204), torch.rand(2, 3, 12, 32, 32) * 2 - 1
    with torch.no_grad():
        audio, vid = model.embed(mel, video)  # (2, 8·12) each, channel-major
        assert audio.shape == vid.shape == (2, 96)
        encoder = model.audio_encoder
        x = encoder.block4(encoder.block3(encoder.block2(encoder.block1(encoder.conv1(mel)))))
        encoder.time_bins = 1
        assert torch.allclose(encoder(mel), x.mean(dim=(2, 3)), atol=1e-6)
