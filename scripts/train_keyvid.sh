#!/usr/bin/env bash
# The bundled tiny KeyVID model (docs/keyvid.md "Training the tiny KeyVID model", `make train-keyvid`),
# on the data and the backbone of `make train-default` (scripts/train_default.sh):
#   (f1)   its VAE continued 1200 steps (src/asva/assets/recipes/tiny/vae_long.yaml);
#   (f2)   its backbone continued 1600 steps on the new VAE's latents (backbone_long.yaml), then frozen;
#   (f3)   the tiny audio encoders trained on the clean set's audio (`asva train-audio`), then frozen;
#   (k1)   keyframe generator on the curated noisy clips (as the audio adapters' pretraining);
#   (k2)   keyframe generator continued on K = 10 clean clips per class (as their finetuning);
#   (i)    motion interpolator on the curated noisy clips, starting from (k2)'s folder, which it
#          keeps: the exported folder holds both trained networks;
#   ship   the folder copied to src/asva/assets/models/tiny-keyvid/ (`--mode keyframe --model tiny`).
# Every step resumes: re-running the script after a kill continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
ASVA=${ASVA:-.venv/bin/asva}
DATA=${DATA:-runs/default}   # the folders of scripts/train_default.sh
OUT=${OUT:-runs/keyvid}
CFG=src/asva/assets/recipes/tiny
DEVICE=${DEVICE:-cpu}  # DEVICE=cuda on a GPU machine
# One thread per process: on 2 shared cores, 2 torch threads ran the tiny steps slower.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

for need in "$DATA/noisy/synthav.json" "$DATA/noisy.parquet" "$DATA/clean/synthav.json" \
    "$DATA/backbone/model/asva.json"; do
    if [ ! -f "$need" ]; then
        echo "missing $need: run scripts/train_default.sh (make train-default) first" >&2
        exit 1
    fi
done
mkdir -p "$OUT"

step() { echo "== $(date +%H:%M:%S) $*"; }

NOISY=(--data "$DATA/noisy" --manifest "$DATA/noisy.parquet")
step "(f1) VAE continued"
"$ASVA" train --preset tiny --stage vae "${NOISY[@]}" --init "$DATA/backbone" --out "$OUT/vae" \
    --config "$CFG/vae_long.yaml" --device "$DEVICE"
step "(f2) backbone continued on the new VAE's latents"
"$ASVA" train --preset tiny --stage backbone "${NOISY[@]}" --init "$OUT/vae" --out "$OUT/backbone" \
    --config "$CFG/backbone_long.yaml" --device "$DEVICE"
step "(f3) audio encoders on the clean set's audio"
"$ASVA" train-audio --data "$DATA/clean" --out "$OUT/audio" --config "$CFG/audio.yaml"
step "(k1) keyframe generator on the curated noisy clips"
"$ASVA" train --preset tiny --stage keyframe "${NOISY[@]}" --init "$OUT/backbone" --out "$OUT/keyframe" \
    --config "$CFG/keyframe.yaml" --audio-weights "$OUT/audio/audio_encoders.safetensors" --device "$DEVICE"
step "(k2) keyframe generator on K = 10 clean clips per class"
"$ASVA" train --preset tiny --stage keyframe --data "$DATA/clean" --shots 10 --init "$OUT/keyframe" \
    --out "$OUT/keyframe_clean" --config "$CFG/keyframe.yaml" --max-steps 100 --device "$DEVICE"
step "(i) motion interpolator on the curated noisy clips"
"$ASVA" train --preset tiny --stage interpolate "${NOISY[@]}" --init "$OUT/keyframe_clean" \
    --out "$OUT/interpolate" --config "$CFG/interpolate.yaml" --device "$DEVICE"

step "install the model in src/asva/assets/models/tiny-keyvid"
mkdir -p src/asva/assets/models
rm -rf src/asva/assets/models/tiny-keyvid.tmp
cp -r "$OUT/interpolate/model" src/asva/assets/models/tiny-keyvid.tmp
rm -rf src/asva/assets/models/tiny-keyvid
mv src/asva/assets/models/tiny-keyvid.tmp src/asva/assets/models/tiny-keyvid
du -sh src/asva/assets/models/tiny-keyvid
step "done"
