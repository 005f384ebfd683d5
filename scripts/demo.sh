#!/usr/bin/env bash
# The rsseg demo (`make demo`): the whole workflow through qgis_process, on SYNTHETIC data.
#
#   1. make two synthetic 4-band scenes with labels (training and test; training.data.synthetic)
#   2. pretrain with every self-supervised method whose algorithm is installed (tiny runs)
#   3. fine-tune a segmentation model from the best-suited pretrained checkpoint -> ONNX
#   4. segment the whole test scene with the ONNX model
#   5. evaluate it against the test labels: HTML report + JSON table, mIoU printed
#
# Everything goes to demo_output/ (git-ignored). Sized for < 10 minutes on 2 CPU cores;
# scores on synthetic imagery only show the pipeline works, they say nothing about real data.
# Knobs (environment): DEMO_OUTPUT (folder), DEMO_SIZE (training scene edge, px),
# DEMO_TEST_SIZE, DEMO_EPOCHS and DEMO_PATCH_SIZE (fine-tuning), DEMO_PRETRAIN_PATCHES (patches per pretraining
# run), DEMO_METHODS (pretraining methods to run, default "grass sdcluster diffusion"; "" = none),
# DEMO_DEVICE (auto|cpu|cuda).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-$REPO/.venv/bin/python}"
QP="$REPO/scripts/qgis_process"
OUT="${DEMO_OUTPUT:-$REPO/demo_output}"
SIZE="${DEMO_SIZE:-1024}"
TEST_SIZE="${DEMO_TEST_SIZE:-768}"
EPOCHS="${DEMO_EPOCHS:-10}"
PATCH="${DEMO_PATCH_SIZE:-128}"
PRETRAIN_PATCHES="${DEMO_PRETRAIN_PATCHES:-64}"
DEVICE="${DEMO_DEVICE:-auto}"
START=$SECONDS

if [[ ! -x "$PY" ]]; then
    echo "demo: $PY not found; run 'make setup' first (or set PYTHON)" >&2
    exit 1
fi
mkdir -p "$OUT/scenes" "$OUT/logs"
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
say "1/5 synthetic scenes (training ${SIZE} px, test ${TEST_SIZE} px; SYNTHETIC data)"
PYTHONPATH="$REPO" "$PY" - "$OUT/scenes" "$SIZE" "$TEST_SIZE" <<'EOF'
import sys
from training.data.synthetic import make_scene

folder, size, test_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for name, edge, seed in (("train", size, 0), ("test", test_size, 1)):
    scene = make_scene(f"{folder}/{name}.tif", f"{folder}/{name}_labels.tif", size=(edge, edge), seed=seed)
    shares = ", ".join(f"{n} {100 * f:.0f}%" for n, f in zip(scene.class_names, scene.class_fractions))
    print(f"   {scene.image} ({edge}x{edge}, 4 bands B,G,R,NIR) + labels: {shares}")
EOF
CLASSES="$(PYTHONPATH="$REPO" "$PY" -c '
from training.data.synthetic import CLASS_COLORS, CLASS_NAMES
print(",".join(f"{n}:#{r:02x}{g:02x}{b:02x}" for n, (r, g, b) in zip(CLASS_NAMES, CLASS_COLORS)))')"

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
say "2/5 self-supervised pretraining on both scenes (labels unused; tiny runs: ${PRETRAIN_PATCHES} patches)"
declare -A CKPT=()
for method in ${DEMO_METHODS:-grass sdcluster diffusion}; do
    alg="pretrain_$method"
    if ! have "$alg"; then
        echo "   rsseg:$alg is not installed: skipped"
        continue
    fi
    ckpt="$OUT/pretrain_$method.pt"
    rm -f "$ckpt"
    params=(INPUT_FOLDER="$OUT/scenes" BATCH_SIZE=8 RESUME=false
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
say "3/5 fine-tuning $ARCH from ${PRETRAINED:-scratch (no pretraining available)}, $EPOCHS epochs"
MODEL_ONNX="$OUT/model.onnx"
MODEL_CKPT="$OUT/model.pt"
rm -f "$MODEL_ONNX" "$MODEL_CKPT" "$MODEL_CKPT".last.pt
params=(INPUT="$OUT/scenes/train.tif" LABELS="$OUT/scenes/train_labels.tif" CLASSES="$CLASSES"
        ARCHITECTURE="$(enum_index rsseg:finetune ARCHITECTURE "$ARCH")" EPOCHS="$EPOCHS" BATCH_SIZE=8
        PATCH_SIZE="$PATCH" SPLIT_BLOCK_SIZE="$((2 * PATCH))" VAL_FRACTION=0.15 LEARNING_RATE=0.001
        LABEL_FRACTION=1.0
        DEVICE="$(enum_index rsseg:finetune DEVICE "$DEVICE")"
        OUTPUT_CHECKPOINT="$MODEL_CKPT" OUTPUT_MODEL="$MODEL_ONNX")
if [[ -n "$PRETRAINED" ]]; then params+=(PRETRAINED="$PRETRAINED"); fi
run_alg finetune rsseg:finetune "${params[@]}"
if [[ ! -f "$MODEL_ONNX" ]]; then
    if ! have export_onnx; then
        echo "demo: rsseg:finetune wrote no ONNX model and rsseg:export_onnx is not available" >&2
        exit 1
    fi
    say "3b/5 exporting $MODEL_CKPT to ONNX"
    run_alg export rsseg:export_onnx INPUT="$MODEL_CKPT" OUTPUT="$MODEL_ONNX"
fi

# ---------------------------------------------------------------------------------- inference
say "4/5 segmenting the whole test scene"
PREDICTION="$OUT/test_classes.tif"
CONFIDENCE="$OUT/test_confidence.tif"
run_alg segment rsseg:segment INPUT="$OUT/scenes/test.tif" MODEL="$MODEL_ONNX" OUTPUT="$PREDICTION" \
    CONFIDENCE="$CONFIDENCE" DEVICE="$(enum_index rsseg:segment DEVICE "$DEVICE")"

# ---------------------------------------------------------------------------------- evaluation
say "5/5 accuracy assessment against the test labels"
REPORT="$OUT/evaluation.html"
TABLE="$OUT/evaluation.json"
run_alg evaluate rsseg:evaluate PREDICTION="$PREDICTION" REFERENCE="$OUT/scenes/test_labels.tif" \
    IGNORE_VALUE=255 MODE=0 OUTPUT_HTML="$REPORT" OUTPUT_TABLE="$TABLE"

"$PY" - "$TABLE" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
print(f"\n   test mIoU {100 * data['miou']:.1f} %, overall accuracy {100 * data['overall_accuracy']:.1f} %, "
      f"kappa {data['kappa']:.3f}  (synthetic test scene, {data['pixels']} pixels)")
for c in data["classes"]:
    iou = "-" if c["iou"] is None else f"{100 * c['iou']:.1f} %"
    print(f"     {c['name']:<10} IoU {iou}")
EOF

say "done in $((SECONDS - START)) s. Outputs:"
cat <<EOF
   scenes (SYNTHETIC)   $OUT/scenes/{train,test}.tif and *_labels.tif
   pretrained           ${CKPT[*]:-(none)}
   fine-tuned           $MODEL_CKPT
   ONNX model           $MODEL_ONNX  (load it in rsseg:segment or Deepness)
   class map            $PREDICTION
   confidence           $CONFIDENCE
   report               $REPORT
   scores table         $TABLE
   logs                 $OUT/logs/
EOF
