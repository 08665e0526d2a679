"""Dataset layout, source ids, leak check, K-shot subsets, clip sampling and the clip Dataset."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from asva.data import (
    AVClipDataset,
    ClipConfig,
    DataLeakError,
    DatasetLayout,
    check_dataset_leakage,
    check_no_leakage,
    downsample_frames,
    eval_clip_starts,
    kshot_subset,
    source_id,
)
from tests.curate.helpers import write_clip


def _dataset(root: Path, train: dict[str, list[str]], test: dict[str, list[str]],
             seconds: float = 2.5) -> Path:
    lines = {}
    for split, spec in (("train", train), ("test", test)):
        lines[split] = []
        for cls, names in spec.items():
            for i, name in enumerate(names):
                write_clip(root / "videos" / cls / name, seconds=seconds, size=32, seed=i)
                lines[split].append(f"{cls}/{name}")
        (root / f"{split}.txt").write_text("\n".join(lines[split]) + "\n")
    return root


@pytest.fixture(scope="module")
def ds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    return _dataset(root, {"dog": ["a.mp4", "b.mp4", "c.mp4"], "cat": ["d.mp4", "e.mp4"]},
                    {"dog": ["t1.mp4"], "cat": ["t2.mp4"]}, seconds=3.0)


def test_layout_lists_splits_and_classes(ds):
    layout = DatasetLayout(ds, "synthav")
    train = layout.split("train")
    assert [i.rel for i in train] == ["dog/a.mp4", "dog/b.mp4", "dog/c.mp4", "cat/d.mp4", "cat/e.mp4"]
    assert layout.classes() == ["cat", "dog"]


def test_layout_errors_name_what_is_wrong(tmp_path, ds):
    with pytest.raises(FileNotFoundError, match="dataset root not found"):
        DatasetLayout(tmp_path / "nope")
    (tmp_path / "videos").mkdir()
    with pytest.raises(FileNotFoundError, match=r"split file not found.*train\.txt"):
        DatasetLayout(tmp_path).split("train")
    (tmp_path / "train.txt").write_text("dog/missing.mp4\n")
    with pytest.raises(FileNotFoundError, match=r"train.txt:1: 'dog/missing.mp4' points at a missing file"):
        DatasetLayout(tmp_path).split("train")
    (tmp_path / "train.txt").write_text("just_a_name.mp4\n")
    with pytest.raises(ValueError, match=r"expected <class>/<name>\.mp4"):
        DatasetLayout(tmp_path).split("train")
    with pytest.raises(ValueError, match="unknown benchmark"):
        DatasetLayout(ds, "imagenet")


def test_source_id_rules(tmp_path):
    from asva.data.source_id import YOUTUBE_CLIP

    assert source_id(tmp_path / "dog" / "walk__0003.mp4") == "walk"
    assert source_id(tmp_path / "x" / "-0DdlOuIFUI_000050.mp4", YOUTUBE_CLIP) == "-0DdlOuIFUI"
    assert source_id(tmp_path / "x" / "ab_cd-EF_gh_000030_000040.mp4", YOUTUBE_CLIP) == "ab_cd-EF_gh"
    assert source_id(tmp_path / "x" / "plain.mp4", YOUTUBE_CLIP) == "plain"
    (tmp_path / "y.json").write_text(json.dumps({"source": "SRC1"}))
    assert source_id(tmp_path / "y.mp4") == "SRC1"


def test_leak_check(tmp_path, ds):
    check_dataset_leakage(str(ds))  # independent videos: passes
    leaky = _dataset(tmp_path / "leaky", {"dog": ["walk__0.mp4", "run__0.mp4"]}, {"dog": ["walk__5.mp4"]})
    with pytest.raises(DataLeakError, match=r"'walk': train dog/walk__0\.mp4 / test dog/walk__5\.mp4"):
        check_dataset_leakage(str(leaky))
    layout = DatasetLayout(leaky)
    check_no_leakage([i for i in layout.split("train") if i.source_id == "run"], layout.split("test"))


def test_kshot_is_seeded_per_class_and_errors_when_empty(ds):
    train = DatasetLayout(ds).split("train")
    one = kshot_subset(train, 1, seed=3)
    assert sorted(i.class_name for i in one) == ["cat", "dog"]
    assert kshot_subset(train, 1, seed=3) == one
    picks = {tuple(i.rel for i in kshot_subset(train, 1, seed=s)) for s in range(8)}
    assert len(picks) > 1  # the seed matters
    assert len(kshot_subset(train, 10, seed=0)) == 5  # fewer than K: all of them
    assert kshot_subset(train, "all") == train
    with pytest.raises(ValueError, match="empty"):
        kshot_subset([], 5)
    with pytest.raises(ValueError, match="shots"):
        kshot_subset(train, 0)


def test_eval_clip_starts_and_downsampling():
    assert eval_clip_starts(10.0) == [0.0, 4.0, 8.0]
    assert eval_clip_starts(1.5) == [0.0, 0.0, 0.0]
    frames = np.arange(24)[:, None]
    assert downsample_frames(frames, 12, 6)[:, 0].tolist() == list(range(0, 24, 2))
    assert len(downsample_frames(frames, 6, 6)) == 24


def test_eval_dataset_gives_three_clips_per_test_video(ds):
    data = AVClipDataset(ds, "test", ClipConfig(fps=6, height=32, width=48))
    assert len(data) == 6
    item = data[1]
    assert item["video"].shape == (3, 12, 32, 48) and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1.0 and item["video"].max() <= 1.0
    assert item["audio"].shape == (32000,)
    assert [data.clips[i].start_s for i in range(3)] == pytest.approx([0.0, 0.5, 1.0], abs=0.03)
    assert item["class_name"] == "dog" and item["class_index"] == 1


def test_train_dataset_with_manifest_uses_kept_rows_only(tmp_path, ds):
    table = pa.table({"source": ["dog/a.mp4", "dog/a.mp4", "cat/d.mp4", "dog/t1.mp4"],
                      "start_s": [0.0, 0.5, 0.0, 0.0], "end_s": [2.0, 2.5, 3.0, 2.0],
                      "keep": [True, False, True, True]})
    pq.write_table(table, tmp_path / "m.parquet")
    cfg = ClipConfig(fps=12, height=32, width=32)
    data = AVClipDataset(ds, "train", cfg, manifest=tmp_path / "m.parquet")
    assert [(c.video.rel, c.start_s) for c in data.clips] == [("dog/a.mp4", 0.0), ("cat/d.mp4", None)]
    item = data[1]  # a 3-s kept row: the start is drawn in [0, 1]
    assert 0.0 <= item["start_s"] <= 1.0 and item["video"].shape == (3, 24, 32, 32)
    assert data[1]["start_s"] == item["start_s"]  # same epoch, same start
    one_shot = AVClipDataset(ds, "train", ClipConfig(height=32, width=32), shots=1, seed=0)
    assert len(one_shot) == 2
