#!/usr/bin/env bash
# Distributed testing with torchrun, on one machine or several:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_run.sh" test.py "$3" "$1" "$2" "${@:4}"
