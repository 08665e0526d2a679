"""The web demo's request logic without a browser: uploads refused, outputs built, folders removed."""

from __future__ import annotations

import shutil
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from asva.cli import EXAMPLE_AUDIO, EXAMPLE_IMAGE, _asset
from asva.media import probe_video, write_wav
from asva.pipelines.animate import AnimationResult
from asva.presets import get_preset
from asva.web import (
    KEYFRAME_UNAVAILABLE,
    DemoSettings,
    ModeUnavailableError,
    PipelineStore,
    RequestError,
    ServeLimits,
    animate_request,
)
from asva.web.store import load_keyframe_pipeline

RATE = 16_000


class FakePipeline:
    """Stands in for AnimatePipeline: a square moving down at the requested FPS, the audio cut to fit."""

    preset = get_preset("tiny")

    def __init__(self, frames: int = 6, delay_s: float = 0.0) -> None:
        self.frames, self.delay_s = frames, delay_s
        self.calls: list[dict] = []
        self.active = 0
        self.most_active = 0

    def __call__(self, image, prompt="", *, audio=None, fps=None, steps=None, seed=0, progress=None, **kw):
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        self.calls.append({"image": image, "prompt": prompt, "fps": fps, "steps": steps, "seed": seed, **kw})
        fps = fps or self.preset.fps
        steps = steps or 2
        for i in range(steps):
            time.sleep(self.delay_s / steps)
            if progress is not None:
                progress(i + 1, steps)
        video = -torch.ones(1, 3, self.frames, 32, 32)  # (1, 3, T, H, W), black
        for i in range(self.frames):
            video[0, :, i, 2 + 3 * i : 10 + 3 * i, 8:16] = 1.0
        self.active -= 1
        need = round(self.frames / fps * RATE)
        return AnimationResult(video=video, fps=float(fps), audio=np.pad(audio, (0, need))[:need])


@pytest.fixture
def temp_root(tmp_path) -> Path:
    root = tmp_path / "requests"
    root.mkdir()
    return root


@pytest.fixture
def limits(temp_root) -> ServeLimits:
    return ServeLimits(max_upload_mb=1.0, max_audio_s=3.0, temp_root=temp_root)


@pytest.fixture
def published(tmp_path):
    """A `publish` that copies into a folder of its own, as Gradio's cache does."""
    out = tmp_path / "published"
    out.mkdir()
    return lambda path: Path(shutil.copy(path, out / path.name))


def example_copy(tmp_path: Path, name: str, suffix: str) -> Path:
    """A copy of the bundled example image or audio under another file name."""
    source = _asset(EXAMPLE_IMAGE if name == "image" else EXAMPLE_AUDIO)
    return Path(shutil.copy(source, tmp_path / f"upload{suffix}"))


def test_request_builds_video_strip_plot_and_leaves_no_files(limits, temp_root, published):
    pipe = FakePipeline(frames=6)
    progress = []
    out = animate_request(
        PipelineStore(pipe),
        limits,
        _asset(EXAMPLE_IMAGE),
        _asset(EXAMPLE_AUDIO),
        DemoSettings(prompt="a ball", fps=6.0, steps=3, seed=5),
        published,
        lambda done, total, what: progress.append((done, total, what)),
    )
    info = probe_video(out.video)
    assert info.num_frames == 6 and info.has_audio and out.video.name == "asva_seed5.mp4"
    assert out.strip.dtype == np.uint8 and out.strip.ndim == 3
    assert out.sync.shape[1] == 960
    assert "6 frames at 6 FPS" in out.summary
    assert (1, 3, "sampling") in progress and (3, 3, "sampling") in progress
    assert pipe.calls[0]["prompt"] == "a ball" and pipe.calls[0]["steps"] == 3 and pipe.calls[0]["seed"] == 5
    assert isinstance(pipe.calls[0]["image"], np.ndarray)  # decoded once, passed as pixels
    assert list(temp_root.iterdir()) == []


def test_request_folder_removed_when_publishing_fails(limits, temp_root):
    def broken(path: Path) -> Path:
        assert path.parent.parent == temp_root and path.is_file()  # written inside its own folder
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        animate_request(
            PipelineStore(FakePipeline()),
            limits,
            _asset(EXAMPLE_IMAGE),
            _asset(EXAMPLE_AUDIO),
            DemoSettings(),
            broken,
        )
    assert list(temp_root.iterdir()) == []


