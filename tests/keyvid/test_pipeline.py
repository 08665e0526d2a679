"""`KeyframePipeline` end to end on the tiny preset (random weights): localize, keyframes, interpolate."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from asva.checkpoints.keyvid import write_keyvid_folder
from asva.keyframes.selection import select_keyframes
from asva.pipelines.keyvid import KeyframePipeline, NoKeyframeModelError

CURVE = np.abs(np.sin(np.linspace(0, 3 * np.pi, 48))).astype(np.float32)  # three motion peaks


class FixedCurveLocalizer:
    """Stands in for the trained localizer: the same motion curve for any audio."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, audio: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        assert audio.shape == (1, 32000)  # the clip's 2 s at 16 kHz
        return torch.from_numpy(CURVE)[None]


@pytest.fixture(scope="module")
def pipe():
    return KeyframePipeline.from_preset("tiny", localizer=FixedCurveLocalizer())


IMAGE = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
AUDIO = (np.random.default_rng(1).standard_normal(40000) * 0.1).astype(np.float32)
# one DDIM step, all guidance scales 1: one UNet branch per stage keeps this fast on a CPU
FAST = {"steps": 1, "guidance_image": 1.0, "guidance_text": 1.0, "guidance_audio": 1.0}


def test_end_to_end_keyframes_then_all_48_frames(pipe):
    calls = []
    result = pipe(IMAGE, "a ball", audio=AUDIO, seed=3, progress=lambda i, n: calls.append((i, n)), **FAST)
    assert result.video.shape == (1, 3, 48, 64, 64) and result.fps == 24.0
    assert result.video.abs().max() <= 1.0 and result.audio.shape == (32000,)
    expected = select_keyframes(CURVE, 12, 3).indices
    np.testing.assert_array_equal(result.keyframe_indices, np.sort(expected))
    assert result.keyframes.shape == (1, 3, 12, 64, 64)
    # the interpolator's concat: each keyframe's latent at its index, zeros elsewhere
    index = torch.as_tensor(result.keyframe_indices)
    assert torch.equal(result.condition[:, :, index], result.keyframe_latents)
    others = torch.ones(48, dtype=torch.bool)
    others[index] = False
    assert not result.condition[:, :, others].any()
    assert calls == [(1, 2), (2, 2)]

    again = pipe(IMAGE, "a ball", audio=AUDIO, seed=3, **FAST)
    assert torch.equal(again.video, result.video)  # one seed, one video


def test_bad_requests_fail_early(pipe):
    with pytest.raises(ValueError, match="48 frames"):
        pipe(IMAGE, audio=AUDIO, frames=16)
    with pytest.raises(ValueError, match="needs audio"):
        pipe(IMAGE, audio=None)


def test_model_folders(tmp_path, pipe):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "asva.json").write_text(json.dumps({"preset": "tiny"}))
    with pytest.raises(NoKeyframeModelError, match="no KeyVID weights"):
        KeyframePipeline.from_model(plain)

    folder = write_keyvid_folder(tmp_path / "keyvid", pipe.model)
    loaded = KeyframePipeline.from_model(folder)
    saved, read = pipe.model.state_dict(), loaded.model.state_dict()
    assert list(saved) == list(read)
    assert all(torch.equal(saved[k], read[k]) for k in saved)


def test_tiny_pins_the_keyframes_at_every_step(pipe):
    # The tiny preset's settings pin x̂0 at the keyframe slots for every DDIM step, so the output
    # frames there are the (re-encoded) keyframes, up to the last step's noise (DDIM ends at
    # ᾱ_0 = 0.99915, not 1); KeyVID's single pinned step leaves the later steps free to move them.
    assert pipe.settings.anchored_steps is None
    options = {**FAST, "steps": 3}
    pinned = pipe(IMAGE, "a ball", audio=AUDIO, seed=5, **options)
    index = torch.as_tensor(pinned.keyframe_indices)
    decoded = pipe.backbone.vae.decode(pinned.keyframe_latents).clamp(-1, 1)
    pinned_error = (pinned.video[:, :, index] - decoded).abs().mean()
    assert pinned_error < 0.03  # pixels in [-1, 1]

    keyvid = dataclasses.replace(pipe.settings, anchored_steps=1)
    tiny, pipe.settings = pipe.settings, keyvid
    try:
        free = pipe(IMAGE, "a ball", audio=AUDIO, seed=5, **options)
    finally:
        pipe.settings = tiny
    assert torch.equal(free.keyframe_latents, pinned.keyframe_latents)  # the same keyframe stage
    assert (free.video[:, :, index] - decoded).abs().mean() > 5 * pinned_error


