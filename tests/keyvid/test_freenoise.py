"""FreeNoise: rescheduled noise and window-fused temporal attention."""

from __future__ import annotations

import pytest
import torch

from asva.backbone.attention import CrossAttention
from asva.backbone.unet import UNet3D
from asva.keyvid.freenoise import (
    freenoise_noise,
    freenoise_views,
    fused_self_attention,
    window_weights,
    windowed_temporal_attention,
)
from asva.presets import get_preset
from tests.conftest import randomize_zero_parameters


def test_views_and_weights():
    assert freenoise_views(48, 12, 6) == [(s, s + 12) for s in range(0, 37, 6)]  # KeyVID get_views(48, 12, 6)
    assert freenoise_views(10, 12, 6) == [(0, 10)]
    assert freenoise_views(20, 8, 5) == [(0, 8), (5, 13), (10, 18), (12, 20)]  # a last window ends at F
    assert window_weights(6).tolist() == [1, 2, 3, 3, 2, 1]
    assert window_weights(5).tolist() == [1, 2, 3, 2, 1]
    with pytest.raises(ValueError, match="stride"):
        freenoise_views(20, 4, 5)


@pytest.mark.parametrize(("frames", "window", "stride"), [(48, 12, 6), (30, 8, 4), (26, 8, 8)])
def test_every_window_is_a_permutation_of_the_first(frames, window, stride):
    noise = freenoise_noise((2, 3, frames, 2, 2), window, stride, torch.Generator().manual_seed(0))
    base = noise[:, :, :window]

    def frame_set(video):  # each frame's noise as a hashable row
        return sorted(map(tuple, video.permute(2, 0, 1, 3, 4).reshape(video.shape[2], -1).tolist()))

    for start in range(0, frames - window + 1, stride):
        assert frame_set(noise[:, :, start : start + window]) == frame_set(base)
    assert len(set(frame_set(noise[:, :, :window]))) == window  # frames within a window differ
    again = freenoise_noise((2, 3, frames, 2, 2), window, stride, torch.Generator().manual_seed(0))
    assert torch.equal(noise, again)


def test_windowed_attention_is_the_weighted_mean_of_window_outputs():
    torch.manual_seed(0)
    attn = CrossAttention(16, 2, 8)
    x = torch.randn(3, 9, 16)
    expected = torch.zeros(3, 9, 16)
    weight = torch.zeros(9, 1)
    for start, end in [(0, 4), (2, 6), (4, 8), (5, 9)]:
        w = window_weights(4)[:, None]
        expected[:, start:end] += w * attn(x[:, start:end])
        weight[start:end] += w
    torch.testing.assert_close(fused_self_attention(attn, x, 4, 2), expected / weight)
    assert torch.equal(fused_self_attention(attn, x[:, :4], 4, 2), attn(x[:, :4]))  # F ≤ window: plain


@torch.no_grad()
def test_unet_fusion_equals_plain_attention_up_to_the_window_and_is_undone_after():
    torch.manual_seed(0)
    unet = UNet3D(get_preset("tiny").backbone.unet).eval()
    randomize_zero_parameters(unet)
    keys = list(unet.state_dict())
    forward = type(unet.init_attn[0].transformer_blocks[0].attn1).forward
    c = unet.config
    x = torch.randn(1, c.in_channels, 6, 8, 8)
    context = torch.randn(1, c.text_length, c.context_dim)
    t = torch.tensor([500])
    plain = unet(x, t, context)
    with windowed_temporal_attention(unet, window=6, stride=3):
        torch.testing.assert_close(unet(x, t, context), plain, rtol=0, atol=0)
    with windowed_temporal_attention(unet, window=4, stride=2):
        assert list(unet.state_dict()) == keys
        fused = unet(x, t, context)
    assert not torch.allclose(fused, plain)
    attn1 = unet.init_attn[0].transformer_blocks[0].attn1
    assert "forward" not in attn1.__dict__ and type(attn1).forward is forward  # restored
    torch.testing.assert_close(unet(x, t, context), plain, rtol=0, atol=0)
