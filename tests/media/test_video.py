"""write_video -> probe_video -> read_video_frames round trips, FPS sampling rules, VFR, errors."""

import logging
import math
import os
from fractions import Fraction

import av
import numpy as np
import pytest

from asva.media import VideoError, probe_video, read_audio, read_video_frames, write_video, write_wav
from asva.media import video as video_module

STEP = 4  # gray level per frame index: frame i is a flat image of value STEP * i


def indexed_frames(n, h=32, w=48):
    """Frames (n, H, W, 3) whose flat gray level encodes their index."""
    return np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None] * STEP, h * w * 3).reshape(n, h, w, 3)


def decode_indices(frames):
    return np.rint(frames.reshape(len(frames), -1).mean(axis=1) / STEP).astype(int).tolist()


def expected_indices(times, n_frames, targets, rule):
    """The reference rule on exact Fractions: times (sorted) of source frames, one index per target."""
    tol = Fraction(1, 1000)
    out = []
    for t in targets:
        floor = max([i for i in range(n_frames) if times[i] <= t + tol], default=0)
        ceil = min([i for i in range(n_frames) if times[i] >= t - tol], default=n_frames - 1)
        if rule == "floor":
            out.append(floor)
        elif rule == "ceil":
            out.append(ceil)
        else:
            out.append(floor if t - times[floor] <= times[ceil] - t else ceil)
    return out


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / mse)


def test_round_trip_probe_frames_audio(tmp_path):
    frames = indexed_frames(24)
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000)).astype(np.float32)  # 2 s
    path = tmp_path / "v.mp4"
    write_video(path, frames, fps=12, audio=audio)
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.width, info.height) == (24, 12.0, 48, 32)
    assert info.duration_s == pytest.approx(2.0)
    assert info.has_audio and info.audio_sample_rate == 16000 and info.codec == "h264"
    back = read_video_frames(path, fps=12)
    assert back.shape == (24, 32, 48, 3) and back.dtype == np.uint8
    assert decode_indices(back) == list(range(24))
    assert len(read_audio(path)) == 32000  # exact, not just within one AAC frame


def test_psnr_smooth_content(tmp_path):
    y, x = np.mgrid[0:64, 0:96].astype(np.float32)
    frames = np.stack(
        [np.stack([x * 2 + 4 * k, y * 3, 128 + 60 * np.sin((x + y + 5 * k) / 15)], axis=-1) for k in range(8)]
    )
    frames = np.clip(frames, 0, 255).astype(np.uint8)  # (8, 64, 96, 3)
    write_video(tmp_path / "s.mp4", frames, fps=8)
    back = read_video_frames(tmp_path / "s.mp4", fps=8)
    assert back.shape == frames.shape
    assert psnr(back, frames) > 30


@pytest.mark.parametrize("src_fps", [24, 25, 30, Fraction(30000, 1001)])
@pytest.mark.parametrize("rule", ["floor", "nearest", "ceil"])
def test_target_fps_picks_the_right_frames(tmp_path, src_fps, rule):
    n = 60
    path = tmp_path / "v.mp4"
    write_video(path, indexed_frames(n), fps=src_fps)
    times = [Fraction(i) / Fraction(src_fps) for i in range(n)]
    for fps, start, count in [(8, 0.0, None), (7, 0.55, 6), (12, 1.0, None)]:
        got = read_video_frames(path, fps, start_s=start, num_frames=count, rule=rule)
        end = n / Fraction(src_fps)
        k = count or math.ceil((end - Fraction(start)) * fps - Fraction(1, 10**9))
        targets = [Fraction(start).limit_denominator(10**6) + Fraction(i, fps) for i in range(k)]
        assert decode_indices(got) == expected_indices(times, n, targets, rule), (fps, start)


def test_duration_sets_frame_count(tmp_path):
    write_video(tmp_path / "v.mp4", indexed_frames(30), fps=30)
    got = read_video_frames(tmp_path / "v.mp4", fps=8, start_s=0.25, duration_s=0.5)
    assert decode_indices(got) == [7, 11, 15, 18]  # t = 0.25, 0.375, 0.5, 0.625


