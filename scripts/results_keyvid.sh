#!/usr/bin/env bash
# docs/keyvid.md, "Training the tiny KeyVID model": keyframe mode against the uniform model, both at
#   24 FPS (48 frames for 2 s), on the held-out SynthAV test clips of scripts/results_default.sh,
#   scored with the oracle sync error, and with RelSync and SFD (the shipped SynthAV sync classifier,
#   on the 6-FPS protocol of docs/evaluation.md).
# Equal compute, counted in UNet frame-evaluations per clip (the tiny UNet's cost grows with the
# frames it runs on; the VAE and the encoders are small beside it):
#   keyframe mode  STEPS DDIM steps x 4 guidance branches x (12 keyframes + 48 interpolated frames)
#   uniform        UNIFORM_STEPS x 4 branches (none, +image, +text, +audio) x 48 frames
#   so UNIFORM_STEPS = STEPS x 60 / 48 (20 -> 25: 4,800 frame-evaluations each).
#   Measured: 63 s and 56 s a clip on one (shared) CPU thread: about 1.6 h for the 48 test clips.
# Resumable: generated clips already written are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ASVA=${ASVA:-.venv/bin/asva}
OUT=${OUT:-runs/results}
KEYVID_MODEL=${KEYVID_MODEL:-tiny}     # the bundled tiny KeyVID model (scripts/train_keyvid.sh)
UNIFORM_MODEL=${UNIFORM_MODEL:-tiny}   # the bundled uniform model (scripts/train_default.sh)
STEPS=${STEPS:-20}                     # keyframe mode: DDIM steps of each stage (a multiple of 4)
UNIFORM_STEPS=$((STEPS * 60 / 48))
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ ! -f "$OUT/test/synthav.json" ]; then
    echo "missing $OUT/test: run scripts/results_default.sh first (it makes the test set)" >&2
    exit 1
fi
if [ $((STEPS % 4)) -ne 0 ]; then
    echo "STEPS must be a multiple of 4 (equal compute needs STEPS x 60 / 48 whole steps), got $STEPS" >&2
    exit 1
fi
"$ASVA" generate --dataset "$OUT/test" --out "$OUT/keyvid" --model "$KEYVID_MODEL" --mode keyframe \
    --steps "$STEPS"
"$ASVA" generate --dataset "$OUT/test" --out "$OUT/uniform24" --model "$UNIFORM_MODEL" --frames 48 --fps 24 \
    --steps "$UNIFORM_STEPS"
for row in keyvid uniform24; do
    "$ASVA" evaluate --generated "$OUT/$row" --dataset "$OUT/test" --metrics relsync,oracle,sfd --no-cache \
        --out "$OUT/$row"
done

# The table, from the JSON files just written (and the reference rows of results_default.sh if present).
"$(dirname "$ASVA")/python" - "$OUT" "$STEPS" "$UNIFORM_STEPS" "$KEYVID_MODEL" "$UNIFORM_MODEL" <<'PY'
import json, sys
from pathlib import Path

out, steps, uniform_steps, keyvid, uniform = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
rows = [(f"keyframe mode, model {keyvid}: 12 keyframes + interpolation, {steps} steps per stage", "keyvid"),
        (f"uniform mode, model {uniform}: 48 frames at 24 FPS, {uniform_steps} steps", "uniform24"),
        ("static baseline (first frame held)", "static"), ("ground truth", "groundtruth")]
print("| row | oracle sync error (ms) ↓ | matched within one frame ↑ | RelSync ↑ | SFD ↓ | clips |")
print("|---|---|---|---|---|---|")
for title, name in rows:
    path = out / f"{name}.json"
    if not path.is_file():
        continue
    r = json.loads(path.read_text())
    m = r["metrics"]
    o = m["oracle"]
    err = "n/a" if o["mean_offset_ms"] is None else f"{o['mean_offset_ms']:.1f}"
    relsync = f"{m['relsync']['rescaled_mean']:.1f}" if "relsync" in m else "n/a"
    sfd = f"{m['sfd']:.2f}" if "sfd" in m else "n/a"
    print(f"| {title} | {err} | {100 * o['matched_fraction']:.0f} % | {relsync} | {sfd} | {r['num_clips']} |")
PY
