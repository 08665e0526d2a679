"""The motion interpolator on real keyframes: how much of keyframe mode's sync is the keyframe generator's.

For every reference clip of a SynthAV dataset (keys ending in `--which`, default all three clips a
video), the bundled tiny KeyVID interpolator fills the 48-frame window (24 FPS) around the clip's
*own* frames at 12 slots, `KeyframePipeline.interpolate`, with the tiny preset's settings; the
keyframe generator does not run. Where the slots come from (`--slots`):

- `localizer`: the bundled localizer's keyframes on the clip's audio (what keyframe mode uses);
- `uniform`: 0, 4, ..., 44;
- `true-curve`: `select_keyframes` on the clip's own motion curve (DIS flow, as the localizer's
  training target), an upper bound for the localizer.

Comparing the folders with each other, and with keyframe mode's own clips, separates the two halves
of KeyVID at the tiny scale: the interpolator given right keyframes at right places (these rows)
against the generator's keyframes (keyframe mode). `--model FOLDER` runs another KeyVID model's
interpolator (e.g. one trained with `keyvid_finetune: unet`, docs/keyvid.md). Then score with
`asva evaluate ... --metrics oracle` and `asva compare` as in docs/keyvid.md ("Real keyframes").
Clips already written are kept
(resumable):

    .venv/bin/python scripts/keyvid_true_keyframes.py runs/val runs/probe/true-localizer --slots localizer
    .venv/bin/python scripts/keyvid_true_keyframes.py runs/val runs/probe/true-uniform --slots uniform
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from asva.keyframes.localizer_training import motion_target
from asva.keyframes.motion import motion_score
from asva.keyframes.selection import select_keyframes, uniform_indices
from asva.media import read_audio, read_video_frames
from asva.metrics.oracle_sync import oracle_sync_file
from asva.metrics.protocol import EvalProtocol, reference_clips
from asva.pipelines.keyvid import KeyframePipeline
from asva.pipelines.test_set import class_prompt

SLOTS, FPS, KEYS = 48, 24, 12


def slots_for(kind: str, pipe: KeyframePipeline, frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
    """The 12 keyframe slots of one clip: from the localizer, uniform, or the clip's own motion curve."""
    if kind == "uniform":
        return np.asarray(uniform_indices(SLOTS, KEYS))
    if kind == "localizer":
        if pipe.localizer is None:
            raise SystemExit("no bundled keyframe localizer: --slots localizer needs one")
        return np.sort(pipe.localizer.keyframes(audio, KEYS, seed=0).indices)
    motion = motion_score(frames)  # (47,)
    curve = motion_target(motion, 0, len(audio), len(audio), SLOTS)  # (48,) in [0, 1]
    return np.sort(select_keyframes(curve, KEYS, seed=0).indices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--slots", choices=("localizer", "uniform", "true-curve"), required=True)
    parser.add_argument("--which", action="append", metavar="SUFFIX",
                        help="keep reference clips whose key ends with SUFFIX (repeatable; default all)")
    parser.add_argument("--model", default="tiny",
                        help="the bundled tiny KeyVID model (default) or a KeyVID model folder")
    args = parser.parse_args()

    torch.manual_seed(0)
    pipe = KeyframePipeline.from_model(args.model)
    protocol = EvalProtocol()
    suffixes = tuple(args.which or [""])
    refs = [r for r in reference_clips(args.dataset, protocol) if r.key.endswith(suffixes)]
    chosen: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        path = args.out / f"{ref.key}.mp4"
        # The window's 48 frames at 24 FPS; the first is the conditioning image `animate_test_set`
        # reads (the first frame at or after the clip's start, whatever the rate).
        frames = read_video_frames(ref.path, fps=FPS, start_s=ref.start_s, num_frames=SLOTS, rule="ceil")
        audio = read_audio(ref.path, protocol.sample_rate, ref.start_s, protocol.clip_seconds)  # (S,)
        if len(frames) != SLOTS:
            raise SystemExit(f"{ref.key}: {len(frames)} frames at {FPS} FPS, expected {SLOTS}")
        slots = slots_for(args.slots, pipe, frames, audio)
        chosen[ref.key] = slots.tolist()
        if not path.is_file():
            result = pipe.interpolate(frames[0], frames[slots], slots, class_prompt(ref.class_name),
                                      audio=audio, seed=0)
            path.parent.mkdir(parents=True, exist_ok=True)
            result.save(path)
        error = oracle_sync_file(path).result.mean_offset_ms
        print(f"[{i + 1}/{len(refs)}] {ref.key}: slots {slots.tolist()} oracle {error:.1f} ms", flush=True)
    (args.out / "slots.json").write_text(json.dumps(chosen, indent=1))


if __name__ == "__main__":
    main()