@pytest.mark.parametrize(
    ("image_suffix", "audio_suffix", "message"),
    [
        (".gif", ".wav", r"image files of type \.gif are not accepted; use \.png"),
        ("", ".wav", r"image files of type \(no extension\) are not accepted"),
        (".png", ".txt", r"audio files of type \.txt are not accepted; use \.wav, \.mp3"),
        (".PNG", ".mp4", r"audio files of type \.mp4 are not accepted"),
    ],
)
def test_wrong_types_refused(tmp_path, limits, published, image_suffix, audio_suffix, message):
    image = example_copy(tmp_path, "image", image_suffix)
    audio = example_copy(tmp_path, "audio", audio_suffix)
    with pytest.raises(RequestError, match=message):
        animate_request(PipelineStore(FakePipeline()), limits, image, audio, DemoSettings(), published)


def test_malformed_files_refused_with_reason_and_no_server_paths(tmp_path, limits, published):
    store = PipelineStore(FakePipeline())
    fake_png = tmp_path / "photo.png"
    fake_png.write_bytes(b"this is not a picture")
    with pytest.raises(RequestError, match=r"could not read the image: photo\.png: not decodable") as err:
        animate_request(store, limits, fake_png, _asset(EXAMPLE_AUDIO), DemoSettings(), published)
    assert str(tmp_path) not in str(err.value)

    fake_wav = tmp_path / "sound.wav"
    fake_wav.write_bytes(b"RIFF....WAVEjunkjunkjunk")
    with pytest.raises(RequestError, match=r"could not read the audio: sound\.wav") as err:
        animate_request(store, limits, _asset(EXAMPLE_IMAGE), fake_wav, DemoSettings(), published)
    assert str(tmp_path) not in str(err.value)
    assert store.status().startswith("Idle")  # nothing was sampled


def test_oversized_uploads_refused(tmp_path, temp_root, published):
    image_kb = _asset(EXAMPLE_IMAGE).stat().st_size / 1024  # the bundled example: a few KB
    audio_kb = _asset(EXAMPLE_AUDIO).stat().st_size / 1024
    small = ServeLimits(max_upload_mb=0.002, max_audio_s=30.0, temp_root=temp_root)  # 2 KiB
    store = PipelineStore(FakePipeline())
    with pytest.raises(
        RequestError, match=rf"the image file is {image_kb:.1f} KB; this server accepts at most 0\.002 MB"
    ):
        animate_request(store, small, _asset(EXAMPLE_IMAGE), _asset(EXAMPLE_AUDIO), DemoSettings(), published)
    big_audio = ServeLimits(max_upload_mb=0.01, max_audio_s=30.0)  # the image passes, the 64 KB audio not
    with pytest.raises(
        RequestError, match=rf"the audio file is {audio_kb:.1f} KB; this server accepts at most 0\.01 MB"
    ):
        animate_request(
            store, big_audio, _asset(EXAMPLE_IMAGE), _asset(EXAMPLE_AUDIO), DemoSettings(), published
        )


