"""Pictures of a generated clip for people: a frame strip over its waveform, and a sync plot.

`frame_strip` lays out up to a dozen evenly spaced frames with the audio waveform drawn under
them on the clip's time axis; a thin connector joins each frame to the moment it is shown.
`sync_plot` puts the audio's onset strength and onsets (`asva.metrics.oracle_sync`) above the
video's motion curve (`asva.keyframes.motion`), so one sees whether the picture moves when the
sound starts. Both return RGB uint8 arrays (drawn with OpenCV on RGB buffers) that the web demo
shows directly and `save_png` writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from asva.keyframes.motion import motion_score, motion_times
from asva.metrics.oracle_sync import audio_onsets, onset_strength, visual_events

SAMPLE_RATE = 16_000
WAVE_HEIGHT = 72  # px: the waveform band, the bottom rows of a frame strip
LABEL_HEIGHT = 18  # px: the row of frame times between the frames and the waveform
GAP = 4  # px between frames and around the strip
# Quiet audio is scaled up to its peak, but never by more than 1 / this: silence and a faint
# hiss stay flat instead of being blown up to full height.
MIN_WAVE_PEAK = 0.05

BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
FAINT = (215, 215, 215)  # axes and guides: close to the background on purpose
WAVE = (40, 90, 200)
ONSET = (215, 40, 40)
ONSET_FAINT = (245, 180, 180)
MOTION = (30, 30, 30)
EVENT = (0, 130, 220)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def frame_strip(
    frames: np.ndarray,
    audio: np.ndarray,
    fps: float,
    max_frames: int = 12,
    min_tile: int = 96,
    max_tile: int = 192,
) -> np.ndarray:
    """A row of up to `max_frames` frames above the waveform of 16 kHz `audio`, RGB uint8 (H, W, 3).

    `frames` is (T, H, W, 3) uint8 at `fps`. Frames are picked evenly (first and last included),
    enlarged with nearest-neighbour so their shorter side is at least `min_tile` px (pixels stay
    sharp) or shrunk so it is at most `max_tile`. The waveform spans the clip's duration T / fps
    across the strip's width; frame i is joined to its time i / fps and labelled with it. The
    waveform band is the bottom `WAVE_HEIGHT` rows.
    """
    _check_frames(frames, min_count=1)
    audio = _check_audio(audio)
    fps = _check_fps(fps)
    if max_frames < 1 or min_tile < 1 or max_tile < min_tile:
        raise ValueError(
            f"need max_frames >= 1 and 1 <= min_tile <= max_tile, got {max_frames}, {min_tile}, {max_tile}"
        )
    t, h, w, _ = frames.shape
    picks = np.unique(np.linspace(0, t - 1, min(t, max_frames)).round().astype(int))  # (K,)
    tile_h, tile_w = _tile_size(h, w, min_tile, max_tile)
    interp = cv2.INTER_NEAREST if tile_h >= h else cv2.INTER_AREA
    tiles = [cv2.resize(frames[i], (tile_w, tile_h), interpolation=interp) for i in picks]

    width = GAP + len(tiles) * (tile_w + GAP)
    height = GAP + tile_h + LABEL_HEIGHT + WAVE_HEIGHT
    img = np.full((height, width, 3), BACKGROUND, np.uint8)
    for k, tile in enumerate(tiles):
        x = GAP + k * (tile_w + GAP)
        img[GAP : GAP + tile_h, x : x + tile_w] = tile

    # The waveform's time axis covers the whole clip, so a tile's centre and its frame's time
    # differ slightly when frames are skipped: a connector makes the pairing explicit.
    duration = t / fps
    wave_top = height - WAVE_HEIGHT
    x0, x1 = GAP, width - GAP

    def x_of(seconds: float) -> int:
        return x0 + round(seconds / duration * (x1 - x0 - 1))

    for k, i in enumerate(picks):
        centre = GAP + k * (tile_w + GAP) + tile_w // 2
        xt = x_of(i / fps)
        label = f"{i / fps:.2f}s"
        (tw, _), _ = cv2.getTextSize(label, _FONT, 0.35, 1)
        cv2.putText(img, label, (centre - tw // 2, GAP + tile_h + 12), _FONT, 0.35, INK, 1, cv2.LINE_AA)
        cv2.line(img, (centre, GAP + tile_h + 14), (xt, wave_top), FAINT, 1, cv2.LINE_AA)
        cv2.line(img, (xt, wave_top), (xt, height - 1), FAINT, 1)
    _draw_waveform(img, audio[: round(duration * SAMPLE_RATE)], wave_top, height - 2, x0, x1, duration)
    return img


def sync_plot(frames: np.ndarray, fps: float, audio: np.ndarray, width: int = 720) -> np.ndarray:
    """Audio onset strength and onsets above the video's motion curve, one time axis, RGB uint8.

    `frames` is (T, H, W, 3) uint8 at `fps` with T >= 2 (motion needs a pair); `audio` is mono
    float32 at 16 kHz starting with frame 0, and is read up to the clip's end T / fps.
    """
    _check_frames(frames, min_count=2)
    audio = _check_audio(audio)
    fps = _check_fps(fps)
    if width < 200:
        raise ValueError(f"width must be at least 200 px, got {width}")
    duration = len(frames) / fps
    clip_audio = audio[: round(duration * SAMPLE_RATE)]
    motion = motion_score(frames)  # (T - 1,) px/frame
    m_times = motion_times(len(motion), fps)  # (T - 1,) s
    onsets = audio_onsets(clip_audio, SAMPLE_RATE) if len(clip_audio) else np.zeros(0)  # (K,) s
    events = visual_events(motion, fps)  # (E,) s

    margin, top, panel_h, gap, axis_h = 48, 34, 120, 16, 26
    height = top + 2 * panel_h + gap + axis_h
    img = np.full((height, width, 3), BACKGROUND, np.uint8)
    x0, x1 = margin, width - 16

    def x_of(seconds: float) -> int:
        return x0 + round(seconds / duration * (x1 - x0))

    def panel(y0: int, label: str) -> tuple[int, int]:
        cv2.rectangle(img, (x0, y0), (x1, y0 + panel_h), FAINT, 1)
        cv2.putText(img, label, (x0 + 5, y0 + 14), _FONT, 0.4, INK, 1, cv2.LINE_AA)
        return y0 + 20, y0 + panel_h - 4  # the band curves are drawn in, below the label

    # 1. onset strength (spectral flux), onsets in red
    a_lo, a_hi = panel(top, "audio onset strength, onsets (red)")
    for t in onsets:
        cv2.line(img, (x_of(t), top), (x_of(t), top + panel_h), ONSET, 1, cv2.LINE_AA)
    if len(clip_audio) >= SAMPLE_RATE // 20:
        f_times, flux = onset_strength(clip_audio, SAMPLE_RATE)  # (N,) s, (N,) dB per hop
        _polyline(img, f_times, flux, x_of, a_lo, a_hi, WAVE, thickness=1)

    # 2. motion curve at the frame-pair midpoints, its events in blue, the onsets faint for reference
    y_m = top + panel_h + gap
    m_lo, m_hi = panel(y_m, "video motion (px/frame), motion events (blue), audio onsets (light red)")
    for t in onsets:
        cv2.line(img, (x_of(t), y_m), (x_of(t), y_m + panel_h), ONSET_FAINT, 1, cv2.LINE_AA)
    for t in events:
        cv2.line(img, (x_of(t), y_m), (x_of(t), y_m + panel_h), EVENT, 1, cv2.LINE_AA)
    _polyline(img, m_times, motion, x_of, m_lo, m_hi, MOTION, thickness=2, dots=True)

    # 3. time axis and title
    y_t = y_m + panel_h
    step = _tick_step(duration)
    for k in range(int(duration / step + 1e-9) + 1):
        x = x_of(k * step)
        cv2.line(img, (x, y_t), (x, y_t + 4), INK, 1)
        cv2.putText(img, f"{k * step:g}s", (x - 8, y_t + 17), _FONT, 0.35, INK, 1, cv2.LINE_AA)
    title = f"{len(onsets)} audio onsets, {len(events)} motion events, {len(frames)} frames at {fps:g} FPS"
    cv2.putText(img, title, (x0, 22), _FONT, 0.5, INK, 1, cv2.LINE_AA)
    return img


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB (H, W, 3) or grey (H, W) uint8 image as PNG and return the path."""
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))
    ):
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be uint8 RGB (H, W, 3) or grey (H, W), got {got}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: expected a .png path")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {path.parent} does not exist")
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as PNG")
    # Bytes through Python rather than cv2.imwrite: imwrite cannot open non-ASCII paths on Windows.
    path.write_bytes(data.tobytes())
    return path


