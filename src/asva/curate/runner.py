"""`run_curation`: find sources, skip finished ones, run an engine, write parts, merge, report.

This is what `asva curate SOURCE --out MANIFEST.parquet` calls. Progress is a log line every
`progress_every_s` seconds and at the end: sources done / total and throughput in
source-video seconds per wall second.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from asva.curate.config import CurateConfig
from asva.curate.local_engine import Result, run_local
from asva.curate.manifest import check_parts_config, is_done, merge_parts, parts_dir, write_part
from asva.curate.report import Summary, summarize, write_report
from asva.curate.sources import Source, find_sources
from asva.log import get_logger

logger = get_logger(__name__)


def _run_ray(sources: list[Source], config: CurateConfig, workers: int) -> Iterator[Result]:
    from asva.curate.ray_engine import run_ray  # Ray is imported only when asked for

    return run_ray(sources, config, workers)


ENGINES: dict[str, Callable[[list[Source], CurateConfig, int], Iterator[Result]]] = {
    "local": run_local,
    "ray": _run_ray,
}


@dataclass(frozen=True)
class CurationRun:
    """What a run did: the manifest written, its summary, and this run's own work."""

    manifest: Path
    table: pa.Table
    summary: Summary
    processed: int  # sources curated by this run (the rest were done by earlier runs)
    skipped: int
    seconds: float
    source_seconds: float  # duration of the sources this run curated


def run_curation(source: str | Path, out: str | Path, config: CurateConfig | None = None,
                 engine: str = "local", workers: int = 2, fresh: bool = False, progress_every_s: float = 10.0,
                 report: bool = True) -> CurationRun:
    """Curate every video under `source` into the Parquet manifest `out` (resumable; see manifest.py)."""
    config = config or CurateConfig()
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {sorted(ENGINES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    out = Path(out)
    if out.suffix != ".parquet":
        raise ValueError(f"the manifest must be a .parquet file, got {out}")

    # 1. sources, and which an earlier run finished
    sources = find_sources(source)
    parts = parts_dir(out)
    if fresh and parts.exists():
        shutil.rmtree(parts)
    check_parts_config(parts, config.fingerprint(), dataclasses.asdict(config))
    todo = [s for s in sources if not is_done(parts, s.name)]
    skipped = len(sources) - len(todo)
    logger.info("curating %d sources under %s with the %s engine (%d worker(s)); %d already done",
                len(sources), source, engine, workers, skipped)

    # 2. run, writing each finished source's part at once
    start = time.perf_counter()
    last_log = start
    done = 0
    source_seconds = 0.0
    for src, rows in ENGINES[engine](todo, config, workers):
        write_part(parts, src.name, rows)
        done += 1
        source_seconds += rows[0]["duration_s"] or 0.0
        now = time.perf_counter()
        if now - last_log >= progress_every_s or done == len(todo):
            last_log = now
            took = max(now - start, 1e-9)
            logger.info("curate: %d/%d sources (%d skipped), %.1f sources/s, %.1f source-s per s",
                        skipped + done, len(sources), skipped, done / took, source_seconds / took)

    # 3. merge in a fixed order, then summarize
    table = merge_parts(parts, [s.name for s in sources], out)
    summary = summarize(table)
    if report:
        write_report(summary, table, out)
    took = time.perf_counter() - start
    logger.info("wrote %s: %d rows, %d clips kept, from %d sources in %.1f s", out, table.num_rows,
                summary.kept, len(sources), took)
    return CurationRun(out, table, summary, done, skipped, took, source_seconds)
