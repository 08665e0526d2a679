"""Run an experiment's tasks in dependency order, several at a time, each resumable.

Layout under the root folder (`runs/experiments` by default; one root per `scale`):

```
root/run.json                      scale, base folder and every invocation's start, end and tasks
root/data/clean, root/data/test    the experiment sets (spec.py)
root/audio/                        trained tiny audio encoders (features)
root/pretrain/<name>/              pretraining runs (the curated one at scale 1 is BASE/pretrain)
root/cells/<key>/train|generated|result.json|log.txt
root/<experiment>/results.md|json|png   the table, written by report.py
```

A cell's folder is named by what it trains (pretraining, K, seed, audio settings), not by the
experiment, so two experiments sharing a configuration (K = 10 after curated pretraining appears in
three of them) compute it once. A task whose output exists is skipped; a killed training resumes
from its last checkpoint and a killed generation from its last written clip, so re-running the same
command after a kill continues where it stopped and ends with the same numbers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from asva.experiments.spec import (
    CLEAN_SEED,
    CLEAN_VIDEOS_PER_CLASS,
    METRICS,
    SYNTH_SIZE,
    TEST_SEED,
    TEST_VIDEOS_PER_CLASS,
    Cell,
    Experiment,
    Pretrain,
    recipe,
)

BASE_PARTS = ("clean/synthav.json", "noisy/synthav.json", "noisy.parquet", "backbone/model/asva.json")
CLEAN_TEST_PER_CLASS = 5  # held-out videos of the clean set: the audio-encoder pretraining's check only


@dataclass(frozen=True)
class Settings:
    """Where things are and how big they are."""

    root: Path
    base: Path
    scale: float = 1.0
    device: str = "cpu"
    # Smaller experiment sets for smoke runs and tests (None: all 8 classes, the paper's 20 steps).
    classes: tuple[str, ...] | None = None
    sample_steps: int | None = None
    train_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {"batch_size": 2} for tests

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    def steps(self, stage: str) -> int:
        return max(1, round(recipe(stage)["max_steps"] * self.scale))

    @property
    def test_videos(self) -> int:
        return max(1, round(TEST_VIDEOS_PER_CLASS * self.scale))

    @property
    def clean(self) -> Path:
        return self.root / "data" / "clean"

    @property
    def test(self) -> Path:
        return self.root / "data" / "test"

    @property
    def audio(self) -> Path:
        return self.root / "audio"

    def pretrain_dir(self, p: Pretrain) -> Path:
        if p.name == "curated" and self.scale == 1.0:
            return self.base / "pretrain"  # the shipped model's pretraining: the same settings
        return self.root / "pretrain" / p.name

    def cell_dir(self, cell: Cell) -> Path:
        return self.root / "cells" / cell_key(cell)


def cell_key(cell: Cell) -> str:
    """A folder name from what the cell trains (shared by experiments with the same configuration)."""
    start = cell.pretrain.name if cell.pretrain is not None else "scratch"
    shots = "all" if cell.shots is None else str(cell.shots)
    extra = "".join(f"_{k}-{'-'.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in sorted(cell.overrides.items()))
    return f"{start}_K{shots}_s{cell.seed}{extra}"


@dataclass
class Task:
    name: str
    run: Callable[[Settings, Any], dict[str, Any]]
    payload: Any
    deps: list[str] = field(default_factory=list)
    done: Callable[[Settings, Any], bool] = lambda s, p: False


# ---- tasks (run in worker processes) ----------------------------------------------------------------


def make_data(s: Settings, _: Any) -> dict[str, Any]:
    """The clean training set (K up to all = 40 per class) and the held-out test set."""
    from asva.synth import SynthConfig, generate_dataset
    from asva.synth.classes import CLASSES

    made = {}
    classes = tuple(s.classes or CLASSES)
    for path, config in (
        (s.clean, SynthConfig(classes, videos_per_class=CLEAN_VIDEOS_PER_CLASS + CLEAN_TEST_PER_CLASS,
                              train_per_class=CLEAN_VIDEOS_PER_CLASS, size=SYNTH_SIZE, seed=CLEAN_SEED)),
        (s.test, SynthConfig(classes, videos_per_class=s.test_videos, train_per_class=0, size=SYNTH_SIZE,
                             seed=TEST_SEED)),
    ):
        if not (path / "synthav.json").is_file():
            generate_dataset(path, config, overwrite=True, workers=1)
        made[path.name] = str(path)
    return made


def _data_done(s: Settings, _: Any) -> bool:
    return (s.clean / "synthav.json").is_file() and (s.test / "synthav.json").is_file()


def train_audio(s: Settings, _: Any) -> dict[str, Any]:
    """Tiny ImageBind and BEATs encoders trained on the clean set's audio (then frozen by the adapters)."""
    from asva.audio.pretrain import pretrain_audio_encoders
    from asva.presets import get_preset

    r = recipe("audio")
    pretrain_audio_encoders(s.clean, s.audio, get_preset("tiny").audio, steps=s.steps("audio"),
                            batch_size=r["batch_size"], lr=r["lr"], progress=False)
    return {"audio": str(s.audio)}