def test_interpolation_eta_and_shared_noise_means(pipe, monkeypatch):
    # KeyVID's settings (the tiny preset's too): both stages with the one η and each frame's own
    # noise. `interpolation_eta` and `interpolation_shared_mean` change only the interpolation
    # stage: η of its own, and starting noise whose frames share one mean per channel;
    # `keyframe_shared_mean` does the latter for the keyframe stage. A given `eta` is used by both.
    import asva.pipelines.keyvid as keyvid_pipeline

    seen = []
    real = keyvid_pipeline.ddim_sample

    def recording(denoiser, noise, schedule, steps, eta=0.0, **kw):
        seen.append((noise.shape[2], noise.mean(dim=(3, 4)).std(dim=2).max().item(), eta))
        return real(denoiser, noise, schedule, steps, eta=eta, **kw)

    monkeypatch.setattr(keyvid_pipeline, "ddim_sample", recording)
    assert not pipe.settings.interpolation_shared_mean and pipe.settings.interpolation_eta is None
    pipe(IMAGE, "a ball", audio=AUDIO, seed=4, **FAST)
    (k_frames, k_spread, k_eta), (i_frames, i_spread, i_eta) = seen
    assert (k_frames, k_eta, i_frames, i_eta) == (12, 1.0, 48, 1.0)
    assert k_spread > 0.05 and i_spread > 0.05  # every frame its own noise mean

    tiny = pipe.settings
    pipe.settings = dataclasses.replace(tiny, interpolation_shared_mean=True, interpolation_eta=0.0)
    try:
        seen.clear()
        pipe(IMAGE, "a ball", audio=AUDIO, seed=4, **FAST)
        (k_frames, k_spread, k_eta), (i_frames, i_spread, i_eta) = seen
        assert (k_frames, k_eta) == (12, 1.0) and k_spread > 0.05  # the keyframe stage unchanged
        assert (i_frames, i_eta) == (48, 0.0) and i_spread < 1e-6  # one mean, deterministic DDIM
        seen.clear()
        pipe(IMAGE, "a ball", audio=AUDIO, seed=4, eta=0.5, **FAST)
        assert [e for _, _, e in seen] == [0.5, 0.5]
        pipe.settings = dataclasses.replace(tiny, keyframe_shared_mean=True)
        seen.clear()
        pipe(IMAGE, "a ball", audio=AUDIO, seed=4, **FAST)
        assert seen[0][1] < 1e-6 and seen[1][1] > 0.05  # now the keyframe stage only
    finally:
        pipe.settings = tiny
    with pytest.raises(ValueError, match="interpolation_eta"):
        dataclasses.replace(tiny, interpolation_eta=1.5)


def test_interpolate_between_given_keyframes(pipe):
    # The interpolator alone: the frames given at the slots given, re-encoded into the concat,
    # pinned at every step (tiny), so the output shows them there; no keyframe stage runs.
    slots = [0, 7, 19, 30, 47]
    rng = np.random.default_rng(2)
    given = (rng.random((len(slots), 80, 96, 3)) * 255).astype(np.uint8)  # resized/cropped to 64x64
    calls = []
    result = pipe.interpolate(IMAGE, given, slots, "a ball", audio=AUDIO, seed=1,
                              progress=lambda i, n: calls.append((i, n)), **{**FAST, "steps": 3})
    assert result.video.shape == (1, 3, 48, 64, 64) and calls == [(1, 3), (2, 3), (3, 3)]
    np.testing.assert_array_equal(result.keyframe_indices, slots)
    assert result.keyframes.shape == (1, 3, 5, 64, 64) and result.keyframe_latents.shape[2] == 5
    assert torch.equal(result.condition[:, :, slots], result.keyframe_latents)
    decoded = pipe.backbone.vae.decode(result.keyframe_latents).clamp(-1, 1)
    assert (result.video[:, :, slots] - decoded).abs().mean() < 0.03
    again = pipe.interpolate(IMAGE, given, slots, "a ball", audio=AUDIO, seed=1, **{**FAST, "steps": 3})
    assert torch.equal(again.video, result.video)


@pytest.mark.parametrize(
    ("frames", "slots", "message"),
    [
        (np.zeros((2, 8, 8, 3), np.uint8), [0, 50], r"increasing, distinct slots in \[0, 48\)"),
        (np.zeros((2, 8, 8, 3), np.uint8), [9, 3], "increasing, distinct"),
        (np.zeros((2, 8, 8, 3), np.uint8), [3, 3], "increasing, distinct"),
        (np.zeros((3, 8, 8, 3), np.uint8), [0, 4], "3 keyframes given for 2 indices"),
        (np.zeros((2, 8, 8, 3), np.uint8), [0.0, 4.0], "integers"),
        (np.zeros((2, 8, 8), np.uint8), [0, 4], r"uint8 RGB frames \(K, H, W, 3\)"),
        (np.zeros((2, 8, 8, 3), np.float32), [0, 4], "uint8"),
        (np.zeros((0, 8, 8, 3), np.uint8), [], "K >= 1"),
    ],
)
def test_interpolate_refuses_bad_keyframes(pipe, frames, slots, message):
    with pytest.raises(ValueError, match=message):
        pipe.interpolate(IMAGE, frames, slots, audio=AUDIO, **FAST)


def test_generate_keyframes_gives_the_keyframes_of_the_whole_pipeline(pipe):
    result = pipe(IMAGE, "a ball", audio=AUDIO, seed=4, **FAST)
    frames, slots = pipe.generate_keyframes(IMAGE, "a ball", audio=AUDIO, seed=4, **FAST)
    np.testing.assert_array_equal(slots, result.keyframe_indices)  # the localizer's slots
    assert frames.shape == (12, 64, 64, 3) and frames.dtype == np.uint8
    expected = ((result.keyframes[0].permute(1, 2, 3, 0) + 1) * 127.5).round().clamp(0, 255)
    assert np.abs(frames.astype(np.float32) - expected.numpy()).max() <= 1  # the same frames

    chosen, at = pipe.generate_keyframes(IMAGE, "a ball", audio=AUDIO, indices=[0, 5, 40], seed=4, **FAST)
    assert chosen.shape == (3, 64, 64, 3) and at.tolist() == [0, 5, 40]
    with pytest.raises(ValueError, match="increasing, distinct slots"):
        pipe.generate_keyframes(IMAGE, audio=AUDIO, indices=[5, 0], **FAST)
