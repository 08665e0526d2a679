"""One web-demo request as a plain function: check the uploads, sample, draw, publish, clean up.

`animate_request` is everything the page's button does except talking to the browser, so it is
tested without one. Whatever it refuses raises `RequestError`, whose message is shown to the
user as it is. The files a request writes (only the mp4) live in one folder made for it with
`tempfile.mkdtemp` and removed before it returns; the mp4 survives because `publish` copies it
where the server can serve it (Gradio's cache) first.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asva.log import get_logger
from asva.media import AudioError, ImageError, load_image, read_audio
from asva.pipelines.animate import AUDIO_SAMPLE_RATE, MIN_AUDIO_SECONDS
from asva.viz import frame_strip, sync_plot
from asva.web.store import MODES, PipelineStore

log = get_logger(__name__)

IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
AUDIO_TYPES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac")
MB = 1024 * 1024  # the limits speak of MB meaning 2**20 bytes, as Gradio's "20mb" does
# A shared CPU server should not be held for minutes by one request: the page caps these.
MAX_STEPS = 100
MAX_FPS = 30.0
MAX_GUIDANCE = 20.0


class RequestError(ValueError):
    """A request the demo refuses; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class ServeLimits:
    """What a server accepts: upload size, audio length, and where requests write their files."""

    max_upload_mb: float = 20.0
    max_audio_s: float = 30.0
    temp_root: Path | None = None  # parent of the per-request folders; None: the system's temp folder

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_audio_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if self.temp_root is not None and not Path(self.temp_root).is_dir():
            raise FileNotFoundError(f"temp_root {self.temp_root} is not an existing folder")

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * MB)


@dataclass(frozen=True)
class DemoSettings:
    """The page's choices for one video; None takes the model's default."""

    prompt: str = ""
    mode: str = "uniform"
    fps: float | None = None
    steps: int | None = None
    guidance_image: float | None = None
    guidance_text: float | None = None
    guidance_audio: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RequestError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise RequestError(f"FPS must be between 0 and {MAX_FPS:g}, got {self.fps:g}")
        if self.steps is not None and not (isinstance(self.steps, int) and 1 <= self.steps <= MAX_STEPS):
            raise RequestError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {self.steps!r}")
        for name in ("guidance_image", "guidance_text", "guidance_audio"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0 <= value <= MAX_GUIDANCE):
                raise RequestError(
                    f"{name.replace('_', ' ')} must be between 0 and {MAX_GUIDANCE:g}, got {value}"
                )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise RequestError(f"seed must be a whole number >= 0, got {self.seed!r}")


@dataclass(frozen=True)
class DemoOutput:
    """What the page shows: the published mp4, the frame strip and sync plot (RGB), a summary line."""

    video: Path
    strip: np.ndarray  # (H, W, 3) uint8
    sync: np.ndarray  # (H, W, 3) uint8
    summary: str


def check_upload(path: str | Path | None, what: str, types: tuple[str, ...], limits: ServeLimits) -> Path:
    """The uploaded `what` file's path, after checking that it exists, its extension and its size."""
    if path is None or str(path) == "":
        raise RequestError(f"no {what} given: upload an {what} file or pick the example")
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in types:
        raise RequestError(
            f"{what} files of type {ext or '(no extension)'} are not accepted; use {', '.join(types)}"
        )
    if not p.is_file():
        raise RequestError(f"the uploaded {what} file {p.name} is gone from the server; upload it again")
    size = p.stat().st_size
    if size > limits.max_upload_bytes:
        raise RequestError(
            f"the {what} file is {_size(size)}; this server accepts at most {limits.max_upload_mb:g} MB"
        )
    return p


def read_image_upload(path: str | Path | None, limits: ServeLimits) -> np.ndarray:
    """The uploaded image as uint8 RGB (H, W, 3), or RequestError saying what is wrong with it."""
    p = check_upload(path, "image", IMAGE_TYPES, limits)
    try:
        return load_image(p)
    except ImageError as err:
        raise RequestError(f"could not read the image: {_without_folder(err, p)}") from err


