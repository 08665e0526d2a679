"""Keyframe-aligned tokens: KeyVID's audio segmentation and its chunk-of-12 selection quirk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asva.keyvid.features import (
    interpolation_audio_tokens,
    keyframe_audio_tokens,
    resample_token_groups,
    segment_columns,
    select_token_groups,
    split_audio,
)

FREQ, COLUMNS = 12, 48  # KeyVID's ImageBind: stride (10, 4) -> a 12 x 48 patch grid + CLS


def labelled_tokens(freq: int = FREQ, columns: int = COLUMNS) -> torch.Tensor:
    """(1, 1 + F·T, 2) tokens whose values name them: CLS = (-1, -1), patch (f, t) = (f, t), freq-major."""
    f, t = torch.meshgrid(torch.arange(freq), torch.arange(columns), indexing="ij")
    patches = torch.stack([f.flatten(), t.flatten()], dim=-1).float()  # (F·T, 2), index f·T + t
    return torch.cat([torch.full((1, 2), -1.0), patches])[None]


def names(tokens: torch.Tensor) -> list[str]:
    return ["CLS" if f < 0 else f"f{int(f)}t{int(t)}" for f, t in tokens.tolist()]


def test_split_audio_gives_each_slot_cls_and_its_column():
    segments = split_audio(labelled_tokens(), FREQ, COLUMNS)  # (1, 48, 13, 2)
    assert segments.shape == (1, 48, 13, 2)
    for s in (0, 11, 47):
        assert names(segments[0, s]) == ["CLS"] + [f"f{f}t{s}" for f in range(FREQ)]


def test_keyframe_audio_selection_reproduces_keyvids_chunk_quirk():
    """FACTS §11: chunk k = flat tokens 12k … 12k+11 of the 48 × 13 segments."""
    chosen = keyframe_audio_tokens(labelled_tokens(), FREQ, torch.tensor([0, 12, 47]))  # (1, 3, 12, 2)
    assert chosen.shape == (1, 3, 12, 2)
    assert names(chosen[0, 0]) == ["CLS"] + [f"f{f}t0" for f in range(11)]  # CLS + f0–f10 of t0
    assert names(chosen[0, 1]) == [f"f{f}t11" for f in range(12)]  # f0–f11 of t11
    assert names(chosen[0, 2]) == [f"f{f}t43" for f in range(4, 12)] + ["CLS", "f0t44", "f1t44", "f2t44"]


def test_stock_imagebind_columns_are_shared_between_slots():
    starts, width = segment_columns(19, 48)  # stride 10: 19 columns for 48 slots
    assert width == 1 and starts[0] == 0 and starts[-1] == 18
    np.testing.assert_array_equal(starts, np.round(np.linspace(0, 18, 48)).astype(int))
    starts, width = segment_columns(19, 12)  # ASVA's 12 segments: chunks of 2 (FACTS §11)
    assert width == 2 and starts.tolist() == [0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17]
    segments = split_audio(labelled_tokens(FREQ, 19), FREQ, 12)  # (1, 12, 1 + 12·2, 2)
    assert names(segments[0, 1])[:3] == ["CLS", "f0t2", "f0t3"]  # freq-major within a segment


def test_image_token_groups_at_keyframe_indices():
    tokens = torch.arange(48 * 4, dtype=torch.float32).reshape(1, 48 * 4, 1)  # 4 tokens per slot
    chosen = select_token_groups(tokens, torch.tensor([[0, 5, 47]]), 4)  # (1, 12, 1)
    assert chosen.flatten().tolist() == [0, 1, 2, 3, 20, 21, 22, 23, 188, 189, 190, 191]
    with pytest.raises(ValueError, match=r"\[0, 48\)"):
        select_token_groups(tokens, torch.tensor([48]), 4)


def test_interpolation_audio_resizes_52_chunks_to_48_linearly():
    tokens = labelled_tokens()
    out = interpolation_audio_tokens(tokens, FREQ)  # (1, 48, 12, 2)
    assert out.shape == (1, 48, 12, 2)
    flat = split_audio(tokens, FREQ, 48).reshape(1, 52, 12, 2)  # the 624 flat tokens in chunks of 12
    # align_corners=False: output chunk j samples chunk (j + 0.5)·52/48 − 0.5
    for j in (0, 20, 47):
        pos = min(max((j + 0.5) * 52 / 48 - 0.5, 0), 51)
        lo, frac = int(pos), pos - int(pos)
        hi = min(lo + 1, 51)
        expected = (1 - frac) * flat[0, lo] + frac * flat[0, hi]
        torch.testing.assert_close(out[0, j], expected, rtol=1e-5, atol=1e-4)
    # KeyVID's form: bilinear over (channels, chunks) with the channel axis unchanged
    grid = flat.permute(0, 2, 3, 1)  # (1, 12, 2, 52)
    keyvid = torch.nn.functional.interpolate(grid, size=(2, 48), mode="bilinear").permute(0, 3, 1, 2)
    torch.testing.assert_close(out, keyvid)
    same = torch.randn(1, 48 * 12, 3)
    assert resample_token_groups(same, 12, 48) is same
