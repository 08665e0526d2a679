"""`asva compare`: paired differences of two evaluated rows, with a seeded bootstrap interval."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from asva.cli import app
from asva.metrics.compare import paired_comparison


def _result(path, values):
    per_clip = {f"{c}/{c}_0000_clip-{i}": {"oracle_offset_ms": v} for (c, i), v in values.items()}
    path.write_text(json.dumps({"per_clip": per_clip}))
    return path


def test_a_clearly_better_row_is_significant(tmp_path):
    keys = [(c, i) for c in ("drum", "ball") for i in range(3)]
    a = _result(tmp_path / "a.json", {k: 50.0 + n for n, k in enumerate(keys)})
    b = _result(tmp_path / "b.json", {k: 90.0 + 2 * n for n, k in enumerate(keys)})
    c = paired_comparison(a, b)
    assert c.clips == 6 and c.mean_diff == pytest.approx(-40 - 2.5)
    assert c.ci_high < 0 and c.significant and (c.a_lower, c.b_lower, c.ties) == (6, 0, 0)
    assert c.per_class["ball"] == (pytest.approx(54.0), pytest.approx(98.0))
    assert paired_comparison(a, b) == c  # seeded: the same interval every time


def test_noise_is_not_significant_and_unscored_clips_are_left_out(tmp_path):
    keys = [("drum", i) for i in range(6)]
    a = _result(tmp_path / "a.json", dict(zip(keys, [10, 90, 20, 80, 30, 70], strict=True)))
    values = dict(zip(keys, [90, 10, 80, 20, 70, 30], strict=True))
    values[("drum", 5)] = None
    b = _result(tmp_path / "b.json", values)
    c = paired_comparison(a, b)
    assert c.clips == 5 and not c.significant and c.ci_low < 0 < c.ci_high


def test_command_and_bad_input(tmp_path):
    a = _result(tmp_path / "a.json", {("drum", 0): 10.0, ("drum", 1): 20.0})
    b = _result(tmp_path / "b.json", {("drum", 0): 30.0, ("drum", 1): 50.0})
    out = CliRunner().invoke(app, ["compare", str(a), str(b), "--names", "mine,theirs"])
    assert out.exit_code == 0 and "mine 15.0, theirs 40.0 over 2 paired clips" in out.output
    other = _result(tmp_path / "c.json", {("ball", 0): 1.0, ("ball", 1): 2.0})
    out = CliRunner().invoke(app, ["compare", str(a), str(other)])
    assert out.exit_code != 0 and "share 0 scored clips" in _flat(out.output)
    out = CliRunner().invoke(app, ["compare", str(a), str(b), "--metric", "relsync"])
    assert out.exit_code != 0 and "no per-clip values of 'relsync'" in _flat(out.output)


def _flat(text: str) -> str:
    """The error text without the box rich draws around it."""
    return re.sub(r"[│╭╮╰╯─\s]+", " ", text)