# ---- helpers ----------------------------------------------------------------------------------


def _check_frames(frames: np.ndarray, min_count: int) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        got = frames.dtype if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"frames must be a uint8 numpy array (T, H, W, 3), got {got}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < min_count or 0 in frames.shape:
        raise ValueError(f"frames must have shape (T, H, W, 3) with T >= {min_count}, got {frames.shape}")


def _check_audio(audio: np.ndarray) -> np.ndarray:
    if not isinstance(audio, np.ndarray) or not np.issubdtype(audio.dtype, np.floating):
        got = audio.dtype if isinstance(audio, np.ndarray) else type(audio).__name__
        raise ValueError(f"audio must be a float numpy array (S,) at {SAMPLE_RATE} Hz, got {got}")
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono samples (S,) at {SAMPLE_RATE} Hz, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("audio has non-finite samples (NaN/Inf)")
    return audio.astype(np.float32, copy=False)


def _check_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a number > 0, got {fps!r}")
    return float(fps)


def _tile_size(h: int, w: int, min_tile: int, max_tile: int) -> tuple[int, int]:
    """(height, width) of one tile: whole-number enlargement up to `min_tile`, shrinking past `max_tile`."""
    short = min(h, w)
    if short < min_tile:
        scale: float = math.ceil(min_tile / short)  # an integer factor keeps nearest-neighbour pixels square
    elif short > max_tile:
        scale = max_tile / short
    else:
        scale = 1
    return max(1, round(h * scale)), max(1, round(w * scale))


