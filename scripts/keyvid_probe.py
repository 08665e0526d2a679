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
sampler (docs/keyvid.md, "Shared noise means"). `--image-mean-start` (both modes, every stage) gives
each frame's starting noise the mean that training's x_T has for this image (docs/keyvid.md,
"Image-mean start"). `--model FOLDER` probes another model than the bundled one. Clips already
written are kept (resumable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from asva.keyvid.config import KeyVIDSettings
from asva.metrics.oracle_sync import oracle_sync_file
from asva.pipelines.test_set import animate_test_set


def image_mean_start(pipe: Any, module: ModuleType) -> None:
    """Patch `pipe` so every DDIM run starts from noise whose frames have the image latent's mean.

    Each frame's own spatial mean (per channel) is removed and sqrt(ᾱ_τ) · mean(z_image) put in its
    place, τ the run's first DDIM timestep: the mean q(x_τ | x_0) gives a clip that keeps the
    image's mean, without the noise's share. A diagnostic, not a pipeline option: it replaces the
    `ddim_sample` that `module` (the pipeline's module) calls and records the image latent from the
    pipeline's VAE encoding of one frame.
    """
    seen: dict[str, torch.Tensor] = {}
    encode, sample = pipe.backbone.vae.encode, module.ddim_sample

    def recording_encode(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        z = encode(x, *args, **kwargs)
        if z.shape[2] == 1:  # the conditioning image, (1, C, 1, h, w)
            seen["image"] = z
        return z

    def shifted_sample(denoiser: Any, x_T: torch.Tensor, schedule: Any, steps: int,  # noqa: N803
                       **kwargs: Any) -> torch.Tensor:
        alpha_bar = schedule.alphas_cumprod[int(schedule.ddim_timesteps(steps)[-1])].item()
        target = math.sqrt(alpha_bar) * seen["image"].mean(dim=(3, 4), keepdim=True)  # (1, C, 1, 1, 1)
        return sample(denoiser, x_T - x_T.mean(dim=(3, 4), keepdim=True) + target, schedule, steps, **kwargs)

    pipe.backbone.vae.encode = recording_encode
    module.ddim_sample = shifted_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mode", choices=("keyframe", "uniform"), default="keyframe")
    parser.add_argument("--which", action="append", metavar="SUFFIX",
                        help="keep reference clips whose key ends with SUFFIX (repeatable; default _clip-0)")
    parser.add_argument("--model", default="tiny",
                        help="the bundled model of the mode (default) or a model folder: a KeyVID folder "
                             "in keyframe mode, an adapter model in uniform mode")
    parser.add_argument("--keyvid-paper", action="store_true", help="KeyVID's settings, 20 steps")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--eta", type=float, help="uniform mode: DDIM eta (default the preset's, 1)")
    parser.add_argument("--shared-noise-mean", action="store_true",
                        help="uniform mode: every frame's starting noise takes frame 0's mean")
    parser.add_argument("--image-mean-start", action="store_true",
                        help="every frame's starting noise takes sqrt(abar_T) x the image latent's mean")
    args = parser.parse_args()

    if args.mode == "uniform":
        from asva.pipelines.animate import AnimatePipeline

        pipe = AnimatePipeline.from_model(args.model)
        options = {"frames": 48, "fps": 24, "steps": 25, "shared_noise_mean": args.shared_noise_mean}
        if args.eta is not None:
            options["eta"] = args.eta
        from asva.pipelines import animate as module
    else:
        if args.eta is not None or args.shared_noise_mean:
            parser.error("--eta and --shared-noise-mean are for --mode uniform; use --set in keyframe mode")
        from asva.pipelines.keyvid import KeyframePipeline

        pipe = KeyframePipeline.from_model(args.model)
        if args.keyvid_paper:
            pipe.settings = KeyVIDSettings(steps=pipe.settings.steps)
        changes = dict(item.split("=", 1) for item in args.set)
        pipe.settings = dataclasses.replace(pipe.settings, **{k: json.loads(v) for k, v in changes.items()})
        print(pipe.settings, flush=True)
        options = {}
        from asva.pipelines import keyvid as module  # type: ignore[no-redef]
    if args.image_mean_start:
        image_mean_start(pipe, module)
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
