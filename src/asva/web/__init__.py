"""asva.web: the `asva serve` demo. `store` and `request` hold the work; `app` is the Gradio page.

`asva.web.app` imports Gradio, so it is not imported here: the request logic stays usable and
testable without it.
"""

from asva.web.request import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    DemoOutput,
    DemoSettings,
    RequestError,
    ServeLimits,
    animate_request,
)
from asva.web.store import KEYFRAME_UNAVAILABLE, MODES, ModeUnavailableError, PipelineStore

__all__ = [
    "AUDIO_TYPES",
    "IMAGE_TYPES",
    "KEYFRAME_UNAVAILABLE",
    "MODES",
    "DemoOutput",
    "DemoSettings",
    "ModeUnavailableError",
    "PipelineStore",
    "RequestError",
    "ServeLimits",
    "animate_request",
]
