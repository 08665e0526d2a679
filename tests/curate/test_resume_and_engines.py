"""A killed run resumes to the same manifest; the local pool, in-process and Ray engines agree."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asva.curate import CurateConfig, run_curation
from asva.curate.manifest import parts_dir
from tests.curate.helpers import write_clip

REPO = Path(__file__).resolve().parents[2]
SMALL = CurateConfig(min_short_side=32)


def _sources(root: Path, n: int) -> Path:
    for i in range(n):
        write_clip(root / f"c{i % 3}" / f"v{i:02d}.mp4", seconds=2.5, seed=i, audio=i % 5 != 4)
    (root / "c0" / "broken.mp4").write_bytes(b"\x00" * 100)
    return root


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_same_manifest(tmp_path):
    src = _sources(tmp_path / "src", 8)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("min_short_side: 32\n")
    out = tmp_path / "killed.parquet"
    cmd = [sys.executable, "-m", "asva.cli_curate", str(src), "--out", str(out), "--workers", "1",
           "--config", str(cfg_file)]
    # its own session, so the kill reaches only the processes this test started
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parts = parts_dir(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("*/*.parquet"))) < 3:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(list(parts.glob("*/*.parquet")))
    assert 3 <= n_done < 9, f"the kill should land mid-run ({n_done} of 9 sources done)"
    assert not out.exists()

    resumed = run_curation(src, out, SMALL, workers=1)
    assert resumed.skipped == n_done and resumed.processed == 9 - n_done
    reference = run_curation(src, tmp_path / "reference.parquet", SMALL, workers=2)  # a process pool
    assert resumed.table.equals(reference.table)
    assert out.read_bytes() == (tmp_path / "reference.parquet").read_bytes()


@pytest.mark.slow
def test_ray_and_local_engines_give_identical_manifests(tmp_path):
    ray = pytest.importorskip("ray")
    src = _sources(tmp_path / "src", 3)
    local = run_curation(src, tmp_path / "local.parquet", SMALL, workers=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_curation(src, tmp_path / "ray.parquet", SMALL, engine="ray", workers=2)
    finally:
        ray.shutdown()
    assert remote.table.equals(local.table)
