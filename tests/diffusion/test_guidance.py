"""Multi-condition classifier-free guidance: batching, the combination formula, CFG rescale, errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from asva.diffusion.ddim import ddim_sample
from asva.diffusion.guidance import GuidedDenoiser, guidance_weights, rescale_cfg
from asva.diffusion.schedule import SCHEDULE_512, NoiseSchedule

B = 2
X_SHAPE = (B, 4, 3, 6, 6)  # (B, C, F, H, W)


class CountingNet:
    """A per-sample nonlinear mock of the UNet that records every call's batch size."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.seen_extra: list[Any] = []

    def __call__(self, x: Tensor, t: Tensor, cond: dict[str, Any]) -> Tensor:
        self.batches.append(x.shape[0])
        self.seen_extra.append(cond.get("fs"))
        n = x.shape[0]
        text = cond["text"].mean(dim=(1, 2)).view(n, 1, 1, 1, 1)  # (N, 1, 1, 1, 1)
        image = cond["image"].mean(dim=(1, 2)).view(n, 1, 1, 1, 1)
        audio = cond["audio"][0].mean(dim=(1, 2)).view(n, 1, 1, 1, 1)  # a list entry, DC-style
        phase = (t.float() / 1000).view(n, 1, 1, 1, 1)
        return (
            torch.tanh(x) * (1 + text)
            + 0.5 * image * x**2
            + torch.sin(3 * audio + phase)
            + 0.1 * cond["concat"]
        )


