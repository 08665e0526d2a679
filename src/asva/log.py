"""One logger per module, under the `asva` namespace."""

from __future__ import annotations

import logging


def get_logger(name: str) -> logging.Logger:
    """Return the `asva` child logger for a module name (`__name__`)."""
    return logging.getLogger(name if name.startswith("asva") else f"asva.{name}")
