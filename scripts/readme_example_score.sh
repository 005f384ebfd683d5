#!/usr/bin/env bash
# The README's CLI worked example (pretraining + fine-tuning on one labelled image) as written, with
# the labelled image IMAGE (default the README's), then segment and score five tiles it never saw.
# Prints one JSON line: test mIoU (%) per tile and their mean (docs/training.md quotes it).
#   IMAGE=tile_1_001 OUT=/tmp/readme_1_001 scripts/readme_example_score.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
D=$REPO/../shared/data/dubai_aerial/geotiff
[ -d "$D" ] || { echo "readme_example_score: $D not found (the shared Dubai tiles)" >&2; exit 2; }
IMAGE=${IMAGE:-tile_1_008}
OUT=${OUT:-$(mktemp -d)}
mkdir -p $OUT && cd $OUT
export OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=$REPO
start=$(date +%s)
[ -f grass.pt ] || $REPO/.venv/bin/python -m training pretrain grass --inputs $D \
    --patch-size 128 --batch-size 16 --epochs 2 --warmup-epochs 1 --patches-per-epoch 256 --output grass.pt 2>&1 | grep -v "%$" | tail -3
echo "pretrain seconds: $(( $(date +%s) - start ))"
start=$(date +%s)
$REPO/.venv/bin/python -m training finetune --images $D/${IMAGE}_image.tif --labels $D/${IMAGE}_label.tif \
    --pretrained grass.pt --output model.pt --export model.onnx "$@" 2>&1 | grep --line-buffered -v "%$" | tail -8
echo "finetune seconds: $(( $(date +%s) - start ))"
cd $REPO && .venv/bin/python - <<PY
import json
from engine.segment import segment_raster
from engine.evaluate import evaluate_rasters
D = "$D"; out = "$OUT"
scores = {}
for tile in ["tile_2_001", "tile_2_002", "tile_3_001", "tile_4_001", "tile_5_001"]:
    segment_raster(f"{D}/{tile}_image.tif", f"{out}/model.onnx", f"{out}/{tile}_classes.tif", device="cpu", threads=1)
    r = evaluate_rasters(f"{out}/{tile}_classes.tif", f"{D}/{tile}_label.tif", None, None)
    scores[tile] = round(100 * r.miou, 1)
print(json.dumps({"image": "$IMAGE", "miou_percent": scores, "mean": round(sum(scores.values()) / len(scores), 1)}))
PY
