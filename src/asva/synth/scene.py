"""Drawing and timing helpers shared by the SynthAV classes: colours, backgrounds, anti-aliased
sub-pixel shapes, irregular event times and the piecewise arcs that tie motion to events."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import cv2
import numpy as np

# OpenCV draws with integer coordinates; `shift` bits of fraction give sub-pixel positions, so
# slow motion moves smoothly instead of in whole-pixel steps (which would make the motion score
# jump between 0 and 1 px).
_SHIFT = 4
_ONE = 1 << _SHIFT

BACKGROUNDS = ("flat", "gradient", "texture")


@dataclass(frozen=True)
class Event:
    """One sound-making physical event: `onset` (s), `offset` (s) when the sound is sustained."""

    onset: float
    kind: str
    offset: float | None = None

    def to_json(self) -> dict:
        d: dict = {"onset": round(self.onset, 6), "kind": self.kind}
        if self.offset is not None:
            d["offset"] = round(self.offset, 6)
        return d


@dataclass
class Stage:
    """What every class renderer gets: its random stream, the clip's sizes and a drawn background."""

    rng: np.random.Generator
    size: int  # frame height = width, pixels
    fps: float
    seconds: float
    sample_rate: int
    background_kind: str = ""
    background: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.uint8))  # (H, W, 3)

    @property
    def num_frames(self) -> int:
        return round(self.seconds * self.fps)

    @property
    def times(self) -> np.ndarray:
        """Frame times (T,) in seconds: frame k shows the world at k / fps."""
        return np.arange(self.num_frames) / self.fps

    @property
    def num_samples(self) -> int:
        return round(self.seconds * self.sample_rate)

    def quiet_track(self) -> np.ndarray:
        """An audio track (S,) holding only a faint room tone (-60 dBFS), to be mixed into."""
        return (0.001 * self.rng.standard_normal(self.num_samples)).astype(np.float32)


# ---- colours and backgrounds ------------------------------------------------------------------


def luma(rgb: tuple[int, int, int] | np.ndarray) -> float:
    """BT.601 luma of an RGB colour, 0-255."""
    r, g, b = (float(c) for c in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


def random_colour(
    rng: np.random.Generator, sat: tuple[float, float] = (0.5, 1.0), val: tuple[float, float] = (0.5, 1.0)
) -> tuple[int, int, int]:
    """A random RGB colour with saturation and value drawn from the given ranges."""
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*sat), rng.uniform(*val))
    return (round(r * 255), round(g * 255), round(b * 255))


def contrasting(rng: np.random.Generator, against: float, min_diff: float = 70.0) -> tuple[int, int, int]:
    """A random saturated colour whose luma differs from `against` by at least `min_diff`."""
    for _ in range(50):
        c = random_colour(rng)
        if abs(luma(c) - against) >= min_diff:
            return c
    # Rarely reached (mid-grey backgrounds): fall back to black or white, whichever is farther.
    return (20, 20, 20) if against > 128 else (235, 235, 235)


def shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """`colour` scaled by `factor` (darker below 1, lighter above), clipped to 0-255."""
    return tuple(int(np.clip(round(c * factor), 0, 255)) for c in colour)  # type: ignore[return-value]


