"""`asva experiment`: the designs, the verdict rule, and one tiny run end to end (kill-safe, shared cells)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from asva.experiments.report import Entry, verdict, write_report
from asva.experiments.runner import Settings, cell_key, check_base, plan, record_run, run
from asva.experiments.spec import EXPERIMENTS, Claim, get_experiment

CLASSES = ("bouncing_ball", "drum_hit")


def test_designs_match_the_issue():
    kshot = get_experiment("kshot")
    # K in {1, 5, 10} x 3 seeds + K = all x 1 seed, each with and without curated pretraining
    assert len(kshot.cells) == (3 * 3 + 1) * 2
    assert kshot.groups == ["K = 1", "K = 5", "K = 10", "K = all"]
    window = get_experiment("window")
    assert window.groups == ["r = 0.5", "r = 1", "r = 1.5", "r = 2.5", "r = 4"]
    features = get_experiment("features")
    assert all(c.pretrain is not None and c.pretrain.trained_audio for c in features.cells)
    # K = 10 after curated pretraining, seed 0: one folder for the three experiments that contain it
    keys = {cell_key(c) for name in ("kshot", "curation") for c in get_experiment(name).cells
            if c.name in ("pretrained_K10_s0", "curated_s0")}
    assert keys == {"curated_K10_s0"}
    # The window experiment reads the trained encoders; its r = 1.5 is the features run's both-multi.
    assert all(c.pretrain is not None and c.pretrain.trained_audio for c in window.cells)
    shared = {cell_key(c) for name in ("window", "features") for c in get_experiment(name).cells
              if c.name in ("r1.5_s0", "both-multi_s0")}
    assert len(shared) == 1
    assert len({c.pretrain.task for c in window.cells if c.pretrain is not None}) == len(window.groups)
    with pytest.raises(KeyError, match="choose from"):
        get_experiment("nope")
    assert set(EXPERIMENTS) == {"kshot", "curation", "window", "features"}


def _entry(group: str, errors: list[float]) -> Entry:
    return Entry(group, "c", list(range(len(errors))), {"oracle_ms": errors})


@pytest.mark.parametrize(("better", "worse", "word"), [
    ([100, 102, 98], [130, 128, 132], "reproduced"),     # 30 ms apart, spread ~2.8 ms
    ([100, 120, 80], [110, 130, 90], "inconclusive"),    # 10 ms apart, spread ~28 ms
    ([130, 128, 132], [100, 102, 98], "not reproduced"),  # the other way round
    ([100], [130], "inconclusive"),                      # one seed: no spread
])
def test_verdict_rule(better, worse, word):
    claim = Claim("a beats b", ((("a", "c"), ("b", "c")),))
    entries = {("a", "c"): _entry("a", better), ("b", "c"): _entry("b", worse)}
    assert verdict(claim, entries)[0] == word


def test_missing_base_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="make train-default"):
        check_base(tmp_path)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A miniature `make train-default` folder: 2 classes, a noisy set (one video without sound) with
    its curation manifest, and a random tiny backbone."""
    from asva.checkpoints.backbone import load_backbone
    from asva.checkpoints.folder import write_model_folder
    from asva.curate.config import CurateConfig
    from asva.curate.runner import run_curation
    from asva.presets import get_preset
    from asva.synth import SynthConfig, generate_dataset, parse_corruption_mix
    from tests.conftest import randomize_zero_parameters

    root = tmp_path_factory.mktemp("base")
    generate_dataset(root / "clean", SynthConfig(CLASSES, videos_per_class=2, train_per_class=1, size=64,
                                                 seconds=2.0), workers=1)
    generate_dataset(root / "noisy", SynthConfig(CLASSES, videos_per_class=3, train_per_class=3, size=64,
                                                 seconds=3.0, seed=1,
                                                 corruption_mix=tuple(parse_corruption_mix("noaudio:0.3"))),
                     workers=1)
    run_curation(root / "noisy", root / "noisy.parquet", CurateConfig(min_short_side=64), workers=1,
                 report=False)
    preset = get_preset("tiny")
    backbone = load_backbone(preset, seed=0)
    randomize_zero_parameters(backbone.unet)
    write_model_folder(root / "backbone" / "model", preset, backbone)
    return root


