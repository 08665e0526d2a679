"""Curate one source video: header checks, one decode for scenes, motion and text, audio checks.

`curate_source` is the per-video function both engines run. It never raises for a bad file:
every problem becomes a manifest row with `error` set, so one broken file never stops a run.

Steps, cheapest first:
1. probe the headers: no video stream, too short, low FPS, low resolution, no audio. A source
   failing any of them yields one row with all the reasons that apply and is not decoded.
2. decode frames at `analysis_fps` (in chunks that fit `decode_budget_mb`), shrink them once,
   and stream them through the scene-cut detector, optical flow (per frame pair) and, on a
   `text_interval_s` grid, the text detector; then the frames are dropped.
3. cut the scenes into candidate clips; give each its motion, text and audio statistics and the
   reasons it fails; keep = no reason.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from asva.curate.config import CurateConfig
from asva.curate.motion_stats import pair_motion
from asva.curate.scenes import SceneCutDetector, candidate_clips, scene_spans, shrink
from asva.curate.sources import Source
from asva.curate.text import TextDetector
from asva.log import get_logger
from asva.media import AudioError, VideoError, probe_video, read_audio, read_video_frames

logger = get_logger(__name__)

SAMPLE_RATE = 16000
_EPS = 1e-6

# Reasons, in the order they are listed in a row (docs/curation.md describes each).
REASONS = ("unreadable", "not_video", "no_video", "too_short", "low_fps", "low_resolution", "no_audio",
           "no_clip", "static", "camera_shake", "sharp_motion", "text", "silent", "audio_unreadable")


def curate_source(source: Source, config: CurateConfig) -> list[dict[str, Any]]:
    """Manifest rows for one source: one per candidate clip, or one for a source that yields none."""
    base = empty_row(source.name)
    if source.problem is not None:
        reason = "not_video" if source.problem.startswith("not a video") else "unreadable"
        return [{**base, "reasons": [reason], "error": source.problem}]
    try:
        return _curate(source, config, base)
    except FileNotFoundError as e:
        return [{**base, "reasons": ["unreadable"], "error": f"file not found: {e}"}]
    except Exception as e:
        # Broad on purpose: damaged files make FFmpeg, PyAV, OpenCV and onnxruntime raise many
        # types (measured: an unknown codec tag gives AttributeError inside probe_video), and one
        # file must never stop a run. The row keeps the type and message.
        logger.warning("%s: %s: %s", source.name, type(e).__name__, e)
        reason = "no_video" if "no video stream" in str(e) else "unreadable"
        return [{**base, "reasons": [reason], "error": f"{type(e).__name__}: {e}"}]


def empty_row(name: str) -> dict[str, Any]:
    """A row with every column present (the manifest schema), nothing measured yet."""
    return {"source": name, "start_s": 0.0, "end_s": 0.0, "duration_s": None, "fps": None, "width": None,
            "height": None, "has_audio": None, "scene": -1, "num_scenes": None, "motion_mean": None,
            "motion_max": None, "camera_motion_mean": None, "camera_motion_max": None, "text_area": None,
            "audio_rms_db": None, "keep": False, "reasons": [], "error": None}


def _curate(source: Source, cfg: CurateConfig, base: dict[str, Any]) -> list[dict[str, Any]]:
    # 1. header checks
    info = probe_video(source.path)
    base = {**base, "end_s": round(info.duration_s, 6), "duration_s": round(info.duration_s, 6),
            "fps": round(info.fps, 6), "width": info.width, "height": info.height,
            "has_audio": info.has_audio}
    reasons = []
    if info.duration_s + 1e-3 < cfg.min_duration_s:  # 1 ms: container durations are rounded
        reasons.append("too_short")
    if info.fps + 1e-3 < cfg.min_fps:
        reasons.append("low_fps")
    if min(info.width, info.height) < cfg.min_short_side:
        reasons.append("low_resolution")
    if cfg.require_audio and not info.has_audio:
        reasons.append("no_audio")
    if reasons:
        return [{**base, "reasons": reasons}]

    # 2. one streamed decode for scenes, motion and text
    stream = _analyse_frames(source.path, info.width, info.height, info.duration_s, cfg)
    duration = min(info.duration_s, stream.num_frames / cfg.analysis_fps)
    cuts = [k for k in stream.cuts if not _inside_camera_motion(k, stream.camera, cfg)]
    spans = scene_spans(cuts, cfg.analysis_fps, duration)
    clips = candidate_clips(spans, duration, cfg.clip_s, cfg.stride_s, cfg.scene_margin_s, cfg.analysis_fps)
    base = {**base, "num_scenes": len(spans)}
    if not clips:
        return [{**base, "end_s": round(duration, 6), "reasons": ["no_clip"]}]

    audio, audio_error = None, None
    if info.has_audio:
        try:
            audio = read_audio(source.path, SAMPLE_RATE)  # (S,) whole track: 38 MB for 10 min
        except AudioError as e:
            audio_error = f"AudioError: {e}"

    # 3. one row per candidate clip
    rows = []
    for clip in clips:
        row = {**base, "scene": clip.scene, "start_s": clip.start_s, "end_s": clip.end_s}
        f0 = math.ceil(clip.start_s * cfg.analysis_fps - _EPS)  # first analysis frame in the clip
        f1 = math.ceil(clip.end_s * cfg.analysis_fps - _EPS)  # one past the last
        motion, camera = stream.motion[f0 : f1 - 1], stream.camera[f0 : f1 - 1]  # pairs inside the clip
        # a frame is smeared when the camera moves fast on either side of it: the peak also reads the
        # pairs leading into the clip's first frame and out of its last
        touching = stream.camera[max(0, f0 - 1) : f1]
        text = [a for f, a in stream.text.items() if f0 <= f < f1]
        clip_reasons = []
        if len(motion):
            # lighting changes (NaN) carry no camera motion
            lit, lit_touching = camera[np.isfinite(camera)], touching[np.isfinite(touching)]
            row.update(motion_mean=float(motion.mean()), motion_max=float(motion.max()),
                       camera_motion_mean=float(lit.mean()) if len(lit) else 0.0,
                       camera_motion_max=float(lit_touching.max()) if len(lit_touching) else 0.0)
            if row["motion_mean"] < cfg.static_max:
                clip_reasons.append("static")
            if row["camera_motion_mean"] > cfg.shake_max:
                clip_reasons.append("camera_shake")
            if row["camera_motion_max"] > cfg.whip_max:
                clip_reasons.append("sharp_motion")
        if text:
            row["text_area"] = float(max(text))
            if row["text_area"] > cfg.text_max_area:
                clip_reasons.append("text")
        if audio is not None:
            piece = audio[round(clip.start_s * SAMPLE_RATE) : round(clip.end_s * SAMPLE_RATE)]
            rms = float(np.sqrt(np.mean(np.square(piece, dtype=np.float64)))) if len(piece) else 0.0
            row["audio_rms_db"] = round(20 * math.log10(max(rms, 1e-10)), 3)
            if row["audio_rms_db"] < cfg.silence_db:
                clip_reasons.append("silent")
        elif audio_error is not None:
            clip_reasons.append("audio_unreadable")
            row["error"] = audio_error
        row["reasons"] = clip_reasons
        row["keep"] = not clip_reasons
        rows.append(row)
    return rows


def _inside_camera_motion(cut: int, camera: np.ndarray, cfg: CurateConfig) -> bool:
    """Whether a detected cut lies inside camera motion: a whip pan or shake, not an edit.

    A real cut is one pair of change between steady neighbours. Dropped: a cut whose neighbouring
    pair moves fast (either above `whip_max`), or whose surroundings shake (the median over
    `scene_motion_pairs` pairs either side above `shake_max`); the motion filters reject the clips
    holding that motion instead. The cut pair itself (k - 1) is left out: flow across an edit is
    meaningless. Lighting changes (NaN) are left out too.
    """
    n = cfg.scene_motion_pairs
    adjacent = camera[max(0, cut - 2) : cut - 1].tolist() + camera[cut : cut + 1].tolist()  # pairs k-2, k
    around = np.concatenate([camera[max(0, cut - 1 - n) : cut - 1], camera[cut : cut + n]])
    around = around[np.isfinite(around)]
    shaking = len(around) > 0 and float(np.median(around)) > cfg.shake_max
    return shaking or any(v > cfg.whip_max for v in adjacent)


class _Stream:
    """What the analysis decode leaves: cut frames, per-pair motion, text area on the grid frames."""

    def __init__(self) -> None:
        self.num_frames = 0
        self.cuts: list[int] = []
        self.motion = np.zeros(0, np.float32)  # (N - 1,)
        self.camera = np.zeros(0, np.float32)  # (N - 1,)
        self.text: dict[int, float] = {}  # analysis frame index -> text area


@lru_cache(maxsize=2)
def _text_detector(max_side: int, pixel_threshold: float, box_score: float,
                   min_aspect: float) -> TextDetector:
    # one onnxruntime session per process, reused across sources
    return TextDetector(max_side, pixel_threshold, box_score, min_aspect)


def _analyse_frames(path: str, width: int, height: int, duration_s: float, cfg: CurateConfig) -> _Stream:
    """Decode at `analysis_fps` chunk by chunk and stream the frames through the three analyses."""
    fps = cfg.analysis_fps
    text_det = _text_detector(cfg.text_max_side, cfg.text_pixel_threshold, cfg.text_box_score,
                              cfg.text_min_aspect)
    scenes = SceneCutDetector(fps, cfg.scene_threshold, cfg.min_scene_s, cfg.scene_weights,
                              cfg.scene_adaptive_ratio, cfg.scene_min_edges)
    keep_side = max(cfg.text_max_side, cfg.motion_max_side, cfg.scene_max_side)
    text_every = max(1, round(cfg.text_interval_s * fps))
    text_offset = text_every // 2  # grid frames at (k + 0.5) * interval

    # frames per read: what fits the budget at full size (read_video_frames returns full-size frames)
    chunk = max(2, int(cfg.decode_budget_mb * 2**20 // max(1, width * height * 3)))
    expected = math.ceil(duration_s * fps - _EPS)  # targets before the header's end
    out = _Stream()
    motions, cameras = [], []
    prev: np.ndarray | None = None  # the last shrunk frame of the previous chunk, to pair across reads
    while True:
        start = out.num_frames
        last_read = expected - start <= chunk
        try:
            n = None if last_read else chunk
            frames = read_video_frames(path, fps, start_s=start / fps, num_frames=n)
        except VideoError as e:
            if start > 0 and "past the end" in str(e):
                logger.warning("%s: video ends at %.2f s, before the header's %.2f s", path, start / fps,
                               duration_s)
                break
            raise
        small = shrink(frames, keep_side)  # (T, h, w, 3)
        del frames
        scenes.add(shrink(small, cfg.scene_max_side))
        for i in range(len(small)):
            if (start + i) % text_every == text_offset:
                out.text[start + i] = text_det.text_area(small[i])
        pairs = small if prev is None else np.concatenate([prev[None], small])
        if len(pairs) >= 2:
            pm = pair_motion(pairs, cfg.flow, cfg.motion_max_side, cfg.lighting_jump, cfg.camera_border,
                             cfg.camera_min_gradient, cfg.pan_side, cfg.pan_min, cfg.pan_fit)
            motions.append(pm.motion)
            cameras.append(pm.camera)
        prev = small[-1]
        out.num_frames += len(small)
        if last_read or len(small) < chunk:
            break
    out.cuts = scenes.finish()
    if motions:
        out.motion, out.camera = np.concatenate(motions), np.concatenate(cameras)
    return out
