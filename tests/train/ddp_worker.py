"""Run by `torchrun --nproc_per_node 2` from test_distributed.py: two CPU processes train the tiny
preset's adapters and each writes a digest of its adapter weights after every optimizer step."""

from __future__ import annotations

import hashlib
import json
import os
import sys

import torch

from asva.train.config import TrainConfig
from asva.train.recipe import train
from tests.train.test_recipe import MovingSquares


def main(init: str, out: str) -> None:
    rank = int(os.environ["RANK"])
    digests: list[str] = []

    def record(step: int, model: torch.nn.Module) -> None:
        h = hashlib.sha256()
        for value in model.adapters.state_dict().values():
            h.update(value.detach().cpu().numpy().tobytes())
        digests.append(h.hexdigest())

    config = TrainConfig.for_stage(
        "tiny",
        "pretrain",
        "unused",
        {
            "out": out,
            "init": init,
            "batch_size": 4,
            "epochs": 1,
            "device": "cpu",
            "lr": 1e-3,
            "checkpoint_every": 100,
        },
    )
    train(config, MovingSquares(n=8), show_progress=False, on_step=record)
    with open(os.path.join(out, f"digests_{rank}.json"), "w") as f:
        json.dump(digests, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
