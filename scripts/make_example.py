"""Draw the bundled example (a ball above a floor, and the sound of it bouncing).

Run once: `python scripts/make_example.py`; the outputs live in src/asva/assets/examples/.
The SynthAV generator (asva.synth) makes clips of the same kind with full ground truth.
"""

from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src/asva/assets/examples"
SIZE, SR, SECONDS = 256, 16_000, 2.0
BOUNCES_S = (0.35, 0.95, 1.45, 1.85)  # irregular, as a real bounce that loses energy is not


def draw_image() -> np.ndarray:
    ys = np.linspace(0, 1, SIZE)[:, None, None]
    sky = (np.array([235, 206, 160]) * (1 - ys) + np.array([250, 240, 225]) * ys).astype(np.uint8)
    img = np.broadcast_to(sky, (SIZE, SIZE, 3)).copy()  # BGR gradient background
    img[200:] = (60, 90, 140)  # floor
    cv2.circle(img, (128, 120), 28, (40, 60, 220), -1, lineType=cv2.LINE_AA)
    cv2.circle(img, (118, 110), 8, (170, 180, 255), -1, lineType=cv2.LINE_AA)  # highlight
    return img


def make_audio() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * SECONDS)) / SR
    audio = np.zeros_like(t)
    for k, onset in enumerate(BOUNCES_S):
        env = np.where(t >= onset, np.exp(-(t - onset) * 40.0), 0.0)
        thump = np.sin(2 * np.pi * (110 + 15 * k) * (t - onset)) + 0.3 * rng.standard_normal(t.size)
        audio += 0.8 * (0.85**k) * env * thump
    return (audio / np.abs(audio).max() * 0.9).astype(np.float32)


if __name__ == "__main__":
    import wave

    OUT.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT / "example.png"), draw_image())
    pcm = (make_audio() * 32767).astype("<i2")
    with wave.open(str(OUT / "example.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes(pcm.tobytes())
    print("wrote", OUT)
