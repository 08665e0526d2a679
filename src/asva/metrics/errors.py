"""The error raised for evaluation inputs that cannot give a meaningful number."""

from __future__ import annotations


class MetricInputError(ValueError):
    """Evaluation inputs that would give a wrong or undefined score (never a silent NaN)."""
