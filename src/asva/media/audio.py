"""Audio as float32 mono at a chosen rate (PyAV decode + libswresample), and WAV writing.

Times are measured from the container's start time (ffmpeg's `-ss` convention), the same origin
`asva.media.video` uses, so audio and frames read with equal `start_s` stay in sync.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from asva.log import get_logger

logger = get_logger(__name__)

# Decode this much before `start_s` after a seek: the resampler's filter and MP3/AAC decoders need
# context (bit reservoir, overlap-add) before their output is exact.
_SEEK_PREROLL_S = 0.25
# Raw MP3/ADTS streams have no index: FFmpeg estimates seek positions and the timestamps after a
# seek can be off by milliseconds (measured: 5 ms on 8 kHz MP3), so these decode from the start.
_NO_SEEK_FORMATS = {"mp3", "aac"}
# Channel counts we can name a layout for when writing.
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


class AudioError(ValueError):
    """An audio file that cannot be read as asked, or audio data that cannot be written."""


def require_file(path: str | Path, what: str) -> Path:
    """Return `path` as a Path, raising FileNotFoundError naming it when it is not a file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file not found: {p}")
    if not p.is_file():
        raise FileNotFoundError(f"{what} path is not a file: {p}")
    return p


def open_input(path: Path, error: type[ValueError]) -> av.container.InputContainer:
    """Open a media file with PyAV, turning FFmpeg's errors into `error` naming the file."""
    try:
        return av.open(str(path), mode="r")
    except av.FFmpegError as e:
        raise error(f"{path}: not a readable media file ({e})") from e


def container_start(container: av.container.InputContainer) -> Fraction:
    """The container's start time in seconds: the origin of all `start_s` arguments."""
    # av.time_base is 1/1_000_000; start_time is None for formats without timestamps.
    return Fraction(container.start_time or 0, av.time_base)


