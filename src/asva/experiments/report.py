"""An experiment's table, plot and verdicts, from its cells' result.json files (nothing typed by hand).

Per table entry (group x column) the seeds' values are averaged: mean ± standard deviation (ddof 1)
over seeds. A claim compares entries on the oracle sync error (ms, lower is better); for each
compared pair, the difference d = error(worse) - error(better) is set against the seed spread
s = sqrt(std_better² + std_worse²):

- d > s: the pair supports the claim; d < -s: it contradicts it; otherwise it is within the spread;
- the claim is **reproduced** when every pair supports it, **not reproduced** when any pair
  contradicts it, and **inconclusive** otherwise (or when an entry has a single seed, so no spread).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asva.experiments.runner import Settings
from asva.experiments.spec import Cell, Claim, Experiment

# (key in a result's metrics, label, format, lower is better)
COLUMNS = (
    ("oracle_ms", "oracle sync error (ms) ↓", "{:.1f}"),
    ("matched", "matched ↑", "{:.2f}"),
    ("relsync", "RelSync ↑", "{:.2f}"),
    ("sfd", "SFD ↓", "{:.3f}"),
)


def cell_values(result: dict[str, Any]) -> dict[str, float]:
    """The scalar scores of one cell's result.json."""
    m = result["metrics"]
    oracle = m["oracle"]
    nan = float("nan")
    return {
        "oracle_ms": nan if oracle["mean_offset_ms"] is None else oracle["mean_offset_ms"],
        "matched": nan if oracle["matched_fraction"] is None else oracle["matched_fraction"],
        "relsync": m["relsync"]["rescaled_mean"],
        "sfd": m["sfd"],
    }


@dataclass
class Entry:
    """One table entry: a (group, column) over its seeds."""

    group: str
    column: str
    seeds: list[int]
    values: dict[str, list[float]]  # metric -> one value per seed

    def mean(self, key: str) -> float:
        return float(np.mean(self.values[key]))

    def std(self, key: str) -> float:
        v = self.values[key]
        return float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")

    def text(self, key: str, fmt: str) -> str:
        spread = self.std(key)
        mean = fmt.format(self.mean(key))
        return mean if math.isnan(spread) else f"{mean} ± {fmt.format(spread)}"


def collect(experiment: Experiment, s: Settings
            ) -> tuple[dict[tuple[str, str], Entry], list[Cell], dict[str, float]]:
    """Entries of the finished cells, the cells still missing, and each finished cell's seconds."""
    entries: dict[tuple[str, str], Entry] = {}
    missing, seconds = [], {}
    for cell in experiment.cells:
        path = s.cell_dir(cell) / "result.json"
        if not path.is_file():
            missing.append(cell)
            continue
        result = json.loads(path.read_text())
        seconds[cell.name] = sum(result["timings"].values())
        entry = entries.setdefault((cell.group, cell.column), Entry(cell.group, cell.column, [], {}))
        entry.seeds.append(cell.seed)
        for k, v in cell_values(result).items():
            entry.values.setdefault(k, []).append(v)
    return entries, missing, seconds


def verdict(claim: Claim, entries: dict[tuple[str, str], Entry]) -> tuple[str, list[str]]:
    """"reproduced", "not reproduced" or "inconclusive", with one line per compared pair."""
    lines, outcomes = [], []
    for better, worse in claim.pairs:
        if better not in entries or worse not in entries:
            outcomes.append("missing")
            lines.append(f"{better[0]} vs {worse[0]}: not run yet")
            continue
        b, w = entries[better], entries[worse]
        d = w.mean("oracle_ms") - b.mean("oracle_ms")
        spread = math.hypot(b.std("oracle_ms"), w.std("oracle_ms"))
        if math.isnan(spread):
            outcome = "no spread"
        elif d > spread:
            outcome = "supports"
        elif d < -spread:
            outcome = "contradicts"
        else:
            outcome = "within spread"
        outcomes.append(outcome)
        lines.append(f"{b.group} ({b.column}) vs {w.group} ({w.column}): the second's error minus the "
                     f"first's {d:+.1f} ms (positive supports the claim), "
                     f"seed spread {spread:.1f} ms: {outcome}")
    if outcomes and all(o == "supports" for o in outcomes):
        word = "reproduced"
    elif "contradicts" in outcomes:
        word = "not reproduced"
    else:
        word = "inconclusive"
    return word, lines


