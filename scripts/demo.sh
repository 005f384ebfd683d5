#!/usr/bin/env bash
# The rsseg demo (`make demo`): the whole workflow through qgis_process, on REAL aerial imagery.
#
#   1. the two crops of Dubai aerial imagery shipped in demo/data/ (a training and a test area, with
#      labels; CC0, see demo/data/README.md)
#   2. pretrain with every self-supervised method whose algorithm is installed (tiny runs, labels unused)
#   3. fine-tune a segmentation model from the best-suited pretrained checkpoint -> ONNX, and export
#      it once more with a fixed tile size for the Deepness plugin
#   4. segment the whole test crop with the ONNX model
#   5. cluster map of the test crop from the SDCluster checkpoint (when SDCluster ran)
#   6. evaluate against the test labels: HTML report with PNG previews (image | prediction |
#      reference | cluster map) and a coloured confusion matrix, JSON table, mIoU printed
#
# Everything goes to demo_output/ (git-ignored). Sized for about 4 minutes on 2 CPU cores: the
# networks see a few hundred patches, so the scores show the workflow on real data, not what
# the methods reach with real training (docs/results.md has that).
# Knobs (environment): DEMO_OUTPUT (folder), DEMO_DATA (folder with dubai_{train,test}{,_labels}.tif),
# DEMO_STEPS and DEMO_PATCH_SIZE (fine-tuning), DEMO_PRETRAIN_PATCHES (patches per pretraining
# run), DEMO_METHODS (pretraining methods to run, default "grass sdcluster diffusion"; "" = none),
# DEMO_DEVICE (auto|cpu|cuda).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-$REPO/.venv/bin/python}"
QP="$REPO/scripts/qgis_process"
OUT="${DEMO_OUTPUT:-$REPO/demo_output}"
DATA="${DEMO_DATA:-$REPO/demo/data}"
STEPS="${DEMO_STEPS:-100}"   # fine-tuning optimiser steps (the form's default)
PATCH="${DEMO_PATCH_SIZE:-128}"
PRETRAIN_PATCHES="${DEMO_PRETRAIN_PATCHES:-64}"
DEVICE="${DEMO_DEVICE:-auto}"
START=$SECONDS

if [[ ! -x "$PY" ]]; then
    echo "demo: $PY not found; run 'make setup' first (or set PYTHON)" >&2
    exit 1
fi
mkdir -p "$OUT/logs"
say() { printf '\n== [%4ds] %s\n' "$((SECONDS - START))" "$*"; }

# run_alg STEP ALG PARAM=VALUE... : qgis_process run, log kept in logs/STEP.log
run_alg() {
    local step="$1" alg="$2"
    shift 2
    local t0=$SECONDS
    if ! "$QP" run "$alg" -- "$@" >"$OUT/logs/$step.log" 2>&1; then
        tail -n 30 "$OUT/logs/$step.log" >&2
        echo "demo: $alg failed; full log: $OUT/logs/$step.log" >&2
        exit 1
    fi
    echo "   $alg done in $((SECONDS - t0)) s (log: $OUT/logs/$step.log)"
}

# enum_index ALG PARAM OPTION : the index qgis_process expects for an enum option, from `help`
enum_index() {
    "$QP" help "$1" 2>/dev/null | "$PY" -c '
import re, sys
param, option = sys.argv[1], sys.argv[2]
text = sys.stdin.read().split("\nArguments\n", 1)[-1]  # the description may mention PARAM: too
block = re.search(r"^" + re.escape(param) + r":.*?(?=^\S|\Z)", text, re.S | re.M)
found = block and re.search(r"- (\d+): " + re.escape(option) + r"\s*$", block.group(0), re.M)
if not found:
    sys.exit(f"demo: {param} has no option {option!r}")
print(found.group(1))
' "$2" "$3"
}

has_param() { "$QP" help "$1" 2>/dev/null | grep -q "^$2:"; }

# ---------------------------------------------------------------------------------- data
TRAIN="$DATA/dubai_train.tif"
TRAIN_LABELS="$DATA/dubai_train_labels.tif"
TEST="$DATA/dubai_test.tif"
TEST_LABELS="$DATA/dubai_test_labels.tif"
say "1/6 real aerial imagery: two 600 px crops of Dubai with labels (CC0; demo/data/README.md)"
for f in "$TRAIN" "$TRAIN_LABELS" "$TEST" "$TEST_LABELS"; do
    if [[ ! -f "$f" ]]; then
        echo "demo: $f is missing (see demo/data/README.md)" >&2
        exit 1
    fi
