"""`asva inspect layout` against the official listings in ../shared/spec (same keys, same shapes)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from asva.checkpoints.layout import build_on_meta, component_layout
from asva.cli import app
from asva.presets import get_preset
from tests.conftest import read_spec, spec_total

CASES = [
    ("dynamicrafter-256", "unet", "dynamicrafter256_unet"),
    ("dynamicrafter-512", "unet", "dynamicrafter512_unet"),
    ("dynamicrafter-256", "vae", "dynamicrafter_vae"),
    ("dynamicrafter-256", "text", "openclip_vith14_text"),
    ("dynamicrafter-256", "image", "openclip_vith14_visual"),
    ("dynamicrafter-256", "resampler", "dynamicrafter_image_proj"),
    ("dynamicrafter-512", "resampler", "dynamicrafter_image_proj"),
    ("dynamicrafter-256", "imagebind-audio", "imagebind_audio"),
    ("dynamicrafter-256", "beats", "beats"),
]


@pytest.mark.parametrize(("preset", "component", "spec"), CASES)
def test_layout_equals_official_listing(preset, component, spec):
    expected = read_spec(spec)
    got = dict(component_layout(get_preset(preset), component))
    assert sorted(set(expected) - set(got)) == [], "missing keys"
    assert sorted(set(got) - set(expected)) == [], "unexpected keys"
    assert {k: v for k, v in got.items() if v != expected[k]} == {}, "wrong shapes"
    # The listings' header totals count parameters (not buffers), shared ones once per key.
    module = build_on_meta(get_preset(preset), component)
    assert sum(p.numel() for _, p in module.named_parameters(remove_duplicate=False)) == spec_total(spec)


def test_cli_prints_key_tab_shape_lines():
    result = CliRunner().invoke(
        app, ["inspect", "layout", "--preset", "dynamicrafter-256", "--component", "resampler"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split("\t")[0] and all(line.count("\t") == 1 for line in lines)
    expected = read_spec("dynamicrafter_image_proj")
    parsed = {
        k: tuple(int(n) for n in s.strip("[]").split(",") if n) for k, s in (ln.split("\t") for ln in lines)
    }
    assert parsed == expected


def test_cli_unknown_component_is_a_clear_error():
    result = CliRunner().invoke(app, ["inspect", "layout", "--preset", "tiny", "--component", "nope"])
    assert result.exit_code != 0
    assert "unknown component 'nope'" in str(result.exception)