def test_audio_length_limits(tmp_path, limits, published):
    store = PipelineStore(FakePipeline())
    long = tmp_path / "long.wav"
    write_wav(long, np.zeros(4 * RATE, np.float32), RATE)
    with pytest.raises(RequestError, match=r"the audio is 4\.0 s long; this server accepts at most 3 s"):
        animate_request(store, limits, _asset(EXAMPLE_IMAGE), long, DemoSettings(), published)
    short = tmp_path / "short.flac"
    write_wav(short.with_suffix(".wav"), np.zeros(RATE // 100, np.float32), RATE)
    short.write_bytes(short.with_suffix(".wav").read_bytes())  # FFmpeg reads by content, not by name
    with pytest.raises(RequestError, match=r"the audio is 0\.010 s long; at least 0\.1 s is needed"):
        animate_request(store, limits, _asset(EXAMPLE_IMAGE), short, DemoSettings(), published)


def test_missing_uploads_refused(limits, published, tmp_path):
    store = PipelineStore(FakePipeline())
    with pytest.raises(RequestError, match="no image given"):
        animate_request(store, limits, None, _asset(EXAMPLE_AUDIO), DemoSettings(), published)
    with pytest.raises(RequestError, match="no audio given"):
        animate_request(store, limits, _asset(EXAMPLE_IMAGE), None, DemoSettings(), published)
    with pytest.raises(RequestError, match="is gone from the server"):
        animate_request(
            store, limits, tmp_path / "gone.png", _asset(EXAMPLE_AUDIO), DemoSettings(), published
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fancy"}, "mode must be one of uniform, keyframe"),
        ({"fps": 0.0}, "FPS must be between 0 and 30"),
        ({"steps": 0}, "steps must be a whole number from 1 to 100"),
        ({"steps": 101}, "steps must be a whole number"),
        ({"guidance_audio": -1.0}, "guidance audio must be between 0 and 20"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
    ],
)
def test_settings_validated(kwargs, message):
    with pytest.raises(RequestError, match=message):
        DemoSettings(**kwargs)


def test_limits_validated(tmp_path):
    with pytest.raises(ValueError, match="max_upload_mb must be a number > 0"):
        ServeLimits(max_upload_mb=0)
    with pytest.raises(ValueError, match="max_audio_s must be a number > 0"):
        ServeLimits(max_audio_s=float("inf"))
    with pytest.raises(FileNotFoundError, match="not an existing folder"):
        ServeLimits(temp_root=tmp_path / "nope")
    assert ServeLimits(max_upload_mb=20).max_upload_bytes == 20 * 2**20


# ---- keyframe mode and the store ---------------------------------------------------------------


def test_keyframe_mode_without_keyvid_code_gives_the_message(monkeypatch, limits, published):
    monkeypatch.setitem(sys.modules, "asva.pipelines.keyvid", None)  # the import now fails
    with pytest.raises(ModeUnavailableError, match=KEYFRAME_UNAVAILABLE):
        load_keyframe_pipeline("tiny", "cpu")
    store = PipelineStore(FakePipeline(), keyframe_loader=lambda: load_keyframe_pipeline("tiny", "cpu"))
    with pytest.raises(ModeUnavailableError, match="keyframe mode needs a KeyVID model; this model has none"):
        animate_request(
            store,
            limits,
            _asset(EXAMPLE_IMAGE),
            _asset(EXAMPLE_AUDIO),
            DemoSettings(mode="keyframe"),
            published,
        )
    assert store.status().startswith("Idle")


def test_keyframe_mode_with_model_lacking_keyvid_gives_the_message(monkeypatch):
    calls = []

    class NoKeyframeModelError(ValueError):
        pass

    class KeyframePipeline:
        @classmethod
        def from_model(cls, model, device="cpu"):
            calls.append(model)
            raise NoKeyframeModelError(f"{model} has no KeyVID weights")

    # A stand-in module: the test pins the contract (from_model raising NoKeyframeModelError), not
    # whatever the real KeyVID pipeline does with this folder.
    module = types.ModuleType("asva.pipelines.keyvid")
    module.KeyframePipeline = KeyframePipeline
    module.NoKeyframeModelError = NoKeyframeModelError
    monkeypatch.setitem(sys.modules, "asva.pipelines.keyvid", module)
    store = PipelineStore(FakePipeline(), keyframe_loader=lambda: load_keyframe_pipeline("some/model", "cpu"))
    for _ in range(2):
        with pytest.raises(ModeUnavailableError, match=f"{KEYFRAME_UNAVAILABLE} .*has no KeyVID weights"):
            store.get("keyframe")
    assert calls == ["some/model"]  # the failure is remembered, the folder read once


def test_keyframe_mode_with_the_real_keyvid_and_a_folder_without_it(tiny_backbone, tmp_path):
    pytest.importorskip("asva.pipelines.keyvid", reason="the KeyVID pipeline is not in this tree yet")
    from asva.checkpoints.folder import write_model_folder

    folder = write_model_folder(tmp_path / "uniform-only", get_preset("tiny"), tiny_backbone)
    with pytest.raises(ModeUnavailableError, match=f"{KEYFRAME_UNAVAILABLE} .*no KeyVID weights"):
        load_keyframe_pipeline(folder, "cpu")


def test_keyframe_pipeline_loaded_once_and_used(monkeypatch, limits, published):
    keyframe = FakePipeline(frames=4)
    loads = []
    store = PipelineStore(FakePipeline(), keyframe_loader=lambda: loads.append(1) or keyframe)
    for _ in range(2):
        out = animate_request(
            store,
            limits,
            _asset(EXAMPLE_IMAGE),
            _asset(EXAMPLE_AUDIO),
            DemoSettings(mode="keyframe"),
            published,
        )
    assert loads == [1] and len(keyframe.calls) == 2 and probe_video(out.video).num_frames == 4
    assert store.get("uniform") is not keyframe


def test_store_samples_one_request_at_a_time(limits, published):
    pipe = FakePipeline(frames=4, delay_s=0.6)
    store = PipelineStore(pipe)
    seen: list[str] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            animate_request(
                store, limits, _asset(EXAMPLE_IMAGE), _asset(EXAMPLE_AUDIO), DemoSettings(), published
            )
        except BaseException as err:  # re-raised below in the test thread
            errors.append(err)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        seen.append(store.status())
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert not errors, errors
    assert pipe.most_active == 1 and len(pipe.calls) == 2
    assert any(s.startswith("Busy: sampling a video (uniform mode)") for s in seen)
    assert store.status().startswith("Idle")


def test_build_app_makes_a_page(limits):
    gr = pytest.importorskip("gradio")
    from asva.web.app import build_app

    app = build_app(PipelineStore(FakePipeline(), notice="random weights"), limits)
    assert isinstance(app, gr.Blocks)
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"image-input", "audio-input", "animate", "video-output", "strip", "sync-plot", "download"} <= ids
