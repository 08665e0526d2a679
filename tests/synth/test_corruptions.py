"""Corruptions: the --corrupt syntax, and what each one does to a clip and its labels."""

from __future__ import annotations

import numpy as np
import pytest

from asva.synth import Corruption, apply_corruptions, generate_clip, parse_corruptions


@pytest.fixture(scope="module")
def clip():
    return generate_clip("clapping_blocks", seed=3, seconds=2.0, size=64)


def _only(c, kind: str) -> dict:
    [label] = [x for x in c.corruptions if x["kind"] == kind]
    return label


def test_parse_syntax_and_order():
    assert parse_corruptions("offset=0.25,noise=10") == [
        Corruption("offset", 0.25),
        Corruption("noise", 10.0),
    ]
    # applied in a fixed order whatever the order given
    assert [c.kind for c in parse_corruptions("text, cut")] == ["cut", "text"]
    assert parse_corruptions(None) == [] and parse_corruptions("") == []


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("blur", "unknown corruption"),
        ("offset=abc", "needs a number"),
        ("text=3", "takes no value"),
        ("noise=10,noise=5", "given twice"),
        ("cut,,text", "empty item"),
        ("lowres=0.5", "out of range"),
        ("offset=0", "out of range"),
    ],
)
def test_parse_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_corruptions(spec)


def test_offset_shifts_the_audio(clip):
    late = apply_corruptions(clip, parse_corruptions("offset=0.25"))
    n = 4000  # 0.25 s at 16 kHz
    np.testing.assert_array_equal(late.audio[n:], clip.audio[:-n])
    assert late.audio_offset_s == 0.25 and _only(late, "offset")["seconds"] == 0.25
    early = apply_corruptions(clip, parse_corruptions("offset=-0.25"))
    np.testing.assert_array_equal(early.audio[:-n], clip.audio[n:])
    np.testing.assert_array_equal(late.frames, clip.frames)


def test_noise_has_the_asked_snr(clip):
    noisy = apply_corruptions(clip, parse_corruptions("noise=10"))
    a, y = clip.audio.astype(np.float64), noisy.audio.astype(np.float64)
    gain = np.dot(y, a) / np.dot(a, a)  # the mix may be scaled down as a whole to avoid clipping
    snr = 10 * np.log10(np.mean(a**2) / np.mean((y / gain - a) ** 2))
    assert abs(snr - 10) < 0.2 and _only(noisy, "noise")["snr_db"] == 10


def test_time_and_size_corruptions(clip):
    short = apply_corruptions(clip, parse_corruptions("short=1"))
    assert short.frames.shape[0] == 24 and len(short.audio) == 16000
    assert all(e.onset < 1.0 for e in short.events)
    low = apply_corruptions(clip, parse_corruptions("lowfps=6"))
    assert low.fps == 6.0 and low.frames.shape[0] == 12 and len(low.signals["x"]) == 12
    small = apply_corruptions(clip, parse_corruptions("lowres=4"))
    assert small.frames.shape[1:3] == (16, 16) and _only(small, "lowres")["width"] == 16
    silent = apply_corruptions(clip, parse_corruptions("noaudio"))
    assert silent.audio is None and silent.ground_truth()["has_audio"] is False


def test_picture_corruptions(clip):
    text = apply_corruptions(clip, parse_corruptions("text"))
    x0, y0, x1, y1 = _only(text, "text")["box"]
    assert not np.array_equal(text.frames[:, y0:y1, x0:x1], clip.frames[:, y0:y1, x0:x1])
    assert _only(text, "text")["text"]
    shaken = apply_corruptions(clip, parse_corruptions("shake=0.05"))
    assert len(_only(shaken, "shake")["dx"]) == 48 and not np.array_equal(shaken.frames, clip.frames)
    whip = apply_corruptions(clip, parse_corruptions("whip"))
    label = _only(whip, "whip")
    assert 0 < label["start_s"] < label["end_s"] <= 2.0 and abs(label["distance_px"]) == 64


def test_cut_splices_another_class(clip):
    cut = apply_corruptions(clip, parse_corruptions("cut=1.0"))
    label = _only(cut, "cut")
    assert label["at_s"] == 1.0 and label["other_class"] != clip.class_name
    np.testing.assert_array_equal(cut.frames[:24], clip.frames[:24])
    assert not np.array_equal(cut.frames[24:], clip.frames[24:])
    assert [e.onset for e in cut.events if e.onset < 1.0] == [e.onset for e in clip.events if e.onset < 1.0]


def test_corruptions_are_deterministic(clip):
    spec = parse_corruptions("cut,text,shake,noise=5")
    a, b = apply_corruptions(clip, spec), apply_corruptions(clip, spec)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.corruptions == b.corruptions and len(a.corruptions) == 4


def test_corruption_mix_parses_and_picks_in_proportion():
    from asva.synth import parse_corruption_mix, pick_from_mix

    mix = parse_corruption_mix("offset=0.5:0.25|cut,text:0.25")
    assert [([c.kind for c in cs], f) for cs, f in mix] == [(["offset"], 0.25), (["cut", "text"], 0.25)]
    picks = [tuple(c.kind for c in pick_from_mix(mix, seed)) for seed in range(2000)]
    share = {k: picks.count(k) / len(picks) for k in set(picks)}
    assert abs(share[("offset",)] - 0.25) < 0.04 and abs(share[()] - 0.5) < 0.04
    assert picks == [tuple(c.kind for c in pick_from_mix(mix, seed)) for seed in range(2000)]  # seeded


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("offset", "SPEC:FRACTION"),
        ("cut:x", "not a number"),
        ("cut:0.7|text:0.6", "add up"),
        ("bad:0.1", "unknown"),
    ],
)
def test_corruption_mix_rejects_bad_specs(spec, match):
    from asva.synth import parse_corruption_mix

    with pytest.raises(ValueError, match=match):
        parse_corruption_mix(spec)
