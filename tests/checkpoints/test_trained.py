"""Our safetensors + JSON sidecar weights: a file made for another model is refused by name."""

from __future__ import annotations

import pytest
import torch

from asva.checkpoints.official import CheckpointError
from asva.checkpoints.trained import load_into, save_weights


def test_sidecar_mismatch_names_the_differing_field(tmp_path):
    layer = torch.nn.Linear(2, 2)
    path = save_weights(
        tmp_path / "w.safetensors",
        layer.state_dict(),
        {"part": "adapters", "config": {"window": 1.5, "sizes": [1, 2]}},
    )
    load_into(torch.nn.Linear(2, 2), path, {"part": "adapters", "config": {"window": 1.5, "sizes": (1, 2)}})
    with pytest.raises(CheckpointError, match=r"config\.sizes: file \[1, 2\], model \[1, 2, 2\]"):
        load_into(torch.nn.Linear(2, 2), path, {"config": {"window": 1.5, "sizes": [1, 2, 2]}})


def test_missing_sidecar_and_bad_files_are_refused(tmp_path):
    path = save_weights(tmp_path / "w.safetensors", torch.nn.Linear(2, 2).state_dict(), {"part": "x"})
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="no config sidecar"):
        load_into(torch.nn.Linear(2, 2), path, {})
    with pytest.raises(ValueError, match="safetensors"):
        save_weights(tmp_path / "w.pt", {}, {})


def test_a_model_folder_with_trained_weights_does_not_warn_random(tmp_path, caplog):
    from asva.checkpoints.backbone import load_backbone
    from asva.checkpoints.folder import load_model, write_model_folder
    from asva.presets import get_preset

    preset = get_preset("tiny")
    with caplog.at_level("WARNING"):
        backbone = load_backbone(preset)  # no weights at all: the warning is right
    assert "RANDOM weights" in caplog.text
    folder = write_model_folder(tmp_path / "model", preset, backbone)
    caplog.clear()
    with caplog.at_level("WARNING"):
        _, loaded, _ = load_model(folder)  # built, then the folder's backbone file loaded into it
    assert "RANDOM weights" not in caplog.text
    for (name, a), (_, b) in zip(backbone.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
