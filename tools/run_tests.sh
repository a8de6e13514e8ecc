#!/usr/bin/env bash
# The README's test command: set everything up (idempotent; see tools/setup_env.sh),
# then run the test suite. Extra arguments go to pytest, e.g. `-k one_way -x`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
VENV="${MMSEG_EXPRES_VENV:-$ROOT/.venv}"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest tests "$@"
