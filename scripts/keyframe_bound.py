"""What keyframe placement alone can give the oracle sync error: motion events exactly at the keyframes.

For each clip of a dataset (the evaluation protocol's 2-s clips), the bundled keyframe localizer
picks 12 keyframes from the audio, as `asva generate --mode keyframe` does. Imagine a video whose
only motion events are those keyframes (a flash at each, nothing between): its oracle distance is
the mean distance (capped at 500 ms) from each audio onset to the nearest keyframe. The script
prints it, with the same for a uniform time in place of each onset ("chance") and their
difference ("gain", the measure of `scripts/event_counts.py`), for three sets of frames: the 12
keyframes, only their peaks and valleys, and 12 uniform frames (0, 4, ..., 44).

    .venv/bin/python scripts/keyframe_bound.py runs/val
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from asva.keyframes.localizer import bundled_localizer
from asva.keyframes.motion import motion_times
from asva.media import read_audio
from asva.metrics.oracle_sync import audio_onsets, chance_distance_ms, mean_distance_ms
from asva.metrics.protocol import EvalProtocol, reference_clips

FPS = 24.0
SLOTS = 48


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--seed", type=int, default=0, help="keyframe selection seed (the pipeline's: 0)")
    args = parser.parse_args()
    protocol = EvalProtocol()
    localizer = bundled_localizer()
    if localizer is None:
        raise SystemExit("no bundled keyframe localizer in src/asva/assets/keyframe_localizer")
    span = motion_times(SLOTS - 1, FPS)  # the oracle scores onsets between the first and last frame pair
    rows: dict[str, list[tuple[float, float]]] = {"12 keyframes": [], "their peaks and valleys": [],
                                                  "12 uniform frames": []}
    for ref in reference_clips(args.dataset, protocol):
        audio = read_audio(ref.path, protocol.sample_rate, ref.start_s, SLOTS / FPS)
        onsets = audio_onsets(audio, protocol.sample_rate)
        onsets = onsets[(onsets >= span[0]) & (onsets <= span[-1])]
        if len(onsets) == 0:
            continue
        chosen = localizer.keyframes(audio, num_keyframes=12, seed=args.seed)
        sets = {"12 keyframes": np.asarray(chosen.indices),
                "their peaks and valleys": np.asarray([*chosen.peaks, *chosen.valleys]),
                "12 uniform frames": np.arange(0, SLOTS, 4)}
        for name, frames in sets.items():
            if len(frames):
                times = frames / FPS
                chance = chance_distance_ms(times, span[0], span[-1])
                rows[name].append((chance, mean_distance_ms(onsets, times)))
    for name, values in rows.items():
        v = np.array(values)  # (clips, 2): chance, onsets
        gain = v[:, 0] - v[:, 1]
        se = gain.std(ddof=1) / np.sqrt(len(gain))
        print(f"{name}: {len(v)} clips; oracle distance {v[:, 1].mean():.1f} ms, "
              f"chance {v[:, 0].mean():.1f} ms, gain {gain.mean():.1f} ms (s.e. {se:.1f})")


if __name__ == "__main__":
    main()
