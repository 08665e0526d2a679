"""Shared test helpers: the official spec listings and small models built once per session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO.parent / "shared" / "spec"


def read_spec(name: str) -> dict[str, tuple[int, ...]]:
    """`key -> shape` of a `../shared/spec/NAME.tsv` listing (skips the test if the folder is absent)."""
    path = SPEC_DIR / f"{name}.tsv"
    if not path.is_file():
        pytest.skip(
            f"official layout listing {path} not present (it lives in ../shared/spec beside the repo)"
        )
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "\t" in line:
            key, shape = line.split("\t")[:2]
            out[key] = tuple(int(n) for n in re.findall(r"\d+", shape))
    return out


def spec_total(name: str) -> int:
    """The 'total parameters' figure from a spec listing's header."""
    path = SPEC_DIR / f"{name}.tsv"
    for line in path.read_text().splitlines():
        match = re.match(r"# total parameters .*\((\d+)\)", line)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no total in {path}")


@pytest.fixture(scope="session")
def tiny_backbone():
    """The tiny preset's backbone with seeded random weights, frozen (shared: do not mutate)."""
    from asva.checkpoints.backbone import load_backbone

    backbone = load_backbone("tiny", seed=0)
    randomize_zero_parameters(backbone.unet)
    return backbone


def randomize_zero_parameters(module, seed: int = 0, std: float = 0.02) -> None:
    """Give every all-zero parameter small random values.

    DynamiCrafter zero-initialises output layers (so training starts from the identity); a
    randomly initialised UNet therefore predicts exactly zero and guidance has no effect. Tests
    that need a UNet whose output depends on its inputs use this.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.numel() and not param.any():
                param.copy_(torch.randn(param.shape, generator=generator) * std)
