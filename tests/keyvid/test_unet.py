"""KeyVID's UNet extras: layout against the official listings, the gate formula, the context split."""

from __future__ import annotations

import math

import pytest
import torch
from typer.testing import CliRunner

from asva.backbone.unet import UNet3D
from asva.checkpoints.layout import build_on_meta, component_layout
from asva.cli import app
from asva.keyvid.attention import AudioGatedCrossAttention
from asva.keyvid.unet import (
    AUDIO_SEGMENTS,
    FRAME_INDEX,
    attach_keyvid,
    build_keyvid_unet,
    keyvid_config,
)
from asva.presets import get_preset
from tests.conftest import randomize_zero_parameters, read_spec, spec_total

BASE, EXTRA = "dynamicrafter512_unet", "keyvid_unet_audio_extra"


def expected_keyvid_order(base: list[str], extra: list[str]) -> list[str]:
    """KeyVID's state-dict order: the extras where KeyVID's UNet registers them."""
    out = []
    for key in base:
        beta = key.replace("to_q.weight", "beta")
        if key.endswith(".attn2.to_q.weight") and beta in extra:
            out.append(beta)  # the module's own parameter: listed before its children
        out.append(key)
        if key == "fps_embedding.2.bias":
            out += [k for k in extra if k.startswith(("frame_idx_embedding.", "audio_proj_2."))]
        if key.endswith(".attn2.to_v_ip.weight"):
            out += [key.replace("to_v_ip", "to_k_ap"), key.replace("to_v_ip", "to_v_ap")]
    assert sorted(out) == sorted(base + extra)
    return out


def test_512_keyvid_unet_is_dc512_plus_the_keyvid_extras_in_checkpoint_order():
    base, extra = read_spec(BASE), read_spec(EXTRA)
    unet = build_on_meta(get_preset("dynamicrafter-512"), "unet", "keyvid")
    got = [(k, tuple(v.shape)) for k, v in unet.state_dict().items()]
    assert dict(got) == {**base, **extra}
    assert [k for k, _ in got] == expected_keyvid_order(list(base), list(extra))
    # parameter budget: the extras alone, and the whole UNet (FACTS §1: 1,467,252,052)
    params = dict(unet.named_parameters())
    assert sum(params[k].numel() for k in extra) == spec_total(EXTRA) == 28_397_072
    assert sum(p.numel() for p in params.values()) == spec_total(BASE) + spec_total(EXTRA)


def test_a_keyvid_checkpoint_loads_strictly_and_a_dc_one_before_attaching():
    preset = get_preset("dynamicrafter-512")
    with torch.device("meta"):
        unet = UNet3D(preset.backbone.unet)
        dc_state = {k: torch.empty(s) for k, s in read_spec(BASE).items()}
        unet.load_state_dict(dc_state, strict=True, assign=True)  # DynamiCrafter weights first ...
        extras = attach_keyvid(unet, keyvid_config(preset))  # ... then KeyVID's parts on top
        keyvid_state = {k: torch.empty(s) for k, s in {**read_spec(BASE), **read_spec(EXTRA)}.items()}
        unet.load_state_dict(keyvid_state, strict=True, assign=True)
    assert sum(p.numel() for p in extras.parameters()) == spec_total(EXTRA)


def test_keyvid_resampler_has_48_frame_slots():
    expected = read_spec("dynamicrafter_image_proj")
    # KeyVID reshapes only the queries: (1, 256, 1024) -> (1, 768, 1024)
    expected["latents"] = read_spec("keyvid_model_extra_nonunet")["image_proj_model.latents"]
    got = dict(component_layout(get_preset("dynamicrafter-512"), "resampler", "keyvid"))
    assert got == expected


