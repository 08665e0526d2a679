#!/usr/bin/env bash
# docs/results.md, bundled-model rows: oracle sync error on held-out SynthAV test clips for
#   the bundled model (uniform mode), the same backbone without its audio adapters, the static
#   baseline (first frame held) and the ground truth itself.
# The test set uses dataset seed 777, which no training set of `make train-default` uses.
# Resumable: generated clips already written are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ASVA=${ASVA:-.venv/bin/asva}
OUT=${OUT:-runs/results}
VIDEOS=${VIDEOS:-2}   # test videos per class (x 8 classes x 3 clips)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

if [ ! -f "$OUT/test/synthav.json" ]; then
    rm -rf "$OUT/test"
    "$ASVA" synth --out "$OUT/test" --size 128 --videos-per-class "$VIDEOS" --train-per-class 0 --seed 777
fi
"$ASVA" generate --dataset "$OUT/test" --out "$OUT/bundled" --model tiny
"$ASVA" generate --dataset "$OUT/test" --out "$OUT/no_audio" --model tiny --no-audio
for row in bundled no_audio; do
    "$ASVA" evaluate --generated "$OUT/$row" --dataset "$OUT/test" --metrics oracle --no-cache --out "$OUT/$row"
done
for base in static groundtruth; do
    rm -rf "${OUT:?}/$base"
    "$ASVA" evaluate --generated "$OUT/$base" --dataset "$OUT/test" --metrics oracle --no-cache \
        --write-baseline "$base" --out "$OUT/$base"
done

# The table of docs/results.md, from the JSON files just written.
"$(dirname "$ASVA")/python" - "$OUT" <<'PY'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
rows = [("bundled tiny model (uniform, audio adapters)", "bundled"), ("same backbone, no audio", "no_audio"),
        ("static baseline (first frame held)", "static"), ("ground truth", "groundtruth")]
print("| row | oracle sync error (ms) ↓ | matched within one frame ↑ | clips |")
print("|---|---|---|---|")
for title, name in rows:
    r = json.loads((out / f"{name}.json").read_text())
    o = r["metrics"]["oracle"]
    err = "n/a" if o["mean_offset_ms"] is None else f"{o['mean_offset_ms']:.1f}"
    print(f"| {title} | {err} | {100 * o['matched_fraction']:.0f} % | {r['num_clips']} |")
PY
