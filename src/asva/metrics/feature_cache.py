"""A per-file cache of extracted features, so re-scoring another model re-uses the reference features.

An entry is keyed by the file (resolved path, size, modification time), the clip window and the
extractor's configuration (metric, weight-file identities, protocol), hashed with SHA-256. Entries
are `torch.save`d dicts of tensors, read back with `weights_only=True`; writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import torch

from asva.log import get_logger

log = get_logger(__name__)


def file_identity(path: str | Path) -> dict[str, Any]:
    """What identifies a file's content cheaply: resolved path, size in bytes, mtime in ns."""
    p = Path(path).resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class FeatureCache:
    """Features on disk under `root` (None: caching off)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = None if root is None else Path(root)
        self.hits = 0
        self.misses = 0

    def key(self, path: str | Path, start_s: float, config: dict[str, Any]) -> str:
        """The entry name for `path`'s clip at `start_s` under an extractor `config`."""
        blob = json.dumps({"file": file_identity(path), "start_s": round(start_s, 6), "config": config},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        """The stored features, or None when absent (or unreadable: then recomputed, with a log line)."""
        if self.root is None:
            return None
        path = self.root / key[:2] / f"{key}.pt"
        if not path.is_file():
            self.misses += 1
            return None
        try:
            value = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a truncated or foreign file: recompute rather than fail the run
            log.warning("feature cache entry %s unreadable (%s); recomputing", path, err)
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: dict[str, torch.Tensor]) -> None:
        """Store features atomically (temporary sibling, then rename)."""
        if self.root is None:
            return
        path = self.root / key[:2] / f"{key}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            torch.save({k: v.detach().cpu() for k, v in value.items()}, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
