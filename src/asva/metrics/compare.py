"""Paired comparison of two `asva evaluate` results on the same test clips: is A really better than B?

Both JSON files hold per-clip values (`per_clip[<class>/<name>_clip-<i>][metric]`). The clips both
scored (a value that is not None in each) are paired; the mean of the differences A − B gets a
percentile bootstrap interval over clips (seeded, so the interval is reproducible), and the
clips and classes are counted where A is lower, higher, or tied.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PairedComparison:
    """A − B on one per-clip metric (lower is better for the oracle offset)."""

    metric: str
    clips: int
    mean_a: float
    mean_b: float
    mean_diff: float  # mean over paired clips of A − B
    ci_low: float  # percentile bootstrap interval of mean_diff
    ci_high: float
    confidence: float
    a_lower: int  # clips where A's value is lower
    b_lower: int
    ties: int
    per_class: dict[str, tuple[float, float]]  # class -> (mean A, mean B)

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict:
        return asdict(self) | {"significant": self.significant}


def _per_clip(path: str | Path, metric: str) -> dict[str, float]:
    data = json.loads(Path(path).read_text())
    if "per_clip" not in data:
        raise ValueError(f"{path} is not an `asva evaluate --out` JSON (no 'per_clip')")
    values = {k: v.get(metric) for k, v in data["per_clip"].items()}
    if all(v is None for v in values.values()):
        raise ValueError(f"{path} has no per-clip values of {metric!r}")
    return {k: float(v) for k, v in values.items() if v is not None}


def paired_comparison(a: str | Path, b: str | Path, metric: str = "oracle_offset_ms",
                      samples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> PairedComparison:
    """Compare the per-clip `metric` of result `a` with result `b` on the clips both scored."""
    va, vb = _per_clip(a, metric), _per_clip(b, metric)
    keys = sorted(set(va) & set(vb))
    if len(keys) < 2:
        raise ValueError(f"{a} and {b} share {len(keys)} scored clips; a paired comparison needs at least 2 "
                         "(were they evaluated on the same test set?)")
    xa, xb = np.array([va[k] for k in keys]), np.array([vb[k] for k in keys])  # (N,)
    diff = xa - xb
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(samples, len(diff)))].mean(axis=1)  # (samples,)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    classes = np.array([k.split("/")[0] for k in keys])  # (N,)
    return PairedComparison(
        metric, len(keys), float(xa.mean()), float(xb.mean()), float(diff.mean()), float(lo), float(hi),
        confidence, int((diff < 0).sum()), int((diff > 0).sum()), int((diff == 0).sum()),
        {c: (float(xa[classes == c].mean()), float(xb[classes == c].mean())) for c in sorted(set(classes))},
    )


def describe(c: PairedComparison, name_a: str = "A", name_b: str = "B") -> str:
    """A few lines of Markdown: the difference, its interval, the counts, the per-class means."""
    lines = [
        f"- {c.metric}: {name_a} {c.mean_a:.1f}, {name_b} {c.mean_b:.1f} over {c.clips} paired clips; "
        f"mean difference {c.mean_diff:+.1f}, {100 * c.confidence:.0f} % bootstrap interval "
        f"[{c.ci_low:+.1f}, {c.ci_high:+.1f}]: {'significant' if c.significant else 'not significant'}",
        f"- {name_a} lower on {c.a_lower} clips, {name_b} lower on {c.b_lower}, {c.ties} tied; "
        f"{name_a} lower in {sum(x < y for x, y in c.per_class.values())} of {len(c.per_class)} classes",
        "- per class (" + f"{name_a} / {name_b}): "
        + ", ".join(f"{k} {x:.0f} / {y:.0f}" for k, (x, y) in c.per_class.items()),
    ]
    return "\n".join(lines)


__all__ = ["PairedComparison", "describe", "paired_comparison"]
