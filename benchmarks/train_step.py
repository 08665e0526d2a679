"""Seconds per training step of the tiny UNet (forward + backward, batch 16, 12 frames) at latent sizes.

    .venv/bin/python benchmarks/train_step.py

Used to size the `tiny` preset so the bundled model trains on 2 CPU cores; results are recorded in
benchmarks/README.md.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch

from asva.backbone.unet import UNet3D
from asva.presets import get_preset


def seconds_per_step(config, latent: int, batch: int = 16, frames: int = 12, repeats: int = 3) -> float:
    """Best of `repeats` forward+backward passes of a fresh UNet on random latents."""
    torch.manual_seed(0)
    unet = UNet3D(config).train()
    x = torch.randn(batch, config.in_channels, frames, latent, latent)
    t = torch.randint(0, 1000, (batch,))
    context = torch.randn(batch, config.text_length + 16 * config.image_tokens_per_frame, config.context_dim)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        unet(x, t, context).square().mean().backward()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    torch.set_num_threads(2)
    base = get_preset("tiny").backbone.unet
    cases = [
        ("tiny as shipped", base, 16),
        ("tiny, 8x8 latents", base, 8),
        ("tiny, attention at ds 2 only", replace(base, attention_resolutions=(2,)), 16),
    ]
    print("| UNet | latent | parameters | s/step |\n|---|---|---|---|")
    for name, config, latent in cases:
        params = sum(p.numel() for p in UNet3D(config).parameters())
        seconds = seconds_per_step(config, latent)
        print(f"| {name} | {latent}x{latent} | {params:,} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
