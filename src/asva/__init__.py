"""asva: audio-synchronized visual animation (two-stage ASVA and KeyVID on DynamiCrafter).

The public API is imported lazily so that `import asva` stays cheap (the CLI imports what it needs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AnimatePipeline", "KeyframePipeline", "get_preset", "load_backbone", "read_audio"]

if TYPE_CHECKING:
    from asva.checkpoints.backbone import load_backbone
    from asva.media import read_audio
    from asva.pipelines.animate import AnimatePipeline
    from asva.pipelines.keyvid import KeyframePipeline
    from asva.presets import get_preset

_LAZY = {
    "AnimatePipeline": "asva.pipelines.animate",
    "KeyframePipeline": "asva.pipelines.keyvid",
    "read_audio": "asva.media",
    "load_backbone": "asva.checkpoints.backbone",
    "get_preset": "asva.presets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'asva' has no attribute {name!r}")
