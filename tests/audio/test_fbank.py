"""Mel front-ends against kaldi-native-fbank, and input validation."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from asva.audio.config import (
    BEATS_FBANK,
    IMAGEBIND_FBANK,
    BEATsConfig,
    ImageBindAudioConfig,
    KaldiFbankConfig,
)
from asva.audio.fbank import (
    BEATS_SCALE,
    LOG_FLOOR,
    beats_mel,
    check_waveform,
    imagebind_mel,
    kaldi_fbank,
    num_frames,
)

SR = 16000


def _knf_fbank(samples: np.ndarray, config: KaldiFbankConfig) -> np.ndarray:
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = config.sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = config.window_type
    opts.frame_opts.snip_edges = True
    opts.frame_opts.preemph_coeff = config.preemphasis
    opts.frame_opts.remove_dc_offset = config.remove_dc_offset
    opts.mel_opts.num_bins = config.num_mel_bins
    opts.mel_opts.low_freq = config.low_freq
    opts.mel_opts.high_freq = config.high_freq
    opts.use_energy = False
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(config.sample_rate, samples.tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])  # (T, M)


# Log-mel agreement with the reference: float32 FFTs of two libraries differ in the last bits, and
# the log of the weakest bins of the noise signal magnifies that to 2.1e-3 on one machine (1e-3 on
# another); a wrong window, mel matrix or scaling is off by far more (0.1 and up).
LOG_MEL_TOL = 5e-3


def _signals() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(2 * SR) / SR
    # A pure tone leaves far-off mel bins at float32 round-off (1e-14 of the peak), where any two
    # float32 FFTs disagree; a -60 dB noise floor keeps every bin above that.
    floor = 1e-3 * torch.randn(2 * SR, generator=gen)
    return {"noise": 0.3 * torch.randn(2 * SR, generator=gen),
            "sine": 0.5 * torch.sin(2 * torch.pi * 440 * t) + floor,
            "silent": torch.zeros(2 * SR)}


@pytest.mark.parametrize("signal", ["noise", "sine", "silent"])
@pytest.mark.parametrize(("config", "scale"), [(IMAGEBIND_FBANK, 1.0), (BEATS_FBANK, BEATS_SCALE)],
                         ids=["imagebind", "beats"])
def test_kaldi_fbank_matches_kaldi_native_fbank(signal, config, scale):
    wave = _signals()[signal] * scale  # (S,)
    ref = _knf_fbank(wave.numpy(), config)
    ours = kaldi_fbank(wave[None], config)[0].numpy()
    assert ours.shape == ref.shape == (198, 128)
    assert np.abs(ours - ref).max() < LOG_MEL_TOL


def test_front_ends_match_reference_chain():
    wave = _signals()["noise"]
    ib = ImageBindAudioConfig()
    ref = _knf_fbank((wave - wave.mean()).numpy(), IMAGEBIND_FBANK).T  # (M, T)
    ref = (np.pad(ref, ((0, 0), (0, 204 - ref.shape[1]))) - ib.mel_mean) / ib.mel_std
    ours = imagebind_mel(wave[None])
    assert ours.shape == (1, 1, 128, 204)
    assert np.abs(ours[0, 0].numpy() - ref).max() < LOG_MEL_TOL / ib.mel_std
    pad = torch.full_like(ours[..., 198:], -ib.mel_mean / ib.mel_std)  # zero-padded before normalising
    torch.testing.assert_close(ours[..., 198:], pad)
    bc = BEATsConfig()
    ref = (_knf_fbank((wave * BEATS_SCALE).numpy(), BEATS_FBANK) - bc.fbank_mean) / (2 * bc.fbank_std)
    ours = beats_mel(wave[None])
    assert ours.shape == (1, 198, 128)
    assert np.abs(ours[0].numpy() - ref).max() < LOG_MEL_TOL / (2 * bc.fbank_std)


def test_batched_equals_one_by_one_and_crop():
    gen = torch.Generator().manual_seed(1)
    wave = 0.2 * torch.randn(3, 40000, generator=gen)  # 2.5 s: cropped to 204 frames
    batched = imagebind_mel(wave)
    assert batched.shape == (3, 1, 128, 204)
    for i in range(3):
        # a batch of 3 and a batch of 1 take different float32 FFT paths with 2 threads: 1.1e-5 apart
        torch.testing.assert_close(batched[i], imagebind_mel(wave[i : i + 1])[0], atol=1e-4, rtol=1e-4)
    assert num_frames(40000, IMAGEBIND_FBANK) == 248 and num_frames(32000, IMAGEBIND_FBANK) == 198


def test_silent_and_clipped_audio_give_finite_features(caplog):
    silent = torch.zeros(2, SR)
    assert torch.all(kaldi_fbank(silent, IMAGEBIND_FBANK) == torch.tensor(LOG_FLOOR).log())
    assert torch.isfinite(imagebind_mel(silent)).all() and torch.isfinite(beats_mel(silent)).all()
    t = torch.arange(SR) / SR
    clipped = (4 * torch.sin(2 * torch.pi * 200 * t)).clamp(-1, 1)[None]  # hard-clipped at full scale
    with caplog.at_level(logging.WARNING, logger="asva"):
        check_waveform(clipped, SR)
    assert not caplog.records
    assert torch.isfinite(beats_mel(clipped)).all()


def test_int16_scale_audio_is_flagged(caplog):
    with caplog.at_level(logging.WARNING, logger="asva"):
        check_waveform(torch.full((1, SR), 3000.0), SR)
    assert "far outside [-1, 1]" in caplog.text


@pytest.mark.parametrize(("audio", "message"), [
    (torch.zeros(SR), r"shape \(B, S\).*add a batch axis"),
    (torch.zeros(1, 2, SR), r"shape \(B, S\).*down-mix"),
    (torch.zeros(1, SR, dtype=torch.int16), "floating point"),
    (torch.zeros(1, 1599), r"0\.100 s|at least 0\.1 s"),
])
def test_bad_shapes_and_lengths_are_rejected(audio, message):
    with pytest.raises(ValueError, match=message):
        check_waveform(audio, SR)


@pytest.mark.parametrize(("bad", "message"),
                         [(float("nan"), "1 NaN and 0 Inf"), (float("inf"), "0 NaN and 1 Inf")])
def test_non_finite_audio_is_rejected(bad, message):
    audio = torch.zeros(2, SR)
    audio[1, 17] = bad
    with pytest.raises(ValueError, match=rf"{message} sample\(s\) \(first at batch 1, sample 17\)"):
        check_waveform(audio, SR)
