"""The SynthAV classes: one renderer per class, motion and sound tied to the same event times.

Every renderer first draws irregular event times, then derives the motion from them, then
mixes one sound per event at exactly its onset sample, so the ground truth is exact by
construction. Each class makes its events visible in the motion score (`asva.keyframes.motion`):

| class | sound at | what the motion curve does there |
|---|---|---|
| bouncing_ball | floor contact | the ball stops on the floor: a sharp valley |
| hammer_anvil | head meets anvil | the hammer stops on the anvil: a sharp valley |
| drum_hit | stick meets skin | the stick stops (the skin glows, brightest then): a sharp valley |
| metronome | each extreme of the swing | the arm knocks against a stop: a sharp valley |
| lamp_beep | light switches on | the light jumps on: a spike |
| croaking_blob | croak starts | the blob inflates with the croak's fast attack: a peak |
| clapping_blocks | blocks meet | the blocks stop against each other: a sharp valley |
| jumping_figure | landing | the figure stops, crouched: a sharp valley |

Impacts share one design (`scene.swing`, `scene.CONTACT_S`): the object reaches the contact at
a constant speed, rests for 62.5 ms centred on the sound, and leaves at the same speed. A
moving object that reverses without resting shows as a notch or as a flat top depending on
where the contact falls between two frames; resting makes a valley centred on the sound at any
phase, and the constant speed around it keeps other sharp features away from the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from asva.synth import sounds
from asva.synth.scene import (
    CONTACT_S,
    Event,
    Stage,
    add_floor,
    arc_amplitudes,
    arc_phase,
    circle,
    contrasting,
    ellipse,
    event_times,
    glow,
    line,
    luma,
    make_background,
    polygon,
    random_colour,
    rotated_rect,
    shade,
    swing,
)


@dataclass
class Rendered:
    """A class renderer's output: picture, sound and their ground truth."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    audio: np.ndarray  # (S,) float32 in [-1, 1]
    events: list[Event]
    signals: dict[str, np.ndarray]  # name -> (T,) per-frame value of what moves


def _finish(
    stage: Stage, frames: list[np.ndarray], track: np.ndarray, events: list[Event], **signals: np.ndarray
) -> Rendered:
    """Stack frames, normalise the mix to -1 dBFS peak, and package the result."""
    peak = float(np.abs(track).max())
    audio = (track * (0.89 / peak)).astype(np.float32) if peak > 0 else track
    return Rendered(
        np.stack(frames), audio, events, {k: np.asarray(v, np.float64) for k, v in signals.items()}
    )


def _setup(stage: Stage) -> tuple[np.ndarray, float]:
    """Draw the stage's background; return it and its mean luma (for contrasting colours)."""
    stage.background_kind, stage.background = make_background(stage.rng, stage.size)
    return stage.background, luma(stage.background.reshape(-1, 3).mean(0))


def _onset_sample(stage: Stage, t: float) -> int:
    return round(t * stage.sample_rate)


# ---- bouncing ball ----------------------------------------------------------------------------


