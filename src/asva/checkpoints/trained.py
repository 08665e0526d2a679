"""Our own trained weights: safetensors + a JSON sidecar holding the full config they were made with.

Only the parameters a stage trains are stored. Loading checks the sidecar against the model the
weights are loaded into (preset sizes, the part they belong to), so a checkpoint of another preset
fails with a message instead of a shape error deep inside `load_state_dict`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from asva.checkpoints.official import CheckpointError, check_keys
from asva.log import get_logger

log = get_logger(__name__)


def sidecar(path: str | Path) -> Path:
    """The JSON file beside a `.safetensors` file."""
    return Path(path).with_suffix(".json")


def save_weights(path: str | Path, state: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> Path:
    """Write `path` (.safetensors) and its JSON sidecar; each file appears whole or not at all."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights must be written as .safetensors, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in state.items():
        value = value.detach().contiguous().cpu()
        # safetensors refuses aliased tensors (e.g. BEATs' relative-position table, stored under
        # every layer's name): later aliases are written as copies.
        if value.untyped_storage().data_ptr() in seen:
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        tensors[key] = value
    tmp = path.with_name(f".{path.name}.tmp")
    tmp_meta = path.with_name(f".{path.stem}.json.tmp")
    try:
        save_file(tensors, str(tmp))
        tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)
        os.replace(tmp_meta, sidecar(path))
    finally:
        for leftover in (tmp, tmp_meta):
            leftover.unlink(missing_ok=True)
    return path


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a `.safetensors` file and its JSON sidecar."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights not found: {path}")
    meta_path = sidecar(path)
    if not meta_path.is_file():
        raise CheckpointError(f"{path} has no config sidecar {meta_path.name}: cannot check what it fits")
    try:
        state = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"cannot read {path} as safetensors: {err}") from err
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{meta_path} is not valid JSON: {err}") from err
    return state, meta


def load_into(module: torch.nn.Module, path: str | Path, expect: Mapping[str, Any]) -> dict[str, Any]:
    """Load weights into `module` strictly after checking the sidecar's fields equal `expect`."""
    state, meta = load_weights(path)
    check_meta(meta, expect, path)
    check_keys(module, state, str(path))
    module.load_state_dict(state, strict=True)
    return meta


def check_meta(meta: Mapping[str, Any], expect: Mapping[str, Any], path: str | Path) -> None:
    """Raise `CheckpointError` unless every `expect` field equals the sidecar's (after a JSON round trip)."""
    for key, want in expect.items():
        got, want = _normal(meta.get(key)), _normal(want)
        if got != want:
            diffs = "; ".join(
                f"{name}: file {_short(a)}, model {_short(b)}"
                for name, a, b in _differences(key, got, want)[:5]
            )
            raise CheckpointError(f"{path} was made for another model: {diffs}")


def _differences(name: str, got: Any, want: Any) -> list[tuple[str, Any, Any]]:
    """The leaf fields where two JSON-like values differ, as (dotted name, got, want)."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [
            d
            for k in sorted(set(got) | set(want))
            for d in _differences(f"{name}.{k}", got.get(k), want.get(k))
        ]
    return [] if got == want else [(name, got, want)]


def _normal(value: Any) -> Any:
    # JSON has no tuples: compare configs after one round trip.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) < 120 else text[:117] + "..."


def replace_dir(tmp: Path, final: Path) -> None:
    """Swap a fully written folder into place; the previous one survives until the new one is whole."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)
