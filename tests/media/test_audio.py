"""read_audio: resampling, down-mix, formats, exact trimming, errors; write_wav."""

from fractions import Fraction

import av
import numpy as np
import pytest

from asva.media import AudioError, read_audio, write_video, write_wav


def encode_audio_file(path, audio, rate, codec, fmt=None):
    """Test helper: encode float (S,) or (S, C) audio with any PyAV codec/container."""
    a = audio[:, None] if audio.ndim == 1 else audio  # (S, C)
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[a.shape[1]]
    with av.open(str(path), "w", format=fmt) as c:
        stream = c.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(a.T, np.float32), format="fltp", layout=layout
        )
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for p in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(p)
    return path


def sine(freq, seconds, rate, amp=0.3):
    return (amp * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)).astype(np.float32)


def burst(center_s, seconds, rate):
    """A 1.5 kHz Gaussian tone burst (4 ms wide) at `center_s`: survives lossy codecs, easy to locate."""
    t = np.arange(round(seconds * rate)) / rate
    return (
        0.8 * np.exp(-(((t - center_s) / 0.004) ** 2)) * np.cos(2 * np.pi * 1500 * (t - center_s))
    ).astype(np.float32)


def centroid(y):
    e = y.astype(np.float64) ** 2
    return float((np.arange(len(y)) * e).sum() / e.sum())


def peak_hz(y, rate):
    return float(np.fft.rfftfreq(len(y), 1 / rate)[np.argmax(np.abs(np.fft.rfft(y)))])


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_resample_keeps_frequency_and_length(tmp_path, rate):
    path = tmp_path / "s.wav"
    write_wav(path, sine(1000, 1.5, rate), rate)
    y = read_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == 24000
    assert abs(peak_hz(y, 16000) - 1000) <= 1
    assert abs(np.abs(y).max() - 0.3) < 0.01


def test_other_sample_rate_out(tmp_path):
    path = tmp_path / "s.wav"
    write_wav(path, sine(440, 1.0, 44100), 44100)
    y = read_audio(path, sample_rate=22050)
    assert len(y) == 22050 and abs(peak_hz(y, 22050) - 440) <= 1


def test_stereo_downmix_is_channel_mean(tmp_path):
    x = np.stack([np.full(8000, 0.2), np.full(8000, 0.6)], axis=1).astype(np.float32)  # (S, 2)
    write_wav(tmp_path / "st.wav", x, 16000)
    y = read_audio(tmp_path / "st.wav")
    np.testing.assert_allclose(y[100:-100], 0.4, atol=1e-3)


def test_51_downmix_never_louder(tmp_path):
    x = np.zeros((8000, 6), np.float32)  # FL FR FC LFE BL BR
    x[:, 2] = 0.5  # centre only
    write_wav(tmp_path / "c.wav", x, 16000)
    y_centre = read_audio(tmp_path / "c.wav")
    x[:] = 0.5  # every channel at 0.5
    write_wav(tmp_path / "all.wav", x, 16000)
    y_all = read_audio(tmp_path / "all.wav")
    assert 0.05 < np.median(y_centre) < 0.5  # the centre is heard
    assert np.abs(y_all).max() <= 0.5 + 1e-3  # gains sum to at most 1


@pytest.mark.parametrize(
    ("name", "codec", "fmt", "rate"),
    [
        ("a.wav", "pcm_s16le", None, 44100),
        ("a.mp3", "libmp3lame", None, 44100),
        ("a.m4a", "aac", "ipod", 48000),
        ("a.flac", "flac", None, 48000),
        ("a.ogg", "libopus", "ogg", 48000),
        ("a.mp4", "aac", "mp4", 44100),
    ],
)
def test_formats_length_and_timing(tmp_path, name, codec, fmt, rate):
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} not in this FFmpeg build")
    x = burst(0.5, 1.3, rate) + sine(300, 1.3, rate, amp=0.05)  # the sine keeps the file non-silent
    path = encode_audio_file(tmp_path / name, x, rate, codec, fmt)
    y = read_audio(path)
    # encoder priming and end padding are removed by the demuxers (mp4 edit list, LAME header, Ogg
    # granules) and by trimming to the last packet's end
    assert abs(len(y) - 20800) <= 32
    assert abs(centroid(y[6000:10000]) + 6000 - 8000) < 2  # the burst stays at 0.5 s
    part = read_audio(path, start_s=0.4, duration_s=0.25)  # seeks, then trims by samples
    assert len(part) == 4000
    assert abs(centroid(part[1000:2200]) + 1000 - 1600) < 2


def test_trim_is_sample_exact_and_pads_past_end(tmp_path):
    x = np.zeros(16000, np.float32)
    x[5000] = 1.0
    write_wav(tmp_path / "c.wav", x, 16000)
    y = read_audio(tmp_path / "c.wav", start_s=0.3, duration_s=0.5)
    assert len(y) == 8000 and np.argmax(y) == 5000 - 4800
    tail = read_audio(tmp_path / "c.wav", start_s=0.9, duration_s=0.5)
    assert len(tail) == 8000 and not tail[1600:].any()  # zeros after the end
    with pytest.raises(AudioError, match="past the end"):
        read_audio(tmp_path / "c.wav", start_s=2.0)


def test_mp4_audio_track_round_trip(tmp_path):
    """write_video's AAC: priming removed by the edit list, end padding trimmed: exact length."""
    audio = burst(0.5, 1.2345, 16000)  # 19752 samples, not a multiple of 1024
    write_video(tmp_path / "v.mp4", np.zeros((4, 16, 16, 3), np.uint8), 4, audio=audio)
    y = read_audio(tmp_path / "v.mp4")
    assert len(y) == len(audio)
    assert abs(centroid(y) - 8000) < 1


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.wav"):
        read_audio(tmp_path / "nope.wav")
    write_video(tmp_path / "silent.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8)
    with pytest.raises(AudioError, match=r"silent\.mp4: no audio stream \(streams: video:h264\)"):
        read_audio(tmp_path / "silent.mp4")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00junkjunkjunk" * 10)
    with pytest.raises(AudioError, match=r"junk\.wav"):
        read_audio(junk)


def test_nan_samples_rejected(tmp_path):
    x = sine(440, 0.5, 16000)
    x[[10, 20, 30]] = np.nan
    x[40] = np.inf
    path = encode_audio_file(tmp_path / "nan.wav", x, 16000, "pcm_f32le")
    with pytest.raises(AudioError, match=r"nan\.wav: 4 non-finite"):
        read_audio(path)


def test_write_wav_validates(tmp_path):
    with pytest.raises(AudioError, match="non-finite"):
        write_wav(tmp_path / "x.wav", np.full(10, np.nan, np.float32), 16000)
    with pytest.raises(AudioError, match="float"):
        write_wav(tmp_path / "x.wav", np.zeros(10, np.int16), 16000)
    with pytest.raises(AudioError, match="shape"):
        write_wav(tmp_path / "x.wav", np.zeros((10, 3), np.float32), 16000)
    assert not (tmp_path / "x.wav").exists()
