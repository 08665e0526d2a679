"""Video frames sampled at a target FPS by timestamp (PyAV), and mp4 writing (H.264 + AAC).

Times are measured from the container's start time, like `asva.media.audio`, so frames and
audio read with the same `start_s` line up.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np

from asva.log import get_logger
from asva.media.audio import check_audio_array, container_start, encode_audio, open_input, require_file

logger = get_logger(__name__)

Rule = Literal["floor", "nearest", "ceil"]
_RULES = ("floor", "nearest", "ceil")
# Containers round timestamps (MKV/WebM to whole milliseconds), so "at or before the target"
# allows a frame up to this much after it; far below any real frame interval.
_TOL = Fraction(1, 1000)
# BT.601 limited range, tagged on what we write so players decode with the matrix we encoded
# with (untagged HD video is often assumed BT.709). Values of FFmpeg's AVCOL_* enums.
_AVCOL_SMPTE170M = 6
_AVCOL_RANGE_MPEG = 1


# x264's AVX-512 routines make its output differ from run to run on the same frames (PyAV 18's
# libx264 on an AVX-512 Xeon: 6 different decodes in 8 encodings of one 48-frame clip, and up to
# 24 ms of oracle sync error on that clip; docs/evaluation.md, "Deterministic files"). Where the CPU
# has AVX-512 we name the SIMD sets x264 may use, everything it would detect but AVX-512: the same
# clip then decodes to the same frames every time, no slower. x264 name -> /proc/cpuinfo flag.
_X264_SIMD = (
    ("MMX2", "sse"), ("SSE", "sse"), ("SSE2", "sse2"), ("SSE3", "pni"), ("SSSE3", "ssse3"),
    ("SSE4.1", "sse4_1"), ("SSE4.2", "sse4_2"), ("LZCNT", "abm"), ("AVX", "avx"), ("FMA3", "fma"),
    ("BMI1", "bmi1"), ("BMI2", "bmi2"), ("AVX2", "avx2"),
)


def x264_simd_without_avx512(cpu_flags: set[str]) -> str | None:
    """x264's `asm=` value for a CPU with these /proc/cpuinfo flags, or None where it has no AVX-512."""
    if "avx512f" not in cpu_flags:
        return None
    return ",".join(name for name, flag in _X264_SIMD if flag in cpu_flags)


@functools.cache
def _x264_params() -> str | None:
    """The `x264-params` every mp4 we write is encoded with (None: x264's own CPU detection)."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")),
                 [])
    simd = x264_simd_without_avx512(set(flags))
    return None if simd is None else f"asm={simd}"


class VideoError(ValueError):
    """A video file that cannot be read as asked, or frames that cannot be written."""


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reads from a file's headers (no frames are decoded)."""

    duration_s: float  # of the video stream; the container's duration when the stream has none
    fps: float  # average frame rate
    width: int
    height: int
    num_frames: int  # from the index when the container has one, else duration * fps rounded
    has_audio: bool
    audio_sample_rate: int | None
    codec: str  # video codec name, e.g. "h264"


def probe_video(path: str | Path) -> VideoInfo:
    """Read duration, frame rate, size, frame count, audio presence and codec of a video file."""
    p = require_file(path, "video")
    with open_input(p, VideoError) as container:
        stream = _video_stream(container, p)
        ctx = stream.codec_context
        if ctx is None:  # PyAV gives no codec context for a codec this FFmpeg build lacks
            raise VideoError(f"{p}: its video codec ({stream.codec_tag or 'unknown tag'}) cannot be decoded "
                             "by this FFmpeg build")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        num_frames = stream.frames or round(duration * fps)
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            duration_s=duration,
            fps=fps,
            width=ctx.width,
            height=ctx.height,
            num_frames=int(num_frames),
            has_audio=audio is not None,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
            codec=ctx.name,
        )


