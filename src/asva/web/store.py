"""`PipelineStore`: the server's models, loaded once per process, and the right to sample with them.

Every request of the web demo goes through one store: the uniform pipeline is loaded when the
server starts (a bad model folder fails there, not at the first click), the keyframe pipeline the
first time someone asks for it. A lock makes sure two requests never sample at once even when a
caller bypasses Gradio's queue, and the store remembers how far the current job is, for the
page's status line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from asva.log import get_logger
from asva.pipelines.animate import AnimatePipeline, AnimationResult, Animator, bundled_model_folder
from asva.presets import Preset

log = get_logger(__name__)

MODES = ("uniform", "keyframe")
KEYFRAME_UNAVAILABLE = "keyframe mode needs a KeyVID model; this model has none"


class ModeUnavailableError(ValueError):
    """The server's model cannot generate in the requested mode; the message is for the user."""


class PipelineStore:
    """The pipelines of one model by mode, built at most once each, and a one-at-a-time sampling lock."""

    def __init__(
        self,
        uniform: Animator,
        keyframe_loader: Callable[[], Animator] | None = None,
        notice: str | None = None,
    ) -> None:
        self.notice = notice  # a caveat the page shows above everything, e.g. random weights
        self._pipes: dict[str, Animator] = {"uniform": uniform}
        self._keyframe_loader = keyframe_loader
        self._keyframe_error: str | None = None
        self._load_lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._job: str | None = None  # what is sampling now, for `status()`

    @classmethod
    def load(cls, model: str | Path = "tiny", device: str = "cpu") -> PipelineStore:
        """Load `model` ('tiny' or a model folder) for uniform mode now; keyframe mode on first use."""
        uniform = AnimatePipeline.from_model(model, device=device)
        notice = None
        if str(model) == "tiny" and bundled_model_folder() is None:
            notice = (
                "The bundled tiny model is not trained yet: this server runs its random weights, so "
                "the videos are noise-like motion, not results. Start it with `--model DIR` for real ones."
            )
        return cls(uniform, lambda: load_keyframe_pipeline(model, device), notice)

    @property
    def preset(self) -> Preset:
        """The uniform pipeline's preset: frame count, FPS and sampling defaults the page offers."""
        return self._pipes["uniform"].preset

    def get(self, mode: str) -> Animator:
        """The pipeline for `mode`, loading it on first use; ModeUnavailableError when it cannot exist."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        with self._load_lock:
            if mode in self._pipes:
                return self._pipes[mode]
            # A failed keyframe load is remembered: retrying would re-read the folder for the same answer.
            if self._keyframe_error is None:
                try:
                    if self._keyframe_loader is None:
                        raise ModeUnavailableError(
                            f"{KEYFRAME_UNAVAILABLE} (no keyframe loader on this server)"
                        )
                    self._pipes[mode] = self._keyframe_loader()
                    return self._pipes[mode]
                except ModeUnavailableError as err:
                    self._keyframe_error = str(err)
            raise ModeUnavailableError(self._keyframe_error)

    def sample(
        self,
        mode: str,
        image: str | Path | np.ndarray,
        progress: Callable[[int, int], None] | None = None,
        **kw: Any,
    ) -> AnimationResult:
        """Run the `mode` pipeline on `image` with `kw` (its keywords), one call at a time."""
        pipe = self.get(mode)
        with self._sample_lock:

            def step(i: int, total: int) -> None:
                self._job = f"sampling a video ({mode} mode), step {i}/{total}"
                if progress is not None:
                    progress(i, total)

            self._job = f"sampling a video ({mode} mode)"
            try:
                return pipe(image, progress=step, **kw)
            finally:
                self._job = None

    def status(self) -> str:
        """One line for the page: idle, or what is being sampled now."""
        job = self._job
        return "Idle: your request starts at once." if job is None else f"Busy: {job}. Requests wait in line."


def load_keyframe_pipeline(model: str | Path, device: str) -> Animator:
    """KeyVID's `KeyframePipeline` for `model`; ModeUnavailableError if the code or the model lacks it."""
    try:
        from asva.pipelines.keyvid import KeyframePipeline, NoKeyframeModelError
    except ImportError as err:
        log.warning("keyframe mode unavailable: asva.pipelines.keyvid cannot be imported (%s)", err)
        raise ModeUnavailableError(f"{KEYFRAME_UNAVAILABLE} (this asva has no keyframe pipeline)") from err
    try:
        return KeyframePipeline.from_model(model, device=device)
    except NoKeyframeModelError as err:
        log.warning("keyframe mode unavailable for %s: %s", model, err)
        raise ModeUnavailableError(f"{KEYFRAME_UNAVAILABLE} ({err})") from err
