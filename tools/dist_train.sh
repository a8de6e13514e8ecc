#!/usr/bin/env bash
# Distributed training with torchrun, on one machine or several:
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_run.sh" train.py "$2" "$1" "${@:3}"
