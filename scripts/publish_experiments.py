"""Copy the tables `asva experiment` wrote into docs/results.md, unedited (docs/experiments.md).

For each experiment with a finished report (runs/experiments/<name>/results.md), the block between
`<!-- experiment:<name> start -->` and `<!-- experiment:<name> end -->` in docs/results.md is
replaced by that file, and its plot is copied to docs/experiments/<name>.png.

    .venv/bin/python scripts/publish_experiments.py [--root runs/experiments]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from asva.experiments.spec import EXPERIMENTS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("runs/experiments"))
    args = parser.parse_args()
    results = DOCS / "results.md"
    text = results.read_text()
    for name in EXPERIMENTS:
        report = args.root / name / "results.md"
        start, end = f"<!-- experiment:{name} start -->", f"<!-- experiment:{name} end -->"
        if not report.is_file() or start not in text:
            continue
        body = report.read_text().replace(f"]({name}.png)", f"](experiments/{name}.png)")
        i, j = text.index(start), text.index(end)
        text = text[:i] + f"{start}\n{body}\n" + text[j:]
        shutil.copyfile(args.root / name / f"{name}.png", DOCS / "experiments" / f"{name}.png")
        print(f"published {report}")
    results.write_text(text)


if __name__ == "__main__":
    main()
