#!/usr/bin/env bash
# The README's test command: set everything up (idempotent; see tools/setup_env.sh),
# then run the test suite. Extra arguments go to pytest, e.g. `-k one_way -x`.
#
# The suite runs on every core (pytest-xdist): most of its time is tools started as
# their own processes, which import torch and mmseg single-threaded. Each test file stays
# on one worker (--dist loadfile), so a module's trained run (its fixture) is made once.
# `-n 0` after the command runs it in one process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
VENV="${MMSEG_EXPRES_VENV:-$ROOT/.venv}"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest tests -n auto --dist loadfile "$@"
