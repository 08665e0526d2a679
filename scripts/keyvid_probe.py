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
equal-compute pairing of scripts/results_keyvid.sh. Clips already written are kept (resumable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from asva.keyvid.config import KeyVIDSettings
from asva.media import read_audio, read_video_frames
from asva.metrics.oracle_sync import oracle_sync_file
from asva.metrics.protocol import EvalProtocol, reference_clips
from asva.pipelines.test_set import class_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mode", choices=("keyframe", "uniform"), default="keyframe")
    parser.add_argument("--which", action="append", metavar="SUFFIX",
                        help="keep reference clips whose key ends with SUFFIX (repeatable; default _clip-0)")
    parser.add_argument("--keyvid-paper", action="store_true", help="KeyVID's settings, 20 steps")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()

    protocol = EvalProtocol()
    suffixes = tuple(args.which or ["_clip-0"])
    refs = [r for r in reference_clips(args.dataset, protocol) if r.key.endswith(suffixes)]
    if args.mode == "uniform":
        from asva.pipelines.animate import AnimatePipeline

        pipe = AnimatePipeline.from_model("tiny")
        options = {"frames": 48, "fps": 24, "steps": 25}
    else:
        from asva.pipelines.keyvid import KeyframePipeline

        pipe = KeyframePipeline.from_model("tiny")
        if args.keyvid_paper:
            pipe.settings = KeyVIDSettings(steps=20)
        changes = dict(item.split("=", 1) for item in args.set)
        pipe.settings = dataclasses.replace(pipe.settings, **{k: json.loads(v) for k, v in changes.items()})
        print(pipe.settings, flush=True)
        options = {}
    errors = {}
    for ref in refs:
        path = args.out / f"{ref.key}.mp4"
        if not path.is_file():
            first = read_video_frames(ref.path, fps=protocol.fps, start_s=ref.start_s, num_frames=1,
                                      rule="ceil")[0]
            audio = read_audio(ref.path, protocol.sample_rate, ref.start_s, protocol.clip_seconds)
            path.parent.mkdir(parents=True, exist_ok=True)
            pipe(first, class_prompt(ref.class_name), audio=audio, seed=0, **options).save(path)
        result = oracle_sync_file(path).result
        errors[ref.key] = result.mean_offset_ms
        events = result.num_visual_events
        print(f"{ref.key}: {result.mean_offset_ms:.1f} ms ({events} motion events)", flush=True)
    (args.out / "oracle.json").write_text(json.dumps(errors, indent=1))
    print(f"mean oracle sync error {np.mean(list(errors.values())):.2f} ms over {len(errors)} clips")


if __name__ == "__main__":
    main()
