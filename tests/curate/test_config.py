import json

import pytest

from asva.curate import CurateConfig, load_curate_config


def test_defaults_are_valid_and_fingerprint_is_stable():
    assert CurateConfig().fingerprint() == CurateConfig().fingerprint()
    assert CurateConfig(clip_s=2.0, min_duration_s=3.0).fingerprint() != CurateConfig().fingerprint()


@pytest.mark.parametrize("field, value", [("clip_s", 0), ("min_fps", -1), ("text_box_score", 1.5),
                                          ("min_short_side", 0), ("flow", "raft?"), ("scene_weights", (1, 1)),
                                          ("min_duration_s", 1.0), ("require_audio", "yes"),
                                          ("camera_border", 0.6), ("pan_side", 8), ("pan_fit", 0),
                                          ("scene_motion_pairs", 0), ("scene_min_edges", -1)])
def test_bad_values_raise(field, value):
    with pytest.raises(ValueError, match=field):
        CurateConfig(**{field: value})


def test_yaml_and_json_overrides(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("min_fps: 20\nscene_weights: [1, 1, 1, 0]\n")
    cfg = load_curate_config(y)
    assert cfg.min_fps == 20 and cfg.scene_weights == (1.0, 1.0, 1.0, 0.0)
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"text_max_area": 0.01}))
    assert load_curate_config(j).text_max_area == 0.01


def test_unknown_key_is_an_error(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("min_fsp: 20\n")
    with pytest.raises(ValueError, match=r"unknown curate config key.*min_fsp"):
        load_curate_config(y)
    with pytest.raises(FileNotFoundError):
        load_curate_config(tmp_path / "missing.yaml")
