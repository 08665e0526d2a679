"""How well a model's VAE gives back the frames it encodes: the floor under everything the model draws.

Encodes frames of a dataset's clips (the posterior mean, then decode) at the model's size and prints
the mean absolute error (0-255), the PSNR, and the colour saturation kept (the mean distance of a
pixel from its own grey level, output over input: 1 is all of it, 0 a grey picture):

    .venv/bin/python scripts/vae_reconstruction.py src/asva/assets/models/tiny runs/default/clean
    .venv/bin/python scripts/vae_reconstruction.py runs/default/vae/model runs/default/clean --split test
    .venv/bin/python scripts/vae_reconstruction.py runs/default/vae/model runs/default/clean \
        --weights runs/vae-more/last/vae.safetensors      # a vae-stage checkpoint, over the model's VAE

Frames: one every `--every` seconds of `--clips` videos spread evenly over the split's list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from asva.checkpoints.folder import load_model
from asva.media import read_video_frames
from asva.media.image import image_to_tensor, resize_center_crop


def saturation(video: torch.Tensor) -> float:
    """Mean |channel - grey| of (N, 3, H, W) frames in [-1, 1], grey the mean of the three channels."""
    return float((video - video.mean(dim=1, keepdim=True)).abs().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a model folder (asva.json) holding a VAE")
    parser.add_argument("data", type=Path, help="a dataset root (videos/, train.txt, test.txt)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--weights", type=Path, help="VAE weights (safetensors) to load over the model's")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between the frames taken")
    args = parser.parse_args()

    torch.set_num_threads(1)
    preset, model, _ = load_model(args.model)
    vae = model.backbone.vae if hasattr(model, "backbone") else model.vae
    if args.weights is not None:
        vae.load_state_dict(load_file(args.weights))  # strict: a wrong file names its keys
    frames = []
    names = (args.data / f"{args.split}.txt").read_text().split()  # videos/-relative paths
    for name in names[:: max(1, len(names) // args.clips)][: args.clips]:  # spread over the classes
        for frame in read_video_frames(args.data / "videos" / name, fps=1 / args.every):
            frames.append(image_to_tensor(resize_center_crop(frame, preset.height, preset.width)))
    if not frames:
        raise SystemExit(f"no frames found in the {args.split} split of {args.data}")
    video = torch.stack(frames)  # (N, 3, H, W) in [-1, 1]
    with torch.no_grad():
        latent = vae.encode(video.permute(1, 0, 2, 3)[None], sample=False)  # (1, z, N, h, w)
        back = vae.decode(latent).clamp(-1, 1)[0].permute(1, 0, 2, 3)  # (N, 3, H, W)
    error = (back - video).abs().mean().item() * 127.5
    mse = (back - video).square().mean().item() / 4  # on a [0, 1] scale
    print(f"{len(frames)} frames of {args.data} ({args.split}) at {preset.width}x{preset.height}: "
          f"MAE {error:.2f} of 255, PSNR {10 * np.log10(1 / mse):.2f} dB, "
          f"saturation kept {saturation(back) / saturation(video):.2f}")


if __name__ == "__main__":
    main()