def test_the_interpolator_has_no_frame_index_embedding():
    unet = build_on_meta(get_preset("dynamicrafter-512"), "unet", "keyvid")
    with torch.device("meta"):
        interpolator = build_keyvid_unet(get_preset("dynamicrafter-512"), frame_index_embedding=False)
    missing = set(unet.state_dict()) - set(interpolator.state_dict())
    assert missing == {k for k in read_spec(EXTRA) if k.startswith("frame_idx_embedding.")}


def test_cli_layout_keyvid_variant_prints_the_two_listings():
    args = ["--preset", "dynamicrafter-512", "--component", "unet", "--variant", "keyvid"]
    result = CliRunner().invoke(app, ["inspect", "layout", *args])
    assert result.exit_code == 0, result.output
    parsed = {
        k: tuple(int(n) for n in s.strip("[]").split(",") if n)
        for k, s in (line.split("\t") for line in result.output.strip().splitlines())
    }
    assert parsed == {**read_spec(BASE), **read_spec(EXTRA)}
    bad = CliRunner().invoke(app, ["inspect", "layout", "--preset", "tiny", "--component", "unet",
                                   "--variant", "nope"])
    assert bad.exit_code != 0 and "unknown variant 'nope'" in str(bad.exception)


# -- behaviour on the tiny preset -----------------------------------------------------------------

TINY = get_preset("tiny")
C = TINY.backbone.unet


def tiny_inputs(frames: int = 3, batch: int = 2, audio_tokens: int = 5):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, C.in_channels, frames, 8, 8, generator=g)
    t = torch.tensor([10, 500][:batch])
    tokens = C.text_length + frames * C.image_tokens_per_frame
    context = torch.randn(batch, tokens, C.context_dim, generator=g)
    extra = {
        FRAME_INDEX: torch.tensor([[0, 7, 40], [3, 4, 47]][:batch])[:, :frames],
        AUDIO_SEGMENTS: torch.randn(batch, frames, audio_tokens, TINY.audio.imagebind.embed_dim, generator=g),
    }
    return x, t, context, extra


def tiny_pair():
    torch.manual_seed(0)
    base = UNet3D(C)
    randomize_zero_parameters(base)
    keyvid = UNet3D(C)
    keyvid.load_state_dict(base.state_dict())
    attach_keyvid(keyvid, keyvid_config(TINY))
    return base.eval(), keyvid.eval()


def test_tiny_sizes_follow_the_preset():
    unet = build_keyvid_unet(TINY)
    assert unet.audio_proj_2.in_features == TINY.audio.imagebind.embed_dim
    assert unet.audio_proj_2.out_features == C.context_dim
    assert unet.frame_idx_embedding[0].in_features == C.model_channels
    assert unet.frame_idx_embedding[2].out_features == 4 * C.model_channels


@torch.no_grad()
def test_fresh_extras_change_nothing_and_trained_ones_do():
    base, keyvid = tiny_pair()
    x, t, context, extra = tiny_inputs()
    reference = base(x, t, context)
    torch.testing.assert_close(keyvid(x, t, context, extra=extra), reference, rtol=0, atol=0)
    torch.testing.assert_close(keyvid(x, t, context), reference, rtol=0, atol=0)  # no extra: the backbone

    randomize_zero_parameters(keyvid, seed=1, std=0.2)  # frame_idx_embedding.2, to_k_ap, to_v_ap
    with_frames = keyvid(x, t, context, extra={FRAME_INDEX: extra[FRAME_INDEX]})
    assert not torch.allclose(with_frames, reference)
    shifted = keyvid(x, t, context, extra={FRAME_INDEX: extra[FRAME_INDEX] + 1})
    assert not torch.allclose(shifted, with_frames)  # the output depends on the frame index
    with_audio = keyvid(x, t, context, extra={AUDIO_SEGMENTS: extra[AUDIO_SEGMENTS]})
    assert not torch.allclose(with_audio, reference)


