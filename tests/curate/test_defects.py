"""Each filter catches its SynthAV defect and clean clips are kept (a small version of the benchmark)."""

from asva.curate import CurateConfig, run_curation
from asva.curate.evaluation import make_labelled_set, score_manifest

KINDS = ("clean", "cut", "text", "shake", "whip", "lowres", "lowfps", "short", "noaudio", "static", "silent")


def test_each_defect_is_caught_and_clean_clips_are_kept(tmp_path):
    root = tmp_path / "set"
    make_labelled_set(root, per_kind=1, kinds=KINDS, seconds=4.0, size=128, seed=7, workers=1)
    # 128-px videos: lower the resolution floor (lowres makes 32 px)
    run = run_curation(root, tmp_path / "m.parquet", CurateConfig(min_short_side=96), workers=1)
    ev = score_manifest(run.table, root)
    for d in ev.defects:
        assert d.recall == 1.0, ev.table()
        assert d.precision == 1.0, ev.table()
    assert ev.clean_clips_kept == 1.0, ev.table()
