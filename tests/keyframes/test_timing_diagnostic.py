"""scripts/keyframe_timing.py's own-time accuracy: 0.5 for keyframes blind to time, 1 for the real frames."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).parents[2] / "scripts" / "keyframe_timing.py"


def load_script():
    spec = importlib.util.spec_from_file_location("keyframe_timing", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_own_time_accuracy_separates_timed_from_blind_keyframes():
    accuracy = load_script().own_time_accuracy
    rng = np.random.default_rng(0)
    real = (rng.random((6, 16, 16, 3)) * 255).astype(np.uint8)  # six distinct moments
    assert accuracy(real, real) == 1.0
    brighter = np.clip(real.astype(np.int16) + 40, 0, 255).astype(np.uint8)  # flicker is ignored
    assert accuracy(brighter, real) > 0.9
    blind = np.repeat(real[2:3], 6, axis=0)  # the same picture at every slot
    assert accuracy(blind, real) == 0.5
    shuffled = real[[1, 2, 3, 4, 5, 0]]  # right pictures at the wrong times
    assert accuracy(shuffled, real) < 0.5