def _draw_waveform(
    img: np.ndarray, audio: np.ndarray, y_top: int, y_bottom: int, x0: int, x1: int, duration: float
) -> None:
    """Min/max envelope per pixel column of `audio` between rows y_top..y_bottom, zero line faint."""
    mid = (y_top + y_bottom) // 2
    half = (y_bottom - y_top) // 2
    cv2.line(img, (x0, mid), (x1 - 1, mid), FAINT, 1)
    if len(audio) == 0:
        return
    peak = max(float(np.abs(audio).max()), MIN_WAVE_PEAK)
    # The audio may end before the clip (silence padding): it covers only its own share of the width.
    cols = max(1, round((x1 - x0) * min(1.0, len(audio) / SAMPLE_RATE / duration)))
    # Column k holds samples edges[k]:edges[k + 1]. np.array_split would put all its longer chunks
    # first and draw the middle of the sound early (12 px of 1580 for 2 s at 16 kHz).
    edges = np.linspace(0, len(audio), cols + 1).round().astype(int)  # (cols + 1,)
    for k in range(cols):
        chunk = audio[edges[k] : edges[k + 1]]
        if len(chunk) == 0:
            continue
        hi, lo = float(chunk.max()) / peak, float(chunk.min()) / peak
        if hi - lo < 1.0 / half:
            continue  # flat here: leave the zero line alone
        cv2.line(img, (x0 + k, mid - round(hi * half)), (x0 + k, mid - round(lo * half)), WAVE, 1)


def _polyline(
    img: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    x_of: Callable[[float], int],
    y_lo: int,
    y_hi: int,
    colour: tuple[int, int, int],
    thickness: int,
    dots: bool = False,
) -> None:
    """Draw `values` (N,) at `times` (N,) scaled so their maximum reaches row `y_lo`, zero at `y_hi`."""
    if len(values) == 0:
        return
    top = float(np.max(values))
    scale = (y_hi - y_lo) / top if top > 0 else 0.0
    pts = np.array(
        [[x_of(float(t)), y_hi - round(float(v) * scale)] for t, v in zip(times, values, strict=True)],
        np.int32,
    )  # (N, 2)
    if len(pts) > 1:
        cv2.polylines(img, [pts], False, colour, thickness, cv2.LINE_AA)
    if dots:
        for x, y in pts:
            cv2.circle(img, (int(x), int(y)), 3, colour, -1, cv2.LINE_AA)


def _tick_step(duration: float) -> float:
    """A tick spacing giving 4-10 labels over `duration` seconds."""
    for step in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0):
        if duration / step <= 10:
            return step
    return 120.0
