"""OpenCLIP text and image towers: official key layouts and parity with open_clip 2.22 + DynamiCrafter."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest
import torch

from asva.backbone.clip_image import OpenCLIPImageEncoder, resize_bicubic_antialias
from asva.backbone.clip_text import OpenCLIPTextEncoder
from asva.backbone.config import ImageConfig, TextConfig
from asva.backbone.tokenizer import BPETokenizer
from tests.conftest import read_spec, spec_total

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_VOCAB = resources.files("asva.assets").joinpath("tiny_bpe_vocab.txt.gz")


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return ((ours - ref).norm() / ref.norm()).item()


def load(name: str) -> dict:
    return torch.load(FIXTURES / name, weights_only=True)


# -- layout ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("build", "spec"), [
    (lambda: OpenCLIPTextEncoder(TextConfig()), "openclip_vith14_text"),
    (lambda: OpenCLIPImageEncoder(ImageConfig()), "openclip_vith14_visual"),
])
def test_meta_layout_matches_spec(build, spec: str) -> None:
    expected = read_spec(spec)  # skips when ../shared/spec is absent
    with torch.device("meta"):
        model = build()
    layout = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(layout.items()) == list(expected.items())  # same keys, shapes and order
    assert sum(math.prod(s) for s in layout.values()) == spec_total(spec)


# -- parity with the reference ---------------------------------------------------------------------

def test_text_tower_matches_reference() -> None:
    golden = load("clip_text_golden.pt")
    model = OpenCLIPTextEncoder(TextConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    tokens = BPETokenizer(TINY_VOCAB)(golden["prompts"])  # (4, 77)
    assert torch.equal(tokens, golden["tokens"])
    with torch.no_grad():
        out = model(tokens)  # (4, 77, 64)
    assert out.shape == golden["outputs"].shape
    assert rel_err(out, golden["outputs"]) < 1e-4


def test_text_tower_is_causal() -> None:
    golden = load("clip_text_golden.pt")
    model = OpenCLIPTextEncoder(TextConfig(**golden["config"])).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    with torch.no_grad():
        # a prefix of the ids gives the prefix of the outputs: later tokens are never attended to
        assert rel_err(model(golden["tokens"][:, :9]), golden["outputs"][:, :9]) < 1e-4


def test_image_tower_matches_reference() -> None:
    golden = load("clip_image_golden.pt")
    cfg = dict(golden["config"])
    model = OpenCLIPImageEncoder(ImageConfig(**{**cfg, "text": TextConfig(**cfg["text"])})).eval()
    model.load_state_dict(golden["state_dict"], strict=True)
    with torch.no_grad():
        out = model(golden["inputs"])  # (2, 17, 64)
    assert out.shape == golden["outputs"].shape == (2, 17, 64)
    assert rel_err(out, golden["outputs"]) < 1e-4


def test_resize_matches_kornia() -> None:
    for case in load("clip_resize_golden.pt")["cases"]:
        out = resize_bicubic_antialias(case["input"], tuple(case["size"]))
        assert out.shape == case["output"].shape
        assert rel_err(out, case["output"]) < 1e-5, tuple(case["input"].shape)


# -- input checks ----------------------------------------------------------------------------------

TINY_TEXT = TextConfig(vocab_size=32, context_length=8, width=16, layers=2, heads=2, embed_dim=8)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 4, 32, 32), (1, 1, 32, 32)])
def test_image_tower_rejects_wrong_shape(shape: tuple[int, ...]) -> None:
    model = OpenCLIPImageEncoder(ImageConfig(image_size=16, patch_size=8, width=16, layers=1, heads=2,
                                             embed_dim=8, text=TINY_TEXT))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(shape))
    with pytest.raises(ValueError, match="floating-point"):
        model(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))


def test_text_tower_rejects_bad_tokens() -> None:
    model = OpenCLIPTextEncoder(TINY_TEXT)
    with pytest.raises(ValueError, match="integer ids"):
        model(torch.zeros(1, 8))
    with pytest.raises(ValueError, match="context_length 8"):
        model(torch.zeros(1, 9, dtype=torch.long))
