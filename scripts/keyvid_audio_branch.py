"""How strong the audio branch of a KeyVID model's cross-attentions is (docs/results.md, KeyVID rows).

Each spatial cross-attention adds `(tanh(β) + 1) · attn(q, K_audio, V_audio)` to its text and image
branches (asva.keyvid.attention). β starts at 0 (gate 1) and `to_v_ap` at zero, so a branch's share
grows only as `to_v_ap` does. Per network this prints the gates tanh(β) + 1 and the norm of
`to_v_ap` relative to the text branch's `to_v` in the same attention (the value projections scale
each branch's output alike: both attend with softmax weights summing to one).

    .venv/bin/python scripts/keyvid_audio_branch.py src/asva/assets/models/tiny-keyvid
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from safetensors import safe_open

NETWORKS = {"keyframe generator": "backbone.unet.", "motion interpolator": "interpolator_unet."}


def branch_report(folder: Path) -> list[str]:
    """One line per network of the KeyVID weights in `folder`."""
    path = folder / "keyvid.safetensors"
    if not path.is_file():
        raise SystemExit(f"{folder}: no keyvid.safetensors (not a KeyVID model folder)")
    lines = []
    with safe_open(str(path), "pt") as f:
        keys = set(f.keys())
        for network, prefix in NETWORKS.items():
            betas = sorted(k for k in keys if k.startswith(prefix) and k.endswith(".attn2.beta"))
            if not betas:
                continue
            gates, ratios = [], []
            for key in betas:
                block = key.removesuffix("beta")
                gates.append(math.tanh(float(f.get_tensor(key))) + 1)
                audio = float(f.get_tensor(block + "to_v_ap.weight").norm())
                text = float(f.get_tensor(block + "to_v.weight").norm())
                ratios.append(audio / text)
            ratios.sort()
            lines.append(f"{folder} {network}: {len(betas)} audio branches, gate tanh(β)+1 "
                         f"{min(gates):.3f}..{max(gates):.3f}, |to_v_ap| / |to_v| median "
                         f"{ratios[len(ratios) // 2]:.3f} (range {ratios[0]:.3f}..{ratios[-1]:.3f})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="KeyVID model folders")
    for folder in parser.parse_args().folders:
        print("\n".join(branch_report(folder)))


if __name__ == "__main__":
    main()
