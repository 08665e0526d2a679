"""Resampler: official key layout and parity with DynamiCrafter's resampler.py (golden fixture)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from asva.backbone.config import ResamplerConfig
from asva.backbone.resampler import Resampler
from tests.conftest import read_spec, spec_total

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "resampler_golden.pt"


def test_meta_layout_matches_spec() -> None:
    spec = read_spec("dynamicrafter_image_proj")  # skips when ../shared/spec is absent
    with torch.device("meta"):
        model = Resampler(ResamplerConfig())
    layout = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(layout.items()) == list(spec.items())
    assert sum(math.prod(s) for s in layout.values()) == spec_total("dynamicrafter_image_proj")


def test_matches_reference_on_random_weights() -> None:
    golden = torch.load(GOLDEN, weights_only=True)
    model = Resampler(ResamplerConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    with torch.no_grad():
        out = model(golden["inputs"])  # (2, 12, 40)
    ref = golden["outputs"]
    assert out.shape == ref.shape == (2, 4 * 3, 40)
    assert ((out - ref).norm() / ref.norm()).item() < 1e-4


def test_rejects_wrong_token_width() -> None:
    model = Resampler(ResamplerConfig(dim=16, depth=1, dim_head=8, heads=2, num_queries=2, embedding_dim=12,
                                      output_dim=16, ff_mult=2, video_length=2))
    with pytest.raises(ValueError, match=r"\(B, N, 12\)"):
        model(torch.zeros(1, 5, 10))
