#!/usr/bin/env bash
# The few-shot protocol end to end on a CPU, on data this project generates
# (docs/fewshot.md, "Demo"): two data sets of 4 classes in the benchmark's layout,
# their 1- and 2-shot lists for seeds 0, 1, 2, the checker, the protocol's 12 runs of
# tools/train.py (configs/demo/expres_vit-demo_1xb4-100e_fgvc-fewshot.py: a small random
# ViT) and the table. Output goes to work_dirs/fewshot_demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${MMSEG_EXPRES_VENV:-$ROOT/.venv}/bin/python"
export PYTHONWARNINGS=ignore  # mmengine's pkg_resources deprecation, once per run
DATA=data/fewshot_demo
WORK=work_dirs/fewshot_demo
CONFIG=configs/demo/expres_vit-demo_1xb4-100e_fgvc-fewshot.py
T0=$SECONDS
rm -rf "$DATA" "$WORK"

echo "== 1/5 generating two 4-class data sets in $DATA"
"$PY" tools/fewshot/make_demo_data.py --out "$DATA" --datasets demo-a demo-b --classes 4

echo "== 2/5 drawing the 1- and 2-shot lists, seeds 0 1 2"
for name in demo-a demo-b; do
  "$PY" tools/fewshot/make_fewshot_lists.py "$DATA/$name/annotations/train_meta.list" \
    --num-classes 4 --shots 1 2 --seeds 0 1 2
done

echo "== 3/5 checking the folder"
"$PY" tools/fewshot/check_fewshot.py "$DATA" --datasets demo-a demo-b \
  --custom-num-classes 4 --shots 1 2

echo "== 4/5 the protocol: 2 data sets x 2 shots x 3 seeds = 12 runs"
"$PY" tools/fewshot/run_protocol.py --fewshot-root "$DATA" --datasets demo-a demo-b \
  --shots 1 2 --seeds 0 1 2 --config "$CONFIG" --work-dir "$WORK" \
  --cfg-options custom_num_classes=4

echo "== 5/5 the table"
"$PY" tools/fewshot/aggregate.py "$WORK/results.json" --names "EXPRES (demo ViT)"
echo
echo "demo finished in $((SECONDS - T0)) s"
