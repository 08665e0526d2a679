"""Fréchet distance between two Gaussians fitted to feature sets (the FID / FVD distance).

d² = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2·Tr((Σ₁Σ₂)^½)  (Heusel et al. 2017, eq. 6).

Tr((Σ₁Σ₂)^½) is computed as Tr((√Σ₁ Σ₂ √Σ₁)^½): the inner product is symmetric positive
semi-definite, so both square roots are eigen-decompositions of symmetric matrices (real, stable,
no complex round-off as with a general `sqrtm` of the non-symmetric Σ₁Σ₂). Everything runs in
float64; eigenvalues that round below zero are clamped to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from asva.metrics.errors import MetricInputError


@dataclass(frozen=True)
class GaussianStats:
    """Mean (D,) and unbiased covariance (D, D) of N feature vectors, float64."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def _as_features(features: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().double().numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise MetricInputError(f"{what}: expected features (N, D), got shape {x.shape}")
    if x.shape[0] < 2:
        raise MetricInputError(f"{what}: {x.shape[0]} feature vector(s); the covariance needs at least 2 "
                               "(FVD/FID need at least 2 clips/frames per set)")
    if not np.isfinite(x).all():
        raise MetricInputError(f"{what}: features contain NaN or infinity")
    return x


def gaussian_stats(features: np.ndarray | torch.Tensor, what: str = "features") -> GaussianStats:
    """Fit mean and unbiased covariance to features (N, D), N >= 2, in float64."""
    x = _as_features(features, what)  # (N, D)
    return GaussianStats(x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False)), x.shape[0])


def _sqrt_psd(mat: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    mat = (mat + mat.T) / 2  # remove round-off asymmetry before eigh
    vals, vecs = np.linalg.eigh(mat)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """Tr((Σ₁Σ₂)^½) = Tr((√Σ₁ Σ₂ √Σ₁)^½) for symmetric PSD Σ₁, Σ₂."""
    root1 = _sqrt_psd(cov1)
    inner = root1 @ cov2 @ root1  # symmetric PSD, same eigenvalues as Σ₁Σ₂
    vals = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(vals, 0.0, None)).sum())


def frechet_distance_stats(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between two fitted Gaussians (float64)."""
    if a.mean.shape != b.mean.shape:
        raise MetricInputError(f"feature sizes differ: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    diff = a.mean - b.mean
    d2 = diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * trace_sqrt_product(a.cov, b.cov)
    # Exact arithmetic gives d² >= 0; round-off on identical sets can give -1e-12.
    return max(float(d2), 0.0)


def frechet_distance(features1: np.ndarray | torch.Tensor, features2: np.ndarray | torch.Tensor) -> float:
    """Fréchet distance between feature sets (N1, D) and (N2, D), each with N >= 2."""
    return frechet_distance_stats(gaussian_stats(features1, "first feature set"),
                                  gaussian_stats(features2, "second feature set"))
