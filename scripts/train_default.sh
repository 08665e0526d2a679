#!/usr/bin/env bash
# The bundled default model, trained the paper's way on SynthAV (docs/results.md, `make train-default`):
#   data   a clean SynthAV set (K = 10 train clips per class, test videos held out) and a large noisy
#          one (per-video corruptions: audio offsets, noise, cuts, captions, shake, no audio),
#          filtered by `asva curate`;
#   (a)    a tiny image-animation backbone without audio (VAE, then UNet + Resampler), then frozen;
#   (b)    audio adapters pretrained on the curated noisy clips;
#   (c)    adapters finetuned on K = 10 clean clips per class;
#   ship   the finetuned model folder copied to src/asva/assets/models/tiny/.
# Every step resumes: re-running the script after a kill continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
ASVA=${ASVA:-.venv/bin/asva}
OUT=${OUT:-runs/default}
CFG=src/asva/assets/recipes/tiny
DEVICE=${DEVICE:-cpu}  # DEVICE=cuda on a GPU machine
# One thread per process: on 2 shared cores, 2 torch threads ran the tiny VAE step 2x slower.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

step() { echo "== $(date +%H:%M:%S) $*"; }

if [ ! -f "$OUT/clean/synthav.json" ]; then
    step "clean SynthAV: 8 classes x 30 videos (10 train, 20 test), 4 s, 128 px"
    rm -rf "$OUT/clean"
    "$ASVA" synth --out "$OUT/clean" --size 128 --videos-per-class 30 --seed 0
fi
if [ ! -f "$OUT/noisy/synthav.json" ]; then
    step "noisy SynthAV: 8 classes x 80 videos, per-video corruptions"
    rm -rf "$OUT/noisy"
    "$ASVA" synth --out "$OUT/noisy" --size 128 --videos-per-class 80 --train-per-class 80 --seed 1 \
        --corrupt-mix "offset=0.5:0.15|noise=5:0.15|cut:0.1|text:0.1|shake:0.1|noaudio:0.05"
fi
step "curation of the noisy set"
"$ASVA" curate "$OUT/noisy" --out "$OUT/noisy.parquet" --config "$CFG/curate.yaml"

NOISY=(--data "$OUT/noisy" --manifest "$OUT/noisy.parquet")
step "(a) tiny VAE"
"$ASVA" train --preset tiny --stage vae "${NOISY[@]}" --out "$OUT/vae" --config "$CFG/vae.yaml" --device "$DEVICE"
step "(a) tiny backbone (no audio)"
"$ASVA" train --preset tiny --stage backbone "${NOISY[@]}" --init "$OUT/vae" --out "$OUT/backbone" \
    --config "$CFG/backbone.yaml" --device "$DEVICE"
step "(b) adapters pretrained on the curated noisy clips"
"$ASVA" train --preset tiny --stage pretrain "${NOISY[@]}" --init "$OUT/backbone" --out "$OUT/pretrain" \
    --config "$CFG/pretrain.yaml" --device "$DEVICE"
step "(c) adapters finetuned on K = 10 clean clips per class"
"$ASVA" train --preset tiny --stage finetune --data "$OUT/clean" --shots 10 --init "$OUT/pretrain" \
    --out "$OUT/finetune" --config "$CFG/finetune.yaml" --device "$DEVICE"

step "install the model in src/asva/assets/models/tiny"
mkdir -p src/asva/assets/models
rm -rf src/asva/assets/models/tiny.tmp
cp -r "$OUT/finetune/model" src/asva/assets/models/tiny.tmp
rm -rf src/asva/assets/models/tiny
mv src/asva/assets/models/tiny.tmp src/asva/assets/models/tiny
du -sh src/asva/assets/models/tiny
step "done"
