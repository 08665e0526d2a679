"""Does a trained model use the audio? Its denoising loss with each clip's own audio, with another
clip's audio and with silence, on the same clips, timesteps and noise (docs/results.md, KeyVID rows).

A network that reads the sound predicts the noise better with the clip's own audio than with a
neighbour's; one that ignores it scores the same. The stage decides the network and the clips:
`finetune` (the uniform model's adapters, clips at the preset's rate) or `keyframe` / `interpolate`
(a KeyVID folder's generator / interpolator, 2-s clips at 24 FPS with their keyframes). No
condition is dropped. Batch b uses timesteps and noise seeded by b, so rows are paired.
`--timesteps LO HI` draws the diffusion timesteps from [LO, HI) only (the high ones decide the
motion; at low t the noisy frames already show it), through the schedule's `draw_timesteps`.

    .venv/bin/python scripts/audio_dependence.py --model src/asva/assets/models/tiny-keyvid \\
        --stage keyframe --data runs/default/clean --batches 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from asva.checkpoints.backbone import load_tokenizer
from asva.checkpoints.folder import load_model
from asva.checkpoints.keyvid import load_keyvid_model
from asva.cli_train import training_set
from asva.diffusion.schedule import NoiseSchedule
from asva.train.config import KEYVID_STAGES, TrainConfig
from asva.train.recipe import StageModule, clip_fps, collate


class NarrowSchedule(NoiseSchedule):
    """The same schedule with training timesteps drawn from [low, high) only."""

    def __init__(self, base: NoiseSchedule, low: int, high: int) -> None:
        if not 0 <= low < high <= base.num_timesteps:
            raise SystemExit(f"--timesteps must satisfy 0 <= LO < HI <= {base.num_timesteps}, "
                             f"got {low} {high}")
        super().__init__(base.config)
        self.low, self.high = low, high

    def draw_timesteps(self, batch: int, generator: torch.Generator,
                       device: torch.device | str) -> torch.Tensor:
        return torch.randint(self.low, self.high, (batch,), generator=generator, device=device)


def paired_losses(model_folder: Path, stage: str, data: Path, batches: int, batch_size: int,
                  shots: int | None, timesteps: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """Loss per batch (batches,) for the clips' own audio, the next clip's audio, and silence."""
    if stage in KEYVID_STAGES:
        model, spec = load_keyvid_model(model_folder)
        preset = spec.preset
    else:
        preset, model, _ = load_model(model_folder)
    config = TrainConfig.for_stage(preset.name, stage, str(data),
                                   {"shots": shots, "cond_dropout": 0.0, "batch_size": batch_size})
    clips = training_set(config, data, None)
    if len(clips) < batch_size:
        raise SystemExit(f"{data}: {len(clips)} clips, fewer than one batch of {batch_size}")
    module = StageModule(config, preset, model, load_tokenizer(preset)).eval()
    fps = clip_fps(stage, preset)
    order = torch.randperm(len(clips), generator=torch.Generator().manual_seed(0)).tolist()
    out: dict[str, list[float]] = {"own": [], "other": [], "silence": []}
    if timesteps:
        module.schedule = NarrowSchedule(module.schedule, *timesteps)
    with torch.no_grad():
        for b in range(batches):
            picks = [order[(b * batch_size + i) % len(order)] for i in range(batch_size)]
            batch = collate([clips[i] for i in picks], fps)
            variants = {"own": batch.audio, "other": batch.audio.roll(1, dims=0),
                        "silence": torch.zeros_like(batch.audio)}
            for name, audio in variants.items():
                batch.audio = audio
                loss = module(batch, torch.Generator().manual_seed(10_000 + b))
                out[name].append(float(loss))
            print(f"batch {b}: " + "  ".join(f"{k} {v[-1]:.5f}" for k, v in out.items()), flush=True)
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder (KeyVID for its stages)")
    parser.add_argument("--stage", required=True, choices=["finetune", *KEYVID_STAGES])
    parser.add_argument("--data", type=Path, required=True, help="a SynthAV dataset root (train split)")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--shots", type=int, default=None, help="K clips per class (default all)")
    parser.add_argument("--timesteps", type=int, nargs=2, metavar=("LO", "HI"), default=None,
                        help="draw diffusion timesteps from [LO, HI) only (default: all)")
    args = parser.parse_args()
    torch.manual_seed(0)
    losses = paired_losses(args.model, args.stage, args.data, args.batches, args.batch_size, args.shots,
                           args.timesteps)
    own = losses["own"]
    for name in ("other", "silence"):
        diff = losses[name] - own
        sem = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        span = "all t" if args.timesteps is None else f"t in [{args.timesteps[0]}, {args.timesteps[1]})"
        print(f"{args.model} ({args.stage}, {span}): {name} audio minus own audio {diff.mean():+.5f} "
              f"(± {sem:.5f} s.e., {100 * diff.mean() / own.mean():+.2f} % of {own.mean():.5f}; "
              f"{len(diff)} batches of {args.batch_size})")


if __name__ == "__main__":
    main()