def make_branches(seed: int = 0) -> list[dict[str, Any]]:
    """e_0 = none, e_1 = +image, e_2 = +text, e_3 = +audio; `concat` and `fs` never change."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    text_null, text = rnd(B, 7, 16), rnd(B, 7, 16)
    image_null, image = rnd(B, 4, 16), rnd(B, 4, 16)
    audio_null, audio = rnd(B, 3, 16), rnd(B, 3, 16)
    concat = rnd(*X_SHAPE)
    base = {"concat": concat, "fs": 6, "mask": None}
    return [
        {**base, "text": text_null, "image": image_null, "audio": [audio_null]},
        {**base, "text": text_null, "image": image, "audio": [audio_null]},
        {**base, "text": text, "image": image, "audio": [audio_null]},
        {**base, "text": text, "image": image, "audio": [audio]},
    ]


def inputs(seed: int = 1) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(X_SHAPE, generator=g), torch.tensor([999, 500])


def separate_calls(net: CountingNet, branches: list[dict[str, Any]], x: Tensor, t: Tensor) -> list[Tensor]:
    return [net(x, t, b) for b in branches]


def test_weights_telescope() -> None:
    assert guidance_weights([]) == [1.0]
    assert guidance_weights([7.5]) == [-6.5, 7.5]
    assert guidance_weights([2.0, 7.5, 7.5]) == [-1.0, -5.5, 0.0, 7.5]
    assert sum(guidance_weights([1.3, 4.0, 9.0])) == pytest.approx(1.0)


@pytest.mark.parametrize("scales", [(2.0, 7.5, 9.0), (1.5, 3.0, 0.0), (3.0, 3.0, 7.5)])
def test_combination_equals_explicit_formula(scales: tuple[float, float, float]) -> None:
    branches, (x, t) = make_branches(), inputs()
    e = separate_calls(CountingNet(), branches, x, t)
    s_img, s_txt, s_aud = scales
    # KeyVID 4-pass: e_u + s_img(e_i − e_u) + s_txt(e_it − e_i) + s_aud(e_ita − e_it)
    expected = e[0] + s_img * (e[1] - e[0]) + s_txt * (e[2] - e[1]) + s_aud * (e[3] - e[2])
    net = CountingNet()
    out = GuidedDenoiser(net, branches, scales)(x, t)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert len(net.batches) == 1


def test_dynamicrafter_two_scale_formula() -> None:
    # DC multi-cond: e_u + s_img(e_i − e_u) + s_txt(e_c − e_i), e_c = text + image
    branches, (x, t) = make_branches()[:3], inputs()
    e = separate_calls(CountingNet(), branches, x, t)
    expected = e[0] + 1.2 * (e[1] - e[0]) + 7.5 * (e[2] - e[1])
    torch.testing.assert_close(GuidedDenoiser(CountingNet(), branches, [1.2, 7.5])(x, t), expected)


def test_one_batched_call_per_step() -> None:
    net = CountingNet()
    denoiser = GuidedDenoiser(net, make_branches(), [2.0, 7.5, 9.0], guidance_rescale=0.7)
    ddim_sample(
        denoiser, inputs()[0], NoiseSchedule(SCHEDULE_512), 6, generator=torch.Generator().manual_seed(0)
    )
    assert net.batches == [4 * B] * 6


def test_zero_weight_branches_are_not_computed() -> None:
    branches, (x, t) = make_branches(), inputs()
    e = separate_calls(CountingNet(), branches, x, t)
    # KeyVID keyframe scales: s_txt = s_aud, so e_it has weight 0
    net = CountingNet()
    denoiser = GuidedDenoiser(net, branches, [2.0, 7.5, 7.5])
    assert denoiser.active == [0, 1, 3]
    expected = e[0] + 2.0 * (e[1] - e[0]) + 7.5 * (e[2] - e[1]) + 7.5 * (e[3] - e[2])
    torch.testing.assert_close(denoiser(x, t), expected, rtol=1e-5, atol=1e-5)
    assert net.batches == [3 * B]
    # all scales 1: only the fully conditional branch, exactly
    net = CountingNet()
    assert torch.equal(GuidedDenoiser(net, branches, [1.0, 1.0, 1.0], guidance_rescale=0.7)(x, t), e[3])
    assert net.batches == [B]


def test_no_guidance_is_a_plain_call() -> None:
    branch, (x, t) = make_branches()[3], inputs()
    net = CountingNet()
    out = GuidedDenoiser(net, [branch], [], guidance_rescale=0.7)(x, t)
    assert torch.equal(out, CountingNet()(x, t, branch))
    assert net.batches == [B]


def test_non_tensor_entries_pass_through() -> None:
    net = CountingNet()
    denoiser = GuidedDenoiser(net, make_branches(), [2.0, 7.5, 9.0])
    denoiser(*inputs())
    assert net.seen_extra == [6]
    assert denoiser.cond["mask"] is None and isinstance(denoiser.cond["audio"], list)
    assert denoiser.cond["text"].shape == (4 * B, 7, 16)


def test_cfg_rescale_formula() -> None:
    branches, (x, t) = make_branches(), inputs()
    scales, phi = [2.0, 7.5, 9.0], 0.7
    e = separate_calls(CountingNet(), branches, x, t)
    guided = e[0] + 2.0 * (e[1] - e[0]) + 7.5 * (e[2] - e[1]) + 9.0 * (e[3] - e[2])
    ratio = e[3].std(dim=(1, 2, 3, 4), keepdim=True) / guided.std(dim=(1, 2, 3, 4), keepdim=True)
    expected = phi * guided * ratio + (1 - phi) * guided
    out = GuidedDenoiser(CountingNet(), branches, scales, guidance_rescale=phi)(x, t)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    # φ = 1 gives each sample exactly the spread of the fully conditional prediction
    full = rescale_cfg(guided, e[3], 1.0)
    torch.testing.assert_close(full.flatten(1).std(dim=1), e[3].flatten(1).std(dim=1))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda b: b[2].update(text=torch.zeros(B, 5, 16)), "branch 2 has shape"),
        (lambda b: b[1].update(text=torch.zeros(B, 7, 16, dtype=torch.float64)), "branch 1 has shape"),
        (lambda b: b[3].update(fs=3), "non-tensor entries must be equal"),
        (lambda b: b[1].pop("concat"), "branch 1 has keys"),
        (lambda b: b[2].update(audio=[torch.zeros(B, 3, 16)] * 2), "length 2"),
        (lambda b: b[2].update(image=None), "branch 0 holds a tensor, branch 2 holds NoneType"),
        (lambda b: [d.update(fs=torch.tensor(6.0)) for d in b], "0-d tensor"),
        (lambda b: [d.update(fps=torch.ones(B + 1)) for d in b], "one batch size"),
    ],
)
def test_mismatched_branches_are_rejected(edit: Any, match: str) -> None:
    branches = make_branches()
    edit(branches)
    with pytest.raises(ValueError, match=match):
        GuidedDenoiser(CountingNet(), branches, [2.0, 7.5, 9.0])


def test_bad_arguments_are_rejected() -> None:
    branches = make_branches()
    with pytest.raises(ValueError, match="len\\(branches\\) == len\\(scales\\) \\+ 1"):
        GuidedDenoiser(CountingNet(), branches, [7.5])
    with pytest.raises(ValueError, match="at least one"):
        GuidedDenoiser(CountingNet(), [], [])
    with pytest.raises(ValueError, match="guidance_rescale"):
        GuidedDenoiser(CountingNet(), branches, [1.0, 2.0, 3.0], guidance_rescale=2.0)
    denoiser = GuidedDenoiser(CountingNet(), branches, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="condition batch size 2 does not match x batch size 3"):
        denoiser(torch.zeros(3, *X_SHAPE[1:]), torch.zeros(3, dtype=torch.long))
