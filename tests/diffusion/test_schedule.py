"""NoiseSchedule: reference values, official buffers, timestep sets, eps/v conversions."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from diffusers import DDIMScheduler

from asva.diffusion.schedule import (
    OFFICIAL_BUFFER_NAMES,
    SCHEDULE_256,
    SCHEDULE_512,
    NoiseSchedule,
    ScheduleConfig,
)


@pytest.fixture(scope="module")
def s256() -> NoiseSchedule:
    return NoiseSchedule(SCHEDULE_256)


@pytest.fixture(scope="module")
def s512() -> NoiseSchedule:
    return NoiseSchedule(SCHEDULE_512)


def test_reference_values_256(s256: NoiseSchedule) -> None:
    ac = s256.alphas_cumprod
    assert ac.dtype == torch.float32 and ac.shape == (1000,)
    assert ac[0].item() == pytest.approx(0.99915, rel=1e-6)
    assert ac[999].item() == pytest.approx(0.0046601, rel=1e-4)
    assert torch.all(ac[1:] < ac[:-1])


def test_reference_values_zero_snr(s512: NoiseSchedule) -> None:
    ac = s512.alphas_cumprod
    assert ac[999].item() == 0.0
    assert ac[998].item() == pytest.approx(1.968e-7, rel=1e-3)
    assert ac[0].item() == pytest.approx(0.99915, rel=1e-6)  # √ᾱ_0 is kept by the rescale
    assert s512.betas[999].item() == 1.0


@pytest.mark.parametrize("zero_snr", [False, True])
def test_alphas_cumprod_match_diffusers(zero_snr: bool) -> None:
    cfg = dataclasses.replace(SCHEDULE_512, rescale_zero_snr=zero_snr)
    ref = DDIMScheduler(
        beta_start=cfg.linear_start,
        beta_end=cfg.linear_end,
        beta_schedule="scaled_linear",
        rescale_betas_zero_snr=zero_snr,
    ).alphas_cumprod
    ours = NoiseSchedule(cfg).alphas_cumprod
    # diffusers works in float32, we in float64: compare where ᾱ is not vanishing
    torch.testing.assert_close(ours[:990], ref[:990], rtol=2e-5, atol=0)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


def test_official_buffers_256(s256: NoiseSchedule) -> None:
    bufs = s256.official_buffers()
    assert tuple(bufs) == OFFICIAL_BUFFER_NAMES and len(bufs) == 12
    for name, value in bufs.items():
        assert value.dtype == torch.float32 and value.shape == (1000,), name
        assert torch.isfinite(value).all(), name
    ac = bufs["alphas_cumprod"].double()
    torch.testing.assert_close(bufs["sqrt_recip_alphas_cumprod"].double(), ac.rsqrt(), rtol=1e-6, atol=0)
    torch.testing.assert_close(bufs["alphas_cumprod_prev"][1:], bufs["alphas_cumprod"][:-1])
    assert bufs["alphas_cumprod_prev"][0].item() == 1.0
    assert bufs["posterior_variance"][0].item() == 0.0
    assert bufs["posterior_log_variance_clipped"][0].item() == pytest.approx(-46.0517, rel=1e-5)  # log(1e-20)


def test_official_buffers_512_quirks(s512: NoiseSchedule) -> None:
    bufs = s512.official_buffers()
    assert list(bufs) == [*OFFICIAL_BUFFER_NAMES, "scale_arr"]
    # v-parameterized checkpoints store these two as zeros; our attributes keep the true values
    assert torch.count_nonzero(bufs["sqrt_recip_alphas_cumprod"]) == 0
    assert torch.count_nonzero(bufs["sqrt_recipm1_alphas_cumprod"]) == 0
    assert s512.sqrt_recip_alphas_cumprod[0].item() > 1.0
    for name, value in bufs.items():
        assert torch.isfinite(value).all(), name
    scale = bufs["scale_arr"]
    assert scale.shape == (1400,)
    torch.testing.assert_close(scale[:400], torch.linspace(1.0, 0.7, 400))
    assert torch.all(scale[400:] == torch.tensor(0.7))
    # returned tensors are copies: editing them must not change the schedule
    bufs["betas"].zero_()
    assert s512.betas[0].item() > 0


def test_no_scale_arr_without_dynamic_rescale(s256: NoiseSchedule) -> None:
    assert s256.scale_arr is None and "scale_arr" not in s256.official_buffers()
    assert s256.dynamic_rescale_ratio(981, 961) == 1.0


def test_ddim_timesteps_uniform(s256: NoiseSchedule) -> None:
    taus = s256.ddim_timesteps(50)
    assert taus.dtype == torch.long
    assert taus.tolist() == list(range(1, 1000, 20))
    # the reference quirk: c = 1000 // 30 = 33 gives 31 timesteps, kept on purpose
    assert len(s256.ddim_timesteps(30)) == 31
    # where the reference would index τ = 1000 (and crash) that step is dropped
    assert s256.ddim_timesteps(3).tolist() == [1, 334, 667]
    assert s256.ddim_timesteps(501).max() == 999
    with pytest.raises(ValueError, match="DDIM steps"):
        s256.ddim_timesteps(0)


def test_ddim_timesteps_trailing(s512: NoiseSchedule) -> None:
    assert s512.ddim_timesteps(50).tolist() == list(range(19, 1000, 20))
    t90 = s512.ddim_timesteps(90).tolist()
    assert len(t90) == 90 and t90[:3] == [10, 21, 32] and t90[-2:] == [988, 999]
    assert s512.ddim_timesteps(1000).tolist() == list(range(1000))


@pytest.mark.parametrize(
    ("spacing", "steps"),
    # 'uniform' only where 1000 % steps == 0: otherwise the reference keeps more than `steps`
    # entries and diffusers' 'leading' does not
    [("uniform", s) for s in (10, 20, 25, 50, 100, 250)]
    + [("uniform_trailing", s) for s in (10, 20, 30, 50, 90, 250, 333)],
)
def test_ddim_timesteps_match_diffusers(spacing: str, steps: int) -> None:
    ref = DDIMScheduler(
        timestep_spacing="leading" if spacing == "uniform" else "trailing",
        steps_offset=1 if spacing == "uniform" else 0,
    )
    ref.set_timesteps(steps)
    ours = NoiseSchedule(dataclasses.replace(SCHEDULE_256, spacing=spacing)).ddim_timesteps(steps)
    assert ours.tolist() == ref.timesteps.flip(0).tolist()


@pytest.mark.parametrize("preset", [SCHEDULE_256, SCHEDULE_512], ids=["256", "512"])
def test_eps_v_round_trip(preset: ScheduleConfig) -> None:
    sched = NoiseSchedule(preset)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 4, 3, 6, 6, generator=g)  # (B, C, F, H, W)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([0, 1, 500, 998, 999])
    x_t = sched.q_sample(x0, t, noise)
    model_out = sched.training_target(x0, noise, t)
    x0_hat, eps_hat = sched.predict_x0_eps(model_out, x_t, t)
    keep = slice(None) if preset.parameterization == "v" else slice(0, 4)  # eps: ᾱ_999 tiny, x0 ill-posed
    torch.testing.assert_close(x0_hat[keep], x0[keep], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(eps_hat, noise, rtol=1e-4, atol=1e-4)


def test_v_target_closed_form(s512: NoiseSchedule) -> None:
    x0, noise = torch.randn(3, 8), torch.randn(3, 8)
    t = torch.tensor([10, 400, 999])
    a = s512.alphas_cumprod[t].double().sqrt()[:, None]
    s = (1 - s512.alphas_cumprod[t].double()).sqrt()[:, None]
    expected = (a * noise.double() - s * x0.double()).float()
    torch.testing.assert_close(s512.v_target(x0, noise, t), expected)
    # at zero SNR the input is pure noise and v = −x0
    torch.testing.assert_close(s512.v_target(x0, noise, t)[2], -x0[2])


def test_training_pair_dynamic_rescale(s256: NoiseSchedule, s512: NoiseSchedule) -> None:
    x0, noise = torch.randn(2, 4, 2, 4, 4), torch.randn(2, 4, 2, 4, 4)
    t = torch.tensor([100, 700])
    x_t, target = s256.training_pair(x0, t, noise)
    torch.testing.assert_close(x_t, s256.q_sample(x0, t, noise))
    assert target is noise
    x_t, target = s512.training_pair(x0, t, noise)
    scaled = x0 * torch.tensor([1.0 - 0.3 * 100 / 399, 0.7]).view(2, 1, 1, 1, 1)
    torch.testing.assert_close(x_t, s512.q_sample(scaled, t, noise))
    torch.testing.assert_close(target, s512.v_target(scaled, noise, t))


def test_dynamic_rescale_ratio(s512: NoiseSchedule) -> None:
    assert s512.dynamic_rescale_ratio(999, 949) == 1.0  # both on the flat 0.7 part
    expected = (1.0 - 0.3 * 199 / 399) / (1.0 - 0.3 * 219 / 399)
    assert s512.dynamic_rescale_ratio(219, 199) == pytest.approx(expected, rel=1e-6)


def test_helpers_follow_input_dtype(s256: NoiseSchedule) -> None:
    x = torch.randn(2, 3, dtype=torch.float64)
    assert s256.q_sample(x, torch.tensor([1, 2]), x).dtype == torch.float64


def test_helpers_reject_bad_timesteps(s256: NoiseSchedule) -> None:
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"\(B,\) tensor with B = 2"):
        s256.q_sample(x, torch.tensor([1, 2, 3]), x)
    with pytest.raises(ValueError, match="integer tensor"):
        s256.q_sample(x, torch.tensor([1.0, 2.0]), x)
    with pytest.raises(ValueError, match="model output shape"):
        s256.predict_x0_eps(torch.randn(2, 4), x, torch.tensor([1, 2]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"parameterization": "x0"}, "parameterization"),
        ({"spacing": "quad"}, "spacing"),
        ({"rescale_zero_snr": True}, "requires parameterization='v'"),
        ({"linear_start": 0.02}, "linear_start < linear_end"),
        ({"timesteps": 1}, "timesteps"),
        ({"guidance_rescale": 1.5}, "guidance_rescale"),
        ({"dynamic_rescale_base": 0.0}, "dynamic_rescale_base"),
        ({"dynamic_rescale_steps": 0}, "dynamic_rescale_steps"),
    ],
)
def test_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ScheduleConfig(**kwargs)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEDULE_256.timesteps = 10  # type: ignore[misc]
