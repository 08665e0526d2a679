"""Loading ImageBind-style and BEATs-style files, written here at tiny size, strictly."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch

from asva.audio.beats import BEATs
from asva.audio.config import AUDIO_FEATURES_TINY, BEATS_TINY, IMAGEBIND_TINY
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.checkpoints.audio import load_audio_features, load_beats, load_imagebind_audio, save_beats
from asva.checkpoints.official import CheckpointError, KeyMismatchError


@pytest.fixture(scope="module")
def imagebind_model() -> ImageBindAudioEncoder:
    torch.manual_seed(0)
    return ImageBindAudioEncoder(IMAGEBIND_TINY).eval()


@pytest.fixture(scope="module")
def beats_model() -> BEATs:
    torch.manual_seed(0)
    return BEATs(BEATS_TINY).eval()


def _imagebind_file(path, model, edit=None):
    state = dict(model.state_dict())
    # Other modalities of imagebind_huge.pth, which the audio loader must skip.
    state["modality_trunks.vision.blocks.0.attn.in_proj_weight"] = torch.zeros(6, 2)
    state["modality_preprocessors.text.mask"] = torch.zeros(4, 4)
    state["modality_postprocessors.depth.1.log_logit_scale"] = torch.zeros(())
    if edit:
        edit(state)
    torch.save(state, path)
    return path


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)


def test_imagebind_file_loads_and_logs_ignored_keys(tmp_path, imagebind_model, caplog):
    path = _imagebind_file(tmp_path / "imagebind_huge.pth", imagebind_model)
    with caplog.at_level(logging.INFO, logger="asva"):
        loaded = load_imagebind_audio(path, IMAGEBIND_TINY)
    _same(loaded, imagebind_model)
    lines = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(lines) == 1 and "ignored 3 entries" in lines[0] and str(path) in lines[0]
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    mel = torch.randn(1, 1, 128, 204)
    torch.testing.assert_close(loaded(mel), imagebind_model(mel))


@pytest.mark.parametrize(("edit", "kind", "key"), [
    (lambda s: s.pop("modality_trunks.audio.blocks.1.norm_2.bias"), "missing",
     "modality_trunks.audio.blocks.1.norm_2.bias"),
    (lambda s: s.__setitem__("modality_trunks.audio.blocks.9.norm_2.bias", torch.zeros(32)), "unexpected",
     "modality_trunks.audio.blocks.9.norm_2.bias"),
    (lambda s: s.__setitem__("modality_preprocessors.audio.cls_token", torch.zeros(1, 1, 8)), "wrong shape",
     "modality_preprocessors.audio.cls_token"),
])
def test_imagebind_mismatches_name_keys_and_file(tmp_path, imagebind_model, edit, kind, key):
    path = _imagebind_file(tmp_path / "ib.pth", imagebind_model, edit)
    with pytest.raises(KeyMismatchError) as info:
        load_imagebind_audio(path, IMAGEBIND_TINY)
    message = str(info.value)
    assert str(path) in message and key in message and kind in message
    assert message.count(" key(s)") == 1  # only the one kind of problem is reported


def test_imagebind_file_without_audio_is_rejected(tmp_path):
    path = tmp_path / "vision_only.pth"
    torch.save({"modality_trunks.vision.blocks.0.attn.in_proj_weight": torch.zeros(6, 2)}, path)
    with pytest.raises(CheckpointError, match="no audio entries"):
        load_imagebind_audio(path, IMAGEBIND_TINY)


def test_beats_file_round_trips(tmp_path, beats_model):
    path = save_beats(beats_model, tmp_path / "BEATs_tiny.pt")
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {"cfg", "model"}
    shared = [k for k in ckpt["model"] if k.endswith("relative_attention_bias.weight")]
    assert len(shared) == BEATS_TINY.encoder_layers  # written under every layer, as the reference does
    for loaded in (load_beats(path), load_beats(path, BEATS_TINY)):
        _same(loaded, beats_model)
        assert loaded.config == BEATS_TINY
        tables = {id(layer.self_attn.relative_attention_bias.weight) for layer in loaded.layers}
        assert len(tables) == 1
    mel = torch.randn(1, 198, 128)
    torch.testing.assert_close(load_beats(path)(mel), beats_model(mel))


def _beats_file(path, model, cfg_edit=None, state_edit=None):
    cfg = {k: v for k, v in dataclasses.asdict(model.config).items()
           if k not in ("num_mel_bins", "fbank_mean", "fbank_std")}
    cfg.update({"dropout": 0.0, "layer_wise_gradient_decay_ratio": 0.6, "encoder_layerdrop": 0.05})
    state = dict(model.state_dict())
    if cfg_edit:
        cfg_edit(cfg)
    if state_edit:
        state_edit(state)
    torch.save({"cfg": cfg, "model": state}, path)
    return path


def test_beats_architecture_mismatch_is_named(tmp_path, beats_model):
    path = _beats_file(tmp_path / "b.pt", beats_model, cfg_edit=lambda c: c.update(encoder_layers=6))
    with pytest.raises(CheckpointError, match=r"encoder_layers \(file 6, expected 4\)"):
        load_beats(path, BEATS_TINY)


def test_beats_cfg_without_a_field_takes_the_reference_default(tmp_path, beats_model):
    # BEATs.py defaults deep_norm to False: a cfg that omits it describes a different network.
    path = _beats_file(tmp_path / "b.pt", beats_model, cfg_edit=lambda c: c.pop("deep_norm"))
    with pytest.raises(CheckpointError, match=r"deep_norm \(file False, expected True\)"):
        load_beats(path, BEATS_TINY)


@pytest.mark.parametrize(("edit", "kind", "key"), [
    (lambda s: s.pop("encoder.pos_conv.0.weight_g"), "missing", "encoder.pos_conv.0.weight_g"),
    (lambda s: s.__setitem__("predictor.weight", torch.zeros(527, 32)), "unexpected", "predictor.weight"),
    (lambda s: s.__setitem__("encoder.layers.0.fc1.bias", torch.zeros(3)), "wrong shape",
     "encoder.layers.0.fc1.bias"),
])
def test_beats_key_mismatches(tmp_path, beats_model, edit, kind, key):
    path = _beats_file(tmp_path / "b.pt", beats_model, state_edit=edit)
    with pytest.raises(KeyMismatchError) as info:
        load_beats(path, BEATS_TINY)
    assert str(path) in str(info.value) and key in str(info.value) and kind in str(info.value)


def test_beats_diverging_shared_copies_are_rejected(tmp_path, beats_model):
    key = "encoder.layers.2.self_attn.relative_attention_bias.weight"
    path = _beats_file(tmp_path / "b.pt", beats_model,
                       state_edit=lambda s: s.__setitem__(key, s[key] + 1.0))
    with pytest.raises(CheckpointError, match=r"layers \[2\] differ from layer 0"):
        load_beats(path, BEATS_TINY)


def test_beats_wrong_container_is_rejected(tmp_path, beats_model):
    path = tmp_path / "flat.pt"
    torch.save(beats_model.state_dict(), path)
    with pytest.raises(CheckpointError, match="expected a BEATs file"):
        load_beats(path)


def test_feature_extractor_from_files(tmp_path, imagebind_model, beats_model):
    ib = _imagebind_file(tmp_path / "ib.pth", imagebind_model)
    bt = save_beats(beats_model, tmp_path / "bt.pt")
    extractor = load_audio_features(AUDIO_FEATURES_TINY, imagebind=ib, beats=bt)
    _same(extractor.encoders["imagebind"], imagebind_model)
    _same(extractor.encoders["beats"], beats_model)
    with pytest.raises(ValueError, match="no checkpoint path given for encoder"):
        load_audio_features(AUDIO_FEATURES_TINY, imagebind=ib)
