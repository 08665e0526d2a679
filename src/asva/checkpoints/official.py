"""Loading and writing official DynamiCrafter checkpoints (`model.ckpt`), strictly.

An official checkpoint is a Lightning file: `torch.load(path)["state_dict"]`, keys prefixed by the
part they belong to (FACTS §2). Every part is checked key by key and shape by shape before any
weight is copied, so a mismatch names exactly what is missing, unexpected or wrongly shaped.
Files are read with `weights_only=True`: a checkpoint can never run code on load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from asva.diffusion.schedule import OFFICIAL_BUFFER_NAMES
from asva.log import get_logger

log = get_logger(__name__)

# Our attribute name on `Backbone` -> the key prefix in the official checkpoint.
PREFIXES: dict[str, str] = {
    "unet": "model.diffusion_model.",
    "vae": "first_stage_model.",
    "text_encoder": "cond_stage_model.",
    "image_encoder": "embedder.",
    "resampler": "image_proj_model.",
}
# Noise-schedule buffers stored at the top level of the LatentDiffusion module (not model weights);
# the 512 model adds `scale_arr` (dynamic rescale).
SCHEDULE_KEYS: tuple[str, ...] = (*OFFICIAL_BUFFER_NAMES, "scale_arr")
# The 256 checkpoint may carry the fs MLP under its older name (FACTS §2); both are accepted.
_RENAMES: tuple[tuple[str, str], ...] = (("framestride_embed.", "fps_embedding."),)
_SHOWN = 10  # how many keys of each kind an error message lists


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, wrong container, or wrong keys."""


class KeyMismatchError(CheckpointError):
    """A state dict whose keys or shapes differ from the module it is loaded into."""

    def __init__(
        self,
        source: str,
        missing: list[str],
        unexpected: list[str],
        wrong_shape: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
    ) -> None:
        self.source, self.missing, self.unexpected, self.wrong_shape = (
            source,
            missing,
            unexpected,
            wrong_shape,
        )
        parts = [f"{source} does not match the model:"]
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_listing(unexpected)}")
        if wrong_shape:
            shown = [f"{k} (checkpoint {list(got)}, model {list(want)})" for k, got, want in wrong_shape]
            parts.append(f"{len(wrong_shape)} key(s) with the wrong shape: {_listing(shown)}")
        super().__init__("\n  ".join(parts))


def _listing(items: list[str]) -> str:
    more = f", ... (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a flat state dict from `.ckpt`/`.pt`/`.pth` (Lightning, DeepSpeed or plain) or `.safetensors`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"cannot read {path} as safetensors: {err}") from err
    try:
        # mmap keeps a multi-GB checkpoint out of RAM until each tensor is copied into the model.
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:
        # mmap needs the zipfile format; legacy (pre-1.6) files load without it.
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {err}") from err
    except Exception as err:
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {err}") from err
    return unwrap_state_dict(obj, str(path))


def unwrap_state_dict(obj: object, source: str) -> dict[str, torch.Tensor]:
    """Return the flat tensor dict inside a Lightning (`state_dict`), DeepSpeed (`module`) or plain file."""
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    elif isinstance(obj, Mapping) and "module" in obj:
        # DeepSpeed wraps the Lightning module: keys carry a 16-character `_forward_module.` prefix.
        obj = {k.removeprefix("_forward_module."): v for k, v in obj["module"].items()}
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{source}: expected a state dict of tensors (or a dict holding one under "
            f"'state_dict' or 'module'), got {type(obj).__name__}"
        )
    return dict(obj)


def diff_keys(
    module: nn.Module, state: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[tuple[str, tuple[int, ...], tuple[int, ...]]]]:
    """Keys of `module.state_dict()` absent from `state`, keys of `state` it lacks, and shape clashes."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        (k, tuple(state[k].shape), expected[k])
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != expected[k]
    )
    return missing, unexpected, wrong


def check_keys(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise `KeyMismatchError` unless `state` has exactly the keys and shapes of `module.state_dict()`."""
    missing, unexpected, wrong = diff_keys(module, state)
    if missing or unexpected or wrong:
        raise KeyMismatchError(source, missing, unexpected, wrong)