@torch.no_grad()
def test_each_frame_sees_text_then_its_image_tokens_then_its_projected_audio():
    _, keyvid = tiny_pair()
    x, t, context, extra = tiny_inputs()
    seen = {}
    attn2 = keyvid.input_blocks[1][1].transformer_blocks[0].attn2
    attn2.register_forward_hook(lambda m, args, out: seen.update(context=args[1]))
    keyvid(x, t, context, extra=extra)
    ctx = seen["context"]  # (B·F, 77 + n + L, D)
    batch, frames, n = x.shape[0], x.shape[2], C.image_tokens_per_frame
    assert ctx.shape == (batch * frames, C.text_length + n + 5, C.context_dim)
    for b in range(batch):
        for f in range(frames):
            row = ctx[b * frames + f]
            torch.testing.assert_close(row[: C.text_length], context[b, : C.text_length])
            image = context[b, C.text_length + f * n : C.text_length + (f + 1) * n]
            torch.testing.assert_close(row[C.text_length : C.text_length + n], image)
            audio = torch.nn.functional.normalize(keyvid.audio_proj_2(extra[AUDIO_SEGMENTS][b, f]), dim=-1)
            torch.testing.assert_close(row[C.text_length + n :], audio)


def reference_attention(q, k, v, heads):
    """softmax(q kᵀ / √d) v per head, written out (KeyVID's einsum form)."""
    n, lq, inner = q.shape
    d = inner // heads
    q, k, v = (z.reshape(n, -1, heads, d).transpose(1, 2) for z in (q, k, v))
    weights = (q @ k.transpose(-1, -2) / math.sqrt(d)).softmax(-1)
    return (weights @ v).transpose(1, 2).reshape(n, lq, inner)


@torch.no_grad()
@pytest.mark.parametrize("learnable_alpha", [False, True])
def test_gate_is_text_plus_image_plus_tanh_beta_plus_one_times_audio(learnable_alpha):
    torch.manual_seed(0)
    attn = AudioGatedCrossAttention(32, 2, 16, 24, scale_learnable=learnable_alpha, text_length=5,
                                    image_length=3)
    for p in attn.parameters():
        p.copy_(torch.randn_like(p) * 0.3)
    x, context = torch.randn(4, 6, 32), torch.randn(4, 5 + 3 + 2, 24)
    text, image, audio = context[:, :5], context[:, 5:8], context[:, 8:]
    q = attn.to_q(x)
    out = reference_attention(q, attn.to_k(text), attn.to_v(text), 2)
    lam = torch.tanh(attn.alpha) + 1 if learnable_alpha else 1.0
    out = out + lam * reference_attention(q, attn.to_k_ip(image), attn.to_v_ip(image), 2)
    gate = torch.tanh(attn.beta) + 1
    out = out + gate * reference_attention(q, attn.to_k_ap(audio), attn.to_v_ap(audio), 2)
    torch.testing.assert_close(attn(x, context), attn.to_out(out))
    # without audio tokens it is DynamiCrafter's attention
    plain = reference_attention(q, attn.to_k(text), attn.to_v(text), 2) + lam * reference_attention(
        q, attn.to_k_ip(image), attn.to_v_ip(image), 2)
    torch.testing.assert_close(attn(x, context[:, :8]), attn.to_out(plain))


def test_inputs_are_checked():
    _, keyvid = tiny_pair()
    x, t, context, extra = tiny_inputs()
    with pytest.raises(ValueError, match="per-frame image tokens"):
        keyvid(x, t, context[:, :-1], extra={AUDIO_SEGMENTS: extra[AUDIO_SEGMENTS]})
    with pytest.raises(ValueError, match="frame_index"):
        keyvid(x, t, context, extra={FRAME_INDEX: extra[FRAME_INDEX][:, :2]})
    interpolator = build_keyvid_unet(TINY, frame_index_embedding=False)
    with pytest.raises(ValueError, match="no frame-index"):
        interpolator(x, t, context, extra={FRAME_INDEX: extra[FRAME_INDEX]})
    with pytest.raises(ValueError, match="already attached"):
        attach_keyvid(keyvid, keyvid_config(TINY))