def _audio_done(s: Settings, _: Any) -> bool:
    return (s.audio / "audio_encoders.safetensors").is_file()


def _train(settings: dict[str, Any], stage: str, data: Path, manifest: Path | None,
           missing_audio: str = "error") -> Path:
    from asva.cli_train import training_set
    from asva.train.config import TrainConfig
    from asva.train.recipe import train

    config = TrainConfig.for_stage("tiny", stage, str(data), settings)
    return train(config, training_set(config, data, manifest, missing_audio), show_progress=False)


def _recipe(stage: str, s: Settings) -> dict[str, Any]:
    return {**recipe(stage), "max_steps": s.steps(stage), "device": s.device, **s.train_overrides}


def run_pretrain(s: Settings, p: Pretrain) -> dict[str, Any]:
    """Adapters pretrained on the noisy set (curated: the manifest's kept clips; raw: a random 2-s clip
    of every video per epoch, as the loader reads any uncurated set, videos without sound silent)."""
    values = {**_recipe("pretrain", s), **p.overrides, "out": str(s.pretrain_dir(p)),
              "init": str(s.base / "backbone")}
    if p.trained_audio:
        values["audio_weights"] = str(s.audio / "audio_encoders.safetensors")
    manifest = s.base / "noisy.parquet" if p.curated else None
    folder = _train(values, "pretrain", s.base / "noisy", manifest, "error" if p.curated else "silence")
    return {"model": str(folder)}


def _pretrain_done(s: Settings, p: Pretrain) -> bool:
    state = s.pretrain_dir(p) / "last" / "state.json"
    return (s.pretrain_dir(p) / "model" / "asva.json").is_file() and state.is_file() and \
        json.loads(state.read_text())["step"] >= s.steps("pretrain")


def run_cell(s: Settings, cell: Cell) -> dict[str, Any]:
    """Train (finetune, or from scratch), animate the test set, score it; write result.json."""
    from asva.metrics.evaluation import EvalConfig, evaluate
    from asva.pipelines.animate import AnimatePipeline
    from asva.pipelines.test_set import animate_test_set

    folder = s.cell_dir(cell)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    values = {**_recipe("finetune", s), **cell.overrides, "out": str(folder / "train"), "shots": cell.shots,
              "seed": cell.seed}
    if cell.pretrain is None:  # adapters from zero, on the K clean clips only (the finetune recipe)
        model = _train({**values, "init": str(s.base / "backbone")}, "pretrain", s.clean, None)
    else:
        model = _train({**values, "init": str(s.pretrain_dir(cell.pretrain))}, "finetune", s.clean, None)
    timings["train_s"] = time.perf_counter() - started

    started = time.perf_counter()
    pipe = AnimatePipeline.from_model(str(model), device=s.device)
    options = {} if s.sample_steps is None else {"steps": s.sample_steps}
    animate_test_set(pipe, s.test, folder / "generated", seed=0, **options)
    timings["generate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    result = evaluate(folder / "generated", s.test, EvalConfig(metrics=METRICS, cache_dir=s.root / "cache",
                                                               device=s.device))
    timings["evaluate_s"] = time.perf_counter() - started
    record = {"cell": cell_key(cell), "seed": cell.seed, "shots": cell.shots,
              "pretrain": cell.pretrain.name if cell.pretrain else None, "overrides": cell.overrides,
              "model": str(model), "metrics": result.metrics, "num_clips": result.num_clips,
              "per_clip": result.per_clip, "timings": timings}
    tmp = folder / ".result.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    tmp.replace(folder / "result.json")
    return {"result": str(folder / "result.json")}