def bouncing_ball(stage: Stage) -> Rendered:
    """A ball bouncing on a floor; each floor contact makes a bounce sound."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    floor_y = rng.uniform(0.8, 0.9) * s
    add_floor(bg, floor_y, shade(random_colour(rng, sat=(0, 0.5), val=(0.2, 0.8)), 1.0))
    r = rng.uniform(0.06, 0.1) * s
    colour = contrasting(rng, bg_luma)
    gap = (0.4, 0.85)
    events = event_times(stage, gap)
    j, u, ends = arc_phase(stage.times, events, rng, gap, hold=CONTACT_S)
    # Apex height grows with the arc's duration; every bounce has the same contact speed.
    apex = arc_amplitudes(ends, CONTACT_S, rng.uniform(0.18, 0.25) * s)
    height = apex[j] * swing(u)  # (T,) px above the contact height
    drift = rng.uniform(-0.2, 0.2) * s
    x = rng.uniform(0.3, 0.7) * s + drift * (stage.times / stage.seconds - 0.5)  # (T,)
    y = floor_y - r - height  # (T,)

    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        circle(img, x[k], y[k], r, colour)
        circle(img, x[k] - 0.35 * r, y[k] - 0.35 * r, 0.25 * r, shade(colour, 1.35))  # highlight
        frames.append(img)

    track = stage.quiet_track()
    base = rng.uniform(250, 700)
    ratios = [1.0, rng.uniform(1.8, 2.4), rng.uniform(3.0, 4.2)]
    tau = rng.uniform(0.02, 0.05)
    for t in events:
        snd = sounds.modes(rng, stage.sample_rate, [base * q for q in ratios], tau, noise_mix=0.6)
        sounds.add_at(track, snd, _onset_sample(stage, t), gain=rng.uniform(0.6, 1.0))
    return _finish(
        stage,
        frames,
        track,
        [Event(float(t), "bounce") for t in events],
        x=x,
        y=y,
        size=np.full_like(x, r),
        brightness=np.full_like(x, luma(colour) / 255),
    )


# ---- hammer and anvil -------------------------------------------------------------------------


def hammer_anvil(stage: Stage) -> Rendered:
    """A hammer swung onto an anvil; each strike clanks."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    floor_y = rng.uniform(0.85, 0.93) * s
    add_floor(bg, floor_y, random_colour(rng, sat=(0, 0.4), val=(0.2, 0.7)))
    metal = contrasting(rng, bg_luma, 60)
    anvil_x, anvil_top = rng.uniform(0.3, 0.45) * s, rng.uniform(0.6, 0.7) * s
    aw = rng.uniform(0.14, 0.2) * s
    anvil = np.array(
        [
            [anvil_x - aw, anvil_top],
            [anvil_x + aw, anvil_top],
            [anvil_x + 0.5 * aw, anvil_top + 0.08 * s],
            [anvil_x + 0.3 * aw, floor_y],
            [anvil_x - 0.3 * aw, floor_y],
            [anvil_x - 0.5 * aw, anvil_top + 0.08 * s],
        ]
    )
    polygon(bg, anvil, metal)
    head_half, head_w = rng.uniform(0.05, 0.07) * s, rng.uniform(0.035, 0.05) * s
    handle_len = rng.uniform(0.3, 0.4) * s
    # Pivot (the hand) to the right, so the handle is level when the head's face meets the anvil.
    px, py = anvil_x + handle_len, anvil_top - head_half
    head_colour, handle_colour = contrasting(rng, bg_luma), shade(random_colour(rng, val=(0.4, 0.8)), 0.8)

    gap = (0.4, 0.85)
    events = event_times(stage, gap)
    j, u, ends = arc_phase(stage.times, events, rng, gap, hold=CONTACT_S)
    lift = np.radians(arc_amplitudes(ends, CONTACT_S, rng.uniform(30, 40)))  # per-swing raise angle
    theta = lift[j] * swing(u)  # (T,) radians above level
    hx, hy = px - handle_len * np.cos(theta), py - handle_len * np.sin(theta)  # head centre (T,)

    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        line(img, (px, py), (hx[k], hy[k]), handle_colour, 0.025 * s)
        # The head is perpendicular to the handle: its long axis points along theta + 90 degrees.
        rotated_rect(img, hx[k], hy[k], head_half, head_w, theta[k] + np.pi / 2, head_colour)
        circle(img, px, py, 0.03 * s, shade(handle_colour, 0.7))  # the hand
        frames.append(img)

    track = stage.quiet_track()
    f1 = rng.uniform(500, 1400)
    freqs = [f1, f1 * rng.uniform(2.5, 2.9), f1 * rng.uniform(5.0, 5.8), f1 * rng.uniform(8.5, 9.5)]
    tau = rng.uniform(0.04, 0.09)
    for t in events:
        snd = sounds.modes(rng, stage.sample_rate, freqs, tau, noise_mix=0.3)
        sounds.add_at(track, snd, _onset_sample(stage, t), gain=rng.uniform(0.6, 1.0))
    return _finish(
        stage,
        frames,
        track,
        [Event(float(t), "clank") for t in events],
        x=hx,
        y=hy,
        size=np.full_like(hx, head_half),
        brightness=np.full_like(hx, luma(head_colour) / 255),
        angle=np.degrees(theta),
    )


# ---- drum -------------------------------------------------------------------------------------


