"""Sampling settings of keyframe mode, tried on a validation set (docs/keyvid.md, "Sampling settings").

Animates the first clip of every video of a SynthAV dataset (keys ending in `--which`, default
`_clip-0`; repeat it for more) with the bundled tiny models and prints each clip's oracle sync
error and the mean. It is how the tiny preset's KeyVID sampling settings were chosen, on clips
that are not the test set:

    .venv/bin/asva synth --out runs/val --size 128 --videos-per-class 2 --train-per-class 0 --seed 555
    .venv/bin/python scripts/keyvid_probe.py runs/val runs/probe/uniform --mode uniform
    .venv/bin/python scripts/keyvid_probe.py runs/val runs/probe/keyvid-paper --keyvid-paper
    .venv/bin/python scripts/keyvid_probe.py runs/val runs/probe/tiny            # the tiny defaults

`--set NAME=VALUE` overrides one `KeyVIDSettings` field (JSON values: `anchored_steps=1`,
`guidance_audio=7.5`); `--keyvid-paper` starts from KeyVID's settings (with the tiny preset's 20
steps) instead of the tiny preset's. Uniform mode runs 48 frames at 24 FPS with 25 steps, the
equal-compute pairing of scripts/results_keyvid.sh; `--eta` and `--shared-noise-mean` change its
sampler (docs/keyvid.md, "Shared noise means"). Clips already written are kept (resumable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from asva.keyvid.config import KeyVIDSettings
from asva.metrics.oracle_sync import oracle_sync_file
from asva.pipelines.test_set import animate_test_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mode", choices=("keyframe", "uniform"), default="keyframe")
    parser.add_argument("--which", action="append", metavar="SUFFIX",
                        help="keep reference clips whose key ends with SUFFIX (repeatable; default _clip-0)")
    parser.add_argument("--keyvid-paper", action="store_true", help="KeyVID's settings, 20 steps")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--eta", type=float, help="uniform mode: DDIM eta (default the preset's, 1)")
    parser.add_argument("--shared-noise-mean", action="store_true",
                        help="uniform mode: every frame's starting noise takes frame 0's mean")
    args = parser.parse_args()

    if args.mode == "uniform":
        from asva.pipelines.animate import AnimatePipeline

        pipe = AnimatePipeline.from_model("tiny")
        options = {"frames": 48, "fps": 24, "steps": 25, "shared_noise_mean": args.shared_noise_mean}
        if args.eta is not None:
            options["eta"] = args.eta
    else:
        if args.eta is not None or args.shared_noise_mean:
            parser.error("--eta and --shared-noise-mean are for --mode uniform; use --set in keyframe mode")
        from asva.pipelines.keyvid import KeyframePipeline

        pipe = KeyframePipeline.from_model("tiny")
        if args.keyvid_paper:
            pipe.settings = KeyVIDSettings(steps=pipe.settings.steps)
        changes = dict(item.split("=", 1) for item in args.set)
        pipe.settings = dataclasses.replace(pipe.settings, **{k: json.loads(v) for k, v in changes.items()})
        print(pipe.settings, flush=True)
        options = {}
    suffixes = tuple(args.which or ["_clip-0"])
    paths = animate_test_set(pipe, args.dataset, args.out, seed=0, keep=lambda key: key.endswith(suffixes),
                             **options)
    errors = {}
    for path in paths:
        key, result = f"{path.parent.name}/{path.stem}", oracle_sync_file(path).result
        errors[key] = result.mean_offset_ms
        print(f"{key}: {result.mean_offset_ms:.1f} ms ({result.num_visual_events} motion events)", flush=True)
    (args.out / "oracle.json").write_text(json.dumps(errors, indent=1))
    print(f"mean oracle sync error {np.mean(list(errors.values())):.2f} ms over {len(errors)} clips")


if __name__ == "__main__":
    main()
