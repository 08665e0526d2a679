"""`asva serve`: options reach the store and the server; bad limits fail before the model loads."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from asva.cli import app
from asva.web import PipelineStore

pytest.importorskip("gradio")


@pytest.fixture
def launched(monkeypatch):
    """Record what `asva serve` would load and launch instead of doing it."""
    import asva.web.app as web_app

    seen: dict = {}
    monkeypatch.setattr(
        PipelineStore,
        "load",
        classmethod(lambda cls, model, device: seen.update(model=model, device=device) or "store"),
    )
    monkeypatch.setattr(
        web_app, "build_app", lambda store, limits: seen.update(store=store, limits=limits) or "page"
    )
    monkeypatch.setattr(
        web_app, "launch", lambda page, limits, host, port: seen.update(page=page, host=host, port=port)
    )
    return seen


def test_defaults_bind_localhost(launched):
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert launched["host"] == "127.0.0.1" and launched["port"] == 7860
    assert launched["model"] == "tiny" and launched["device"] == "cpu" and launched["page"] == "page"
    assert launched["limits"].max_upload_mb == 20 and launched["limits"].max_audio_s == 30


def test_options_are_passed_on(launched):
    args = ["serve", "--host", "0.0.0.0", "--port", "8080", "--model", "models/x", "--max-upload-mb", "5"]
    result = CliRunner().invoke(app, [*args, "--max-audio-s", "12", "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert (launched["host"], launched["port"], launched["model"], launched["device"]) == (
        "0.0.0.0",
        8080,
        "models/x",
        "cuda",
    )
    assert launched["limits"].max_upload_bytes == 5 * 2**20 and launched["limits"].max_audio_s == 12


def test_bad_limit_fails_before_the_model_loads(launched):
    result = CliRunner().invoke(app, ["serve", "--max-audio-s", "0"])
    assert isinstance(result.exception, ValueError) and "max_audio_s must be a number > 0" in str(
        result.exception
    )
    assert "model" not in launched
