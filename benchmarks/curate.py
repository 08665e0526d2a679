"""Curation benchmarks: throughput (source-video seconds per wall second) and per-defect accuracy.

    .venv/bin/python benchmarks/curate.py throughput --out /tmp/curate_bench [--videos 40 --seconds 6]
    .venv/bin/python benchmarks/curate.py accuracy --out /tmp/curate_eval [--per-kind 16 --seed 1000]

`throughput` renders SynthAV clips at 256x256, 24 FPS with audio (clean, so every stage runs:
scenes, motion, text, audio), then curates them with the local engine at 1 and 2 workers and
with Ray on 2 CPUs, each from scratch (`fresh`), and prints one Markdown row per run. Wall time
includes worker start-up. `accuracy` renders the labelled set of `asva.curate.evaluation` and
prints per-defect recall and precision. Results are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import time
from pathlib import Path

from asva.curate import CurateConfig, run_curation
from asva.curate.evaluation import make_labelled_set, score_manifest


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(out: Path, videos: int, seconds: float, workers: list[int], ray: bool) -> None:
    """Render `videos` clean 256p clips of `seconds` and time each engine on them."""
    src = out / "videos"
    if not src.exists():
        t0 = time.perf_counter()
        make_labelled_set(src, per_kind=videos, kinds=("clean",), seconds=seconds, size=256, seed=42)
        print(f"rendered {videos} x {seconds:g} s clips at 256x256 in {time.perf_counter() - t0:.0f} s")
    config = CurateConfig()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print("| engine | workers | sources | source-s | wall s | source-s per wall-s | CPU s |")
    print("|---|---|---|---|---|---|---|")
    runs = [("local", w) for w in workers] + ([("ray", 2)] if ray else [])
    for engine, w in runs:
        cpu0 = _cpu_seconds()
        run = run_curation(src, out / f"{engine}{w}.parquet", config, engine=engine, workers=w, fresh=True,
                           report=False)
        cpu = _cpu_seconds() - cpu0  # Ray workers are not our children: their CPU time is not counted
        print(f"| {engine} | {w} | {run.processed} | {run.source_seconds:.0f} | {run.seconds:.1f} | "
              f"{run.source_seconds / run.seconds:.1f} | {cpu:.0f}{' (driver only)' if engine == 'ray' else ''} |")


def accuracy(out: Path, per_kind: int, seed: int) -> None:
    """Render the labelled SynthAV set, curate it, print the per-defect scores."""
    root = out / f"set_{seed}"
    if not root.exists():
        make_labelled_set(root, per_kind=per_kind, seed=seed)
    run = run_curation(root, out / f"set_{seed}.parquet", CurateConfig(), workers=2, fresh=True)
    print(f"{per_kind} videos per kind, seed {seed}, 4 s at 256x256:")
    print(score_manifest(run.table, root).table())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("throughput", "accuracy"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/asva_curate_bench"))
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--per-kind", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.task == "throughput":
        throughput(args.out, args.videos, args.seconds, args.workers, not args.no_ray)
    else:
        accuracy(args.out, args.per_kind, args.seed)


if __name__ == "__main__":
    main()