def read_video_frames(
    path: str | Path,
    fps: float | Fraction,
    start_s: float = 0.0,
    duration_s: float | None = None,
    num_frames: int | None = None,
    rule: Rule = "floor",
) -> np.ndarray:
    """Sample RGB frames (T, H, W, 3) uint8 at `fps` by timestamp, from `start_s`.

    Target times are t_k = start_s + k / fps. With the default `rule="floor"` frame k is the
    latest decoded frame whose timestamp is <= t_k (what a player shows at t_k); `"ceil"` takes
    the first frame with timestamp >= t_k (ASVA's rule) and `"nearest"` the closest one (ties to
    the earlier). Timestamps may be up to 1 ms late and still count as <= t_k (containers round
    them). This works for any source frame rate, variable ones included. Targets before the first
    frame take the first frame.

    T is `num_frames`, or ceil(duration_s * fps), or, with neither, every target before the end
    of the video. When the video ends before the last target, the remaining frames repeat the
    last frame (logged as a warning). A truncated file yields what decodes before the damage.
    Raises FileNotFoundError or VideoError naming the file.
    """
    p = require_file(path, "video")
    fps_q = _as_fraction(fps, "fps")
    if rule not in _RULES:
        raise VideoError(f"rule must be one of {_RULES}, got {rule!r}")
    if not (math.isfinite(start_s) and start_s >= 0):
        raise VideoError(f"start_s must be a finite number >= 0, got {start_s}")
    if duration_s is not None and num_frames is not None:
        raise VideoError("give duration_s or num_frames, not both")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise VideoError(f"duration_s must be a finite number > 0 or None, got {duration_s}")
    if num_frames is not None and (not isinstance(num_frames, int) or num_frames < 1):
        raise VideoError(f"num_frames must be an int >= 1 or None, got {num_frames!r}")

    if num_frames is None and duration_s is not None:
        # targets t_k < start + duration; the epsilon keeps 2.0 s * 8 FPS at 16, not 17
        num_frames = max(1, math.ceil(duration_s * float(fps_q) - 1e-9))
    start_q = Fraction(start_s).limit_denominator(1_000_000)
    return _sample_frames(p, fps_q, start_q, num_frames, rule, seek=start_s > 0)


@dataclass
class _Decoded:
    """A decoded frame, its time from the container start, and its RGB array once asked for."""

    time: Fraction
    frame: av.VideoFrame
    _rgb: np.ndarray | None = None

    def rgb(self, height: int, width: int) -> np.ndarray:
        if self._rgb is None:
            # width/height: a mid-stream resolution change is scaled to the first frame's size
            self._rgb = self.frame.to_ndarray(format="rgb24", width=width, height=height)  # (H, W, 3)
        return self._rgb


def _choose(rule: str, cur: _Decoded | None, nxt: _Decoded | None, target: Fraction) -> _Decoded:
    """Pick the frame for `target` from the last frame at/before it (`cur`) and the next one."""
    if cur is None or nxt is None:
        chosen = cur or nxt
        assert chosen is not None  # the caller always has at least one decoded frame
        return chosen
    if rule == "floor":
        return cur
    if rule == "ceil":
        return cur if cur.time >= target - _TOL else nxt
    return cur if target - cur.time <= nxt.time - target else nxt  # nearest, ties to the earlier


