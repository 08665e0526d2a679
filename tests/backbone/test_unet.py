"""UNet3D: official key layout, parity with the reference DynamiCrafter UNet, forward contract."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from asva.backbone.attention import LayerInputs, TemporalTransformer
from asva.backbone.config import UNetConfig
from asva.backbone.unet import UNet3D, timestep_embedding
from tests.conftest import read_spec, spec_total

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "unet_tiny_golden.pt"

# The golden fixture's reference config (see tests/fixtures/README_unet.md), in our terms.
TINY = UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(1,),
                  num_head_channels=8, context_dim=16, temporal_length=4, default_fs=3)
FULL = {
    "dynamicrafter256_unet": UNetConfig(),
    "dynamicrafter512_unet": UNetConfig(image_cross_attention_scale_learnable=False, default_fs=24),
}


def rel_err(ours: Tensor, ref: Tensor) -> float:
    return ((ours - ref).norm() / ref.norm()).item()


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(GOLDEN, weights_only=True)


def tiny_unet(golden: dict, learnable: bool = True) -> UNet3D:
    """TINY with the fixture's weights (stored as int8 codes × power-of-two scales, exact in fp32)."""
    unet = UNet3D(dataclasses.replace(TINY, image_cross_attention_scale_learnable=learnable)).eval()
    state = {k: q.float() * golden["state_dict_scales"][k] for k, q in golden["state_dict_codes"].items()}
    if not learnable:
        state = {k: v for k, v in state.items() if not k.endswith(".alpha")}
    unet.load_state_dict(state, strict=True)
    return unet


# -- layout ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", sorted(FULL))
def test_meta_layout_matches_spec(spec: str) -> None:
    expected = read_spec(spec)
    with torch.device("meta"):
        unet = UNet3D(FULL[spec])
    assert all(p.is_meta for p in unet.parameters())
    got = [(k, tuple(v.shape)) for k, v in unet.state_dict().items()]
    assert got == list(expected.items())  # same keys, shapes and order
    assert sum(p.numel() for p in unet.parameters()) == spec_total(spec)


def test_temporal_transformers_lists_all_sites() -> None:
    with torch.device("meta"):
        unet = UNet3D(UNetConfig())
    names = [name for name, _ in unet.temporal_transformers()]
    assert len(names) == 17 and names[0] == "input_blocks.1.2" and "init_attn.0" in names
    total = sum(p.numel() for _, m in unet.temporal_transformers() for p in m.parameters())
    assert total == 272_850_880 + 5_580_736  # FACTS §1: 16 regular sites + init_attn


def test_timestep_embedding_is_cos_then_sin() -> None:
    emb = timestep_embedding(torch.tensor([0.0, 5.0]), 8)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(4) / 4)
    assert torch.allclose(emb[1], torch.cat([torch.cos(5 * freqs), torch.sin(5 * freqs)]))
    assert torch.equal(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))


# -- parity with the reference ---------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["learnable", "fixed"])
def test_parity_with_reference(golden: dict, variant: str) -> None:
    unet, x = tiny_unet(golden, learnable=variant == "learnable"), golden["inputs"]
    with torch.no_grad():
        per_frame = unet(x["x"], x["timesteps"], x["context_per_frame"], fs=x["fs"])
        repeat = unet(x["x"], x["timesteps"], x["context_repeat"], fs=x["fs"])
        default_fs = unet(x["x"], x["timesteps"], x["context_per_frame"])
    assert rel_err(per_frame, golden["outputs"][f"{variant}/per_frame"]) < 1e-4
    assert rel_err(repeat, golden["outputs"][f"{variant}/repeat"]) < 1e-4
    assert rel_err(default_fs, golden["outputs"][f"{variant}/default_fs"]) < 1e-4


# -- forward contract ------------------------------------------------------------------------------

def test_output_shape_and_default_fs(golden: dict) -> None:
    unet = tiny_unet(golden)
    x = torch.randn(1, 8, 3, 8, 16)  # frames and width other than the fixture's
    context = torch.randn(1, 77 + 3 * 16, 16)
    with torch.no_grad():
        y = unet(x, torch.tensor([500]), context)
        y_fs = unet(x, torch.tensor([500]), context, fs=torch.tensor([TINY.default_fs]))
        y_other = unet(x, torch.tensor([500]), context, fs=torch.tensor([TINY.default_fs + 3]))
    assert y.shape == (1, 4, 3, 8, 16)
    assert torch.equal(y, y_fs)
    assert not torch.allclose(y, y_other)


def test_rejects_bad_inputs(golden: dict) -> None:
    unet = tiny_unet(golden)
    with pytest.raises(ValueError, match="context"):
        unet(torch.randn(1, 8, 2, 8, 8), torch.tensor([1]), torch.randn(1, 80, 32))
    with pytest.raises(ValueError, match="multiples of 2"):
        unet(torch.randn(1, 8, 2, 8, 7), torch.tensor([1]), torch.randn(1, 80, 16))


class _Recorder(nn.Module):
    """Stands in for an adapter: records what it was given, then runs the original layer."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen: list[LayerInputs] = []

    def forward(self, h: Tensor, inputs: LayerInputs) -> Tensor:
        self.seen.append(inputs)
        return self.inner(h, inputs)


def test_extra_reaches_every_wrapped_temporal_transformer(golden: dict) -> None:
    unet, x = tiny_unet(golden), golden["inputs"]
    extra = {"audio_tokens": torch.randn(2, 4, 5, 16)}
    with torch.no_grad():
        before = unet(x["x"], x["timesteps"], x["context_per_frame"], fs=x["fs"])
    recorders = []
    for name, temporal in list(unet.temporal_transformers()):
        recorders.append(_Recorder(temporal))
        unet.set_submodule(name, recorders[-1])
    with torch.no_grad():
        after = unet(x["x"], x["timesteps"], x["context_per_frame"], fs=x["fs"], extra=extra)
    assert len(recorders) == 5  # init_attn, input_blocks.1, middle, output_blocks.2 and .3
    assert all(len(r.seen) == 1 and r.seen[0].extra is extra for r in recorders)
    assert all(r.seen[0].batch_size == 2 and r.seen[0].num_frames == 4 for r in recorders)
    assert isinstance(recorders[0].inner, TemporalTransformer)
    assert torch.equal(before, after)


def test_gradient_checkpointing_gives_same_gradients(golden: dict) -> None:
    unet, x = tiny_unet(golden), golden["inputs"]
    grads = []
    for flag in (False, True):
        unet.zero_grad()
        unet.gradient_checkpointing = flag
        unet(x["x"], x["timesteps"], x["context_per_frame"], fs=x["fs"]).square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in unet.parameters()]))
    assert rel_err(grads[1], grads[0]) < 1e-5
