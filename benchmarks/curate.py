"""Curation benchmarks: throughput (source-video seconds per wall second), per-defect accuracy, calibration.

    .venv/bin/python benchmarks/curate.py throughput --out /tmp/curate_bench [--videos 40 --seconds 6]
    .venv/bin/python benchmarks/curate.py accuracy --out /tmp/curate_eval [--seed 1000 --config C.yaml]
    .venv/bin/python benchmarks/curate.py calibrate --out /tmp/curate_eval --seeds 1000 2000 3000

`throughput` renders SynthAV clips at 256x256, 24 FPS with audio (clean, so every stage runs:
scenes, motion, text, audio), then curates them with the local engine at 1 and 2 workers and
with Ray on 2 CPUs, each from scratch (`fresh`), and prints one Markdown row per run. Wall time
includes worker start-up. `accuracy` renders the labelled set of `asva.curate.evaluation` and
prints per-defect recall and precision (`--config`: a YAML/JSON of CurateConfig overrides, for
ablations). `calibrate` prints, over the labelled sets of the given seeds, the statistics the
motion and scene-cut thresholds separate: defect-free values against defect values.
Results are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from asva.curate import CurateConfig, load_curate_config, run_curation
from asva.curate.evaluation import make_labelled_set, score_manifest
from asva.curate.motion_stats import GlobalShift
from asva.curate.scenes import SceneCutDetector, shrink
from asva.media import read_video_frames


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
        driver = " (driver only)" if engine == "ray" else ""
        print(f"| {engine} | {w} | {run.processed} | {run.source_seconds:.0f} | {run.seconds:.1f} | "
              f"{run.source_seconds / run.seconds:.1f} | {cpu:.0f}{driver} |")


def _labelled_set(out: Path, per_kind: int, seed: int) -> Path:
    root = out / f"set_{seed}"
    if not root.exists():
        make_labelled_set(root, per_kind=per_kind, seed=seed)
    return root


def accuracy(out: Path, per_kind: int, seed: int, config: CurateConfig) -> None:
    """Render the labelled SynthAV set, curate it, print the per-defect scores."""
    root = _labelled_set(out, per_kind, seed)
    run = run_curation(root, out / f"set_{seed}.parquet", config, workers=2, fresh=True)
    print(f"{per_kind} videos per kind, seed {seed}, 4 s at 256x256:")
    print(score_manifest(run.table, root).table())


def calibrate(out: Path, per_kind: int, seeds: list[int]) -> None:
    """Print the statistics each motion and scene-cut threshold separates, over the seeds' labelled sets."""
    cfg = CurateConfig()
    shift = GlobalShift(cfg.pan_side)
    stats: dict[str, list[float]] = {k: [] for k in (
        "mean_ok", "mean_shake", "max_ok", "max_whip", "edges_other", "edges_cut", "fit_other", "fit_whip",
        "motion_ok", "motion_static", "fitting_other", "fitting_whip")}
    for seed in seeds:
        root = _labelled_set(out, per_kind, seed)
        run = run_curation(root, out / f"calibrate_{seed}.parquet", cfg, workers=2, fresh=True, report=False)
        table = run.table
        for row in table.to_pylist():
            truth = json.loads((root / row["source"]).with_suffix(".json").read_text())
            kind = truth["kind"]
            label = next((c for c in truth["corruptions"] if c["kind"] == kind), {})
            if row["camera_motion_mean"] is None:
                continue
            stats["motion_static" if kind == "static" else "motion_ok"].append(row["motion_mean"])
            if kind == "shake":
                stats["mean_shake"].append(row["camera_motion_mean"])
            elif kind != "whip":
                stats["mean_ok"].append(row["camera_motion_mean"])
                stats["max_ok"].append(row["camera_motion_max"])
            elif row["start_s"] < label["end_s"] and row["end_s"] > label["start_s"]:
                stats["max_whip"].append(row["camera_motion_max"])
        # per video, again at the analysis size: cut candidates before the edge test, and large shifts
        for path in sorted(root.glob("*/*.mp4")):
            truth = json.loads(path.with_suffix(".json").read_text())
            kind = truth["kind"]
            if kind not in ("clean", "cut", "text", "shake", "whip", "static", "silent"):
                continue
            label = next((c for c in truth["corruptions"] if c["kind"] == kind), {})
            frames = shrink(read_video_frames(path, cfg.analysis_fps), cfg.scene_max_side)  # (T, h, w, 3)
            scenes = SceneCutDetector(cfg.analysis_fps, cfg.scene_threshold, cfg.min_scene_s,
                                      cfg.scene_weights, cfg.scene_adaptive_ratio, min_edges=0.0)
            scenes.add(frames)
            first_new = math.ceil(label["at_s"] * cfg.analysis_fps - 1e-6) if kind == "cut" else None
            for k in scenes.finish():
                true_cut = first_new is not None and abs(k - first_new) <= 1
                stats["edges_cut" if true_cut else "edges_other"].append(scenes.edges[k])
            for i in range(len(frames) - 1):
                s = shift(frames[i], frames[i + 1])
                t0, t1 = i / cfg.analysis_fps, (i + 1) / cfg.analysis_fps
                lighting = abs(float(frames[i].mean()) - float(frames[i + 1].mean())) > cfg.lighting_jump
                across_cut = kind == "cut" and t0 < label["at_s"] <= t1  # two scenes: in no clip
                if lighting or across_cut or kind == "shake":
                    continue
                in_pan = kind == "whip" and t1 > label["start_s"] and t0 < label["end_s"]
                if kind == "whip" and not in_pan:
                    continue
                group = "whip" if in_pan else "other"
                if s.fit <= cfg.pan_fit:
                    stats[f"fitting_{group}"].append(s.length)
                if s.length >= cfg.pan_min:
                    stats[f"fit_{group}"].append(s.fit)

    def q(values: list[float], pct: float) -> str:
        return f"{np.percentile(values, pct):.2f}" if values else "-"

    print(f"seeds {' '.join(map(str, seeds))}, {per_kind} videos per kind (n: clips, detections or pairs)")
    print("| statistic | threshold | without the defect: max (95th pct, n) | with it: min (5th pct, n) |")
    print("|---|---|---|---|")
    rows = [("clip mean camera motion", f"shake_max {cfg.shake_max:g}", "mean_ok", "mean_shake"),
            ("max camera motion, pairs touching a clip", f"whip_max {cfg.whip_max:g}", "max_ok", "max_whip"),
            ("edge difference at a detected cut", f"scene_min_edges {cfg.scene_min_edges:g}", "edges_other",
             "edges_cut")]
    for name, threshold, ok, bad in rows:
        print(f"| {name} | {threshold} | {q(stats[ok], 100)} ({q(stats[ok], 95)}, {len(stats[ok])}) | "
              f"{q(stats[bad], 0)} ({q(stats[bad], 5)}, {len(stats[bad])}) |")
    ok, bad = stats["fitting_other"], stats["fitting_whip"]
    print(f"| length of shifts that fit (fit <= pan_fit) | pan_min {cfg.pan_min:g} | {q(ok, 100)} "
          f"({q(ok, 95)}, {len(ok)}) | whip: max {q(bad, 100)} (median {q(bad, 50)}, {len(bad)}) |")
    ok, bad = stats["motion_ok"], stats["motion_static"]  # a small value is the defect
    print(f"| clip mean motion (min; frozen: max) | static_max {cfg.static_max:g} | {q(ok, 0)} (5th pct "
          f"{q(ok, 5)}, {len(ok)}) | {q(bad, 100)} ({len(bad)}) |")
    # a small fit is the defect: the defect-free minimum against the defect's median
    ok, bad = stats["fit_other"], stats["fit_whip"]
    fitting = sum(f <= cfg.pan_fit for f in bad)
    print(f"| fit of shifts >= pan_min {cfg.pan_min:g} (min; whip: median) | pan_fit {cfg.pan_fit:g} | "
          f"{q(ok, 0)} (5th pct {q(ok, 5)}, {len(ok)}) | {q(bad, 50)} ({fitting} of {len(bad)} <= pan_fit) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("throughput", "accuracy", "calibrate"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/asva_curate_bench"))
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--per-kind", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000])
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML or JSON of CurateConfig overrides (accuracy)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.task == "throughput":
        throughput(args.out, args.videos, args.seconds, args.workers, not args.no_ray)
    elif args.task == "accuracy":
        accuracy(args.out, args.per_kind, args.seed, load_curate_config(args.config))
    else:
        calibrate(args.out, args.per_kind, args.seeds)


if __name__ == "__main__":
    main()
