"""Visual and audio events per clip, as the oracle sync error sees them (docs/results.md, KeyVID rows).

The oracle's mean offset matches each audio onset to its nearest motion event; a video that
flickers has motion events everywhere and scores well without following the sound. This prints,
per folder of generated clips, the mean number of motion events and audio onsets per clip and the
share of motion events that lie within one frame of an onset (their precision), and the same for
the dataset's reference clips read at the same rate. Its "gain over chance" does not depend on how
many events a clip has: per clip, the mean distance (capped at 500 ms, as the oracle caps it) from a
time drawn uniformly over the scored span to the nearest motion event, minus the oracle's mean
distance from the onsets; averaged over clips. Motion events that ignore the sound give about 0
whatever their number; events placed at the onsets give a large positive gain. It also prints how
much of the frame-to-frame change is global brightness: the mean over frame pairs of |change of the frame's
mean| against the mean |change| per pixel (0-255 scale); when the two are close, the "motion" the
flow sees is mostly the whole frame getting lighter or darker.

    .venv/bin/python scripts/event_counts.py --dataset runs/results/test --fps 24 runs/results/keyvid ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from asva.keyframes.motion import motion_times
from asva.media import read_audio, read_video_frames
from asva.metrics.oracle_sync import SyncAnalysis, chance_distance_ms, oracle_sync, oracle_sync_file
from asva.metrics.protocol import EvalProtocol, reference_clips


def frame_changes(frames: np.ndarray) -> tuple[float, float]:
    """(mean |Δ frame mean|, mean |Δ pixel|) over consecutive frames of (T, H, W, 3) uint8."""
    x = frames.astype(np.float64)
    return float(np.abs(np.diff(x.mean(axis=(1, 2, 3)))).mean()), float(np.abs(np.diff(x, axis=0)).mean())


def chance_offset_ms(analysis: SyncAnalysis) -> float | None:
    """Mean capped distance (ms) from a uniform time over the scored span to the nearest motion event."""
    r = analysis.result
    if not r.audio_events_s:
        return None
    span = motion_times(len(analysis.motion), r.fps)  # the oracle scores onsets inside this span
    return chance_distance_ms(np.asarray(r.visual_events_s), span[0], span[-1])


def summary(analyses: list[SyncAnalysis], changes: list[tuple[float, float]]) -> str:
    results = [a.result for a in analyses]
    visual = [r.num_visual_events for r in results]
    audio = [r.num_audio_events for r in results]
    near = [np.min(np.abs(np.subtract.outer(r.visual_events_s, r.audio_events_s)), axis=1) <= 1 / r.fps + 1e-9
            for r in results if r.visual_events_s and r.audio_events_s]
    precision = float(np.mean(np.concatenate(near))) if near else float("nan")
    brightness, pixel = np.mean(changes, axis=0)
    gains = [c - a.result.mean_offset_ms for a in analyses if (c := chance_offset_ms(a)) is not None]
    gain_se = np.std(gains, ddof=1) / np.sqrt(len(gains))
    return (f"{len(results)} clips: {np.mean(visual):.1f} motion events and {np.mean(audio):.1f} audio "
            f"onsets per clip; {100 * precision:.0f} % of motion events within one frame of an onset; "
            f"gain over chance {np.mean(gains):.1f} ms (s.e. {gain_se:.1f}); "
            f"frame to frame: brightness {brightness:.2f}, pixels {pixel:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--fps", type=float, default=24.0)
    args = parser.parse_args()
    protocol = EvalProtocol()
    refs = reference_clips(args.dataset, protocol)
    n = round(protocol.clip_seconds * args.fps)
    ref_results, ref_changes = [], []
    for ref in refs:
        frames = read_video_frames(ref.path, fps=args.fps, start_s=ref.start_s, num_frames=n)
        audio = read_audio(ref.path, protocol.sample_rate, ref.start_s, n / args.fps)
        ref_results.append(oracle_sync(frames, args.fps, audio, protocol.sample_rate))
        ref_changes.append(frame_changes(frames))
    print(f"reference clips at {args.fps:g} FPS: {summary(ref_results, ref_changes)}")
    for folder in args.folders:
        analyses = [oracle_sync_file(p) for p in sorted(folder.rglob("*.mp4"))]
        changes = [frame_changes(a.frames) for a in analyses]
        print(f"{folder}: {summary(analyses, changes)}")


if __name__ == "__main__":
    main()
