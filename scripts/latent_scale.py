"""Print the latent scale factor of a trained VAE: 1 / std of its posterior samples (LDM's scale_by_std).

DynamiCrafter's 0.18215 is this number for the Stable Diffusion VAE; a VAE trained from scratch
needs its own, or the diffusion model sees latents far from unit variance. The tiny preset's
`scale_factor` is the value this prints for the bundled VAE:

    python scripts/latent_scale.py runs/default/vae/model runs/default/noisy runs/default/noisy.parquet
"""

import sys

import torch

from asva.checkpoints.folder import load_model
from asva.data import AVClipDataset, ClipConfig

if __name__ == "__main__":
    folder, data, manifest = sys.argv[1:4]
    preset, model, _ = load_model(folder)
    config = ClipConfig(fps=preset.fps, clip_s=preset.frames / preset.fps, height=preset.height,
                        width=preset.width)
    clips = AVClipDataset(data, "train", config, manifest=manifest)
    generator = torch.Generator().manual_seed(0)
    picks = torch.randperm(len(clips), generator=generator)[:48].tolist()
    video = torch.stack([clips[i]["video"] for i in picks])  # (48, 3, T, H, W)
    with torch.no_grad():
        z = model.vae.encode(video, generator=generator) / model.vae.scale_factor  # unscaled samples
    print(f"latent std {z.std().item():.4f} -> scale_factor {1 / z.std().item():.4f}")
