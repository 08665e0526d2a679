"""RelSync and AlignSync against their definitions (FACTS §13)."""

from __future__ import annotations

import pytest
import torch

from asva.metrics.errors import MetricInputError
from asva.metrics.sync_scores import (
    ALIGNSYNC_RESCALE,
    RELSYNC_RESCALE,
    align_prob,
    alignsync,
    relsync,
    summarize,
)


def test_video_against_itself() -> None:
    scores = torch.randn(9)
    rel = relsync(scores, scores)
    assert torch.allclose(rel, torch.full((9,), 0.5, dtype=torch.float64))
    s = summarize(rel, RELSYNC_RESCALE)
    assert s["mean"] == pytest.approx(50.0) and s["rescaled_mean"] == pytest.approx(100.0)
    # A static copy of the reference: every frame's IA equals the first frame's.
    ia = torch.rand(9, 1)
    align = alignsync(rel, align_prob(ia.expand(9, 11), ia[:, 0]))
    a = summarize(align, ALIGNSYNC_RESCALE)
    assert a["mean"] == pytest.approx(25.0) and a["rescaled_mean"] == pytest.approx(100.0)


def test_relsync_is_the_pairwise_softmax() -> None:
    gen, ref = torch.tensor([2.0, -1.0]), torch.tensor([0.0, 1.0])
    expected = torch.exp(gen) / (torch.exp(gen) + torch.exp(ref))
    assert torch.allclose(relsync(gen, ref).float(), expected)


def test_align_prob_averages_frames() -> None:
    ia = torch.tensor([[0.3, 0.1]])
    expected = (torch.sigmoid(torch.tensor(0.1)) + torch.sigmoid(torch.tensor(-0.1))) / 2
    assert align_prob(ia, torch.tensor([0.2])).item() == pytest.approx(expected.item())


def test_bad_input_raises() -> None:
    with pytest.raises(MetricInputError, match="shapes differ"):
        relsync(torch.zeros(3), torch.zeros(4))
    with pytest.raises(MetricInputError, match="NaN"):
        relsync(torch.tensor([float("nan")]), torch.zeros(1))
    with pytest.raises(MetricInputError, match="no clips"):
        relsync(torch.zeros(0), torch.zeros(0))
    with pytest.raises(MetricInputError, match="AlignProb"):
        align_prob(torch.zeros(3), torch.zeros(3))
