#!/usr/bin/env bash
# Set up everything mmseg-expres needs on a fresh machine, idempotently:
#   1. a virtual environment (default: <repo>/.venv),
#   2. torch/torchvision and the build tools (requirements/build.txt),
#   3. mmcv 2.1.0 with compiled CPU ops, built from its source release once and cached
#      as a wheel (default cache: ~/.cache/mmseg-expres/wheels), because PyPI has no
#      mmcv 2.1.0 wheel and mmsegmentation 1.2.2 refuses mmcv >= 2.2.0,
#   4. the runtime, test, demo and deploy requirements and this package (editable),
#   5. as root on Debian, the chromium and chromium-driver packages that the web page's
#      browser test drives (apt; skipped when /usr/bin/chromium is there).
# A second run with unchanged requirements returns in about a second; a second set-up
# on the same machine (new clone) reuses the cached mmcv wheel.
#
# Environment overrides:
#   MMSEG_EXPRES_VENV   where the virtual environment lives   (default <repo>/.venv)
#   MMSEG_EXPRES_CACHE  where the built mmcv wheel is cached   (default ~/.cache/mmseg-expres)
#   PYTHON              interpreter used to create the venv    (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMSEG_EXPRES_VENV:-$ROOT/.venv}"
CACHE="${MMSEG_EXPRES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmseg-expres}"
PYTHON="${PYTHON:-python3}"

MMCV_VERSION=2.1.0
MMCV_SDIST_URL="https://files.pythonhosted.org/packages/a7/19/f97f0fd4d432113a232e75f965335be6b7bb6557ae9faf8051e9a012cadd/mmcv-2.1.0.tar.gz"
MMCV_SDIST_SHA256=d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f

log() { echo "[setup_env] $*" >&2; }

# The stamp records the requirement files this venv was set up from; when they change,
# the set-up runs again.
req_hash() {
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16
}
# The web page's browser test (tests/test_web_demo) drives the system's Chromium; checked
# before the stamp, as a machine can keep a venv and lose its packages.
install_chromium() {
  [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] && return 0
  if [[ "$(id -u)" != 0 || ! -f /etc/debian_version ]]; then
    log "no Chromium: the browser test of the web page will be skipped (on Debian, as root:" \
        "apt-get install chromium chromium-driver)"
    return 0
  fi
  log "installing chromium and chromium-driver with apt (the web page's browser test)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      chromium chromium-driver; } >/tmp/mmseg_expres_apt.log 2>&1 ||
    log "apt-get could not install chromium (see /tmp/mmseg_expres_apt.log): the" \
        "browser test of the web page will be skipped"
}
install_chromium

STAMP="$VENV/.mmseg_expres_setup_$(req_hash)"
if [[ -f "$STAMP" ]]; then
  exit 0
fi

T0=$SECONDS
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtual environment in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)
# pip's output without the machine-specific "Location ... is ignored" noise.
pip_install() { "${PIP[@]}" install "$@" 2>&1 | { grep -v "WARNING: Location" || true; }; }

log "installing torch and build requirements"
pip_install -r "$ROOT/requirements/build.txt"

# The wheel is specific to the torch build it links against and to the Python ABI.
TORCH_TAG="$("$PY" -c 'import sys, torch; v = torch.__version__.replace("+", "_"); print(f"torch{v}-cp{sys.version_info[0]}{sys.version_info[1]}")')"
WHEEL_DIR="$CACHE/wheels/$TORCH_TAG"
mkdir -p "$WHEEL_DIR"

build_mmcv_wheel() {
  local work
  work="$(mktemp -d "$CACHE/build.XXXXXX")"
  log "building mmcv $MMCV_VERSION with CPU ops (about 20 minutes on 2 cores; done once per machine)"
  curl -sSfL --retry 3 -o "$work/mmcv.tar.gz" "$MMCV_SDIST_URL"
  echo "$MMCV_SDIST_SHA256  $work/mmcv.tar.gz" | sha256sum -c --quiet -
  tar -xzf "$work/mmcv.tar.gz" -C "$work"
  # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17.
  sed -i "s/'-std=c++17'/'-std=c++20'/g" "$work/mmcv-$MMCV_VERSION/setup.py"
  (cd "$work/mmcv-$MMCV_VERSION" &&
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
      "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$work/dist" . >"$work/build.log" 2>&1) || {
    log "mmcv build failed; the log is $work/build.log"; tail -30 "$work/build.log" >&2; exit 1; }
  mv "$work"/dist/mmcv-*.whl "$WHEEL_DIR/"
  rm -rf "$work"
}

# Two set-ups at once (two clones, a test run and a demo) must not build twice.
exec 9>"$CACHE/wheels/.lock"
flock 9
if ! ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  build_mmcv_wheel
else
  log "using cached mmcv wheel from $WHEEL_DIR"
fi
flock -u 9

log "installing mmcv, runtime, test, demo and deploy requirements"
pip_install "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl
# demo.txt is the `demo` extra (`pip install -e .[demo]`): the web page, tools/web_demo.py;
# deploy.txt the `deploy` extra: ONNX export and onnxruntime (tools/deploy/)
pip_install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  -r "$ROOT/requirements/demo.txt" -r "$ROOT/requirements/deploy.txt"
pip_install --no-deps --no-build-isolation -e "$ROOT"

"$PY" -m mmseg_expres.check_env
rm -f "$VENV"/.mmseg_expres_setup_*
touch "$STAMP"
log "set-up finished in $((SECONDS - T0)) s"
