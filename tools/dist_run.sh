#!/usr/bin/env bash
# torchrun launcher shared by dist_train.sh and dist_test.sh:
#   bash tools/dist_run.sh TOOL NPROC_PER_NODE [TOOL arguments]
# Multi-node through NNODES, NODE_RANK, MASTER_ADDR and PORT. Without CUDA the processes
# run on the CPU with the gloo backend.
set -euo pipefail
TOOL=$1
NPROC=$2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-$( [[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python)}

exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$ROOT/tools/$TOOL" "${@:3}" --launcher pytorch