def test_curation_experiment_end_to_end(base, tmp_path):
    exp = get_experiment("curation")
    settings = Settings(tmp_path / "exp", base, scale=0.01, classes=CLASSES, sample_steps=2,
                        train_overrides={"batch_size": 2, "checkpoint_every": 1})
    tasks = plan(exp, settings, ["raw_s0", "curated_s0"])
    assert [t.name for t in tasks] == ["data", "pretrain:raw", "pretrain:curated", "cell:raw_K10_s0",
                                       "cell:curated_K10_s0"]
    messages: list[str] = []
    times = run(tasks, settings, jobs=2, echo=messages.append)
    assert set(times) == {t.name for t in tasks}
    # one entry for the invocation, rewritten after every task and marked complete at the end
    runs = json.loads((settings.root / "run.json").read_text())["runs"]
    assert len(runs) == 1 and runs[0]["complete"] and runs[0]["task_seconds"] == times
    # the curated pretraining at scale != 1 is the experiment's own (scale 1 reuses BASE/pretrain)
    assert (settings.root / "pretrain" / "curated" / "model" / "asva.json").is_file()
    result = json.loads((settings.root / "cells" / "raw_K10_s0" / "result.json").read_text())
    assert result["num_clips"] == 2 * 3 and set(result["metrics"]) == {"oracle", "relsync", "sfd"}

    # Re-running finds everything done; the report has the two rows, one seed each (no spread).
    again: list[str] = []
    assert run(plan(exp, settings, ["raw_s0", "curated_s0"]), settings, jobs=2, echo=again.append) == {}
    assert "5 already done, 0 to run" in again[0]
    md = write_report(exp, settings, "asva experiment curation").read_text()
    assert "| raw noisy set |" in md and "| curated |" in md and "**Inconclusive**" in md
    assert "Not run yet: 4 of 6 cells" in md
    summary = json.loads((settings.root / "curation" / "results.json").read_text())
    values = {e["group"]: e["values"]["relsync"][0] for e in summary["entries"]}
    assert set(values) == {"raw noisy set", "curated"} and all(math.isfinite(v) for v in values.values())
    assert (settings.root / "curation" / "curation.png").stat().st_size > 1000

    # Another scale in the same root is refused (its cells would not be comparable).
    with pytest.raises(ValueError, match="scale"):
        run(tasks, Settings(settings.root, base, scale=0.5), jobs=1, echo=messages.append)


def test_run_record_keeps_a_killed_invocations_times(tmp_path):
    settings = Settings(tmp_path / "exp", tmp_path / "base")
    record_run(settings, {"start": 1.0, "task_seconds": {"data": 5.0}, "complete": False})
    record_run(settings, {"start": 2.0, "task_seconds": {}, "complete": False})  # another invocation
    record_run(settings, {"start": 1.0, "task_seconds": {"data": 5.0, "cell:a": 9.0}, "complete": True})
    runs = json.loads((settings.root / "run.json").read_text())["runs"]
    summary = [(r["start"], r["complete"], len(r["task_seconds"])) for r in runs]
    assert summary == [(1.0, True, 2), (2.0, False, 0)]


def _record_many(root: str, first: int) -> None:
    for i in range(first, first + 15):
        record_run(Settings(Path(root), Path(root) / "base"), {"start": float(i), "task_seconds": {}})


def test_two_runners_on_one_root_keep_every_run_record(tmp_path):
    # Two invocations (e.g. `asva experiment window` beside `features`) write run.json under a lock.
    from multiprocessing import get_context

    workers = [get_context("fork").Process(target=_record_many, args=(str(tmp_path), first))
               for first in (0, 100)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    starts = sorted(r["start"] for r in json.loads((tmp_path / "run.json").read_text())["runs"])
    assert starts == [float(i) for i in (*range(15), *range(100, 115))]


def test_a_task_another_runner_finished_is_skipped(tmp_path):
    # The task's lock is held while it runs; whoever gets it next finds the task done and skips it.
    import threading

    from asva.experiments.runner import Task, _run_task, exclusive

    settings = Settings(tmp_path, tmp_path / "base")
    ran, finished = [], threading.Event()
    task = Task("cell:x", lambda s, p: ran.append(p) or {}, "payload",
                done=lambda s, p: finished.is_set())
    results = []
    with exclusive(tmp_path / "locks" / "cell_x.lock"):  # "another runner" is running cell:x
        log = str(tmp_path / "x.log")
        worker = threading.Thread(target=lambda: results.append(_run_task(task, settings, log)))
        worker.start()
        worker.join(0.3)
        assert worker.is_alive() and not ran  # waiting for the lock
        finished.set()
    worker.join(10)
    assert results == [("cell:x", None, {})] and not ran
    # Not done: it runs and is timed.
    name, seconds, _ = _run_task(Task("cell:y", lambda s, p: ran.append(p) or {}, "y"), settings,
                                 str(tmp_path / "y.log"))
    assert name == "cell:y" and seconds is not None and ran == ["y"]


def test_features_plan_trains_the_audio_encoders_first(tmp_path):
    settings = Settings(tmp_path, tmp_path / "base")
    tasks = {t.name: t for t in plan(get_experiment("features"), settings)}
    assert tasks["audio"].deps == ["data"]
    assert tasks["pretrain:features-both-multi"].deps == ["audio"]
    assert tasks["cell:features-both-multi_K10_s2_audio_encoders-imagebind-beats_audio_layers-1-3"].deps == [
        "data", "pretrain:features-both-multi"]
    with pytest.raises(ValueError, match="its cells"):
        plan(get_experiment("features"), settings, ["nope"])


def test_command_lists_cells_and_names_a_missing_base(tmp_path):
    from typer.testing import CliRunner

    from asva.cli import app

    out = CliRunner().invoke(app, ["experiment", "window", "--list", "--root", str(tmp_path)])
    assert out.exit_code == 0 and "r0.5_s0" in out.output and len(out.output.splitlines()) == 15
    out = CliRunner().invoke(app, ["experiment", "window", "--root", str(tmp_path), "--base",
                                   str(tmp_path / "x")])
    assert out.exit_code == 2 and "make" in out.output and "train-default" in out.output
