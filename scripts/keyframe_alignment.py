"""Where keyframe mode's keyframes and motion fall relative to the sound (docs/results.md, KeyVID rows).

Keyframe mode can only help the oracle sync error if (1) the keyframes it places from the audio
lie near the audio onsets and (2) the generated motion has its events (peaks and valleys of the
motion curve) at those keyframes. Per folder of generated 48-frame clips at 24 FPS this prints:

- the share of audio onsets within one frame (1/24 s) of one of the 12 keyframes the bundled
  localizer picks from the clip's audio (seed 0, as `asva generate` uses), and the same for 12
  uniform keyframes 0, 4, ..., 44;
- the share of the clip's motion events within half a frame of one of those keyframes. A keyframe
  covers one frame's width, so with no relation between motion and keyframes this is about
  12/48 = 25 %; a folder of uniform-mode clips is the control;
- the mean change of frame brightness (0-255) between consecutive frames, over the frame pairs
  that hold a keyframe and over the others. Much more at the keyframes means they flash: the
  keyframes are generated apart from the frames the interpolator puts between them, and the
  interpolator has not carried their look over. Last, the mean brightness of keyframes 1-11 (the
  first frame is the image) minus that of the other frames: the sign says which way they flash.

    .venv/bin/python scripts/keyframe_alignment.py runs/results/keyvid runs/results/uniform24
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from asva.keyframes.localizer import bundled_localizer
from asva.keyframes.selection import select_keyframes, uniform_indices
from asva.metrics.oracle_sync import oracle_sync_file

FPS, SLOTS, KEYFRAMES = 24.0, 48, 12


def near(times: np.ndarray, keys_s: np.ndarray, tolerance_s: float) -> int:
    """How many of `times` lie within `tolerance_s` of one of `keys_s`."""
    if len(times) == 0:
        return 0
    return int((np.min(np.abs(times[:, None] - keys_s[None]), axis=1) <= tolerance_s + 1e-9).sum())


def share(count: int, total: int) -> str:
    """`count` of `total` as a whole percentage."""
    return f"{100 * count / max(total, 1):.0f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of generated clips (recursive)")
    args = parser.parse_args()
    localizer = bundled_localizer()
    if localizer is None:
        raise SystemExit("no bundled keyframe localizer (src/asva/assets/keyframe_localizer)")
    uniform_s = uniform_indices(SLOTS, KEYFRAMES) / FPS
    for folder in args.folders:
        clips = sorted(folder.rglob("*.mp4"))
        if not clips:
            raise SystemExit(f"{folder}: no .mp4 files")
        onsets = events = onsets_key = onsets_uniform = events_key = 0
        at_key, between = [], []  # |brightness change| of frame pairs holding a keyframe, and not
        offsets = []  # mean brightness of keyframes 1-11 minus that of the other frames
        for path in clips:
            analysis = oracle_sync_file(path, fps=FPS)  # its audio: the clip's, cut to its 2 s
            result = analysis.result
            curve = localizer.predict(torch.as_tensor(analysis.audio))[0].numpy()
            keys = np.asarray(select_keyframes(curve, KEYFRAMES, seed=0).indices)
            keys_s = keys / FPS
            brightness = analysis.frames.mean(axis=(1, 2, 3))  # (T,)
            change = np.abs(np.diff(brightness))  # (T - 1,) pair i: frames i, i + 1
            others = np.setdiff1d(np.arange(len(brightness)), keys)
            offsets.append(brightness[keys[keys > 0]].mean() - brightness[others].mean())
            touches = np.zeros(len(change), bool)
            touches[keys[keys < len(change)]] = True  # the pair starting at the keyframe
            touches[keys[keys > 0] - 1] = True  # and the one ending at it
            at_key.append(change[touches].mean())
            between.append(change[~touches].mean())
            audio_s, visual_s = np.asarray(result.audio_events_s), np.asarray(result.visual_events_s)
            onsets, events = onsets + len(audio_s), events + len(visual_s)
            onsets_key += near(audio_s, keys_s, 1 / FPS)
            onsets_uniform += near(audio_s, uniform_s, 1 / FPS)
            events_key += near(visual_s, keys_s, 0.5 / FPS)
        print(f"{folder} ({len(clips)} clips): onsets within one frame of a localizer keyframe "
              f"{share(onsets_key, onsets)} (uniform keyframes {share(onsets_uniform, onsets)}) of {onsets}; "
              f"motion events within half a frame of one {share(events_key, events)} of {events}; "
              f"brightness change at keyframes {np.mean(at_key):.1f}, between them {np.mean(between):.1f}; "
              f"keyframes minus other frames {np.mean(offsets):+.1f} "
              f"(> 0 on {share(sum(o > 0 for o in offsets), len(offsets))} of the clips)")


if __name__ == "__main__":
    main()
