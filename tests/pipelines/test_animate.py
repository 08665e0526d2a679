"""The image-to-video pipeline on the tiny preset: shapes, determinism, batched guidance, mp4 output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from asva.cli import EXAMPLE_AUDIO, EXAMPLE_IMAGE, _asset, app
from asva.media import probe_video, read_audio
from asva.pipelines.animate import AnimatePipeline


@pytest.fixture(scope="module")
def pipe(tiny_backbone):
    from asva.checkpoints.backbone import load_tokenizer
    from asva.presets import get_preset

    preset = get_preset("tiny")
    return AnimatePipeline(tiny_backbone, preset, load_tokenizer(preset, None))


def test_output_shape_and_range(pipe):
    result = pipe(_asset(EXAMPLE_IMAGE), "a ball", frames=4, steps=2)
    assert result.video.shape == (1, 3, 4, 64, 64)
    assert result.video.min() >= -1 and result.video.max() <= 1
    assert result.frames().shape == (4, 64, 64, 3) and result.frames().dtype == np.uint8


def test_seed_makes_it_deterministic(pipe):
    image = _asset(EXAMPLE_IMAGE)
    a = pipe(image, "a ball", frames=3, steps=2, seed=7).video
    b = pipe(image, "a ball", frames=3, steps=2, seed=7).video
    c = pipe(image, "a ball", frames=3, steps=2, seed=8).video
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_shared_noise_mean_starts_every_frame_from_one_mean(pipe, monkeypatch):
    import asva.pipelines.animate as animate

    starts = []
    real = animate.ddim_sample

    def recording(denoiser, noise, *args, **kwargs):
        starts.append(noise.mean(dim=(3, 4)))  # (1, C, T)
        return real(denoiser, noise, *args, **kwargs)

    monkeypatch.setattr(animate, "ddim_sample", recording)
    image = _asset(EXAMPLE_IMAGE)
    plain = pipe(image, "a ball", frames=4, steps=1, seed=7).video
    shared = pipe(image, "a ball", frames=4, steps=1, seed=7, shared_noise_mean=True).video
    own, one = starts
    assert own.std(dim=2).min() > 0.01  # by default each frame its own mean
    torch.testing.assert_close(one, one[:, :, :1].expand_as(one))
    torch.testing.assert_close(one[:, :, 0], own[:, :, 0])  # frame 0's, from the same draw
    assert not torch.equal(plain, shared)


def test_one_batched_unet_call_per_step(pipe, monkeypatch):
    calls = []
    unet_forward = pipe.backbone.unet.forward

    def counting(x, *args, **kwargs):
        calls.append(x.shape[0])
        return unet_forward(x, *args, **kwargs)

    monkeypatch.setattr(pipe.backbone.unet, "forward", counting)
    pipe(_asset(EXAMPLE_IMAGE), "a ball", frames=2, steps=3, guidance_image=2.0, guidance_text=3.0)
    assert calls == [3, 3, 3]  # uncond, +image, +image+text in one batch, once per step
    calls.clear()
    # With equal image and text scales the +image branch has weight s_img - s_txt = 0: not computed.
    pipe(_asset(EXAMPLE_IMAGE), "a ball", frames=2, steps=2, guidance_image=2.0, guidance_text=2.0)
    assert calls == [2, 2]


def test_guidance_scales_change_the_result(pipe):
    image = _asset(EXAMPLE_IMAGE)
    a = pipe(image, "a ball", frames=2, steps=2, guidance_text=1.0).video
    b = pipe(image, "a ball", frames=2, steps=2, guidance_text=5.0).video
    assert not torch.allclose(a, b)


def test_save_writes_mp4_with_audio(pipe, tmp_path):
    audio = read_audio(_asset(EXAMPLE_AUDIO))
    result = pipe(_asset(EXAMPLE_IMAGE), "", audio=audio, frames=6, fps=6, steps=1)
    path = result.save(tmp_path / "out.mp4")
    info = probe_video(path)
    assert info.has_audio and info.width == 64 and info.height == 64
    assert info.num_frames == 6
    assert read_audio(path).shape[0] == pytest.approx(16_000, abs=1024)  # 6 frames at 6 FPS = 1 s


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frames": 0}, "frames must be an integer"),
        ({"steps": 0}, "steps must be an integer"),
        ({"steps": 5000}, "steps must be an integer"),
        ({"fps": -1.0}, "fps must be positive"),
    ],
)
def test_bad_options_are_refused(pipe, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe(_asset(EXAMPLE_IMAGE), **kwargs)


def test_bad_image_arrays_are_refused(pipe):
    with pytest.raises(ValueError, match="uint8 RGB"):
        pipe(np.zeros((64, 64), np.uint8))


def test_model_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"asva\.json"):
        AnimatePipeline.from_model(tmp_path)
    (tmp_path / "asva.json").write_text(json.dumps({"preset": "tiny", "weights": "x"}))
    with pytest.raises(ValueError, match="expected keys"):
        AnimatePipeline.from_model(tmp_path)


def test_full_preset_without_vocabulary_says_what_to_supply(tmp_path):
    from asva.checkpoints.backbone import load_tokenizer
    from asva.presets import get_preset

    with pytest.raises(ValueError, match=r"bpe_simple_vocab_16e6\.txt\.gz"):
        load_tokenizer(get_preset("dynamicrafter-256"), None)


@pytest.mark.slow
def test_cli_animate_writes_a_playable_mp4(tmp_path):
    out = tmp_path / "cli.mp4"
    result = CliRunner().invoke(app, ["animate", "--out", str(out), "--frames", "4", "--steps", "2"])
    assert result.exit_code == 0, result.output
    info = probe_video(out)
    assert info.has_audio and info.num_frames == 4
    import cv2

    strip = cv2.imread(str(out.with_suffix(".png")))  # the frame strip over the waveform
    assert strip is not None and strip.shape[1] >= 4 * 64


def test_vocabulary_of_the_wrong_size_is_refused(tiny_backbone, tmp_path):
    from asva.backbone.tokenizer import BPETokenizer, build_bpe_vocab
    from asva.presets import get_preset

    vocab = build_bpe_vocab(["hello world"], num_merges=5, path=tmp_path / "v.txt.gz")
    with pytest.raises(ValueError, match="wrong vocabulary file"):
        AnimatePipeline(tiny_backbone, get_preset("tiny"), BPETokenizer(vocab))


@pytest.fixture(scope="module")
def audio_pipe(tiny_backbone):
    import copy

    from asva.adapters.model import build_audio_model
    from asva.checkpoints.backbone import load_tokenizer
    from asva.presets import get_preset
    from tests.conftest import randomize_zero_parameters

    preset = get_preset("tiny")
    torch.manual_seed(0)
    model = build_audio_model(copy.deepcopy(tiny_backbone), preset.audio, preset.adapters).eval()
    randomize_zero_parameters(model.adapters, seed=1, std=0.2)  # stand-in for trained adapters
    return AnimatePipeline(model, preset, load_tokenizer(preset, None))


def test_audio_steers_the_video(audio_pipe):
    rng = np.random.default_rng(0)
    one = rng.standard_normal(16_000).astype(np.float32) * 0.1
    two = np.sin(np.linspace(0, 2000, 16_000)).astype(np.float32) * 0.5
    image = _asset(EXAMPLE_IMAGE)
    a = audio_pipe(image, "a ball", audio=one, frames=6, steps=2).video
    b = audio_pipe(image, "a ball", audio=two, frames=6, steps=2).video
    assert not torch.allclose(a, b)


def test_audio_branch_joins_the_same_batched_call(audio_pipe, monkeypatch):
    calls = []
    forward = audio_pipe.backbone.unet.forward

    def counting(x, *args, **kwargs):
        calls.append((x.shape[0], kwargs.get("extra") is not None))
        return forward(x, *args, **kwargs)

    monkeypatch.setattr(audio_pipe.backbone.unet, "forward", counting)
    audio = np.zeros(16_000, np.float32)
    audio_pipe(
        _asset(EXAMPLE_IMAGE),
        "",
        audio=audio,
        frames=6,
        steps=2,
        guidance_image=2.0,
        guidance_text=3.0,
        guidance_audio=4.0,
    )
    assert calls == [(4, True), (4, True)]  # none, +image, +text, +audio: one UNet call per step


def test_short_audio_is_padded_and_long_audio_cut(audio_pipe, caplog):
    with caplog.at_level("INFO"):
        short = audio_pipe(
            _asset(EXAMPLE_IMAGE), audio=np.ones(4000, np.float32) * 0.1, frames=6, fps=6, steps=1
        )
    assert "padded with silence" in caplog.text
    assert short.audio.shape == (16_000,) and not short.audio[4000:].any()
    long = audio_pipe(
        _asset(EXAMPLE_IMAGE), audio=np.ones(48_000, np.float32) * 0.1, frames=6, fps=12, steps=1
    )
    assert long.audio.shape == (8_000,)  # 6 frames at 12 FPS = 0.5 s


def test_bad_audio_is_refused(audio_pipe):
    with pytest.raises(ValueError, match="mono"):
        audio_pipe(_asset(EXAMPLE_IMAGE), audio=np.zeros((2, 16_000), np.float32), frames=2, steps=1)
    with pytest.raises(ValueError, match=r"at least 0\.1 s"):
        audio_pipe(_asset(EXAMPLE_IMAGE), audio=np.zeros(800, np.float32), frames=2, steps=1)
    with pytest.raises(ValueError, match="NaN"):
        bad = np.zeros(16_000, np.float32)
        bad[100] = np.nan
        audio_pipe(_asset(EXAMPLE_IMAGE), audio=bad, frames=2, steps=1)


@pytest.mark.slow
def test_cli_animate_keyframe_mode(tmp_path):
    out = tmp_path / "kf.mp4"
    result = CliRunner().invoke(app, ["animate", "--mode", "keyframe", "--out", str(out), "--steps", "1"])
    assert result.exit_code == 0, result.output
    info = probe_video(out)
    assert info.has_audio and info.num_frames == 48 and info.fps == pytest.approx(24)


def test_cli_animate_keyframe_mode_needs_a_keyvid_model(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "asva.json").write_text(json.dumps({"preset": "tiny"}))
    result = CliRunner().invoke(app, ["animate", "--mode", "keyframe", "--model", str(folder)])
    assert result.exit_code != 0 and "no KeyVID weights" in str(result.exception)
    bad = CliRunner().invoke(app, ["animate", "--mode", "sideways"])
    assert bad.exit_code != 0 and "--mode" in bad.output


def test_python_api_in_three_lines(tmp_path):
    # The README's example: the bundled model on the bundled example.
    from asva import AnimatePipeline, read_audio

    pipe = AnimatePipeline.from_model("tiny")
    pipe(_asset(EXAMPLE_IMAGE), "hammer anvil", audio=read_audio(_asset(EXAMPLE_AUDIO)), steps=2).save(
        tmp_path / "anvil.mp4"
    )
    info = probe_video(tmp_path / "anvil.mp4")
    assert info.has_audio and info.num_frames == pipe.preset.frames
