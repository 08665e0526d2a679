"""Train the SynthAV sync classifier shipped in src/asva/assets/sync_classifier/.

Data first (8 classes × 65 videos of 4 s, 256 px; 60 train / 5 test per class), then the recipe
(`asva.metrics.sync_training`, one thread by default):

    .venv/bin/asva synth --out /tmp/synth/sync --videos-per-class 65 --train-per-class 60 --seed 0
    .venv/bin/python scripts/train_sync_classifier.py --data /tmp/synth/sync \
        --out src/asva/assets/sync_classifier
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import sys

from asva.metrics.sync_training import SyncTrainConfig, train_sync_classifier


def main() -> None:
    """Parse the command line and run the recipe."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="SynthAV folder (videos/, train.txt, test.txt)")
    parser.add_argument("--out", required=True, help="output folder for the safetensors + JSON")
    for f in dataclasses.fields(SyncTrainConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = SyncTrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(SyncTrainConfig)})
    train_sync_classifier(args.data, args.out, cfg, command=shlex.join(["python", *sys.argv]))


if __name__ == "__main__":
    main()
