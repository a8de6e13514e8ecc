#!/usr/bin/env bash
# Few-shot segmentation end to end on a CPU, on data this project generates
# (docs/fewshot.md, "Segmentation: demo"): PASCAL-layout scenes and a small random ViT,
# meta-training on fold 0's base classes, 1- and 5-shot episodes of its novel classes
# through tools/fewshot_seg/run_folds.py, the table, and one query segmented from one
# support with tools/fewshot_seg/segment.py. Output goes to work_dirs/fewshot_seg_demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${MMSEG_EXPRES_VENV:-$ROOT/.venv}/bin/python"
export PYTHONWARNINGS=ignore  # mmengine's pkg_resources deprecation, once per run
DATA=data/fewshot_seg_demo
WORK=work_dirs/fewshot_seg_demo
CONFIG=configs/demo/expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py
T0=$SECONDS
rm -rf "$DATA" "$WORK"

echo "== 1/3 generating PASCAL-layout scenes and the demo ViT in $DATA"
"$PY" tools/fewshot_seg/make_demo_data.py --out "$DATA"

echo "== 2/3 fold 0: meta-training on its 15 base classes, 1- and 5-shot tests"
"$PY" tools/fewshot_seg/run_folds.py --config "$CONFIG" --work-dir "$WORK" --folds 0 \
  --shots 1 5

echo "== 3/3 segmenting a query from one support (class 4, boat: novel in fold 0)"
VOC="$DATA/VOCdevkit/VOC2012"
"$PY" tools/fewshot_seg/segment.py "$CONFIG" "$WORK/fold0/iter_400.pth" \
  --query "$VOC/JPEGImages/2011_000003.jpg" --supports "$VOC/JPEGImages/2011_000023.jpg" \
  --masks "$VOC/SegmentationClassAug/2011_000023.png" --class-id 4 \
  --out "$WORK/segment/query.png"
echo
echo "demo finished in $((SECONDS - T0)) s"