def _cell_done(s: Settings, cell: Cell) -> bool:
    return (s.cell_dir(cell) / "result.json").is_file()


def plan(experiment: Experiment, s: Settings, only: list[str] | None = None) -> list[Task]:
    """The tasks an experiment needs (only the named cells' and their dependencies with `only`)."""
    cells = [c for c in experiment.cells if not only or c.name in only or cell_key(c) in only]
    if only and not cells:
        names = ", ".join(c.name for c in experiment.cells)
        raise ValueError(f"no cell of {experiment.name!r} is named {only}; its cells: {names}")
    tasks: dict[str, Task] = {"data": Task("data", make_data, None, done=_data_done)}
    pretrains = {c.pretrain.name: c.pretrain for c in cells if c.pretrain is not None}
    if any(p.trained_audio for p in pretrains.values()):
        tasks["audio"] = Task("audio", train_audio, None, ["data"], _audio_done)
    for p in pretrains.values():
        tasks[p.task] = Task(p.task, run_pretrain, p, ["audio"] if p.trained_audio else [], _pretrain_done)
    for c in cells:
        key = f"cell:{cell_key(c)}"
        deps = ["data"] + ([c.pretrain.task] if c.pretrain is not None else [])
        tasks.setdefault(key, Task(key, run_cell, c, deps, _cell_done))
    return list(tasks.values())


def check_base(base: Path) -> None:
    """The `make train-default` run folder must be complete: every experiment starts from it."""
    missing = [part for part in BASE_PARTS if not (base / part).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{base} is not a finished `make train-default` run folder (missing {missing}). Every experiment "
            "starts from its SynthAV sets, curation manifest and frozen backbone: run `make train-default` "
            "(about 1 h 45 min on 2 CPU cores) or pass --base to such a folder"
        )


def _worker_init() -> None:
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)  # one thread per worker: on a shared 2-core box two threads ran slower


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing), waiting for any other holder: two
    runners on one root (`asva experiment window` beside `asva experiment features`) never write
    run.json at once nor run the same task twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_task(task: Task, s: Settings, log_path: str) -> tuple[str, float | None, dict[str, Any]]:
    """Worker side: run one task with its output going to its log file. The task's lock is held
    while it runs; a task another runner finished meanwhile is skipped (seconds None)."""
    with exclusive(s.root / "locks" / f"{_task_stem(task)}.lock"):
        if task.done(s, task.payload):
            return task.name, None, {}
        started = time.perf_counter()
        with _output_to(Path(log_path)):
            print(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} start {task.name}", flush=True)
            out = task.run(s, task.payload)
            print(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} done {task.name}", flush=True)
        return task.name, time.perf_counter() - started, out


@contextlib.contextmanager
def _output_to(log_path: Path) -> Iterator[None]:
    """stdout, stderr and the root logger (INFO) appended to `log_path` while inside."""
    import logging

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        sys.stdout = sys.stderr = log
        handler = logging.StreamHandler(log)
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        try:
            yield
        finally:
            logging.getLogger().removeHandler(handler)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def _task_stem(task: Task) -> str:
    """A task's name as a file name (its log and its lock)."""
    return task.name.replace(":", "_")


