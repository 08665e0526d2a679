"""Write the bundled example: the first frame and the sound of a SynthAV `hammer_anvil` clip.

Run once: `python scripts/make_example.py`; the outputs live in src/asva/assets/examples/. The clip
comes from a seed no training or test set of `make train-default` uses (dataset seed 4242), so the
bundled model has never seen it. example.json keeps the clip's ground truth (when each clank is).
"""

from pathlib import Path

from asva.media import write_wav
from asva.synth import generate_clip, ground_truth_json, video_seed
from asva.viz import save_png

OUT = Path(__file__).resolve().parents[1] / "src/asva/assets/examples"
CLASS, DATASET_SEED, SECONDS, SIZE = "hammer_anvil", 4242, 2.0, 128

if __name__ == "__main__":
    clip = generate_clip(CLASS, video_seed(DATASET_SEED, CLASS, 0), seconds=SECONDS, size=SIZE)
    OUT.mkdir(parents=True, exist_ok=True)
    save_png(clip.frames[0], OUT / "example.png")
    write_wav(OUT / "example.wav", clip.audio, clip.sample_rate)
    (OUT / "example.json").write_text(ground_truth_json({"name": "example", **clip.ground_truth()}))
    print("wrote", OUT)
