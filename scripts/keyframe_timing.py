"""Does the keyframe generator draw each keyframe at its own time? (docs/keyvid.md, "Keyframe timing").

The oracle sync error sees the whole clip, interpolator and flicker included. This looks at the
keyframe generator alone. For every reference clip of a SynthAV dataset (keys ending in `--which`,
default all three clips a video) it generates the 12 keyframes at the localizer's slots
(`KeyframePipeline.generate_keyframes`: the keyframes keyframe mode draws for the same seed) and
compares each keyframe with the clip's real frames at the 12 slots (24 FPS, resized like the
image), by mean absolute difference once each frame's own mean colour is taken off, so that
brightness flicker does not decide. For every ordered pair of keyframes (j, k) it asks: does
keyframe j look more like the real frame at its own slot than like the real frame at k's slot?
`own-time accuracy` is the share of pairs where it does (ties count half), over a clip's 132 pairs,
then averaged over clips. Keyframes that do not depend on their time score 0.5 (if keyframes j and
k were the same picture, exactly one of the pair's two questions would be answered yes); keyframes
that each show their own moment score near 1.

The `reference` row scores the clip's own frames at the slots after a trip through the model's VAE:
what a generator that drew every keyframe right could reach. Periodic motion and still stretches
make some pairs of real frames alike, so it is below 1 too.

    .venv/bin/python scripts/keyframe_timing.py runs/val --model tiny --model runs/s12/kf-long/model
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from asva.media import image_to_tensor, read_audio, read_video_frames, resize_center_crop, tensor_to_uint8
from asva.metrics.protocol import EvalProtocol, reference_clips
from asva.pipelines.keyvid import KeyframePipeline
from asva.pipelines.test_set import class_prompt

SLOTS, FPS = 48, 24


def own_time_accuracy(keyframes: np.ndarray, at_slots: np.ndarray) -> float:
    """Share of ordered pairs (j, k), j != k, where keyframe j is nearer real frame j than real frame k.

    keyframes, at_slots: (K, H, W, 3) uint8, the generated keyframes and the real frames at their
    slots. Distance: mean absolute difference after each frame's mean colour is taken off.
    """
    def centred(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return x - x.mean(axis=(1, 2), keepdims=True)

    distance = np.abs(centred(keyframes)[:, None] - centred(at_slots)[None]).mean(axis=(2, 3, 4))  # (K, K)
    own = np.diag(distance)[:, None]  # (K, 1)
    wins = (own < distance) + 0.5 * (own == distance)  # (K, K)
    off = ~np.eye(len(distance), dtype=bool)
    return float(wins[off].mean())


def vae_roundtrip(pipe: KeyframePipeline, frames: np.ndarray) -> np.ndarray:
    """(K, H, W, 3) uint8 frames through the pipeline's VAE and back."""
    x = torch.stack([image_to_tensor(f) for f in frames], dim=1)[None]  # (1, 3, K, H, W)
    with torch.no_grad():
        z = pipe.backbone.vae.encode(x, generator=torch.Generator().manual_seed(0))
        return tensor_to_uint8(pipe.backbone.vae.decode(z).clamp(-1, 1)[0])


def summary(name: str, scores: list[float]) -> str:
    x = np.asarray(scores)
    se = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return f"{name}: {len(x)} clips: own-time accuracy {x.mean():.3f} (s.e. {se:.3f}; 0.5 = no sense of time)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--model", action="append", metavar="MODEL",
                        help="'tiny' (the bundled KeyVID model) or a KeyVID model folder (repeatable)")
    parser.add_argument("--which", action="append", metavar="SUFFIX",
                        help="keep reference clips whose key ends with SUFFIX (repeatable; default all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    protocol = EvalProtocol()
    suffixes = tuple(args.which or [""])
    refs = [r for r in reference_clips(args.dataset, protocol) if r.key.endswith(suffixes)]
    if not refs:
        raise SystemExit(f"no reference clips in {args.dataset} end with {suffixes}")
    pipes = {m: KeyframePipeline.from_model(m) for m in (args.model or ["tiny"])}
    sizes = {(pipe.preset.height, pipe.preset.width) for pipe in pipes.values()}
    rows: dict[str, list[float]] = {"reference (VAE round trip)": [], **{m: [] for m in pipes}}
    for i, ref in enumerate(refs):
        frames = read_video_frames(ref.path, fps=FPS, start_s=ref.start_s, num_frames=SLOTS, rule="ceil")
        audio = read_audio(ref.path, protocol.sample_rate, ref.start_s, protocol.clip_seconds)
        if len(frames) != SLOTS:
            raise SystemExit(f"{ref.key}: {len(frames)} frames at {FPS} FPS, expected {SLOTS}")
        line = [f"[{i + 1}/{len(refs)}] {ref.key}:"]
        resized = {size: np.stack([resize_center_crop(f, *size) for f in frames]) for size in sizes}
        for j, (name, pipe) in enumerate(pipes.items()):
            keyframes, slots = pipe.generate_keyframes(frames[0], class_prompt(ref.class_name), audio=audio,
                                                       seed=args.seed)
            reference = resized[pipe.preset.height, pipe.preset.width]
            if j == 0:
                rows["reference (VAE round trip)"].append(
                    own_time_accuracy(vae_roundtrip(pipe, reference[slots]), reference[slots]))
            rows[name].append(own_time_accuracy(keyframes, reference[slots]))
            line.append(f"{name} {rows[name][-1]:.3f}")
        print(" ".join(line), flush=True)
    for name, scores in rows.items():
        print(summary(name, scores))


if __name__ == "__main__":
    main()
