"""KeyVID models in a model folder: one safetensors file (+ JSON sidecar) named by `asva.json`'s "keyvid".

```
my-keyvid/
  asva.json           {"preset": "tiny", "keyvid": "keyvid.safetensors"}
  keyvid.safetensors  the whole `KeyVIDModel` state dict; keyvid.json: its sidecar
```
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from asva.checkpoints.folder import CONFIG_FILE, ModelFolder, preset_meta, save_part
from asva.checkpoints.trained import load_into
from asva.keyvid.model import KeyVIDModel
from asva.presets import Preset

KEYVID_FILE = "keyvid.safetensors"


def keyvid_meta(preset: Preset) -> dict[str, Any]:
    """The sidecar fields a KeyVID weight file must match to load into a model of `preset`."""
    imagebind = dataclasses.asdict(preset.audio.imagebind)
    return {"part": "keyvid", **preset_meta(preset), "imagebind_config": imagebind}


def load_keyvid_weights(model: KeyVIDModel, path: str | Path) -> None:
    """A KeyVID weight file into `model`, strictly, after checking its sidecar."""
    load_into(model, path, keyvid_meta(model.preset))


def load_keyvid_model(folder: str | Path) -> tuple[KeyVIDModel, ModelFolder]:
    """The KeyVID model of a model folder (frozen) and the folder's spec; a ValueError naming the
    folder when its `asva.json` names no "keyvid" file."""
    spec = ModelFolder.read(folder)
    if "keyvid" not in spec.files:
        raise ValueError(f"{spec.folder} has no KeyVID weights: its {CONFIG_FILE} names no 'keyvid' file")
    model = KeyVIDModel(spec.preset)
    load_keyvid_weights(model, spec.files["keyvid"])
    return model.freeze(), spec


def write_keyvid_folder(folder: str | Path, model: KeyVIDModel) -> Path:
    """Write `model` and an `asva.json` naming it; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_part(model, folder / KEYVID_FILE, keyvid_meta(model.preset))
    tmp = folder / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps({"preset": model.preset.name, "keyvid": KEYVID_FILE}, indent=2) + "\n")
    tmp.replace(folder / CONFIG_FILE)
    return folder
