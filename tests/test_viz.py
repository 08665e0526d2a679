"""Frame strip and sync plot: shapes, the waveform band for loud and silent audio, bad inputs, PNG."""

from __future__ import annotations

import numpy as np
import pytest

from asva.media import load_image
from asva.viz import WAVE_HEIGHT, frame_strip, save_png, sync_plot

FPS = 6.0
RATE = 16_000


def moving_square(t: int = 12, size: int = 64) -> np.ndarray:
    """(T, size, size, 3) uint8: a white square sliding down a black frame, 3 px per frame."""
    frames = np.zeros((t, size, size, 3), np.uint8)
    for i in range(t):
        frames[i, 8 + 3 * i : 24 + 3 * i, 20:36] = 255
    return frames


def clicks(seconds: float = 2.0, at: tuple[float, ...] = (0.4, 1.0, 1.5)) -> np.ndarray:
    """Loud decaying 800 Hz clicks at the times `at`."""
    audio = np.zeros(round(seconds * RATE), np.float32)
    n = np.arange(round(0.08 * RATE))
    burst = 0.8 * np.sin(2 * np.pi * 800 * n / RATE) * np.exp(-n / (0.015 * RATE))
    for t in at:
        k = round(t * RATE)
        audio[k : k + len(n)] = burst[: len(audio) - k]
    return audio


def ink(region: np.ndarray) -> float:
    """Share of pixels clearly darker than the white background (guides are drawn lighter)."""
    return float(np.mean(region.min(axis=2) < 180))


def test_frame_strip_shape_and_upscaling():
    strip = frame_strip(moving_square(12, 64), clicks(), FPS)
    assert strip.dtype == np.uint8 and strip.ndim == 3 and strip.shape[2] == 3
    # 64 px frames are doubled with nearest-neighbour to 128 px (at least 96), 12 across.
    assert strip.shape[0] == 4 + 128 + 18 + WAVE_HEIGHT
    assert strip.shape[1] == 4 + 12 * (128 + 4)
    tile = strip[4 : 4 + 128, 4 : 4 + 128]
    assert set(np.unique(tile)) <= {0, 255}  # nearest keeps the square's edges hard


def test_frame_strip_subsamples_long_clips_evenly():
    strip = frame_strip(moving_square(40, 100), clicks(40 / FPS), FPS, max_frames=12)
    assert strip.shape[1] == 4 + 12 * (100 + 4)  # 100 px stays 100 px: between 96 and 192
    big = frame_strip(np.zeros((3, 400, 600, 3), np.uint8), clicks(), FPS)
    assert big.shape[0] == 4 + 192 + 18 + WAVE_HEIGHT  # shrunk to 192 px high, aspect kept
    assert big.shape[1] == 4 + 3 * (288 + 4)


def test_waveform_band_inked_for_loud_audio_blank_for_silence():
    frames = moving_square()
    loud = frame_strip(frames, clicks(), FPS)[-WAVE_HEIGHT:]
    silent = frame_strip(frames, np.zeros(2 * RATE, np.float32), FPS)[-WAVE_HEIGHT:]
    hiss = frame_strip(frames, 1e-4 * np.random.default_rng(0).standard_normal(2 * RATE), FPS)[-WAVE_HEIGHT:]
    assert ink(loud) > 0.005
    assert ink(silent) == 0.0
    assert ink(hiss) < 0.0005  # not blown up to full height
    # The clicks sit where their times fall on the strip's time axis: the first at 0.4 s of 2 s.
    columns = np.flatnonzero((loud.min(axis=2) < 180).any(axis=0))
    assert columns[0] == pytest.approx(4 + 0.4 / 2.0 * (loud.shape[1] - 8), abs=3)


def test_sync_plot_shape_and_marks():
    plot = sync_plot(moving_square(), FPS, clicks(), width=720)
    assert plot.dtype == np.uint8 and plot.shape[1] == 720 and plot.shape[2] == 3
    red = (plot[..., 0] > 180) & (plot[..., 1] < 90) & (plot[..., 2] < 90)
    assert red.any()  # onset lines drawn
    quiet = sync_plot(moving_square(), FPS, np.zeros(2 * RATE, np.float32), width=720)
    quiet_red = (quiet[..., 0] > 180) & (quiet[..., 1] < 90) & (quiet[..., 2] < 90)
    assert not quiet_red.any()


@pytest.mark.parametrize(
    ("frames", "audio", "fps", "message"),
    [
        (np.zeros((4, 8, 8, 3), np.float32), np.zeros(100, np.float32), FPS, "uint8"),
        (np.zeros((4, 8, 8), np.uint8), np.zeros(100, np.float32), FPS, "shape"),
        (np.zeros((0, 8, 8, 3), np.uint8), np.zeros(100, np.float32), FPS, "T >= 1"),
        (moving_square(2), np.zeros((100, 2), np.float32), FPS, "mono"),
        (moving_square(2), np.zeros(100, np.int16), FPS, "float"),
        (moving_square(2), np.full(100, np.nan, np.float32), FPS, "non-finite"),
        (moving_square(2), np.zeros(100, np.float32), 0.0, "fps"),
        (moving_square(2), np.zeros(100, np.float32), float("nan"), "fps"),
    ],
)
def test_frame_strip_rejects_bad_inputs(frames, audio, fps, message):
    with pytest.raises(ValueError, match=message):
        frame_strip(frames, audio, fps)


def test_sync_plot_needs_two_frames():
    with pytest.raises(ValueError, match="T >= 2"):
        sync_plot(moving_square(1), FPS, clicks())


def test_save_png_round_trip(tmp_path):
    image = frame_strip(moving_square(), clicks(), FPS)
    path = save_png(image, tmp_path / "strip.png")
    assert np.array_equal(load_image(path), image)  # PNG is lossless and the channels stay RGB
    with pytest.raises(ValueError, match=r"\.png"):
        save_png(image, tmp_path / "strip.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_png(image, tmp_path / "missing" / "strip.png")
    with pytest.raises(ValueError, match="uint8"):
        save_png(image.astype(np.float32), tmp_path / "x.png")
