"""Bad input is recorded per file and the run goes on; sources are found as documented."""

import os
from pathlib import Path

import av
import numpy as np

from asva.curate import CurateConfig, find_sources, read_manifest, run_curation
from asva.media import write_wav
from tests.curate.helpers import tone, write_clip

# 64-px test videos: lower the resolution floor, keep everything else at its default
SMALL = CurateConfig(min_short_side=32)


def _audio_only_mp4(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone(2.5)[None], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for p in [*s.encode(frame), *s.encode(None)]:
            c.mux(p)


def _make_bad_folder(root: Path) -> None:
    good = write_clip(root / "good clip é ✓.mp4", seconds=2.5)  # unicode and spaces
    data = good.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "zero.mp4").write_bytes(b"")
    _audio_only_mp4(root / "audio_only.mp4")
    write_clip(root / "sub" / "video_only.mp4", audio=False)
    # an mp4 whose codec tag no decoder knows
    (root / "unsupported.mp4").write_bytes(data.replace(b"avc1", b"zzzz"))
    (root / "notes.txt").write_text("a sidecar: skipped")
    (root / "random.bin").write_bytes(os.urandom(100))
    write_wav(root / "sound.wav", tone(1.0), 16000)
    os.symlink(root, root / "sub" / "loop")  # a folder loop
    os.symlink(root / "nowhere.mp4", root / "dead.mp4")


def test_find_sources_names_and_problems(tmp_path):
    _make_bad_folder(tmp_path)
    found = {s.name: s for s in find_sources(tmp_path)}
    assert "notes.txt" not in found
    assert found["random.bin"].problem.startswith("not a video")
    assert found["dead.mp4"].problem.startswith("broken symlink")
    assert found["sub/loop"].problem.startswith("symlink loop")
    assert found["good clip é ✓.mp4"].problem is None
    # a dataset root is scanned from videos/, so names match split lines
    write_clip(tmp_path / "ds" / "videos" / "dog" / "a.mp4")
    assert [s.name for s in find_sources(tmp_path / "ds")] == ["dog/a.mp4"]


def test_bad_files_get_rows_and_the_run_goes_on(tmp_path):
    src = tmp_path / "src"
    _make_bad_folder(src)
    run = run_curation(src, tmp_path / "m.parquet", SMALL, workers=1, report=True)
    rows = {}
    for r in run.table.to_pylist():
        rows.setdefault(r["source"], []).append(r)
    reasons = {s: rs[0]["reasons"] for s, rs in rows.items()}
    assert any(r["keep"] for r in rows["good clip é ✓.mp4"])
    assert reasons["zero.mp4"] == ["unreadable"] and rows["zero.mp4"][0]["error"]
    assert reasons["unsupported.mp4"] in (["unreadable"], ["no_video"])
    assert reasons["audio_only.mp4"] == ["no_video"]
    assert reasons["sub/video_only.mp4"] == ["no_audio"]
    assert reasons["random.bin"] == ["not_video"]
    assert reasons["dead.mp4"] == ["unreadable"]
    assert reasons["sub/loop"] == ["unreadable"]
    assert "sound.wav" in rows  # not a video suffix: recorded
    # truncated: either an error row or the clips that decode
    assert rows["truncated.mp4"][0]["error"] is not None or rows["truncated.mp4"][0]["num_scenes"] is not None
    assert (tmp_path / "m.summary.json").is_file() and (tmp_path / "m.summary.png").is_file()
    # every row obeys the contract: keep is True exactly when there is no reason
    assert all(r["keep"] == (not r["reasons"]) for r in run.table.to_pylist())

    # a re-run skips every finished source and writes the same manifest
    again = run_curation(src, tmp_path / "m.parquet", SMALL, workers=1)
    assert again.processed == 0 and again.skipped == len(rows)
    assert again.table.equals(read_manifest(tmp_path / "m.parquet"))
    assert np.all(np.diff([r["start_s"] for r in rows["good clip é ✓.mp4"]]) > 0)
