"""Motion interpolation: the keyframe concat and the x̂0-pinning denoiser."""

from __future__ import annotations

import pytest
import torch

from asva.diffusion.ddim import ddim_sample
from asva.diffusion.schedule import SCHEDULE_256, SCHEDULE_512, NoiseSchedule
from asva.keyvid.interpolation import KeyframeAnchoredDenoiser, masked_condition


def test_masked_condition_puts_keyframes_at_their_indices_and_zeros_elsewhere():
    keys = torch.randn(2, 4, 3, 5, 5)
    indices = torch.tensor([[0, 4, 9], [1, 2, 11]])
    concat, mask = masked_condition(keys, indices, 12)
    assert concat.shape == (2, 4, 12, 5, 5) and mask.shape == (2, 12)
    for b in range(2):
        assert torch.equal(concat[b][:, indices[b]], keys[b])
        assert mask[b].nonzero().flatten().tolist() == indices[b].tolist()
        assert not concat[b][:, ~mask[b]].any()
    shared, _ = masked_condition(keys, torch.tensor([0, 4, 9]), 12)  # one index list for the batch
    assert torch.equal(shared[0], concat[0])
    with pytest.raises(ValueError, match="distinct"):
        masked_condition(keys, torch.tensor([0, 4, 4]), 12)
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        masked_condition(keys, torch.tensor([0, 4, 12]), 12)


@pytest.mark.parametrize("config", [SCHEDULE_256, SCHEDULE_512], ids=["eps", "v-zero-snr-rescale"])
def test_pinned_frames_have_the_known_x0_and_the_rest_is_untouched(config):
    schedule = NoiseSchedule(config)
    known = torch.randn(1, 4, 6, 3, 3)
    concat, mask = masked_condition(known[:, :, [1, 4]], torch.tensor([1, 4]), 6)
    net_out = torch.randn(1, 4, 6, 3, 3)
    denoiser = KeyframeAnchoredDenoiser(lambda x, t: net_out, schedule, concat, mask, min_timestep=500)
    x = torch.randn(1, 4, 6, 3, 3)
    t = torch.tensor([700])
    out = denoiser(x, t)
    x0, _ = schedule.predict_x0_eps(out, x, t)
    scale = 1.0 if schedule.scale_arr is None else float(schedule.scale_arr[700])
    torch.testing.assert_close(x0[:, :, [1, 4]], scale * concat[:, :, [1, 4]], rtol=1e-4, atol=1e-4)
    assert torch.equal(out[:, :, [0, 2, 3, 5]], net_out[:, :, [0, 2, 3, 5]])
    assert torch.equal(denoiser(x, torch.tensor([499])), net_out)  # below min_timestep: unchanged


def test_pinned_through_every_step_the_sample_ends_at_the_keyframes():
    schedule = NoiseSchedule(SCHEDULE_256)
    known = torch.randn(1, 4, 2, 3, 3)
    concat, mask = masked_condition(known, torch.tensor([0, 3]), 5)
    denoiser = KeyframeAnchoredDenoiser(lambda x, t: torch.zeros_like(x), schedule, concat, mask, 0)
    g = torch.Generator().manual_seed(0)
    sample = ddim_sample(denoiser, torch.randn(1, 4, 5, 3, 3, generator=g), schedule, 10, eta=0.0)
    # DDIM's last step lands on ᾱ[0], not 1: √ᾱ0·x0 + √(1−ᾱ0)·ε̂
    torch.testing.assert_close(sample[:, :, [0, 3]], known, rtol=0.05, atol=0.1)