done
# the dataset's own legend colours (the Dubai data's SOURCE.txt), in label-id order
CLASSES="Building:#3c1098,Land:#8429f6,Road:#6ec1e4,Vegetation:#fedd3a,Water:#e2a929"
"$PY" - "$CLASSES" "$TRAIN_LABELS" "$TEST_LABELS" <<'EOF'
import sys

import numpy as np
import rasterio

names = [c.split(":")[0] for c in sys.argv[1].split(",")]
for path in sys.argv[2:]:
    with rasterio.open(path) as src:
        ids = src.read(1)
    shares = np.bincount(ids.ravel(), minlength=256) / ids.size
    print(f"   {path} ({ids.shape[1]}x{ids.shape[0]}): "
          + ", ".join(f"{n} {100 * shares[i]:.0f}%" for i, n in enumerate(names)))
EOF

ALGS="$("$QP" list 2>/dev/null | grep -o 'rsseg:[a-z_]*' || true)"
have() { grep -qx "rsseg:$1" <<<"$ALGS"; }
for needed in finetune segment evaluate; do
    if ! have "$needed"; then
        echo "demo: rsseg:$needed is not available in qgis_process; see 'scripts/qgis_process list' and the" >&2
        echo "      'algorithm skipped' messages in the QGIS log" >&2
        exit 1
    fi
done

# ---------------------------------------------------------------------------------- pretraining
say "2/6 self-supervised pretraining on both crops (labels unused; tiny runs: ${PRETRAIN_PATCHES} patches)"
declare -A CKPT=()
for method in ${DEMO_METHODS:-grass sdcluster diffusion}; do
    alg="pretrain_$method"
    if ! have "$alg"; then
        echo "   rsseg:$alg is not installed: skipped"
        continue
    fi
    ckpt="$OUT/pretrain_$method.pt"
    rm -f "$ckpt"
    # INPUT_FOLDER: the *_labels rasters in it are skipped by the pretraining data reader
    params=(INPUT_FOLDER="$DATA" BATCH_SIZE=8 RESUME=false
            DEVICE="$(enum_index "rsseg:$alg" DEVICE "$DEVICE")" OUTPUT_CHECKPOINT="$ckpt")
    case "$method" in
        grass) params+=(PATCH_SIZE=96 EPOCHS=2 WARMUP_EPOCHS=1) ;;  # one SimCLR epoch, one gradient-guided
        sdcluster) params+=(PATCH_SIZE=96 EPOCHS=1) ;;
        diffusion) params+=(PATCH_SIZE=64 EPOCHS=1) ;;
    esac
    if has_param "rsseg:$alg" PATCHES_PER_EPOCH; then params+=(PATCHES_PER_EPOCH="$PRETRAIN_PATCHES"); fi
    if [[ "$method" == diffusion ]] && has_param "rsseg:$alg" SAMPLE_STEPS; then params+=(SAMPLE_STEPS=10); fi
    run_alg "pretrain_$method" "rsseg:$alg" "${params[@]}"
    CKPT[$method]="$ckpt"
done

# ---------------------------------------------------------------------------------- fine-tuning
# GraSS and SDCluster pretrain the ResNet encoder of DeepLabV3+; the diffusion checkpoint
# feeds Diff-HRNet (heavier on a CPU), so it is used only when it is the only one.
ARCH=deeplabv3plus
PRETRAINED=""
for method in grass sdcluster; do
    if [[ -n "${CKPT[$method]:-}" ]]; then PRETRAINED="${CKPT[$method]}"; break; fi
done
if [[ -z "$PRETRAINED" && -n "${CKPT[diffusion]:-}" ]]; then
    PRETRAINED="${CKPT[diffusion]}"
    ARCH=diff_hrnet
fi
say "3/6 fine-tuning $ARCH on the training crop from ${PRETRAINED:-scratch (no pretraining available)}, $STEPS steps"
MODEL_ONNX="$OUT/model.onnx"
MODEL_CKPT="$OUT/model.pt"
DEEPNESS_ONNX="$OUT/model_deepness.onnx"
rm -f "$MODEL_ONNX" "$MODEL_CKPT" "$MODEL_CKPT".last.pt "$DEEPNESS_ONNX"
params=(INPUT="$TRAIN" LABELS="$TRAIN_LABELS" CLASSES="$CLASSES"
        ARCHITECTURE="$(enum_index rsseg:finetune ARCHITECTURE "$ARCH")" STEPS="$STEPS" BATCH_SIZE=8
        PATCH_SIZE="$PATCH" SPLIT_BLOCK_SIZE="$((2 * PATCH))" VAL_FRACTION=0.15 LEARNING_RATE=0.001
        LABEL_FRACTION=1.0
        DEVICE="$(enum_index rsseg:finetune DEVICE "$DEVICE")"
        OUTPUT_CHECKPOINT="$MODEL_CKPT" OUTPUT_MODEL="$MODEL_ONNX")
