"""Audio adapters on the tiny preset: identity at init, locality, frozen backbone, parameter counts."""

from __future__ import annotations

import copy

import pytest
import torch
from typer.testing import CliRunner

from asva.adapters.audio_adapters import AUDIO_MASK, AUDIO_TOKENS
from asva.adapters.audio_attention import WindowedAudioAttention
from asva.adapters.model import build_audio_model, trainable_parameters
from asva.cli import app
from asva.presets import get_preset
from tests.conftest import randomize_zero_parameters

PRESET = get_preset("tiny")
FRAMES, FPS = 6, 6.0


@pytest.fixture(scope="module")
def model(tiny_backbone):
    torch.manual_seed(0)
    return build_audio_model(copy.deepcopy(tiny_backbone), PRESET.audio, PRESET.adapters).eval()


def _inputs(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    c, _, h, w = PRESET.latent_shape
    x = torch.randn(2, 2 * c, FRAMES, h, w, generator=g)
    t = torch.tensor([10, 500])
    context = torch.randn(2, 77 + 64, PRESET.backbone.unet.context_dim, generator=g)
    audio = 0.1 * torch.randn(2, 16_000, generator=g)
    return x, t, context, audio


def test_output_is_bitwise_the_backbones_at_init(model, tiny_backbone):
    x, t, context, audio = _inputs(model)
    with torch.no_grad():
        extra = model.audio_condition(audio, FRAMES, FPS)
        adapted = model.backbone.unet(x, t, context, extra=extra)
        plain = tiny_backbone.unet(x, t, context)
    assert torch.equal(adapted, plain)


def test_trained_adapters_change_the_output_and_no_audio_means_no_change(model):
    trained = copy.deepcopy(model)
    randomize_zero_parameters(trained.adapters, seed=1, std=0.5)
    x, t, context, audio = _inputs(trained)
    with torch.no_grad():
        with_audio = trained.backbone.unet(x, t, context, extra=trained.audio_condition(audio, FRAMES, FPS))
        without = trained.backbone.unet(x, t, context)
        baseline = model.backbone.unet(x, t, context)
    assert not torch.allclose(with_audio, without)
    assert torch.equal(without, baseline)  # hooks are no-ops when `extra` carries no audio


def test_a_frame_only_hears_its_window():
    torch.manual_seed(0)
    attention = WindowedAudioAttention(channels=32, context_dim=8, head_channels=16)
    randomize_zero_parameters(attention, seed=2, std=0.5)
    h = torch.randn(1 * 3, 32, 4, 4)  # B=1, F=3
    tokens = torch.randn(1, 6, 8)
    mask = torch.tensor([[[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]], dtype=torch.bool)
    out = attention(h, tokens, mask)
    changed = tokens.clone()
    changed[:, 4:] += 10.0  # audio only frame 2 can hear
    out2 = attention(h, changed, mask)
    assert torch.equal(out[:2], out2[:2])
    assert not torch.allclose(out[2], out2[2])


def test_a_frame_with_an_empty_window_is_left_alone_and_gradients_stay_finite():
    attention = WindowedAudioAttention(channels=32, context_dim=8, head_channels=16)
    randomize_zero_parameters(attention, seed=3, std=0.5)
    h = torch.randn(2, 32, 4, 4, requires_grad=True)  # B=1, F=2
    tokens = torch.randn(1, 3, 8)
    mask = torch.tensor([[[1, 1, 1], [0, 0, 0]]], dtype=torch.bool)
    out = attention(h, tokens, mask)
    assert torch.equal(out[1], h[1])
    out.square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in attention.parameters())


def test_only_adapters_train_and_frozen_gradients_stay_none(model):
    trainable = trainable_parameters(model)
    assert {id(p) for p in trainable} == {id(p) for p in model.adapters.parameters()}
    x, t, context, audio = _inputs(model)
    model.zero_grad(set_to_none=True)
    extra = model.audio_condition(audio, FRAMES, FPS)
    model.backbone.unet(x, t, context, extra=extra).square().mean().backward()
    for name, param in model.named_parameters():
        if name.startswith("adapters."):
            continue
        assert param.grad is None, name
    # At init only to_out gets a gradient: everything before it is multiplied by its zero weight.
    assert all(site.to_out.weight.grad is not None for site in model.adapters.sites.values())
    model.zero_grad(set_to_none=True)


def test_train_mode_keeps_the_frozen_parts_in_eval(model):
    model.train()
    assert model.adapters.training
    assert not model.backbone.training and not model.audio_features.training
    assert not any(m.training for m in model.backbone.modules())
    model.eval()


def test_base_checkpoint_keys_are_unchanged_by_attaching(tiny_backbone, model):
    assert model.backbone.unet.state_dict().keys() == tiny_backbone.unet.state_dict().keys()
    assert all(k.startswith(("projections.", "sites.")) for k in model.adapters.state_dict())


def test_null_audio_has_the_real_shape_but_other_tokens(model):
    _, _, _, audio = _inputs(model)
    real = model.audio_condition(audio, FRAMES, FPS)
    null = model.audio_condition(audio, FRAMES, FPS, null=True)
    assert real[AUDIO_TOKENS].shape == null[AUDIO_TOKENS].shape
    assert torch.equal(real[AUDIO_MASK], null[AUDIO_MASK])
    assert not torch.allclose(real[AUDIO_TOKENS], null[AUDIO_TOKENS])
    # the null condition ignores the sound: two different clips give the same null tokens
    other = model.audio_condition(audio.flip(1), FRAMES, FPS, null=True)
    assert torch.equal(null[AUDIO_TOKENS], other[AUDIO_TOKENS])


def test_full_preset_trainable_count_matches_the_papers():
    result = CliRunner().invoke(app, ["inspect", "params", "--preset", "dynamicrafter-256"])
    assert result.exit_code == 0, result.output
    counts = dict(line.split("\t") for line in result.output.strip().splitlines())
    trainable, total = int(counts["trainable"]), int(counts["total"])
    assert 50e6 < trainable < 60e6
    assert trainable == 55_102_016  # FACTS §14: 16 sites (2C^2 + 2051C) + 6 x Linear(768 -> 1024)
    assert total - trainable == 2_785_676_461  # DynamiCrafter + ImageBind-audio + BEATs
    assert float(counts["trainable_percent_of_unet"]) == pytest.approx(3.83, abs=0.01)
    assert float(counts["trainable_percent_of_total"]) == pytest.approx(1.94, abs=0.01)


def test_a_deep_copy_runs_its_own_adapters(model):
    twin = copy.deepcopy(model)
    randomize_zero_parameters(twin.adapters, seed=4, std=0.5)
    x, t, context, audio = _inputs(model)
    with torch.no_grad():
        original = model.backbone.unet(x, t, context, extra=model.audio_condition(audio, FRAMES, FPS))
        copied = twin.backbone.unet(x, t, context, extra=twin.audio_condition(audio, FRAMES, FPS))
    assert not torch.allclose(original, copied)