def test_variable_frame_rate(tmp_path):
    times_ms = [0, 40, 70, 150, 160, 300, 310, 420, 500, 640]  # irregular presentation times
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 48, 32, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(indexed_frames(1)[0] * 0 + STEP * i, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    times = [Fraction(t, 1000) for t in times_ms]
    for rule in ("floor", "nearest", "ceil"):
        got = read_video_frames(path, fps=10, num_frames=7, rule=rule)
        assert decode_indices(got) == expected_indices(
            times, len(times), [Fraction(k, 10) for k in range(7)], rule
        )
    # seeking into the middle: t = 0.31, 0.41, 0.51 s
    got = read_video_frames(path, fps=10, start_s=0.31, num_frames=3)
    assert decode_indices(got) == [6, 6, 8]


def test_pads_with_last_frame_when_video_ends(tmp_path, caplog):
    write_video(tmp_path / "v.mp4", indexed_frames(10), fps=10)
    with caplog.at_level(logging.WARNING, logger="asva"):
        got = read_video_frames(tmp_path / "v.mp4", fps=10, start_s=0.5, num_frames=8)
    assert decode_indices(got) == [5, 6, 7, 8, 9, 9, 9, 9]
    assert any("repeated the last frame for 3 of 8" in r.message for r in caplog.records)
    with pytest.raises(VideoError, match="past the end"):
        read_video_frames(tmp_path / "v.mp4", fps=10, start_s=5.0)


def test_odd_size_padded_to_even(tmp_path):
    write_video(tmp_path / "odd.mp4", np.full((3, 17, 31, 3), 200, np.uint8), fps=5)
    info = probe_video(tmp_path / "odd.mp4")
    assert (info.width, info.height) == (32, 18)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gone\.mp4"):
        read_video_frames(tmp_path / "gone.mp4", fps=8)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(2000))
    with pytest.raises(VideoError, match=r"junk\.mp4"):
        probe_video(junk)
    wav = tmp_path / "a.wav"
    write_wav(wav, np.zeros(1600, np.float32), 16000)
    with pytest.raises(VideoError, match=r"a\.wav: no video stream"):
        read_video_frames(wav, fps=8)
    with pytest.raises(VideoError, match="not both"):
        read_video_frames(junk, fps=8, duration_s=1.0, num_frames=3)


def test_truncated_file_decodes_what_is_readable(tmp_path, caplog):
    path = tmp_path / "cut.mp4"
    rng = np.random.default_rng(0)
    write_video(path, rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8), fps=10)  # noisy: big packets
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # faststart: the index survives, half the frames do not
    with caplog.at_level(logging.WARNING, logger="asva"):
        got = read_video_frames(path, fps=10)
    assert 1 <= len(got) < 40 and got.shape[1:] == (64, 64, 3)
    assert any("may be truncated" in r.message for r in caplog.records)


def test_write_rejects_bad_frames_before_touching_disk(tmp_path):
    for bad in [
        np.zeros((2, 8, 8, 3), np.float32),
        np.zeros((8, 8, 3), np.uint8),
        np.zeros((0, 8, 8, 3), np.uint8),
    ]:
        with pytest.raises(VideoError, match="frames"):
            write_video(tmp_path / "x.mp4", bad, fps=8)
    with pytest.raises(VideoError, match="fps"):
        write_video(tmp_path / "x.mp4", indexed_frames(2), fps=0)
    with pytest.raises(ValueError, match="non-finite"):
        write_video(tmp_path / "x.mp4", indexed_frames(2), fps=8, audio=np.full(100, np.nan, np.float32))
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.mp4"
    write_video(path, indexed_frames(4), fps=8)
    before = path.read_bytes()
    calls = []
    real = video_module._to_video_frame

    def failing(rgb):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(rgb)

    monkeypatch.setattr(video_module, "_to_video_frame", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_video(path, indexed_frames(6), fps=8, audio=np.zeros(16000, np.float32))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]  # no temporary left behind


def test_millisecond_timestamps(tmp_path):
    """MKV rounds 30 FPS timestamps to whole ms (33, 67, ...): the 1 ms tolerance keeps floor exact."""
    path = tmp_path / "v.mkv"
    frames = indexed_frames(30)
    with av.open(str(path), "w", format="matroska") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 48, 32, "yuv420p"
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    assert decode_indices(read_video_frames(path, fps=30)) == list(range(30))
    assert decode_indices(read_video_frames(path, fps=30, rule="ceil")) == list(range(30))
    assert decode_indices(read_video_frames(path, fps=10, start_s=0.5, num_frames=3)) == [15, 18, 21]


def test_x264_simd_list_leaves_out_avx512_only():
    skylake = {"sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "abm", "avx", "fma", "bmi1", "bmi2", "avx2",
               "avx512f", "avx512bw"}
    names = video_module.x264_simd_without_avx512(skylake).split(",")
    assert names == ["MMX2", "SSE", "SSE2", "SSE3", "SSSE3", "SSE4.1", "SSE4.2", "LZCNT", "AVX", "FMA3",
                     "BMI1", "BMI2", "AVX2"]
    # a CPU without AVX-512 keeps x264's own detection; one without AVX2 is never told it has it
    assert video_module.x264_simd_without_avx512(skylake - {"avx512f", "avx512bw"}) is None
    older = video_module.x264_simd_without_avx512({"sse", "sse2", "pni", "avx512f"})
    assert older == "MMX2,SSE,SSE2,SSE3"


def test_same_frames_encode_to_the_same_clip(tmp_path):
    # Textured frames with motion (x264's motion search and rate control at work): six encodings of
    # them decode to identical frames. Without the AVX-512 exclusion they differed on this project's
    # machines in most runs (docs/evaluation.md, "Deterministic files").
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    frames = np.stack([np.roll(texture, 2 * i, axis=1)[:, :64] for i in range(24)])  # (24, 64, 64, 3)
    decoded = []
    for k in range(6):
        write_video(tmp_path / f"clip{k}.mp4", frames, 24)
        decoded.append(read_video_frames(tmp_path / f"clip{k}.mp4", 24))
    for other in decoded[1:]:
        np.testing.assert_array_equal(other, decoded[0])
