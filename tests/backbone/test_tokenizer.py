"""BPE tokenizer: exact ids against open_clip's SimpleTokenizer, padding, truncation, vocabulary files."""

from __future__ import annotations

import gzip
import json
import logging
from importlib import resources
from pathlib import Path

import pytest
import torch

from asva.backbone.tokenizer import TINY_VOCAB_TEXT, BPETokenizer, build_bpe_vocab

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ASSET = resources.files("asva.assets").joinpath("tiny_bpe_vocab.txt.gz")


@pytest.fixture(scope="module")
def tokenizer() -> BPETokenizer:
    return BPETokenizer(ASSET)


def test_builder_reproduces_the_bundled_vocabulary(tmp_path: Path) -> None:
    path = build_bpe_vocab(TINY_VOCAB_TEXT.split(), 510, tmp_path / "vocab.txt.gz")
    assert path.read_bytes() == ASSET.read_bytes()


def test_ids_equal_open_clip(tokenizer: BPETokenizer) -> None:
    # Expected ids: open_clip 2.22 `tokenize` with this vocabulary (tests/fixtures/README_clip.md).
    case = json.loads((FIXTURES / "clip_tokenizer_ids.json").read_text(encoding="utf-8"))
    got = tokenizer(case["strings"])
    assert got.dtype == torch.long and got.shape == (len(case["strings"]), 77)
    for text, want, row in zip(case["strings"], case["ids"], got.tolist(), strict=True):
        assert row == want, text


def test_special_ids_and_vocab_size(tokenizer: BPETokenizer) -> None:
    # 256 bytes + 256 end-of-word bytes + 510 merges + SOT + EOT
    assert (tokenizer.vocab_size, tokenizer.sot_token, tokenizer.eot_token) == (1024, 1022, 1023)


def test_empty_prompt_is_sot_eot_then_zeros(tokenizer: BPETokenizer) -> None:
    assert tokenizer("").tolist() == [[tokenizer.sot_token, tokenizer.eot_token] + [0] * 75]


def test_truncation_keeps_eot_last_and_warns_once(tokenizer: BPETokenizer, caplog) -> None:
    fresh = BPETokenizer(ASSET, context_length=8)
    long_prompt = "the ball bounces on the wooden floor " * 3  # 21 words -> 23 ids with SOT/EOT
    with caplog.at_level(logging.WARNING, logger="asva"):
        ids = fresh([long_prompt, long_prompt])
        fresh(long_prompt)
    full = [fresh.sot_token, *fresh.encode(long_prompt), fresh.eot_token]
    assert ids[0].tolist() == [*full[:7], fresh.eot_token]
    warnings = [r for r in caplog.records if "context length" in r.getMessage()]
    assert len(warnings) == 1 and f"{len(full)} tokens" in warnings[0].getMessage()


def test_decode_round_trip(tokenizer: BPETokenizer) -> None:
    assert tokenizer.decode(tokenizer.encode("A Frog croaks &amp; jumps!")) == "a frog croaks & jumps ! "


def test_missing_vocabulary_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "bpe_simple_vocab_16e6.txt.gz"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        BPETokenizer(missing)


def test_malformed_vocabulary_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(b"#version: 0.2\na b\nthree parts here"))
    with pytest.raises(ValueError, match="line 3"):
        BPETokenizer(path)


def test_builder_merges_most_frequent_pair_first(tmp_path: Path) -> None:
    path = build_bpe_vocab(["ab ab ab cd"], 2, tmp_path / "v.txt.gz")
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    assert lines[1:] == ["a b</w>", "c d</w>"]
    with pytest.raises(ValueError, match="only support 2 merges"):
        build_bpe_vocab(["ab ab ab cd"], 3, tmp_path / "w.txt.gz")
