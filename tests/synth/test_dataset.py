"""SynthAV datasets on disk: layout, splits, ground truth beside each mp4, refusal to clobber, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from asva.cli_synth import synth
from asva.media import probe_video, read_audio
from asva.synth import SynthConfig, generate_clip, generate_dataset, ground_truth_json, video_seed

SMALL = {"classes": ("metronome", "croaking_blob"), "videos_per_class": 3, "seconds": 2.0, "size": 64}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthav") / "ds"
    generate_dataset(root, SynthConfig(**SMALL), workers=1)
    return root


def test_layout_and_splits(dataset):
    train = (dataset / "train.txt").read_text().splitlines()
    test = (dataset / "test.txt").read_text().splitlines()
    assert train == ["metronome/metronome_0000.mp4", "croaking_blob/croaking_blob_0000.mp4"]  # a third
    assert len(test) == 4 and not set(train) & set(test)
    for line in train + test:
        mp4 = dataset / "videos" / line
        gt = json.loads(mp4.with_suffix(".json").read_text())
        assert gt["class"] == line.split("/")[0] and gt["split"] in ("train", "test")
        info = probe_video(mp4)
        assert (info.codec, info.fps, info.width, info.has_audio, info.audio_sample_rate) == (
            "h264",
            24.0,
            64,
            True,
            16000,
        )
    assert json.loads((dataset / "synthav.json").read_text())["train_per_class"] == 1


def test_json_onsets_are_where_the_decoded_sound_is(dataset):
    for mp4 in sorted((dataset / "videos").glob("*/*.mp4")):
        gt = json.loads(mp4.with_suffix(".json").read_text())
        audio = read_audio(mp4)  # decoded AAC: checks the container keeps audio and picture aligned
        n = round(0.03 * 16000)
        for e in gt["events"]:
            k = round(e["onset"] * 16000)
            assert np.mean(audio[k : k + n] ** 2) > 10 * np.mean(audio[k - n : k] ** 2), (mp4.name, e)


def test_any_video_regenerates_alone(dataset):
    gt = json.loads((dataset / "videos/croaking_blob/croaking_blob_0002.json").read_text())
    seed = video_seed(0, "croaking_blob", 2)
    assert gt["seed"] == seed
    clip = generate_clip("croaking_blob", seed, seconds=2.0, size=64)
    again = {"name": gt["name"], "split": "test", "index": 2, "dataset_seed": 0, **clip.ground_truth()}
    assert ground_truth_json(again) == (dataset / "videos/croaking_blob/croaking_blob_0002.json").read_text()


def test_non_empty_folder_is_refused_and_left_alone(tmp_path):
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_dataset(tmp_path, SynthConfig(**{**SMALL, "videos_per_class": 1}), workers=1)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and keep.read_text() == "mine"
    generate_dataset(tmp_path, SynthConfig(**{**SMALL, "videos_per_class": 1}), overwrite=True, workers=1)
    assert keep.read_text() == "mine" and (tmp_path / "train.txt").is_file()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"classes": ("metronome", "dragon")}, "unknown SynthAV class"),
        ({"seconds": 0.0}, "seconds"),
        ({"size": 60}, "divisible by 8"),
        ({"videos_per_class": 0}, "videos_per_class"),
        ({"train_per_class": 5}, "train_per_class"),
    ],
)
def test_bad_config_is_refused_before_touching_disk(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        generate_dataset(tmp_path / "out", SynthConfig(**{**SMALL, **change}), workers=1)
    assert not (tmp_path / "out").exists()


def test_cli_synth_writes_corrupted_videos(tmp_path):
    app = typer.Typer()
    app.command("synth")(synth)
    app.command("noop")(lambda: None)  # two commands: the app keeps subcommand names, like `asva`
    out = tmp_path / "ds"
    args = [
        "synth",
        "--out",
        str(out),
        "--classes",
        "lamp_beep",
        "--videos-per-class",
        "2",
        "--seconds",
        "2",
        "--size",
        "64",
        "--workers",
        "1",
        "--corrupt",
        "offset=0.25,noaudio",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    gt = json.loads((out / "videos/lamp_beep/lamp_beep_0001.json").read_text())
    assert [c["kind"] for c in gt["corruptions"]] == ["offset", "noaudio"] and not gt["has_audio"]
    assert not probe_video(out / "videos/lamp_beep/lamp_beep_0001.mp4").has_audio
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "not empty" in str(again.exception)


@pytest.mark.slow
def test_default_size_dataset_with_workers_scores_within_a_frame(tmp_path):
    # The real path end to end: the process pool, default size and length, decoded mp4s, the oracle.
    from asva.metrics.oracle_sync import oracle_sync_file
    from asva.synth import CLASSES

    summary = generate_dataset(tmp_path, SynthConfig(videos_per_class=1, train_per_class=0), workers=2)
    assert len(summary.test) == len(CLASSES)
    for line in summary.test:
        r = oracle_sync_file(tmp_path / "videos" / line).result
        assert r.mean_offset_ms <= 1000 / 24 and r.matched_fraction >= 0.9, (line, r)


def test_cli_synth_corruption_mix_labels_each_video(tmp_path):
    app = typer.Typer()
    app.command("synth")(synth)
    app.command("noop")(lambda: None)
    out = tmp_path / "mix"
    args = ["synth", "--out", str(out), "--classes", "metronome", "--videos-per-class", "6", "--seconds", "2",
            "--size", "64", "--workers", "1", "--corrupt-mix", "noaudio:0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    from asva.synth import parse_corruption_mix, pick_from_mix, video_seed

    mix = parse_corruption_mix("noaudio:0.5")
    for i in range(6):
        gt = json.loads((out / f"videos/metronome/metronome_{i:04d}.json").read_text())
        expected = [c.kind for c in pick_from_mix(mix, video_seed(0, "metronome", i))]
        assert [c["kind"] for c in gt["corruptions"]] == expected
        assert gt["has_audio"] == (expected == [])
