#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job end to end on
# data this project generates (no data set or pretrained weights needed):
#   1. a small ADE20K-layout data set and a small ViT checkpoint (tools/make_demo_assets.py)
#   2. EXPRES + UperNet training with tools/train.py (300 iterations, evaluated twice)
#   3. evaluation of the task checkpoint with tools/test.py, pictures of predictions
# About 5-10 minutes on 2 CPU cores. Output goes to work_dirs/demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
PY="${MMSEG_EXPRES_VENV:-$ROOT/.venv}/bin/python"
CONFIG=configs/demo/expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py
WORK=work_dirs/demo
T0=$SECONDS

echo "== 1/3 generating the demo data set and ViT checkpoint"
"$PY" tools/make_demo_assets.py --out data/demo

echo "== 2/3 training EXPRES (progress every 20 iterations)"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" 2>&1 |
  grep --line-buffered -E "trainable of|Iter\(train\)|Iter\(val\)|Saving checkpoint|Traceback|Error:|error:" || true
CKPT="$(cat "$WORK/last_checkpoint")"
[[ -f "$CKPT" ]] || { echo "training did not write a checkpoint; see $WORK/*/*.log" >&2; exit 1; }

echo "== 3/3 evaluating $CKPT and drawing predictions"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" --show-dir "$WORK/vis" 2>&1 |
  grep --line-buffered -E "Iter\(test\)|Traceback|Error:|error:" || true
MIOU="$(grep -ho 'mIoU: [0-9.]*' "$WORK"/test/*/*.log | tail -1)"
PICTURE="$(find "$WORK/vis" -name '*.png' | sort | head -1)"
[[ -n "$MIOU" && -n "$PICTURE" ]] || { echo "evaluation failed; see $WORK/test" >&2; exit 1; }
echo
echo "demo finished in $((SECONDS - T0)) s: $MIOU (5 classes present of ADE20K's 150)"
echo "  task checkpoint: $CKPT ($(du -h "$CKPT" | cut -f1))"
echo "  predictions:     $WORK/vis/ (e.g. $PICTURE; left: ground truth, right: prediction)"