def _sample_frames(
    path: Path, fps: Fraction, start: Fraction, num_frames: int | None, rule: str, seek: bool
) -> np.ndarray:
    """Decode sequentially from the keyframe before `start` and pick one frame per target time."""
    with open_input(path, VideoError) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        origin = container_start(container)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        header_end = None  # where the index says the video stream ends
        if stream.duration and stream.time_base is not None:
            header_end = ((stream.start_time or 0) + stream.duration) * stream.time_base - origin
        if seek:
            # backward=True: land on the keyframe at or before start, then decode forward to it.
            container.seek(int((origin + start) / stream.time_base), stream=stream, backward=True)

        chosen: list[_Decoded] = []
        cur: _Decoded | None = None  # the latest frame at or before the next target
        prev_time: Fraction | None = None
        n_decoded = 0
        k = 0

        def target(i: int) -> Fraction:
            return start + i / fps

        try:
            for frame in container.decode(stream):
                if frame.pts is not None and frame.time_base is not None:
                    t = frame.pts * frame.time_base - origin
                else:  # no timestamp: continue from the previous frame at the average rate
                    t = Fraction(0) if prev_time is None else prev_time + 1 / rate
                if n_decoded == 0 and seek and t > start + _TOL:
                    # The seek overshot (a bad index): start again from the beginning.
                    logger.debug("%s: seek landed past start %.3f s; decoding from 0", path, start)
                    return _sample_frames(path, fps, start, num_frames, rule, seek=False)
                n_decoded += 1
                d = _Decoded(t, frame)
                # every target this frame comes after is now settled: `cur` is at/before it, `d` after
                while (num_frames is None or k < num_frames) and target(k) + _TOL < t:
                    chosen.append(_choose(rule, cur, d, target(k)))
                    k += 1
                if num_frames is not None and k >= num_frames:
                    break
                cur, prev_time = d, t
        except av.FFmpegError as e:
            if cur is None:
                raise VideoError(f"{path}: video stream could not be decoded ({e})") from e
            logger.warning("%s: decoding stopped at %.3f s (%s); treating it as the end", path, cur.time, e)

        if cur is None and not chosen:
            if seek:  # a seek into the middle of a GOP can leave the decoder nothing to show
                logger.debug("%s: no frames after seeking to %.3f s; decoding from 0", path, float(start))
                return _sample_frames(path, fps, start, num_frames, rule, seek=False)
            raise VideoError(f"{path}: no decodable video frames")
        if num_frames is None or k < num_frames:
            assert cur is not None
            end = cur.time + _frame_duration(cur.frame, rate)  # the end of the last frame's display
            if header_end is not None and end < header_end - 1 / rate:
                logger.warning(
                    "%s: frames end at %.3f s but the header says %.3f s; the file may be truncated",
                    path,
                    float(end),
                    float(header_end),
                )
            if target(k) + _TOL >= end and not chosen:
                raise VideoError(
                    f"{path}: start_s={float(start):.3f} is at or past the end of the video "
                    f"({float(end):.3f} s)"
                )
            n_pad = 0
            # all remaining targets when T is fixed, else those before the end of the last frame
            while k < num_frames if num_frames is not None else target(k) + _TOL < end:
                n_pad += target(k) + _TOL >= end
                chosen.append(cur)
                k += 1
            if n_pad:
                logger.warning(
                    "%s: video ends at %.3f s; repeated the last frame for %d of %d frames",
                    path,
                    float(end),
                    n_pad,
                    k,
                )

        h, w = chosen[0].frame.height, chosen[0].frame.width
        return np.stack([c.rgb(h, w) for c in chosen])  # (T, H, W, 3)


def _frame_duration(frame: av.VideoFrame, rate: Fraction) -> Fraction:
    """How long `frame` is shown: its own duration when the decoder sets one, else 1 / average rate."""
    if frame.duration and frame.time_base is not None:
        return frame.duration * frame.time_base
    return 1 / rate


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    """The first video stream, or a VideoError listing what the file holds instead."""
    if not container.streams.video:
        kinds = ", ".join(f"{s.type}:{s.codec_context.name}" for s in container.streams) or "none"
        raise VideoError(f"{path}: no video stream (streams: {kinds})")
    return container.streams.video[0]


def _as_fraction(value: float | Fraction, name: str) -> Fraction:
    """A positive rate as an exact Fraction: 29.97 -> 2997/100, 30000/1001 stays exact."""
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise VideoError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise VideoError(f"{name} must be a finite number > 0, got {value}")
    return Fraction(value).limit_denominator(100_000)