def make_background(rng: np.random.Generator, size: int) -> tuple[str, np.ndarray]:
    """A random static background (kind, (H, W, 3) uint8): flat colour, linear gradient or texture."""
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    base = np.array(random_colour(rng, sat=(0.0, 0.6), val=(0.15, 0.9)), dtype=np.float32)
    if kind == "flat":
        img = np.broadcast_to(base, (size, size, 3))
    elif kind == "gradient":
        other = np.array(random_colour(rng, sat=(0.0, 0.6), val=(0.15, 0.9)), dtype=np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1) - 0.5
        w = np.clip(0.5 + xx * np.cos(angle) + yy * np.sin(angle), 0, 1)[..., None]  # (H, W, 1)
        img = base * (1 - w) + other * w
    else:
        # Two octaves of smooth value noise: structure a flow estimator can lock onto, like a wall.
        coarse = cv2.resize(
            rng.uniform(-1, 1, (6, 6, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
        )
        fine = cv2.resize(
            rng.uniform(-1, 1, (24, 24, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
        )
        img = base + 45 * coarse + 20 * fine
    return kind, np.clip(np.rint(img), 0, 255).astype(np.uint8)


def add_floor(img: np.ndarray, top: float, colour: tuple[int, int, int]) -> None:
    """Paint a floor band from row `top` to the bottom, in place, with an anti-aliased edge."""
    size = img.shape[1]
    pts = np.array([[0, top], [size, top], [size, img.shape[0]], [0, img.shape[0]]])
    polygon(img, pts, colour)


# ---- anti-aliased sub-pixel shapes ------------------------------------------------------------


def _fix(v: float) -> int:
    return round(v * _ONE)


def circle(img: np.ndarray, x: float, y: float, r: float, colour: tuple[int, int, int]) -> None:
    """A filled anti-aliased disc, in place."""
    cv2.circle(img, (_fix(x), _fix(y)), max(_fix(r), 1), colour, -1, cv2.LINE_AA, _SHIFT)


def ellipse(
    img: np.ndarray,
    x: float,
    y: float,
    rx: float,
    ry: float,
    colour: tuple[int, int, int],
    angle_deg: float = 0.0,
) -> None:
    """A filled anti-aliased ellipse with semi-axes rx, ry, in place."""
    cv2.ellipse(
        img,
        (_fix(x), _fix(y)),
        (max(_fix(rx), 1), max(_fix(ry), 1)),
        angle_deg,
        0,
        360,
        colour,
        -1,
        cv2.LINE_AA,
        _SHIFT,
    )


def polygon(img: np.ndarray, pts: np.ndarray, colour: tuple[int, int, int]) -> None:
    """A filled anti-aliased convex polygon with vertices (N, 2) in pixels, in place."""
    cv2.fillConvexPoly(img, np.rint(np.asarray(pts) * _ONE).astype(np.int32), colour, cv2.LINE_AA, _SHIFT)


def line(
    img: np.ndarray,
    p: tuple[float, float],
    q: tuple[float, float],
    colour: tuple[int, int, int],
    width: float,
) -> None:
    """An anti-aliased segment with round caps, drawn as a polygon so its width can be fractional."""
    (x0, y0), (x1, y1) = p, q
    dx, dy = x1 - x0, y1 - y0
    n = max(np.hypot(dx, dy), 1e-6)
    ox, oy = -dy / n * width / 2, dx / n * width / 2
    polygon(
        img,
        np.array([[x0 + ox, y0 + oy], [x1 + ox, y1 + oy], [x1 - ox, y1 - oy], [x0 - ox, y0 - oy]]),
        colour,
    )
    circle(img, x0, y0, width / 2, colour)
    circle(img, x1, y1, width / 2, colour)


def rotated_rect(
    img: np.ndarray,
    cx: float,
    cy: float,
    half_len: float,
    half_w: float,
    angle: float,
    colour: tuple[int, int, int],
) -> None:
    """A filled rectangle centred at (cx, cy) whose long axis points along `angle` (radians)."""
    ux, uy = np.cos(angle), np.sin(angle)
    vx, vy = -uy, ux
    pts = np.array(
        [
            [cx + sx * half_len * ux + sy * half_w * vx, cy + sx * half_len * uy + sy * half_w * vy]
            for sx, sy in ((1, 1), (1, -1), (-1, -1), (-1, 1))
        ]
    )
    polygon(img, pts, colour)


# How long an impact's contact lasts, centred on the sound's onset: 1.5 frames at 24 FPS. The
# object rests meanwhile, so whatever the event's phase between two frames, the motion curve dips
# to (nearly) zero in a valley centred on the sound: an impact without it is a velocity reversal,
# which the frame-pair motion score shows as a notch or as a flat top depending on that phase.
CONTACT_S = 0.0625


def glow(
    img: np.ndarray, x: float, y: float, radius: float, colour: tuple[int, int, int], strength: float
) -> None:
    """Add a soft radial glow (lamp light) centred at (x, y), in place."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    d2 = ((xx - x) ** 2 + (yy - y) ** 2) / (radius * radius)
    a = (strength * np.exp(-d2))[..., None]  # (H, W, 1)
    img[:] = np.clip(img * (1 - a) + np.array(colour, np.float32) * a, 0, 255).astype(np.uint8)


# ---- timing -----------------------------------------------------------------------------------


def event_times(
    stage: Stage, gap: tuple[float, float], first: tuple[float, float] = (0.2, 0.6), end_margin: float = 0.2
) -> np.ndarray:
    """Irregular event times (K,) in seconds on the audio sample grid, at least one, before the end."""
    rng, sr = stage.rng, stage.sample_rate
    out = []
    t = rng.uniform(*first)
    while t <= stage.seconds - end_margin or not out:
        out.append(round(t * sr) / sr)
        t += rng.uniform(*gap)
    return np.array(out)


def arc_phase(
    times: np.ndarray,
    events: np.ndarray,
    rng: np.random.Generator,
    gap: tuple[float, float],
    hold: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place each time in the arc between two events: (arc index (T,), phase u in [0, 1] (T,), ends (K+2,)).

    A virtual event before the first and after the last extend the motion to the clip's edges,
    so the first frame already moves as it would after an earlier event. Arc j runs from
    ends[j] to ends[j + 1]; real event k is ends[k + 1]. With `hold` > 0 the object rests for
    `hold` seconds centred on each event (u stays 0 or 1 there): the contact.
    """
    ends = np.concatenate([[events[0] - rng.uniform(*gap)], events, [events[-1] + rng.uniform(*gap)]])
    j = np.clip(np.searchsorted(ends, times, side="right") - 1, 0, len(ends) - 2)  # (T,)
    u = np.clip((times - ends[j] - hold / 2) / (ends[j + 1] - ends[j] - hold), 0.0, 1.0)
    return j, u, ends


def arc_amplitudes(ends: np.ndarray, hold: float, largest: float) -> np.ndarray:
    """Per-arc amplitude (K+1,) proportional to the arc's moving time, the longest reaching `largest`.

    With `swing` arcs the speed at an event is proportional to A / duration, so this gives every
    event the same speed on both sides: the motion curve is symmetric about each event.
    """
    moving = np.diff(ends) - hold
    return largest * moving / moving.max()


def swing(u: np.ndarray, cruise: float = 0.3) -> np.ndarray:
    """Height profile of an arc between two events: 0 at both ends, 1 mid-arc (u in [0, 1]).

    The speed is constant over the first and last `cruise` of the arc and falls linearly to 0 at
    the apex between. Constant speed next to each event keeps the motion curve flat there, so
    the only sharp feature near an event is the stop at the event itself (an accelerating
    approach would put a peak one frame before every stop, at a fixed offset from the sound).
    """
    w = np.minimum(u, 1.0 - u)  # (T,) distance from the nearer event, in arc fractions
    ramp = 0.5 - cruise
    f = np.where(w <= cruise, w, cruise + (w - cruise) - (w - cruise) ** 2 / (2 * ramp))
    return f / (cruise + ramp / 2)
