"""The local engine: `curate_source` in a pool of worker processes on this machine.

Results come back as each source finishes. A worker that dies (a decoder crash kills the
process, not the run) breaks the pool: it is rebuilt and the sources that were in flight are
retried one at a time, so the one that crashes again is recorded with an error and the rest go on.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from asva.curate.analyze import curate_source, empty_row
from asva.curate.config import CurateConfig
from asva.curate.sources import Source
from asva.log import get_logger

logger = get_logger(__name__)

Result = tuple[Source, list[dict]]


def init_worker() -> None:
    """Per-process setup: single-threaded OpenCV, since the pool already uses one process per core."""
    import cv2

    cv2.setNumThreads(1)


def run_local(sources: list[Source], config: CurateConfig, workers: int) -> Iterator[Result]:
    """Curate `sources` with `workers` processes, yielding (source, rows) as each one finishes.

    `workers=1` runs in this process (no start-up cost, easy to debug; a decoder crash then ends
    the run, and a re-run resumes after the sources already finished).
    """
    if workers == 1:
        init_worker()
        for s in sources:
            yield s, curate_source(s, config)
        return
    retry: list[Source] = []
    yield from _run_pool(sources, config, workers, retry)
    for source in retry:  # alone, so a crash can be pinned on this source
        crashed: list[Source] = []
        yield from _run_pool([source], config, 1, crashed)  # a pool of one: still a separate process
        for s in crashed:
            logger.error("%s: the worker process crashed twice on it; recorded as unreadable", s.name)
            yield s, [{**empty_row(s.name), "reasons": ["unreadable"], "error": "worker process crashed"}]


def _run_pool(sources: list[Source], config: CurateConfig, workers: int,
              broken: list[Source]) -> Iterator[Result]:
    """Run a pool over `sources`; sources in flight when the pool breaks are appended to `broken`."""
    # spawn, not fork: a forked child inherits FFmpeg's, OpenCV's and onnxruntime's threads half-locked
    ctx = multiprocessing.get_context("spawn")
    todo = list(reversed(sources))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker) as pool:
        running: dict[Future, Source] = {}
        while todo or running:
            while todo and len(running) < 2 * workers:  # a short queue: a kill loses little
                s = todo.pop()
                running[pool.submit(curate_source, s, config)] = s
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            pool_broken = False
            for fut in done:
                s = running.pop(fut)
                try:
                    rows = fut.result()
                except BrokenProcessPool:
                    broken.append(s)
                    pool_broken = True
                    continue
                yield s, rows
            if pool_broken:
                broken.extend(running.values())
                broken.extend(reversed(todo))
                logger.warning("a worker process died; retrying the %d sources in flight one by one",
                               len(broken))
                return