X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float | Fraction,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    crf: int = 18,
    preset: str = "medium",
) -> None:
    """Write uint8 RGB frames (T, H, W, 3) as H.264 mp4 at `fps`, with optional AAC audio, atomically.

    Odd heights/widths are padded to even by repeating the edge pixels (yuv420p needs even sizes).
    `audio` (S,) or (S, C) float in [-1, 1] at `sample_rate` starts with the first frame and is
    muxed as given: it is not trimmed or padded to the video's length. The file is written under
    a temporary name in the same folder and moved into place, so a failure leaves no partial file
    and an existing file untouched. `preset` is x264's speed/size trade-off ("veryfast" for bulk data).
    """
    p = Path(path)
    # 1. check everything before touching the disk
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        got = frames.dtype if isinstance(frames, np.ndarray) else type(frames).__name__
        raise VideoError(f"frames must be a uint8 numpy array (T, H, W, 3), got {got}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise VideoError(f"frames must have shape (T, H, W, 3) with T >= 1, got {frames.shape}")
    fps_q = _as_fraction(fps, "fps")
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise VideoError(f"crf must be an int in [0, 51], got {crf!r}")
    if preset not in X264_PRESETS:
        raise VideoError(f"preset must be one of {X264_PRESETS}, got {preset!r}")
    a = None
    if audio is not None:
        a = check_audio_array(audio)  # (S, C)
        rates = av.codec.Codec("aac", "w").audio_rates or ()
        if sample_rate not in rates:
            raise VideoError(f"sample_rate {sample_rate} is not an AAC rate; use one of {sorted(rates)}")

    _, h, w, _ = frames.shape
    if h % 2 or w % 2:
        logger.info("padding frames from %dx%d to even %dx%d for yuv420p", w, h, w + w % 2, h + h % 2)
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")

    # 2. write to a temporary sibling, then rename over the target (atomic on one filesystem)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        _encode_mp4(tmp, frames, fps_q, a, sample_rate, crf, preset)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _to_video_frame(rgb: np.ndarray) -> av.VideoFrame:
    """One (H, W, 3) uint8 RGB frame as a BT.601 limited-range yuv420p VideoFrame."""
    # OpenCV's I420 conversion is BT.601 limited range like swscale's, and 8x faster here: it was a
    # third of the cost of writing a SynthAV clip.
    return av.VideoFrame.from_ndarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), format="yuv420p")


def _encode_mp4(
    path: Path,
    frames: np.ndarray,
    fps: Fraction,
    audio: np.ndarray | None,
    sample_rate: int,
    crf: int,
    preset: str,
) -> None:
    """Encode frames (T, H, W, 3) and audio (S, C) into an mp4 at `path`, interleaved by time."""
    t, h, w, _ = frames.shape
    # +faststart puts the index first so browsers (the web demo) can play while downloading.
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        options = {"crf": str(crf), "preset": preset}
        if (params := _x264_params()) is not None:
            options["x264-params"] = params
        video = container.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        ctx = video.codec_context
        ctx.time_base = 1 / fps  # pts counts frames, so fractional rates stay exact
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = _AVCOL_SMPTE170M
        ctx.color_range = _AVCOL_RANGE_MPEG
        sound = None
        if audio is not None:
            layout = {1: "mono", 2: "stereo", 6: "5.1"}[audio.shape[1]]
            sound = container.add_stream("aac", rate=sample_rate, layout=layout)

        n_audio_done = 0
        for k in range(t):
            frame = _to_video_frame(frames[k])
            frame.pts, frame.time_base = k, ctx.time_base
            for packet in video.encode(frame):
                container.mux(packet)
            if sound is not None and audio is not None:
                # feed the audio up to the end of this frame, so packets arrive interleaved
                upto = min(len(audio), round((k + 1) * sample_rate / fps))
                if upto > n_audio_done:
                    encode_audio(container, sound, audio[n_audio_done:upto], n_audio_done)
                    n_audio_done = upto
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None and audio is not None:
            if n_audio_done < len(audio):
                encode_audio(container, sound, audio[n_audio_done:], n_audio_done)
            for packet in sound.encode(None):
                container.mux(packet)