def split_by_prefix(
    state: Mapping[str, torch.Tensor], prefixes: Mapping[str, str]
) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """Split a full checkpoint into per-part state dicts (prefix removed) and the keys left over."""
    parts: dict[str, dict[str, torch.Tensor]] = {name: {} for name in prefixes}
    rest: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for name, prefix in prefixes.items():
            if key.startswith(prefix):
                parts[name][key[len(prefix) :]] = value
                break
        else:
            rest[key] = value
    return parts, rest


def _apply_renames(state: dict[str, torch.Tensor], expected: Iterable[str]) -> dict[str, torch.Tensor]:
    expected = set(expected)
    out = {}
    for key, value in state.items():
        for old, new in _RENAMES:
            if key.startswith(old) and key not in expected and new + key[len(old) :] in expected:
                key = new + key[len(old) :]
        out[key] = value
    return out


def load_official_state_dict(
    backbone: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    schedule_buffers: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Load a full official state dict into a `Backbone`, strictly, part by part.

    Every part is checked before anything is copied, so a failed load leaves the model untouched.
    `schedule_buffers` (ours, from `NoiseSchedule.official_buffers()`) are compared with the
    checkpoint's stored schedule: a different `betas` means the preset does not fit the file.
    """
    parts, rest = split_by_prefix(state, PREFIXES)
    modules = {name: getattr(backbone, name) for name in PREFIXES}
    parts["unet"] = _apply_renames(parts["unet"], modules["unet"].state_dict().keys())
    missing: list[str] = []
    unexpected = sorted(k for k in rest if k not in SCHEDULE_KEYS)
    wrong: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    for name, module in modules.items():
        prefix = PREFIXES[name]
        m, u, w = diff_keys(module, parts[name])
        missing += [prefix + k for k in m]
        unexpected += [prefix + k for k in u]
        wrong += [(prefix + k, got, want) for k, got, want in w]
    if missing or unexpected or wrong:
        raise KeyMismatchError(source, missing, unexpected, wrong)
    if schedule_buffers is not None:
        _check_schedule(rest, schedule_buffers, source)
    for name, module in modules.items():
        module.load_state_dict(parts[name], strict=True)
    log.info("loaded %s: %d tensors into %s", source, len(state), ", ".join(PREFIXES.values()))


def _check_schedule(
    stored: Mapping[str, torch.Tensor], ours: Mapping[str, torch.Tensor], source: str
) -> None:
    for key in ("betas", "alphas_cumprod"):
        if key not in stored or key not in ours:
            continue
        if stored[key].shape != ours[key].shape or not torch.allclose(
            stored[key].double(), ours[key].double(), rtol=1e-4, atol=1e-7
        ):
            raise CheckpointError(
                f"{source}: stored noise schedule '{key}' differs from the preset's "
                "schedule (a 256 checkpoint with a 512 preset, or the reverse?)"
            )
    if "scale_arr" in stored and "scale_arr" not in ours:
        log.warning(
            "%s stores 'scale_arr' (dynamic rescale, a 512 model) but the preset does not use it", source
        )


def official_state_dict(
    backbone: nn.Module, schedule_buffers: Mapping[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """The backbone's weights under the official checkpoint keys (the inverse of loading)."""
    state: dict[str, torch.Tensor] = {}
    for name, prefix in PREFIXES.items():
        for key, value in getattr(backbone, name).state_dict().items():
            state[prefix + key] = value
    state.update(schedule_buffers or {})
    return state


def save_official_checkpoint(
    backbone: nn.Module, path: str | Path, schedule_buffers: Mapping[str, torch.Tensor] | None = None
) -> Path:
    """Write `{"state_dict": ...}` in the official layout, atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": official_state_dict(backbone, schedule_buffers)}, tmp)
    tmp.replace(path)
    return path