def drum_hit(stage: Stage) -> Rendered:
    """A stick striking a drum; each hit booms and makes the skin flash."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    floor_y = rng.uniform(0.88, 0.95) * s
    add_floor(bg, floor_y, random_colour(rng, sat=(0, 0.4), val=(0.2, 0.7)))
    cx, skin_y = rng.uniform(0.35, 0.5) * s, rng.uniform(0.55, 0.65) * s
    rx, ry = rng.uniform(0.18, 0.24) * s, rng.uniform(0.04, 0.06) * s
    shell = contrasting(rng, bg_luma, 60)
    polygon(
        bg, np.array([[cx - rx, skin_y], [cx + rx, skin_y], [cx + rx, floor_y], [cx - rx, floor_y]]), shell
    )
    ellipse(bg, cx, floor_y, rx, ry, shade(shell, 0.7))
    skin = np.array(random_colour(rng, sat=(0.0, 0.3), val=(0.55, 0.8)), np.float64)
    stick_colour = contrasting(rng, bg_luma)
    stick_len = rng.uniform(0.35, 0.45) * s
    tip_x, tip_y = cx + rng.uniform(-0.3, 0.3) * rx, skin_y  # where the stick lands on the skin
    px, py = tip_x + stick_len, tip_y  # the hand, level with the skin at contact

    gap = (0.4, 0.85)
    events = event_times(stage, gap)
    j, u, ends = arc_phase(stage.times, events, rng, gap, hold=CONTACT_S)
    lift = np.radians(arc_amplitudes(ends, CONTACT_S, rng.uniform(25, 35)))
    theta = lift[j] * swing(u)  # (T,)
    sx, sy = px - stick_len * np.cos(theta), py - stick_len * np.sin(theta)  # stick tip (T,)
    # Skin flash: a glow that peaks at the contact and fades in and out over 0.1 s either side.
    # Symmetric and gradual on purpose: a brightness jump is no motion, but flow estimators see
    # one, and a step at the contact's start or end would pull the stop that marks the hit off
    # centre (a flash that only starts at the hit and then decays did, by 10-30 ms).
    since = stage.times[:, None] - events[None, :]  # (T, K)
    flash = np.clip(1.0 - np.abs(since) / 0.1, 0.0, 1.0).max(axis=1)  # (T,)
    flash_gain = rng.uniform(0.15, 0.2)

    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        colour = tuple(int(c) for c in np.rint(skin + (255 - skin) * flash_gain * flash[k]))
        ellipse(img, cx, skin_y, rx, ry, colour)
        line(img, (px, py), (sx[k], sy[k]), stick_colour, 0.022 * s)
        circle(img, sx[k], sy[k], 0.018 * s, shade(stick_colour, 1.3))
        frames.append(img)

    track = stage.quiet_track()
    f0, tau = rng.uniform(55, 130), rng.uniform(0.06, 0.1)
    for t in events:
        sounds.add_at(
            track,
            sounds.boom(rng, stage.sample_rate, f0, tau),
            _onset_sample(stage, t),
            gain=rng.uniform(0.6, 1.0),
        )
    return _finish(
        stage,
        frames,
        track,
        [Event(float(t), "boom") for t in events],
        x=sx,
        y=sy,
        size=np.full_like(sx, rx),
        brightness=flash,
        angle=np.degrees(theta),
    )


# ---- metronome --------------------------------------------------------------------------------


def metronome(stage: Stage) -> Rendered:
    """A metronome arm that ticks against a stop at each extreme of its swing (its tempo drifts)."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    body = contrasting(rng, bg_luma, 50)
    bx, base_y = rng.uniform(0.35, 0.65) * s, rng.uniform(0.82, 0.9) * s
    bw, bh = rng.uniform(0.16, 0.22) * s, rng.uniform(0.55, 0.65) * s
    polygon(
        bg,
        np.array(
            [[bx - bw, base_y], [bx + bw, base_y], [bx + 0.4 * bw, base_y - bh], [bx - 0.4 * bw, base_y - bh]]
        ),
        body,
    )
    pivot_y = base_y - 0.12 * s
    arm_len = bh * rng.uniform(0.85, 1.0)
    bob_r, bob_at = rng.uniform(0.035, 0.05) * s, rng.uniform(0.55, 0.8)
    arm_colour, bob_colour = (
        shade(body, 0.45) if luma(body) > 100 else shade(body, 2.2),
        contrasting(rng, luma(body)),
    )

    gap = (0.35, 0.75)
    events = event_times(stage, gap)
    j, u, _ = arc_phase(stage.times, events, rng, gap, hold=CONTACT_S)
    amp = np.radians(rng.uniform(12, 18))
    side = np.where(j % 2 == 0, 1.0, -1.0)  # swing j starts at +amp or -amp, alternating
    # The arm sweeps at constant speed and knocks against a stop at each extreme (the tick): it
    # rests there for the contact time, so each tick is a sharp stop in the motion curve.
    theta = side * amp * (1.0 - 2.0 * u)  # (T,)
    ax, ay = bx + arm_len * np.sin(theta), pivot_y - arm_len * np.cos(theta)  # arm tip (T,)
    wx, wy = bx + bob_at * arm_len * np.sin(theta), pivot_y - bob_at * arm_len * np.cos(theta)  # bob

    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        line(img, (bx, pivot_y), (ax[k], ay[k]), arm_colour, 0.018 * s)
        rotated_rect(img, wx[k], wy[k], bob_r, 0.6 * bob_r, theta[k], bob_colour)
        frames.append(img)

    track = stage.quiet_track()
    centre, tau = rng.uniform(1500, 4000), rng.uniform(0.003, 0.008)
    for t in events:
        sounds.add_at(
            track,
            sounds.click(rng, stage.sample_rate, centre, tau),
            _onset_sample(stage, t),
            gain=rng.uniform(0.7, 1.0),
        )
    return _finish(
        stage,
        frames,
        track,
        [Event(float(t), "tick") for t in events],
        x=wx,
        y=wy,
        size=np.full_like(wx, bob_r),
        brightness=np.full_like(wx, luma(bob_colour) / 255),
        angle=np.degrees(theta),
    )