def read_audio(
    path: str | Path, sample_rate: int = 16000, start_s: float = 0.0, duration_s: float | None = None
) -> np.ndarray:
    """Read audio as float32 mono (S,) at `sample_rate`, from `start_s` for `duration_s` seconds.

    Any channel layout is down-mixed and any source rate resampled by libswresample. The output
    is placed on the sample grid of the container timeline: sample j is at `start_s + j / rate`.
    With `duration_s`, exactly `round(duration_s * sample_rate)` samples come back; audio missing
    before the stream starts or after it ends is filled with zeros (logged). Without it, samples
    run to the end of the stream. Encoder priming and end padding are dropped where the container
    records them (MP4/M4A edit list and last-packet duration, LAME header, Ogg granules): there
    the length is exact. MKV keeps up to one codec frame of end padding and raw ADTS `.aac` also
    keeps the 1024-sample priming. Timestamp gaps inside the stream are not filled (assumed
    contiguous). Raises FileNotFoundError or AudioError naming the file.
    """
    p = require_file(path, "audio")
    if sample_rate <= 0:
        raise AudioError(f"sample_rate must be positive, got {sample_rate}")
    if not (math.isfinite(start_s) and start_s >= 0):
        raise AudioError(f"start_s must be a finite number >= 0, got {start_s}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise AudioError(f"duration_s must be a finite number > 0 or None, got {duration_s}")

    first = round(start_s * sample_rate)  # index of the first wanted sample on the output grid
    n_wanted = None if duration_s is None else round(duration_s * sample_rate)
    seek_s = max(0.0, start_s - _SEEK_PREROLL_S)
    decoded, grid_offset = _decode_mono(
        p, sample_rate, seek_s, stop_s=None if duration_s is None else start_s + duration_s + _SEEK_PREROLL_S
    )
    # decoded: (S_dec,) whose sample 0 sits at grid index `grid_offset`

    lo = first - grid_offset  # where the wanted span starts inside `decoded`
    if n_wanted is None:
        if lo >= len(decoded):
            end_s = (grid_offset + len(decoded)) / sample_rate
            raise AudioError(f"{p}: start_s={start_s} is at or past the end of the audio ({end_s:.3f} s)")
        n_wanted = len(decoded) - max(lo, 0)
    out = np.zeros(n_wanted, dtype=np.float32)  # (S,)
    src_lo, src_hi = max(lo, 0), min(lo + n_wanted, len(decoded))
    if src_hi > src_lo:
        out[src_lo - lo : src_hi - lo] = decoded[src_lo:src_hi]
    missing = n_wanted - max(0, src_hi - src_lo)
    if missing == n_wanted:
        raise AudioError(
            f"{p}: no audio between {start_s} s and {start_s + n_wanted / sample_rate:.3f} s "
            f"(the stream covers {grid_offset / sample_rate:.3f} s to "
            f"{(grid_offset + len(decoded)) / sample_rate:.3f} s)"
        )
    if missing:
        # A few samples short is the normal AAC/MP3 frame rounding; more is worth a warning.
        log = logger.warning if missing > 0.01 * sample_rate else logger.debug
        log("%s: %d of %d samples outside the audio stream, filled with zeros", p, missing, n_wanted)
    return out


def _decode_mono(path: Path, rate: int, seek_s: float, stop_s: float | None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream from about `seek_s` to past `stop_s` as mono float at `rate`.

    Returns (samples (S,), grid index of sample 0), where grid index k means time k / rate from
    the container start.
    """
    with open_input(path, AudioError) as container:
        if not container.streams.audio:
            kinds = ", ".join(f"{s.type}:{s.codec_context.name}" for s in container.streams) or "none"
            raise AudioError(f"{path}: no audio stream (streams: {kinds})")
        stream = container.streams.audio[0]
        origin = container_start(container)
        if seek_s > 0 and container.format.name not in _NO_SEEK_FORMATS:
            # backward=True lands on the packet at or before the target; pre-roll was added above.
            container.seek(int((origin + Fraction(seek_s)) / stream.time_base), stream=stream, backward=True)

        # rematrix_maxval=1 normalizes FFmpeg's down-mix matrix so its gains sum to at most 1:
        # stereo -> (L + R) / 2 like the reference code's channel mean, never louder than the source.
        resampler = av.AudioResampler(
            format="flt", layout="mono", rate=rate, options={"rematrix_maxval": "1.0"}
        )
        chunks: list[np.ndarray] = []
        grid_offset: int | None = None
        n_bad = 0
        # Where the packets say the stream ends. Decoders return whole codec frames, so the last
        # AAC frame comes back as 1024 samples even when the container marks only a few as real.
        end: Fraction | None = Fraction(0)
        at_eof = True
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.duration and packet.time_base is not None:
                    if end is not None:
                        end = max(end, (packet.pts + packet.duration) * packet.time_base - origin)
                elif packet.size:
                    end = None  # a packet without timing: do not trust the end
                for frame in packet.decode():
                    if grid_offset is None:
                        if frame.pts is None or frame.time_base is None:
                            if container.format.name not in _NO_SEEK_FORMATS and seek_s > 0:
                                # Cannot place the samples after a seek: decode from the start instead.
                                return _decode_mono(path, rate, 0.0, stop_s)
                            grid_offset = 0
                        else:
                            grid_offset = round((frame.pts * frame.time_base - origin) * rate)
                    if frame.format.name in ("flt", "fltp", "dbl", "dblp"):  # integer PCM cannot hold NaN
                        n_bad += int(np.count_nonzero(~np.isfinite(frame.to_ndarray())))
                    for out in resampler.resample(frame):
                        chunks.append(out.to_ndarray().reshape(-1))  # packed mono: (1, S) -> (S,)
                t_packet = None if packet.pts is None else packet.pts * packet.time_base - origin
                if stop_s is not None and t_packet is not None and t_packet > stop_s:
                    at_eof = False
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as e:
            if not chunks:
                raise AudioError(f"{path}: audio stream could not be decoded ({e})") from e
            logger.warning("%s: decoding stopped early (%s); using the %d chunks read", path, e, len(chunks))
            at_eof = False

    if n_bad:
        raise AudioError(f"{path}: {n_bad} non-finite samples (NaN/Inf) in the decoded audio")
    if (grid_offset is None or not chunks) and seek_s > 0:
        return _decode_mono(path, rate, 0.0, stop_s)  # the seek left nothing to decode: from the start
    if grid_offset is None or not chunks:
        raise AudioError(f"{path}: the audio stream holds no decodable samples")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)  # (S_dec,)
    if at_eof and end:
        n_real = round(end * rate) - grid_offset
        if 0 < n_real < len(samples):
            samples = samples[:n_real]  # drop the encoder's end padding
    return samples, grid_offset


def check_audio_array(audio: np.ndarray, what: str = "audio") -> np.ndarray:
    """Validate float audio (S,) or (S, C) with C in 1, 2, 6 and return it as float32 (S, C)."""
    if not isinstance(audio, np.ndarray):
        raise AudioError(f"{what} must be a numpy array, got {type(audio).__name__}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"{what} must be float in [-1, 1], got dtype {audio.dtype}")
    a = audio[:, None] if audio.ndim == 1 else audio  # (S, C)
    if a.ndim != 2 or a.shape[1] not in _LAYOUTS or a.shape[0] == 0:
        raise AudioError(
            f"{what} must have shape (S,) or (S, C) with C in 1, 2, 6 and S > 0, got {audio.shape}"
        )
    n_bad = int(np.count_nonzero(~np.isfinite(a)))
    if n_bad:
        raise AudioError(f"{what} has {n_bad} non-finite samples (NaN/Inf)")
    peak = float(np.abs(a).max())
    if peak > 1.0:
        logger.warning("%s peaks at %.3f; samples outside [-1, 1] clip when encoded", what, peak)
    return a.astype(np.float32, copy=False)


def encode_audio(
    container: av.container.OutputContainer,
    stream: av.audio.AudioStream,
    audio: np.ndarray,
    sample_offset: int,
) -> None:
    """Encode float32 (S, C) samples starting at sample `sample_offset` into `stream` and mux them."""
    rate = stream.codec_context.sample_rate
    layout = _LAYOUTS[audio.shape[1]]
    # fltp frame: (C, S) planes; PyAV converts to the codec's format and re-chunks to its frame size.
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.T), format="fltp", layout=layout)
    frame.sample_rate = rate
    frame.pts = sample_offset
    frame.time_base = Fraction(1, rate)
    for packet in stream.encode(frame):
        container.mux(packet)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio (S,) or (S, C) in [-1, 1] as 16-bit PCM WAV (C in 1, 2, 6)."""
    a = check_audio_array(audio)  # (S, C)
    if sample_rate <= 0:
        raise AudioError(f"sample_rate must be positive, got {sample_rate}")
    with av.open(str(path), mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=sample_rate, layout=_LAYOUTS[a.shape[1]])
        encode_audio(container, stream, a, 0)
        for packet in stream.encode(None):
            container.mux(packet)
