"""The Ray engine: the same `curate_source` as Ray tasks, for a cluster (ray is imported only here).

Uses the running Ray instance when there is one (`ray.init(address=...)` done by the caller, or
a cluster's RAY_ADDRESS); otherwise starts a local one with `workers` CPUs and shuts it down after.
Results are the same as the local engine's: the per-video function and its inputs are identical,
and the manifest is sorted when merged.
"""

from __future__ import annotations

from collections.abc import Iterator

from asva.curate.analyze import curate_source, empty_row
from asva.curate.config import CurateConfig
from asva.curate.local_engine import Result, init_worker
from asva.curate.sources import Source
from asva.log import get_logger

logger = get_logger(__name__)


def _task(source: Source, config: CurateConfig) -> list[dict]:
    init_worker()
    return curate_source(source, config)


def run_ray(sources: list[Source], config: CurateConfig, workers: int) -> Iterator[Result]:
    """Curate `sources` as Ray tasks (at most 2 x cluster CPUs in flight), yielding as each finishes."""
    try:
        import ray
    except ImportError as e:
        raise ImportError("--engine ray needs Ray: pip install 'asva[ray]' (or ray>=2.9)") from e

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_task)
        cfg_ref = ray.put(config)
        limit = 2 * max(1, int(ray.cluster_resources().get("CPU", workers)))
        todo = list(reversed(sources))
        running: dict = {}
        while todo or running:
            while todo and len(running) < limit:
                s = todo.pop()
                running[task.remote(s, cfg_ref)] = s
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                s = running.pop(ref)
                try:
                    rows = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayTaskError) as e:
                    # curate_source records file errors itself; this is a crash or a bug
                    logger.error("%s: Ray task failed: %s", s.name, e)
                    error = f"ray task failed: {e}"
                    rows = [{**empty_row(s.name), "reasons": ["unreadable"], "error": error}]
                yield s, rows
    finally:
        if started:
            ray.shutdown()
