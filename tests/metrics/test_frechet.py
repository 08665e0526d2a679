"""Fréchet distance: float64 parity with a SciPy sqrtm reference, closed forms, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from asva.metrics.errors import MetricInputError
from asva.metrics.frechet import frechet_distance, gaussian_stats


def _scipy_reference(x1: np.ndarray, x2: np.ndarray) -> float:
    linalg = pytest.importorskip("scipy.linalg")
    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize(("n1", "n2", "dim"), [(200, 150, 16), (300, 300, 64)])
def test_matches_scipy_reference(n1: int, n2: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((dim, dim))
    x1 = rng.standard_normal((n1, dim)) @ mix
    x2 = rng.standard_normal((n2, dim)) @ (mix + 0.3 * rng.standard_normal((dim, dim))) + 0.5
    ours, ref = frechet_distance(x1, x2), _scipy_reference(x1, x2)
    assert abs(ours - ref) / abs(ref) < 1e-6


def test_identical_sets_give_zero() -> None:
    x = np.random.default_rng(1).standard_normal((100, 32))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_mean_shift_gives_squared_norm() -> None:
    # Same covariance, means apart by delta: d² = |delta|² exactly.
    x = np.random.default_rng(2).standard_normal((80, 10))
    delta = np.arange(10, dtype=np.float64) / 10
    assert frechet_distance(x, x + delta) == pytest.approx(float(delta @ delta), rel=1e-9)


def test_rank_deficient_covariance_is_finite() -> None:
    # Fewer vectors than dimensions (as with few clips and 400-d I3D features): singular covariances.
    rng = np.random.default_rng(3)
    d = frechet_distance(rng.standard_normal((5, 50)), rng.standard_normal((7, 50)))
    assert np.isfinite(d) and d > 0


def test_bad_input_raises() -> None:
    x = np.zeros((10, 4))
    with pytest.raises(MetricInputError, match="at least 2"):
        frechet_distance(x[:1], x)
    with pytest.raises(MetricInputError, match="feature sizes differ"):
        frechet_distance(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(MetricInputError, match="NaN"):
        gaussian_stats(np.full((3, 2), np.nan))
    with pytest.raises(MetricInputError, match=r"\(N, D\)"):
        gaussian_stats(np.zeros(5))
