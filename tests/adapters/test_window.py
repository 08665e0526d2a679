"""The audio window: for 12 frames at 6 FPS and r = 1.5 / FPS each frame sees tokens within ±0.25 s."""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from asva.adapters.window import frame_times, window_mask
from asva.audio.taps import beats_token_times, imagebind_token_times


def _expected(frame: int, fps: int, times: list[float], radius: Fraction) -> set[int]:
    # Exact rational arithmetic on the frame time; token times are ms-exact decimals.
    t_frame = Fraction(frame, fps)
    return {
        i
        for i, t in enumerate(times)
        if math.isnan(t) or abs(Fraction(round(t * 10000), 10000) - t_frame) <= radius
    }


def test_each_frame_sees_exactly_its_window():
    fps, frames = 6, 12
    radius = Fraction(3, 2) / fps  # 0.25 s
    token_times = torch.cat([imagebind_token_times(), beats_token_times(198)])  # (229 + 96,)
    mask = window_mask(frame_times(frames, fps), token_times, float(radius))  # (F, N)
    times = token_times.tolist()
    for f in range(frames):
        seen = set(torch.nonzero(mask[f]).flatten().tolist())
        assert seen == _expected(f, fps, times, radius), f


def test_known_token_sets_for_the_first_frames():
    mask = window_mask(frame_times(12, 6), imagebind_token_times(), 0.25)
    columns = lambda f: sorted({(i - 1) % 19 for i in torch.nonzero(mask[f]).flatten().tolist() if i})  # noqa: E731
    # ImageBind columns are centred at 0.1 t + 0.0875 s.
    assert columns(0) == [0, 1]  # 0.0875, 0.1875 <= 0.25
    assert columns(1) == [0, 1, 2, 3]  # |t - 0.1667| <= 0.25 -> 0.0875 ... 0.3875
    assert columns(11) == [15, 16, 17, 18]  # 1.8333 -> 1.5875 (0.2458 away) ... 1.8875
    assert bool(mask[:, 0].all())  # CLS (no time) is seen by every frame
    assert int(mask[5, 1:].sum()) == 12 * 5  # 12 frequency rows x 5 columns


def test_half_frame_radius_is_the_many_to_one_split():
    # r = 0.5 / FPS: windows of neighbouring frames never share a token (apart from untimed ones).
    mask = window_mask(frame_times(12, 6), beats_token_times(198), 0.5 / 6)
    overlap = (mask[:-1] & mask[1:]).sum()
    assert int(overlap) == 0