# ---- lamp -------------------------------------------------------------------------------------


def lamp_beep(stage: Stage) -> Rendered:
    """A lamp that is lit exactly while a beep sounds."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    stand = contrasting(rng, bg_luma, 50)
    lx, ly = rng.uniform(0.3, 0.7) * s, rng.uniform(0.3, 0.45) * s
    bulb_r = rng.uniform(0.06, 0.09) * s
    base_y = rng.uniform(0.85, 0.92) * s
    line(bg, (lx, ly + bulb_r), (lx, base_y), stand, 0.03 * s)
    polygon(
        bg,
        np.array(
            [
                [lx - 0.12 * s, base_y],
                [lx + 0.12 * s, base_y],
                [lx + 0.08 * s, base_y - 0.04 * s],
                [lx - 0.08 * s, base_y - 0.04 * s],
            ]
        ),
        stand,
    )
    light = random_colour(rng, sat=(0.2, 0.7), val=(0.9, 1.0))
    off_img = bg.copy()
    circle(off_img, lx, ly, bulb_r, shade(light, 0.35))
    on_img = bg.copy()
    glow(on_img, lx, ly, bulb_r * rng.uniform(3.0, 4.5), light, 0.85)
    circle(on_img, lx, ly, bulb_r, shade(light, 1.1))

    # On/off pairs: beeps of 0.25-0.5 s separated by silences of 0.25-0.5 s (each state lasts
    # over a frame even at 6 FPS, so a downsampled copy still shows every beep).
    onsets, offsets = [], []
    t = rng.uniform(0.2, 0.6)
    while t <= stage.seconds - 0.3 or not onsets:
        on = round(t * stage.sample_rate) / stage.sample_rate
        off = round(min(t + rng.uniform(0.25, 0.5), stage.seconds) * stage.sample_rate) / stage.sample_rate
        onsets.append(on)
        offsets.append(off)
        t = off + rng.uniform(0.25, 0.5)
    lit = np.zeros(stage.num_frames, dtype=bool)
    for on, off in zip(onsets, offsets, strict=True):
        lit |= (stage.times >= on) & (stage.times < off)
    frames = [on_img.copy() if v else off_img.copy() for v in lit]

    track = stage.quiet_track()
    freq, harm = rng.uniform(400, 1800), rng.uniform(0.0, 0.6)
    for on, off in zip(onsets, offsets, strict=True):
        sounds.add_at(
            track,
            sounds.tone(stage.sample_rate, freq, off - on, harm),
            _onset_sample(stage, on),
            gain=rng.uniform(0.6, 1.0),
        )
    events = [Event(on, "beep", off) for on, off in zip(onsets, offsets, strict=True)]
    n = stage.num_frames
    return _finish(
        stage,
        frames,
        track,
        events,
        x=np.full(n, lx),
        y=np.full(n, ly),
        size=np.where(lit, bulb_r, 0.0),
        brightness=lit.astype(np.float64),
    )


# ---- croaking blob ----------------------------------------------------------------------------


def croaking_blob(stage: Stage) -> Rendered:
    """A blob that inflates with the loudness of its croaks."""
    rng, s, sr = stage.rng, float(stage.size), stage.sample_rate
    bg, bg_luma = _setup(stage)
    floor_y = rng.uniform(0.82, 0.9) * s
    add_floor(bg, floor_y, random_colour(rng, sat=(0, 0.5), val=(0.2, 0.8)))
    colour = contrasting(rng, bg_luma)
    cx, r0 = rng.uniform(0.35, 0.65) * s, rng.uniform(0.1, 0.14) * s
    grow = rng.uniform(0.35, 0.5)  # radius gain at full loudness

    loudness = np.zeros(stage.num_samples, dtype=np.float32)  # (S,) envelope of all croaks
    track = stage.quiet_track()
    f0, formant = rng.uniform(70, 180), rng.uniform(400, 1200)
    events = []
    t = rng.uniform(0.2, 0.6)
    while t <= stage.seconds - 0.3 or not events:
        on = round(t * sr) / sr
        dur = rng.uniform(0.25, 0.5)
        env = sounds.croak_envelope(
            sr,
            dur,
            attack_s=rng.uniform(0.015, 0.03),
            release_s=rng.uniform(0.06, 0.1),
            swell=rng.uniform(0.1, 0.3),
        )
        gain = rng.uniform(0.7, 1.0)
        sounds.add_at(loudness, env * gain, round(on * sr))
        sounds.add_at(track, sounds.croak(rng, sr, env, f0, formant), round(on * sr), gain=gain)
        off = min(on + len(env) / sr, stage.seconds)
        events.append(Event(on, "croak", round(off * sr) / sr))
        t = off + rng.uniform(0.15, 0.45)

    # The picture reads the loudness at each frame's time: the size is the sound's envelope.
    level = loudness[np.minimum(np.rint(stage.times * sr).astype(int), len(loudness) - 1)]  # (T,)
    radius = r0 * (1.0 + grow * level)  # (T,)
    y = floor_y - radius  # sits on the floor
    eye = shade(colour, 0.3) if luma(colour) > 110 else (240, 240, 240)
    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        ellipse(img, cx, y[k], 1.1 * radius[k], radius[k], colour)
        for side in (-1, 1):
            circle(img, cx + side * 0.35 * radius[k], y[k] - 0.45 * radius[k], 0.12 * r0, eye)
        frames.append(img)
    return _finish(
        stage,
        frames,
        track,
        events,
        x=np.full_like(radius, cx),
        y=y,
        size=radius,
        brightness=np.full_like(radius, luma(colour) / 255),
    )


# ---- clapping blocks --------------------------------------------------------------------------


def clapping_blocks(stage: Stage) -> Rendered:
    """Two blocks swung together; each contact claps."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    wood = contrasting(rng, bg_luma)
    other = shade(wood, rng.uniform(0.75, 0.95))
    cx, cy = rng.uniform(0.4, 0.6) * s, rng.uniform(0.35, 0.65) * s
    bw, bh = rng.uniform(0.06, 0.09) * s, rng.uniform(0.12, 0.18) * s  # half width, half height

    gap = (0.4, 0.85)
    events = event_times(stage, gap)
    j, u, ends = arc_phase(stage.times, events, rng, gap, hold=CONTACT_S)
    opening = arc_amplitudes(ends, CONTACT_S, rng.uniform(0.1, 0.15) * s)  # per-clap half gap at its widest
    half_gap = opening[j] * swing(u)  # (T,)
    left_x = cx - half_gap - bw  # (T,) left block centre

    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        for x0, c in ((left_x[k], wood), (cx + half_gap[k] + bw, other)):
            polygon(
                img,
                np.array([[x0 - bw, cy - bh], [x0 + bw, cy - bh], [x0 + bw, cy + bh], [x0 - bw, cy + bh]]),
                c,
            )
        frames.append(img)

    track = stage.quiet_track()
    lo, hi, tau = rng.uniform(500, 1200), rng.uniform(2500, 6000), rng.uniform(0.01, 0.03)
    for t in events:
        sounds.add_at(
            track,
            sounds.noise_burst(rng, stage.sample_rate, lo, hi, tau),
            _onset_sample(stage, t),
            gain=rng.uniform(0.6, 1.0),
        )
    return _finish(
        stage,
        frames,
        track,
        [Event(float(t), "clap") for t in events],
        x=left_x,
        y=np.full_like(left_x, cy),
        size=np.full_like(left_x, bh),
        brightness=np.full_like(left_x, luma(wood) / 255),
        gap=2 * half_gap,
    )