if [[ -n "$PRETRAINED" ]]; then params+=(PRETRAINED="$PRETRAINED"); fi
run_alg finetune rsseg:finetune "${params[@]}"
if have export_onnx; then
    if [[ ! -f "$MODEL_ONNX" ]]; then
        run_alg export rsseg:export_onnx CHECKPOINT="$MODEL_CKPT" OUTPUT_MODEL="$MODEL_ONNX"
    fi
    # Deepness only loads models with a fixed tile size (batch stays dynamic)
    run_alg export_deepness rsseg:export_onnx CHECKPOINT="$MODEL_CKPT" FIXED_SHAPE=true OUTPUT_MODEL="$DEEPNESS_ONNX"
elif [[ ! -f "$MODEL_ONNX" ]]; then
    echo "demo: rsseg:finetune wrote no ONNX model and rsseg:export_onnx is not available" >&2
    exit 1
fi

# ---------------------------------------------------------------------------------- inference
say "4/6 segmenting the whole test crop"
PREDICTION="$OUT/test_classes.tif"
CONFIDENCE="$OUT/test_confidence.tif"
run_alg segment rsseg:segment INPUT="$TEST" MODEL="$MODEL_ONNX" OUTPUT="$PREDICTION" \
    CONFIDENCE="$CONFIDENCE" DEVICE="$(enum_index rsseg:segment DEVICE "$DEVICE")"

PREVIEWS=(PREVIEW_LAYERS="$TEST")
CLUSTER_MAP=""
if [[ -n "${CKPT[sdcluster]:-}" ]] && have cluster_map; then
    say "5/6 unsupervised cluster map of the test crop (SDCluster, 5 clusters)"
    CLUSTER_MAP="$OUT/test_clusters.tif"
    # one 608 px tile covers the 600 px crop: 2.7x less computing than four overlapping 512 px tiles
    run_alg cluster_map rsseg:cluster_map INPUT="$TEST" CHECKPOINT="${CKPT[sdcluster]}" CLUSTERS=5 TILE_SIZE=608 \
        DEVICE="$(enum_index rsseg:cluster_map DEVICE "$DEVICE")" OUTPUT="$CLUSTER_MAP"
    PREVIEWS+=(PREVIEW_LAYERS="$CLUSTER_MAP")
else
    say "5/6 cluster map skipped (no SDCluster checkpoint)"
fi

# ---------------------------------------------------------------------------------- evaluation
say "6/6 accuracy assessment against the test labels, with previews"
REPORT="$OUT/evaluation.html"
TABLE="$OUT/evaluation.json"
rm -f "$OUT"/evaluation_preview_*.png
run_alg evaluate rsseg:evaluate PREDICTION="$PREDICTION" REFERENCE="$TEST_LABELS" \
    IGNORE_VALUE=255 MODE=0 "${PREVIEWS[@]}" OUTPUT_HTML="$REPORT" OUTPUT_TABLE="$TABLE"

"$PY" - "$TABLE" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
print(f"\n   test mIoU {100 * data['miou']:.1f} %, overall accuracy {100 * data['overall_accuracy']:.1f} %, "
      f"kappa {data['kappa']:.3f}  (real test crop, {data['pixels']} pixels)")
for c in data["classes"]:
    iou = "-" if c["iou"] is None else f"{100 * c['iou']:.1f} %"
    print(f"     {c['name']:<10} IoU {iou}")
EOF

say "done in $((SECONDS - START)) s. Outputs:"
cat <<EOF
   data (real, CC0)     $DATA/dubai_{train,test}.tif and *_labels.tif
   pretrained           ${CKPT[*]:-(none)}
   fine-tuned           $MODEL_CKPT
   ONNX model           $MODEL_ONNX  (rsseg:segment)
   Deepness model       $DEEPNESS_ONNX  (fixed tile size, for the Deepness plugin)
   class map            $PREDICTION
   confidence           $CONFIDENCE
   cluster map          ${CLUSTER_MAP:-(none)}
   report               $REPORT  (previews and coloured confusion matrix)
   previews             $OUT/evaluation_preview_*.png
   scores table         $TABLE
   logs                 $OUT/logs/
EOF
