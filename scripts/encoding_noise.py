"""How much the mp4 encoder alone moves the oracle sync error of a folder of generated clips.

Each clip is decoded, written again twice with `asva.media.write_video` (its audio kept), and the
oracle sync error of both copies is printed beside the original's: the difference between the
copies is the encoder's run-to-run noise, the difference from the original is what one more
generation of H.264 does. `--x264-own-detection` lets x264 pick its SIMD sets itself, as asva did
before session 8 (AVX-512 included, which makes the two copies differ; docs/evaluation.md,
"Deterministic files"):

    .venv/bin/python scripts/encoding_noise.py runs/probe/tiny --x264-own-detection
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from asva.media import video as video_module
from asva.media import write_video
from asva.metrics.oracle_sync import SyncResult, oracle_sync_file


def in_ms(result: SyncResult) -> float:
    """A clip's oracle sync error in ms (NaN when its audio has no onsets)."""
    return np.nan if result.mean_offset_ms is None else result.mean_offset_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="generated clips: <class>/<name>.mp4")
    parser.add_argument("--x264-own-detection", action="store_true",
                        help="let x264 detect its SIMD sets (AVX-512 too), as before session 8")
    args = parser.parse_args()
    if args.x264_own_detection:
        video_module._x264_params = lambda: None  # the writer's one switch

    clips = sorted(args.folder.glob("*/*.mp4"))
    if not clips:
        parser.error(f"no clips <class>/<name>.mp4 under {args.folder}")
    errors = np.full((len(clips), 3), np.nan)  # original, copy 1, copy 2
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(clips):
            original = oracle_sync_file(path)  # its decoded frames and audio are what the copies get
            errors[i, 0] = in_ms(original.result)
            for k in (1, 2):
                copy = Path(tmp) / f"copy{k}.mp4"
                write_video(copy, original.frames, original.result.fps, audio=original.audio,
                            sample_rate=original.sample_rate)
                errors[i, k] = in_ms(oracle_sync_file(copy).result)
    differ = int((np.abs(errors[:, 1] - errors[:, 2]) > 1e-6).sum())
    original, first, second = np.nanmean(errors, axis=0)
    print(f"{args.folder}: {len(clips)} clips; oracle sync error (ms) original {original:.2f}, "
          f"copies {first:.2f} and {second:.2f}; the copies differ on "
          f"{differ} clips, by up to {np.nanmax(np.abs(errors[:, 1] - errors[:, 2])):.1f} ms")


if __name__ == "__main__":
    main()