# ---- jumping figure ---------------------------------------------------------------------------


def jumping_figure(stage: Stage) -> Rendered:
    """A stick figure jumping; each landing thuds."""
    rng, s = stage.rng, float(stage.size)
    bg, bg_luma = _setup(stage)
    floor_y = rng.uniform(0.85, 0.93) * s
    add_floor(bg, floor_y, random_colour(rng, sat=(0, 0.5), val=(0.2, 0.8)))
    colour = contrasting(rng, bg_luma)
    scale = rng.uniform(0.8, 1.1) * s  # figure proportions are fractions of this
    leg, torso, head = 0.17 * scale, 0.17 * scale, 0.045 * scale
    width = 0.018 * scale

    gap = (0.4, 0.85)
    events = event_times(stage, gap)
    j, u, ends = arc_phase(stage.times, events, rng, gap, hold=CONTACT_S)
    lift = arc_amplitudes(ends, CONTACT_S, rng.uniform(0.15, 0.2) * s)[j] * swing(u)  # (T,) feet above floor
    # The crouch is symmetric about each landing (absorb, rest, push off), so the curve's valley
    # stays centred on the landing; the figure is still while its feet are down.
    near = np.abs(stage.times[:, None] - events[None, :]).min(axis=1)  # (T,) s to the nearest landing
    crouch = 0.35 * leg * np.clip(1.0 - (near - CONTACT_S / 2) / 0.12, 0.0, 1.0)  # (T,)
    drift = rng.uniform(-0.25, 0.25) * s
    x = rng.uniform(0.35, 0.65) * s + drift * (stage.times / stage.seconds - 0.5)  # (T,)
    feet_y = floor_y - lift  # (T,)
    hip_y = feet_y - 2 * leg * 0.95 + crouch  # (T,)

    frames = []
    for k in range(stage.num_frames):
        img = bg.copy()
        hx, hy = x[k], hip_y[k]
        # Knees: the two-bone leg bends outwards by whatever the hip-to-foot distance is short.
        span = feet_y[k] - hy
        bend = np.sqrt(max(leg**2 - (span / 2) ** 2, 0.0))
        for side in (-1, 1):
            fx = hx + side * 0.05 * scale
            kx, ky = (hx + fx) / 2 + side * bend, hy + span / 2
            line(img, (hx, hy), (kx, ky), colour, width)
            line(img, (kx, ky), (fx, feet_y[k]), colour, width)
        neck_y = hy - torso
        line(img, (hx, hy), (hx, neck_y), colour, width)
        arm = 0.6 + 0.8 * lift[k] / (lift.max() + 1e-6)  # arms rise with the jump
        for side in (-1, 1):
            line(
                img,
                (hx, neck_y + 0.02 * scale),
                (hx + side * 0.11 * scale * np.cos(arm), neck_y + 0.02 * scale - 0.11 * scale * np.sin(arm)),
                colour,
                width,
            )
        circle(img, hx, neck_y - head, head, colour)
        frames.append(img)

    track = stage.quiet_track()
    lo, hi, tau = rng.uniform(50, 120), rng.uniform(400, 900), rng.uniform(0.03, 0.06)
    for t in events:
        sounds.add_at(
            track,
            sounds.noise_burst(rng, stage.sample_rate, lo, hi, tau),
            _onset_sample(stage, t),
            gain=rng.uniform(0.7, 1.0),
        )
    return _finish(
        stage,
        frames,
        track,
        [Event(float(t), "thud") for t in events],
        x=x,
        y=hip_y,
        size=np.full_like(x, 2 * leg + torso + 2 * head),
        brightness=np.full_like(x, luma(colour) / 255),
    )


# The registry: class name -> renderer (names are the dataset's folder names).
CLASSES: dict[str, Callable[[Stage], Rendered]] = {
    "bouncing_ball": bouncing_ball,
    "hammer_anvil": hammer_anvil,
    "drum_hit": drum_hit,
    "metronome": metronome,
    "lamp_beep": lamp_beep,
    "croaking_blob": croaking_blob,
    "clapping_blocks": clapping_blocks,
    "jumping_figure": jumping_figure,
}