def read_audio_upload(path: str | Path | None, limits: ServeLimits) -> np.ndarray:
    """The uploaded audio as float32 mono (S,) at 16 kHz, or RequestError saying what is wrong."""
    p = check_upload(path, "audio", AUDIO_TYPES, limits)
    try:
        sound = read_audio(p, sample_rate=AUDIO_SAMPLE_RATE)  # (S,)
    except AudioError as err:
        raise RequestError(f"could not read the audio: {_without_folder(err, p)}") from err
    seconds = len(sound) / AUDIO_SAMPLE_RATE
    if seconds > limits.max_audio_s:
        raise RequestError(
            f"the audio is {seconds:.1f} s long; this server accepts at most {limits.max_audio_s:g} s"
        )
    if seconds < MIN_AUDIO_SECONDS:
        raise RequestError(f"the audio is {seconds:.3f} s long; at least {MIN_AUDIO_SECONDS:g} s is needed")
    return sound


def animate_request(
    store: PipelineStore,
    limits: ServeLimits,
    image: str | Path | None,
    audio: str | Path | None,
    settings: DemoSettings,
    publish: Callable[[Path], str | Path],
    progress: Callable[[int, int, str], None] | None = None,
) -> DemoOutput:
    """Animate an uploaded image to uploaded audio and return what the page shows.

    `publish(mp4)` must copy the finished mp4 somewhere lasting and return that path: the folder
    the mp4 is written to is deleted before this returns. `progress(done, total, what)` is called
    at each sampling step. Raises RequestError for bad uploads, ModeUnavailableError for a mode
    the model lacks.
    """
    started = time.monotonic()
    report = progress or (lambda _done, _total, _what: None)

    # 1. Read and check the uploads before the model is touched: a refusal costs nothing.
    pixels = read_image_upload(image, limits)  # (H, W, 3) uint8
    sound = read_audio_upload(audio, limits)  # (S,) float32

    # 2. Sample, holding the store's one-at-a-time lock.
    report(0, 1, "waiting for the model")
    result = store.sample(
        settings.mode,
        pixels,
        lambda i, total: report(i, total, "sampling"),
        prompt=settings.prompt,
        audio=sound,
        fps=settings.fps,
        steps=settings.steps,
        guidance_image=settings.guidance_image,
        guidance_text=settings.guidance_text,
        guidance_audio=settings.guidance_audio,
        seed=settings.seed,
    )
    frames = result.frames()  # (T, H, W, 3) uint8
    clip_audio = sound if result.audio is None else result.audio  # the sound the video was made with

    # 3. Write the mp4 in this request's own folder, hand it to `publish`, remove the folder.
    report(0, 1, "writing the video")
    workdir = Path(tempfile.mkdtemp(prefix="asva-web-", dir=limits.temp_root))
    try:
        video = Path(publish(result.save(workdir / f"asva_seed{settings.seed}.mp4")))
    finally:
        _remove(workdir)

    # 4. The pictures are arrays: the page serves them without a file of ours.
    report(0, 1, "drawing the frame strip and sync plot")
    strip = frame_strip(frames, clip_audio, result.fps)
    sync = sync_plot(frames, result.fps, clip_audio, width=960)
    t = len(frames)
    summary = (
        f"{t} frames at {result.fps:g} FPS ({t / result.fps:.1f} s), {settings.mode} mode, "
        f"seed {settings.seed}; took {time.monotonic() - started:.1f} s."
    )
    return DemoOutput(video=video, strip=strip, sync=sync, summary=summary)


def _without_folder(err: Exception, path: Path) -> str:
    """The error's text naming the file only: the server's folders are nobody's business."""
    return str(err).replace(str(path), path.name)


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{n / 1024:.1f} KB"


def _remove(folder: Path) -> None:
    try:
        shutil.rmtree(folder)
    except OSError as err:  # a failed clean-up must not lose the user's video: log it loudly
        log.error("could not remove the request folder %s: %s", folder, err)
