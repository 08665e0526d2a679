"""VAE: official key layout, parity with the reference LDM autoencoder, encode/decode contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asva.backbone.config import VAEConfig
from asva.backbone.vae import VAE, ldm_to_diffusers_names
from tests.conftest import read_spec

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "vae_tiny_golden.pt"

# The golden fixture's reference ddconfig (ch 32, ch_mult [1, 2], 1 res block, z 4), in our terms.
TINY = VAEConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, z_channels=4, embed_dim=4)


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours - ref).norm() / ref.norm()).item()


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(GOLDEN, weights_only=True)


@pytest.fixture(scope="module")
def tiny_vae(golden: dict) -> VAE:
    vae = VAE(TINY).eval()
    # The fixture stores float16 values; the reference ran on exactly these values in float32.
    vae.load_state_dict({k: v.float() for k, v in golden["state_dict"].items()}, strict=True)
    return vae


# -- layout ----------------------------------------------------------------------------------------

def test_meta_layout_matches_spec() -> None:
    spec = read_spec("dynamicrafter_vae")  # skips when ../shared/spec is absent
    with torch.device("meta"):
        vae = VAE(VAEConfig())
    # Same keys, same shapes, same order as the official state dict.
    assert [(k, tuple(v.shape)) for k, v in vae.state_dict().items()] == list(spec.items())


def test_full_size_parameter_count() -> None:
    with torch.device("meta"):
        vae = VAE(VAEConfig())
    assert sum(p.numel() for p in vae.parameters()) == 83_653_863


def test_name_table_reverses_decoder_levels() -> None:
    names = ldm_to_diffusers_names(VAEConfig())
    assert names["decoder.up.0.block.0.nin_shortcut.weight"] == (
        "decoder.up_blocks.3.resnets.0.conv_shortcut.weight")
    assert names["decoder.up.3.upsample.conv.bias"] == "decoder.up_blocks.0.upsamplers.0.conv.bias"
    assert names["encoder.mid.attn_1.proj_out.weight"] == "encoder.mid_block.attentions.0.to_out.0.weight"


def test_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    source, target = VAE(TINY), VAE(TINY)
    sd = source.state_dict()
    assert sd["encoder.mid.attn_1.q.weight"].shape == (64, 64, 1, 1)
    target.load_state_dict(sd, strict=True)
    for key, value in target.state_dict().items():
        assert torch.equal(value, sd[key]), key


def test_round_trip_inside_a_parent_module() -> None:
    parent = torch.nn.ModuleDict({"first_stage_model": VAE(TINY), "head": torch.nn.Linear(2, 2)})
    sd = parent.state_dict()
    assert "first_stage_model.decoder.up.1.upsample.conv.weight" in sd
    assert list(sd)[-2:] == ["head.weight", "head.bias"]
    parent.load_state_dict(sd, strict=True)


def test_strict_load_names_official_keys() -> None:
    vae = VAE(TINY)
    sd = vae.state_dict()
    del sd["decoder.up.0.block.1.conv2.weight"]
    sd["encoder.not_a_layer.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError) as err:
        vae.load_state_dict(sd, strict=True)
    assert '"decoder.up.0.block.1.conv2.weight"' in str(err.value)
    assert '"encoder.not_a_layer.weight"' in str(err.value)
    assert "up_blocks" not in str(err.value)


def test_missing_keys_reported_officially_when_not_strict() -> None:
    vae = VAE(TINY)
    sd = vae.state_dict()
    del sd["encoder.mid.attn_1.q.weight"]
    result = vae.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["encoder.mid.attn_1.q.weight"]


def test_size_mismatch_names_official_key() -> None:
    vae = VAE(TINY)
    sd = vae.state_dict()
    sd["encoder.mid.attn_1.k.weight"] = torch.zeros(64, 64, 3, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for encoder\.mid\.attn_1\.k\.weight"):
        vae.load_state_dict(sd, strict=True)


# -- parity with the reference (DynamiCrafter lvdm AutoencoderKL) ----------------------------------

def test_parity_posterior(tiny_vae: VAE, golden: dict) -> None:
    ref = golden["outputs"]
    with torch.no_grad():
        mean, logvar = tiny_vae.posterior(golden["inputs"]["video"], frames_per_batch=4)
    assert rel_err(torch.cat([mean, logvar], dim=1), ref["moments"].clamp(-30, 20)) < 1e-4
    assert rel_err(mean, ref["mean"]) < 1e-4
    assert rel_err(logvar, ref["logvar"]) < 1e-4
    assert logvar.max() == 20.0 and logvar.min() == -30.0  # the fixture drives both clamp ends


def test_parity_encode_mean_and_sample(tiny_vae: VAE, golden: dict) -> None:
    ref, video = golden["outputs"], golden["inputs"]["video"]
    seed = golden["config"]["sample_noise_seed"]
    with torch.no_grad():
        latent_mean = tiny_vae.encode(video, sample=False)
        latent_sample = tiny_vae.encode(video, generator=torch.Generator().manual_seed(seed))
    assert rel_err(latent_mean, ref["latent_mean"]) < 1e-4
    # Per channel: the fixture gives channel 0 a huge std (logvar clamped at 20), which would
    # otherwise hide the other channels in one norm.
    for c in range(latent_sample.shape[1]):
        assert rel_err(latent_sample[:, c], ref["latent_sample"][:, c]) < 1e-4, c


def test_parity_decode(tiny_vae: VAE, golden: dict) -> None:
    with torch.no_grad():
        video = tiny_vae.decode(golden["outputs"]["latent_mean"], frames_per_batch=5)
    assert rel_err(video, golden["outputs"]["decoded"]) < 1e-4


# -- encode / decode contract -----------------------------------------------------------------------

def test_shapes_and_scale_factor() -> None:
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    video = torch.rand(2, 3, 5, 8, 12) * 2 - 1
    with torch.no_grad():
        latent = vae.encode(video, sample=False, frames_per_batch=3)
        mean, _ = vae.posterior(video)
        out = vae.decode(latent)
    assert latent.shape == (2, 4, 5, 4, 6)
    torch.testing.assert_close(latent, mean * 0.18215)
    assert out.shape == (2, 3, 5, 8, 12)


def test_chunking_does_not_change_results() -> None:
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    video = torch.rand(1, 3, 4, 8, 8) * 2 - 1
    with torch.no_grad():
        a = vae.encode(video, generator=torch.Generator().manual_seed(3), frames_per_batch=1)
        b = vae.encode(video, generator=torch.Generator().manual_seed(3), frames_per_batch=8)
        da, db = vae.decode(a, frames_per_batch=1), vae.decode(a, frames_per_batch=3)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(da, db)


def test_sampling_is_deterministic_given_a_generator() -> None:
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    video = torch.rand(1, 3, 2, 8, 8) * 2 - 1
    with torch.no_grad():
        a = vae.encode(video, generator=torch.Generator().manual_seed(7))
        b = vae.encode(video, generator=torch.Generator().manual_seed(7))
        c = vae.encode(video, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(
    ("shape", "message"),
    [((3, 8, 8), "5-D"), ((1, 3, 8, 8), "5-D"), ((1, 4, 2, 8, 8), "3 channels"),
     ((1, 3, 2, 8, 7), "multiples")],
)
def test_bad_video_is_rejected(shape: tuple[int, ...], message: str) -> None:
    vae = VAE(TINY)
    with pytest.raises(ValueError, match=message):
        vae.encode(torch.zeros(shape))


def test_bad_latent_and_options_are_rejected() -> None:
    vae = VAE(TINY)
    with pytest.raises(ValueError, match="4 channels"):
        vae.decode(torch.zeros(1, 8, 2, 4, 4))
    with pytest.raises(TypeError, match="floating point"):
        vae.encode(torch.zeros(1, 3, 1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="frames_per_batch"):
        vae.decode(torch.zeros(1, 4, 2, 4, 4), frames_per_batch=0)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="norm_groups"):
        VAEConfig(ch=48, ch_mult=(1,), norm_groups=32)
    with pytest.raises(ValueError, match="embed_dim == z_channels"):
        VAE(VAEConfig(ch=32, ch_mult=(1,), z_channels=4, embed_dim=8))
