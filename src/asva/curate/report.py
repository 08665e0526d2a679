"""The summary of a manifest: counts kept and rejected per reason (JSON), and a histogram PNG.

Written beside the manifest as `<stem>.summary.json` and `<stem>.summary.png`. The PNG (drawn
with OpenCV, no plotting library) has one bar chart of rows per reason and histograms of the
clip statistics the filters threshold: motion, camera motion, text area.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from asva.log import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class Summary:
    """Counts over a manifest's rows."""

    sources: int
    rows: int
    kept: int
    rejected: int
    errors: int  # rows with an error (unreadable files and the like)
    kept_seconds: float
    reasons: dict[str, int]  # rows carrying each reason (a row may carry several)


def summarize(table: pa.Table) -> Summary:
    """Count rows kept and rejected, and rows per reason."""
    keep = table.column("keep").to_pylist()
    reasons = Counter(r for rs in table.column("reasons").to_pylist() for r in rs)
    starts, ends = table.column("start_s").to_pylist(), table.column("end_s").to_pylist()
    return Summary(
        sources=len(set(table.column("source").to_pylist())),
        rows=table.num_rows,
        kept=sum(keep),
        rejected=len(keep) - sum(keep),
        errors=sum(e is not None for e in table.column("error").to_pylist()),
        kept_seconds=round(sum(e - s for s, e, k in zip(starts, ends, keep, strict=True) if k), 3),
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def write_report(summary: Summary, table: pa.Table, manifest: str | Path) -> tuple[Path, Path]:
    """Write `<stem>.summary.json` and `<stem>.summary.png` beside `manifest`; return both paths."""
    m = Path(manifest)
    json_path = m.with_name(m.stem + ".summary.json")
    png_path = m.with_name(m.stem + ".summary.png")
    json_path.write_text(json.dumps(asdict(summary), indent=2) + "\n")
    panels = [_bar_panel(f"rows per reason (kept {summary.kept} of {summary.rows})",
                         {"kept": summary.kept, **summary.reasons})]
    for col, log in (("motion_mean", True), ("camera_motion_max", True), ("text_area", True)):
        values = [v for v in table.column(col).to_pylist() if v is not None and math.isfinite(v)]
        panels.append(_hist_panel(col, np.asarray(values, dtype=np.float64), log))
    cv2.imwrite(str(png_path), np.concatenate(panels, axis=0))
    return json_path, png_path


_W, _H = 720, 240
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _canvas(title: str) -> np.ndarray:
    img = np.full((_H, _W, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 20), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def _bar_panel(title: str, counts: dict[str, int]) -> np.ndarray:
    """Horizontal bars, one per label."""
    img = _canvas(title)
    top = max(counts.values(), default=0) or 1
    row_h = max(8, min(22, (_H - 40) // max(1, len(counts))))
    for i, (label, n) in enumerate(counts.items()):
        y = 32 + i * row_h
        if y + row_h > _H:
            break
        cv2.putText(img, label, (10, y + row_h - 6), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        x1 = 170 + round((_W - 260) * n / top)
        colour = (80, 170, 60) if label == "kept" else (60, 80, 200)
        cv2.rectangle(img, (170, y + 2), (max(171, x1), y + row_h - 3), colour, -1)
        cv2.putText(img, str(n), (x1 + 6, y + row_h - 6), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def _hist_panel(name: str, values: np.ndarray, log: bool, bins: int = 40) -> np.ndarray:
    """A histogram of `values` (log10(1e-4 + v) when `log`), with its range written under it."""
    img = _canvas(f"{name} ({len(values)} clips{', log10 scale' if log else ''})")
    if not len(values):
        return img
    x = np.log10(1e-4 + values) if log else values
    lo, hi = float(x.min()), float(x.max())
    counts, _ = np.histogram(x, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    top = counts.max() or 1
    bw = (_W - 40) // bins
    for i, c in enumerate(counts):
        h = round((_H - 70) * c / top)
        cv2.rectangle(img, (20 + i * bw, _H - 30 - h), (20 + (i + 1) * bw - 2, _H - 30), (150, 110, 40), -1)
    lo_v, hi_v = float(values.min()), float(values.max())
    cv2.putText(img, f"{lo_v:.4g}", (20, _H - 10), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{hi_v:.4g}", (_W - 90, _H - 10), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img