def log_file(s: Settings, task: Task) -> Path:
    return s.root / "logs" / f"{_task_stem(task)}.log"


def record_run(s: Settings, entry: dict[str, Any]) -> None:
    """Write one invocation into root/run.json (refusing a root made at another scale): it replaces
    the entry with the same "start" (the invocation so far), or is appended."""
    path = s.root / "run.json"
    with exclusive(s.root / "locks" / "run.json.lock"):
        data = (json.loads(path.read_text()) if path.is_file()
                else {"scale": s.scale, "base": str(s.base), "runs": []})
        if data["scale"] != s.scale:
            raise ValueError(f"{s.root} holds a run at scale {data['scale']}; use another --root for "
                             f"scale {s.scale}")
        if entry:
            same = [i for i, r in enumerate(data["runs"]) if r.get("start") == entry.get("start")]
            if same:
                data["runs"][same[0]] = entry
            else:
                data["runs"].append(entry)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(path)


def run(tasks: list[Task], s: Settings, jobs: int = 2,
        echo: Callable[[str], None] = print) -> dict[str, float]:
    """Run the tasks not done yet, `jobs` at a time, in dependency order; returns task wall times (s).

    A failed task stops the scheduling of tasks that need it; the others finish; then the first error
    is raised (naming the task and its log)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    record_run(s, {})
    pending = {t.name: t for t in tasks if not t.done(s, t.payload)}
    finished = {t.name for t in tasks if t.name not in pending}
    echo(f"{len(tasks)} tasks: {len(finished)} already done, {len(pending)} to run, {jobs} at a time")
    times: dict[str, float] = {}
    failed: dict[str, BaseException] = {}
    running: dict[Future, Task] = {}
    started = time.time()

    def record(complete: bool) -> None:  # after every task, so a killed invocation keeps its times
        record_run(s, {"start": started, "end": time.time(), "jobs": jobs, "task_seconds": dict(times),
                       "failed": sorted(failed), "complete": complete})

    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
        while pending or running:
            _drop_blocked(pending, failed)
            ready = [t for t in pending.values() if all(d in finished for d in t.deps)]
            for task in ready[: jobs - len(running)]:
                pending.pop(task.name)
                echo(f"[{time.strftime('%H:%M:%S')}] start {task.name}  (log {log_file(s, task)})")
                running[pool.submit(_run_task, task, s, str(log_file(s, task)))] = task
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    name, seconds, _ = future.result()
                except BaseException as err:  # reported below; the others go on
                    failed[task.name] = err
                    echo(f"[{time.strftime('%H:%M:%S')}] FAILED {task.name}: {err} (log {log_file(s, task)})")
                    record(False)
                    continue
                finished.add(name)
                left = len(pending) + len(running)
                if seconds is None:
                    echo(f"[{time.strftime('%H:%M:%S')}] {name} was done by another runner; {left} left")
                    continue
                times[name] = seconds
                echo(f"[{time.strftime('%H:%M:%S')}] done {name} in {seconds / 60:.1f} min; {left} left")
                record(False)
    record(True)
    if failed:
        name, err = next(iter(failed.items()))
        raise RuntimeError(f"{len(failed)} task(s) failed; first: {name}: {err}") from err
    return times


def _drop_blocked(pending: dict[str, Task], failed: dict[str, BaseException]) -> None:
    """Move the pending tasks that (transitively) need a failed task to `failed`."""
    changed = True
    while changed:
        changed = False
        for name, task in list(pending.items()):
            if any(d in failed for d in task.deps):
                failed[name] = RuntimeError(f"not run: a task it needs failed ({task.deps})")
                pending.pop(name)
                changed = True


__all__ = ["Settings", "Task", "cell_key", "check_base", "plan", "run"]
