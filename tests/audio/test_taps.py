"""Token counts and times of the layer taps, and the feature extractor on tiny encoders."""

from __future__ import annotations

import math

import pytest
import torch

from asva.audio.config import AUDIO_FEATURES_TINY, AudioFeatureConfig, BEATsConfig, ImageBindAudioConfig
from asva.audio.taps import AudioFeatureExtractor, beats_token_times, imagebind_token_times, token_counts

SR = 16000


def test_full_size_token_counts_for_two_seconds():
    assert token_counts(AudioFeatureConfig()) == {"imagebind": 229, "beats": 96}
    assert ImageBindAudioConfig().grid == (12, 19)


def test_imagebind_times():
    times = imagebind_token_times()  # (229,)
    assert times.shape == (229,) and math.isnan(times[0])  # CLS has no time
    grid = times[1:].view(12, 19)  # freq-major
    assert torch.equal(grid, grid[:1].expand(12, 19)), "every frequency row has the same times"
    assert torch.all(grid[0].diff() > 0) and grid.min() >= 0 and grid.max() <= 2.0
    # Column t covers Kaldi frames 10t..10t+15, i.e. [100t, 100t + 175] ms.
    torch.testing.assert_close(grid[0], 0.1 * torch.arange(19) + 0.0875)


def test_beats_times():
    times = beats_token_times(198)  # 2 s -> 198 frames -> 12 time patches x 8 freq
    assert times.shape == (96,)
    grid = times.view(12, 8)  # time-major
    assert torch.equal(grid, grid[:, :1].expand(12, 8))
    assert torch.all(grid[:, 0].diff() > 0) and grid.min() >= 0 and grid.max() <= 2.0
    torch.testing.assert_close(grid[:, 0], 0.16 * torch.arange(12) + 0.0875)
    assert beats_token_times(1000, BEATsConfig()).shape == (62 * 8,)  # 10 s -> 496 tokens (FACTS §10b)


@pytest.fixture(scope="module")
def extractor() -> AudioFeatureExtractor:
    torch.manual_seed(0)
    return AudioFeatureExtractor(AUDIO_FEATURES_TINY)


def _audio(batch: int, seconds: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    return 0.3 * torch.randn(batch, round(seconds * SR), generator=gen)  # (B, S)


def test_extractor_outputs_timed_tokens(extractor):
    out = extractor(_audio(2, 2.0))
    assert list(out) == [("imagebind", 1), ("imagebind", 3), ("beats", 1), ("beats", 3)]
    width = {"imagebind": AUDIO_FEATURES_TINY.imagebind.embed_dim,
             "beats": AUDIO_FEATURES_TINY.beats.encoder_embed_dim}
    counts = {"imagebind": 229, "beats": 96}
    for (name, _), tap in out.items():
        assert tap.tokens.shape == (2, counts[name], width[name])
        assert tap.times.shape == (counts[name],) and tap.times.dtype == torch.float32
        assert torch.isfinite(tap.tokens).all() and not tap.tokens.requires_grad
    torch.testing.assert_close(out[("imagebind", 3)].times, imagebind_token_times(), equal_nan=True)
    torch.testing.assert_close(out[("beats", 3)].times, beats_token_times(198))


def test_extractor_centres_long_audio_and_keeps_times_absolute(extractor):
    audio = _audio(1, 3.0)  # 1 s too long: the centred 2 s window is used
    long = extractor(audio)
    window = extractor(audio[:, SR // 2 : SR // 2 + 2 * SR])
    for key, tap in long.items():
        torch.testing.assert_close(tap.tokens, window[key].tokens)
        torch.testing.assert_close(tap.times, window[key].times + 0.5, equal_nan=True)


def test_extractor_silent_and_short_audio(extractor):
    silent = extractor(torch.zeros(1, 2 * SR))
    assert all(torch.isfinite(tap.tokens).all() for tap in silent.values())
    short = extractor(_audio(1, 0.5))  # ImageBind pads its mel; BEATs gives 3 time patches
    assert short[("imagebind", 1)].tokens.shape[1] == 229
    assert short[("beats", 1)].tokens.shape[1] == 3 * 8
    with pytest.raises(ValueError, match="need at least 2800 samples"):
        extractor(_audio(1, 0.15))
    with pytest.raises(ValueError, match=r"at least 0\.1 s"):
        AudioFeatureExtractor(AudioFeatureConfig(encoders=("imagebind",), layers=(1,),
                                                 imagebind=AUDIO_FEATURES_TINY.imagebind))(_audio(1, 0.05))


def test_extractor_rejects_bad_input(extractor):
    bad = _audio(1, 1.0)
    bad[0, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        extractor(bad)
    with pytest.raises(ValueError, match=r"shape \(B, S\)"):
        extractor(_audio(1, 1.0)[0])


def test_encoders_stay_frozen_in_train_mode(extractor):
    extractor.train()
    assert not any(m.training for m in extractor.encoders.modules())
    assert not any(p.requires_grad for p in extractor.parameters())
    extractor.eval()


def test_single_encoder_config_and_meta_build():
    config = AudioFeatureConfig(encoders=("beats",), layers=(0, 11))
    with torch.device("meta"):
        extractor = AudioFeatureExtractor(config)
    assert list(extractor.encoders) == ["beats"]
    assert token_counts(config) == {"beats": 96}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"encoders": ("wav2vec",)}, "encoders must be distinct names"),
    ({"encoders": ()}, "encoders is empty"),
    ({"layers": (3, 12)}, r"layers \[12\] out of range"),
    ({"layers": (3, 3)}, "distinct"),
    ({"sample_rate": 44100}, "sample_rate must be 16000"),
])
def test_feature_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AudioFeatureConfig(**kwargs)
