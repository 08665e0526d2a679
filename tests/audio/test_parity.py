"""Our encoders against the reference implementations (golden files, tiny sizes, random weights).

The goldens hold `{config, state_dict, inputs, outputs}` made by tests/fixtures/audio_make_golden.py
from the reference ImageBind and BEATs code; see tests/fixtures/README_audio.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asva.audio.beats import BEATs
from asva.audio.config import BEATS_TINY, IMAGEBIND_TINY, BEATsConfig, ImageBindAudioConfig
from asva.audio.imagebind import ImageBindAudioEncoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOL = 1e-4


def _rel(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours - ref).norm() / ref.norm())


def _golden(name: str) -> dict:
    return torch.load(FIXTURES / f"audio_{name}_tiny_golden.pt", weights_only=True)


def test_imagebind_matches_reference():
    golden = _golden("imagebind")
    config = ImageBindAudioConfig(**golden["config"])
    assert config == IMAGEBIND_TINY
    model = ImageBindAudioEncoder(config).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    mel = golden["inputs"]["mel"]  # (B, 1, 128, 204)
    with torch.no_grad():
        hidden = model.hidden_states(mel)
        embedding = model(mel)
    ref = golden["outputs"]["hidden_states"]  # (L, B, 229, D)
    assert ref.shape == (config.num_blocks, 2, 229, config.embed_dim)
    for i in range(config.num_blocks):
        assert _rel(hidden[i], ref[i]) < TOL, f"block {i}"
    assert _rel(embedding, golden["outputs"]["embedding"]) < TOL


def test_beats_matches_reference():
    golden = _golden("beats")
    config = BEATsConfig(**golden["config"])
    assert config == BEATS_TINY
    model = BEATs(config).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    mel = golden["inputs"]["mel"]  # (B, 198, 128)
    with torch.no_grad():
        hidden = model.hidden_states(mel)
        last = model(mel)
    ref = golden["outputs"]["hidden_states"]  # (L, B, 96, D)
    assert ref.shape == (config.encoder_layers, 2, 96, config.encoder_embed_dim)
    for i in range(config.encoder_layers):
        assert _rel(hidden[i], ref[i]) < TOL, f"layer {i}"
    assert _rel(last, golden["outputs"]["last"]) < TOL


@pytest.mark.parametrize("name", ["imagebind", "beats"])
def test_taps_stop_early_but_agree(name):
    golden = _golden(name)
    if name == "imagebind":
        model = ImageBindAudioEncoder(ImageBindAudioConfig(**golden["config"])).eval()
    else:
        model = BEATs(BEATsConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    with torch.no_grad():
        some = model.hidden_states(golden["inputs"]["mel"], (1,))
    assert list(some) == [1]
    assert _rel(some[1], golden["outputs"]["hidden_states"][1]) < TOL
