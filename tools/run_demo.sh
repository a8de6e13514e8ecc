#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job end to end on
# data this project generates (no data set or pretrained weights needed):
#   1. a small ADE20K-layout data set and a small ViT checkpoint (tools/make_demo_assets.py)
#   2. EXPRES + UperNet training with tools/train.py (300 iterations, evaluated twice)
#   3. evaluation of the task checkpoint with tools/test.py, pictures of predictions
# About 5-10 minutes on 2 CPU cores. Output goes to work_dirs/demo/.
#
#   bash tools/run_demo.sh --web [web_demo.py options, e.g. --port 7861]
# then opens the web page (tools/web_demo.py, docs/web_demo.md) on that checkpoint and on
# the few-shot demo's (tools/fewshot_seg/run_demo.sh); demos already run are not run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
PY="${MMSEG_EXPRES_VENV:-$ROOT/.venv}/bin/python"
CONFIG=configs/demo/expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py
WORK=work_dirs/demo
FEWSHOT_CONFIG=configs/demo/expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py
FEWSHOT_CKPT=work_dirs/fewshot_seg_demo/fold0/iter_400.pth
T0=$SECONDS

if [[ "${1:-}" == "--web" ]]; then
  shift
  if [[ -f "$WORK/last_checkpoint" && -f "$(cat "$WORK/last_checkpoint")" ]]; then
    echo "== using the demo checkpoint $(cat "$WORK/last_checkpoint") (delete $WORK to train again)"
  else
    bash "$ROOT/tools/run_demo.sh"
  fi
  if [[ ! -f "$FEWSHOT_CKPT" ]]; then
    echo "== running the few-shot segmentation demo for the one-shot tab"
    bash tools/fewshot_seg/run_demo.sh
  fi
  echo "== starting the web page (Ctrl-C stops it)"
  exec "$PY" tools/web_demo.py "$CONFIG" "$(cat "$WORK/last_checkpoint")" \
    --fewshot "$FEWSHOT_CONFIG" "$FEWSHOT_CKPT" "$@"
fi

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
echo "  try it in a browser: bash tools/run_demo.sh --web"
