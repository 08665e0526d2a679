"""Meta-device layouts of the full-size encoders against the official listings (../shared/spec)."""

from __future__ import annotations

import pytest
import torch

from asva.audio.beats import BEATs
from asva.audio.imagebind import ImageBindAudioEncoder
from tests.conftest import read_spec, spec_total

# BEATs' shared relative-position table appears under all 12 layers in the listing (and the file).
UNIQUE_PARAMS = {"imagebind_audio": 86_235_648, "beats": 90_311_792}


@pytest.mark.parametrize(("cls", "spec"), [(ImageBindAudioEncoder, "imagebind_audio"), (BEATs, "beats")])
def test_meta_layout_equals_listing(cls, spec):
    expected = list(read_spec(spec).items())
    with torch.device("meta"):
        model = cls()
    state = model.state_dict()
    got = [(key, tuple(value.shape)) for key, value in state.items()]
    assert [k for k, _ in got if k not in dict(expected)] == [], "unexpected keys"
    assert [k for k, _ in expected if k not in dict(got)] == [], "missing keys"
    assert got == expected, "same keys and shapes, in state-dict order"
    buffers = {name for name, _ in model.named_buffers()}
    assert sum(v.numel() for k, v in state.items() if k not in buffers) == spec_total(spec)
    assert sum(p.numel() for p in model.parameters()) == UNIQUE_PARAMS[spec]


def test_beats_relative_bias_is_one_shared_table():
    with torch.device("meta"):
        model = BEATs()
    tables = {id(layer.self_attn.relative_attention_bias.weight) for layer in model.layers}
    assert len(tables) == 1
