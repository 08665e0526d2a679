"""Preset overrides: what a model folder or a research run may change, and nothing else."""

from __future__ import annotations

import pytest

from asva.presets import get_preset, preset_overrides, with_overrides


def test_overrides_round_trip():
    tiny = get_preset("tiny")
    assert with_overrides(tiny, None) is tiny and preset_overrides(tiny) == {}
    changed = with_overrides(tiny, {"adapters": {"window": 0.5}, "audio": {"encoders": ["imagebind"],
                                                                           "layers": [3]}})
    assert changed.adapters.window == 0.5 and changed.audio.layers == (3,)
    assert changed.backbone == tiny.backbone
    assert with_overrides(tiny, preset_overrides(changed)) == changed


@pytest.mark.parametrize(("overrides", "match"), [
    ({"unet": {"model_channels": 8}}, "section 'unet'"),
    ({"adapters": {"head_channels": 8}}, r"unknown field\(s\) \['head_channels'\]"),
    ({"audio": {"layers": [7]}}, "out of range"),
    ({"adapters": {"window": -1.0}}, "positive"),
    ({"audio": "imagebind"}, "must be a mapping"),
])
def test_bad_overrides_are_named(overrides, match):
    with pytest.raises(ValueError, match=match):
        with_overrides(get_preset("tiny"), overrides)
