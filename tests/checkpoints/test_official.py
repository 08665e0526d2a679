"""Official-format checkpoints: round trip and the three kinds of mismatch, each with its own error."""

from __future__ import annotations

import pytest
import torch

from asva.checkpoints.backbone import load_backbone
from asva.checkpoints.official import (
    PREFIXES,
    CheckpointError,
    KeyMismatchError,
    official_state_dict,
    read_state_dict,
    save_official_checkpoint,
)
from asva.diffusion.schedule import NoiseSchedule
from asva.presets import get_preset


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, tiny_backbone):
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    buffers = NoiseSchedule(get_preset("tiny").schedule).official_buffers()
    return save_official_checkpoint(tiny_backbone, path, buffers)


def _edit(path, tmp_path, change):
    state = torch.load(path, weights_only=True)["state_dict"]
    change(state)
    out = tmp_path / "edited.ckpt"
    torch.save({"state_dict": state}, out)
    return out


def test_official_keys_carry_the_official_prefixes(tiny_backbone):
    keys = official_state_dict(tiny_backbone).keys()
    assert {k.split(".")[0] + "." for k in keys} == {p.split(".")[0] + "." for p in PREFIXES.values()}
    assert "model.diffusion_model.time_embed.0.weight" in keys
    assert "first_stage_model.encoder.conv_in.weight" in keys


def test_round_trip_restores_every_tensor(tiny_ckpt, tiny_backbone):
    loaded = load_backbone("tiny", tiny_ckpt, seed=123)  # another seed: weights must come from the file
    ours, theirs = official_state_dict(tiny_backbone), official_state_dict(loaded)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


def test_missing_key_is_named(tiny_ckpt, tmp_path):
    key = "model.diffusion_model.out.2.weight"
    bad = _edit(tiny_ckpt, tmp_path, lambda s: s.pop(key))
    with pytest.raises(KeyMismatchError, match="1 missing key") as info:
        load_backbone("tiny", bad)
    assert info.value.missing == [key] and not info.value.unexpected and not info.value.wrong_shape
    assert str(bad) in str(info.value)


def test_extra_key_is_named(tiny_ckpt, tmp_path):
    key = "model.diffusion_model.not_a_layer.weight"
    bad = _edit(tiny_ckpt, tmp_path, lambda s: s.__setitem__(key, torch.zeros(1)))
    with pytest.raises(KeyMismatchError, match="1 unexpected key") as info:
        load_backbone("tiny", bad)
    assert info.value.unexpected == [key] and not info.value.missing


def test_unknown_top_level_key_is_unexpected(tiny_ckpt, tmp_path):
    bad = _edit(tiny_ckpt, tmp_path, lambda s: s.__setitem__("ema.decay", torch.zeros(())))
    with pytest.raises(KeyMismatchError) as info:
        load_backbone("tiny", bad)
    assert info.value.unexpected == ["ema.decay"]


def test_wrong_shape_is_named_with_both_shapes(tiny_ckpt, tmp_path):
    key = "image_proj_model.proj_in.weight"

    def change(state):
        state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1])

    bad = _edit(tiny_ckpt, tmp_path, change)
    with pytest.raises(KeyMismatchError, match="wrong shape") as info:
        load_backbone("tiny", bad)
    [(name, got, want)] = info.value.wrong_shape
    assert name == key and got[0] == want[0] + 1


def test_failed_load_changes_nothing(tiny_ckpt, tmp_path):
    model = load_backbone("tiny", seed=5)
    before = {k: v.clone() for k, v in official_state_dict(model).items()}
    bad = _edit(tiny_ckpt, tmp_path, lambda s: s.pop("cond_stage_model.model.ln_final.weight"))
    from asva.checkpoints.official import load_official_state_dict

    with pytest.raises(KeyMismatchError):
        load_official_state_dict(model, read_state_dict(bad), str(bad))
    after = official_state_dict(model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_old_framestride_name_is_accepted(tiny_ckpt, tmp_path):
    def rename(state):
        for key in [k for k in state if ".fps_embedding." in k]:
            state[key.replace("fps_embedding", "framestride_embed")] = state.pop(key)

    load_backbone("tiny", _edit(tiny_ckpt, tmp_path, rename))


def test_deepspeed_container_is_accepted(tiny_ckpt, tmp_path):
    state = torch.load(tiny_ckpt, weights_only=True)["state_dict"]
    path = tmp_path / "ds.ckpt"
    torch.save({"module": {"_forward_module." + k: v for k, v in state.items()}}, path)
    load_backbone("tiny", path)


def test_schedule_of_another_preset_is_refused(tiny_ckpt, tmp_path):
    other = NoiseSchedule(get_preset("dynamicrafter-512").schedule).official_buffers()
    bad = _edit(tiny_ckpt, tmp_path, lambda s: s.update({"betas": other["betas"]}))
    with pytest.raises(CheckpointError, match="noise schedule"):
        load_backbone("tiny", bad)


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.ckpt"):
        read_state_dict(tmp_path / "nope.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.ckpt"):
        read_state_dict(junk)
    notdict = tmp_path / "list.pt"
    torch.save([1, 2, 3], notdict)
    with pytest.raises(CheckpointError, match="expected a state dict"):
        read_state_dict(notdict)


def test_pickled_code_is_never_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(CheckpointError):
        read_state_dict(path)