def table(experiment: Experiment, entries: dict[tuple[str, str], Entry]) -> list[str]:
    """Markdown: one row per group, per column the four scores (mean ± std over seeds, seed count)."""
    head = ["| " + experiment.x_label + " | " + " | ".join(
        f"{col}: {label}" for col in experiment.columns for _, label, _ in COLUMNS) + " |"]
    head.append("|---" * (1 + len(experiment.columns) * len(COLUMNS)) + "|")
    rows = []
    for group in experiment.groups:
        cells = []
        for col in experiment.columns:
            entry = entries.get((group, col))
            for key, _, fmt in COLUMNS:
                cells.append("not run" if entry is None else entry.text(key, fmt))
        rows.append(f"| {group} | " + " | ".join(cells) + " |")
    return head + rows


COLOURS = ((200, 90, 30), (40, 130, 230), (60, 160, 60), (150, 60, 160))  # BGR, one per column


def plot(experiment: Experiment, entries: dict[tuple[str, str], Entry], path: Path) -> Path:
    """Oracle sync error (mean ± std over seeds) per group, one line per column (drawn with OpenCV,
    as the other figures of asva)."""
    import cv2

    from asva.viz import save_png

    w, h, left, right, top, bottom = 720, 400, 70, 20, 40, 70
    img = np.full((h, w, 3), 255, np.uint8)
    groups, columns = experiment.groups, experiment.columns
    points = [(gi, ci, entries[(g, c)]) for ci, c in enumerate(columns) for gi, g in enumerate(groups)
              if (g, c) in entries]
    spans = [(e.mean("oracle_ms"), 0.0 if math.isnan(e.std("oracle_ms")) else e.std("oracle_ms"))
             for _, _, e in points if math.isfinite(e.mean("oracle_ms"))]
    lo = min((m - s for m, s in spans), default=0.0)
    hi = max((m + s for m, s in spans), default=1.0)
    lo, hi = max(0.0, lo - 0.1 * (hi - lo + 1)), hi + 0.1 * (hi - lo + 1)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def px(gi: float, value: float) -> tuple[int, int]:
        x = left + (gi + 0.5) * (w - left - right) / max(1, len(groups))
        y = top + (hi - value) / (hi - lo) * (h - top - bottom)
        return round(x), round(y)

    cv2.rectangle(img, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    for i in range(5):  # y ticks
        value = lo + i * (hi - lo) / 4
        y = px(0, value)[1]
        cv2.line(img, (left - 4, y), (w - right, y), (225, 225, 225), 1)
        cv2.putText(img, f"{value:.0f}", (5, y + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for gi, g in enumerate(groups):
        x = px(gi, lo)[0]
        cv2.putText(img, g, (x - 4 * len(g), h - bottom + 18), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, experiment.x_label, (left, h - 20), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    title = "oracle sync error (ms), mean +- std over seeds; lower is better"
    cv2.putText(img, title, (left, top - 14), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for ci, column in enumerate(columns):
        colour, shift = COLOURS[ci % len(COLOURS)], (ci - (len(columns) - 1) / 2) * 0.06
        line = []
        for gi, cj, e in points:
            if cj != ci or not math.isfinite(e.mean("oracle_ms")):
                continue
            mean, std = e.mean("oracle_ms"), e.std("oracle_ms")
            centre = px(gi + shift, mean)
            if math.isfinite(std):
                a, b = px(gi + shift, mean - std), px(gi + shift, mean + std)
                cv2.line(img, a, b, colour, 1, cv2.LINE_AA)
                for end in (a, b):
                    cv2.line(img, (end[0] - 4, end[1]), (end[0] + 4, end[1]), colour, 1, cv2.LINE_AA)
            cv2.circle(img, centre, 4, colour, -1, cv2.LINE_AA)
            line.append(centre)
        if len(line) > 1:
            cv2.polylines(img, [np.array(line, np.int32)], False, colour, 1, cv2.LINE_AA)
        y = top + 16 + 16 * ci
        cv2.circle(img, (w - right - 250, y - 4), 4, colour, -1, cv2.LINE_AA)
        cv2.putText(img, column, (w - right - 240, y), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return save_png(np.ascontiguousarray(img[:, :, ::-1]), path)  # drawn in BGR


def _invocation(run: dict[str, Any]) -> str:
    """'65 min with 2 jobs', '(stopped before the end)' for an invocation that was killed."""
    jobs = run["jobs"]
    stopped = "" if run.get("complete", True) else " (stopped before the end)"
    return f"{(run['end'] - run['start']) / 60:.0f} min with {jobs} job{'s' * (jobs != 1)}{stopped}"


def write_report(experiment: Experiment, s: Settings, command: str) -> Path:
    """`root/<experiment>/results.md` (+ results.json, plot.png); returns the Markdown path."""
    entries, missing, cell_seconds = collect(experiment, s)
    out = s.root / experiment.name
    out.mkdir(parents=True, exist_ok=True)
    runs = json.loads((s.root / "run.json").read_text())["runs"] if (s.root / "run.json").is_file() else []
    lines = [f"### {experiment.title}", "", experiment.design, "",
             f"Command: `{command}` (scale {s.scale:g}; base `{s.base}`). Seeds: "
             f"{sorted({c.seed for c in experiment.cells})}. Test set: SynthAV dataset seed 777, "
             f"{s.test_videos} videos per class x 3 clips.", ""]
    lines += table(experiment, entries)
    lines.append("")
    if missing:
        lines += [f"Not run yet: {len(missing)} of {len(experiment.cells)} cells "
                  f"({', '.join(c.name for c in missing[:6])}{', ...' if len(missing) > 6 else ''}).", ""]
    verdicts = {claim.text: verdict(claim, entries) for claim in experiment.claims}
    for claim in experiment.claims:
        word, why = verdicts[claim.text]
        lines.append(f"- Claim: {claim.text}. **{word.capitalize()}**.")
        lines += [f"  - {w}" for w in why]
    if cell_seconds:
        hours = sum(cell_seconds.values()) / 3600
        walls = "; ".join(_invocation(r) for r in runs if r)
        tasks = {name: sec for r in runs if r for name, sec in r["task_seconds"].items()}
        others = "; ".join(f"{name} {sec / 60:.0f} min" for name, sec in sorted(tasks.items())
                           if not name.startswith("cell:"))
        lines += ["", f"Compute: the {len(cell_seconds)} finished cells took {hours:.2f} h of train + "
                  f"generate + evaluate (one thread each); other tasks this root ran: {others or 'none'}. "
                  f"Runner invocations on this root (all experiments): {walls}."]
    lines += ["", f"![{experiment.name}]({experiment.name}.png)", ""]
    plot(experiment, entries, out / f"{experiment.name}.png")
    summary = {"experiment": experiment.name, "scale": s.scale, "command": command,
               "entries": [{"group": e.group, "column": e.column, "seeds": e.seeds, "values": e.values}
                           for e in entries.values()],
               "missing": [c.name for c in missing],
               "verdicts": {text: word for text, (word, _) in verdicts.items()}}
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    path = out / "results.md"
    path.write_text("\n".join(lines))
    return path


__all__ = ["collect", "verdict", "write_report"]
