from asva.curate.scenes import candidate_clips, scene_spans


def test_scene_spans_from_cut_frames():
    assert scene_spans([24], 12.0, 5.0) == [(0.0, 2.0), (2.0, 5.0)]
    assert scene_spans([], 12.0, 3.0) == [(0.0, 3.0)]


def test_candidate_clips_are_non_overlapping_inside_scenes_and_clear_of_cuts():
    spans = scene_spans([30], 12.0, 7.0)  # cut at 2.5 s
    clips = candidate_clips(spans, 7.0, clip_s=2.0, stride_s=2.0, margin_s=0.1, fps=12.0)
    # scene 0: [0, 2.4] holds one clip; scene 1 starts at the first frame >= 2.6 s (2.666..)
    assert [(c.scene, c.start_s, c.end_s) for c in clips] == [
        (0, 0.0, 2.0), (1, 2.666667, 4.666667), (1, 4.666667, 6.666667)]
    for c in clips:
        assert not (c.start_s < 2.5 < c.end_s)


def test_no_clip_in_a_short_scene():
    assert candidate_clips([(0.0, 1.9)], 1.9, 2.0, 2.0, 0.1, 12.0) == []
