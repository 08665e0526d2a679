"""Two CPU processes (torchrun, gloo) train and hold identical adapter weights after every step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asva.train.config import TrainConfig
from asva.train.recipe import train
from tests.train.test_recipe import MovingSquares, backbone_with_random_unet

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_processes_keep_identical_adapters(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    trained_vae = train(
        TrainConfig.for_stage(
            "tiny",
            "vae",
            "unused",
            {"out": str(tmp_path / "vae"), "batch_size": 4, "epochs": 1, "device": "cpu", "max_steps": 1},
        ),
        MovingSquares(),
        show_progress=False,
    )
    vae = backbone_with_random_unet(trained_vae, tmp_path / "init")
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            torchrun,
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            str(REPO / "tests/train/ddp_worker.py"),
            str(vae),
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = json.loads((out / "digests_0.json").read_text())
    rank1 = json.loads((out / "digests_1.json").read_text())
    assert len(rank0) == 2  # 8 clips, global batch 4 (2 per process): 2 optimizer steps
    assert rank0 == rank1
    assert rank0[0] != rank0[1]  # and the weights did change
