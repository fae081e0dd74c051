#!/usr/bin/env bash
# Create (or reuse) the pinned virtual environment that both README commands use.
#
#   source <(tools/bootstrap.sh --print-env)   # or: eval "$(tools/bootstrap.sh --print-env)"
#
# The environment lives outside the repository, in
#   ${VSR_MULTIGRID_CACHE:-$HOME/.cache/vsr_multigrid}/venv-<hash>
# where <hash> is taken from requirements*.txt and this script: it is reused
# while they are unchanged, and a change builds a new one beside the old
# (removed once the new one works), so running jobs are never disturbed. mmcv 2.1.0 has no wheel for torch 2.14, so it is built
# from its sdist once per machine; the wheel is kept in $CACHE/wheels and pip's
# own cache is left in place, so later environments install it in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${VSR_MULTIGRID_CACHE:-$HOME/.cache/vsr_multigrid}"
LOCK="$ROOT/requirements-lock.txt"
WHEELS="$CACHE/wheels"
PY="${PYTHON:-python3}"
MMCV_VERSION=2.1.0

log() { echo "[bootstrap] $*" >&2; }

# The environment's name hashes the pins and the recipe above the END OF
# RECIPE line, so edits below it (the package's own install) reuse the venv.
recipe="$(sed '/^# END OF RECIPE/q' "$ROOT/tools/bootstrap.sh")"
stamp="$( { cat "$ROOT/requirements.txt" "$LOCK"; echo "$recipe"; } | sha256sum | cut -c1-16)"
VENV="$CACHE/venv-$stamp"

build_mmcv_wheel() {
  # mmcv's setup.py imports pkg_resources and torch: build without isolation
  # against the venv's torch and setuptools 80.x. torch >= 2.10 headers need
  # C++20 while mmcv 2.1.0 passes -std=c++17, so the flag is raised in a copy
  # of the sdist. CUDA ops are built when a GPU toolchain is visible.
  local work; work="$(mktemp -d)"
  log "building mmcv $MMCV_VERSION from source (about 30 minutes on 2 cores, once per machine)"
  "$VENV/bin/pip" download --no-deps --no-binary :all: --no-build-isolation \
      "mmcv==$MMCV_VERSION" -d "$work" >&2
  tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
  sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$work/mmcv-$MMCV_VERSION/setup.py"
  ( cd "$work/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
      "$VENV/bin/pip" wheel --no-deps --no-build-isolation -w "$WHEELS" . >&2 )
  rm -rf "$work"
}

if [[ -f "$VENV/.vsr_multigrid_stamp" ]]; then
  log "reusing $VENV"
else
  log "creating $VENV (requirements changed or first run)"
  rm -rf "$VENV"
  mkdir -p "$CACHE" "$WHEELS"
  "$PY" -m venv "$VENV"
  pin() { grep -E "^$1==" "$ROOT/requirements.txt"; }
  "$VENV/bin/pip" install -q -c "$LOCK" "$(pin setuptools)" "$(pin wheel)" "$(pin ninja)" \
      "$(pin numpy)" "$(pin torch)" "$(pin torchvision)" >&2
  if ! ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
    build_mmcv_wheel
  fi
  # basicsr's sdist imports torch in setup.py and requires tb-nightly: install
  # it alone without isolation or dependencies; its real needs are pinned here.
  grep -vE '^(basicsr|scikit-video|mmcv|torch|torchvision)==' "$ROOT/requirements.txt" \
      | grep -E '^[A-Za-z]' > "$CACHE/requirements.rest.txt"
  "$VENV/bin/pip" install -q --find-links "$WHEELS" "mmcv==$MMCV_VERSION" \
      -r "$CACHE/requirements.rest.txt" -c "$ROOT/requirements.txt" -c "$LOCK" >&2
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation "$(pin basicsr)" \
      "$(pin scikit-video)" >&2
  "$VENV/bin/python" -c 'import importlib.util, mmagic, mmcv.ops; assert importlib.util.find_spec("basicsr")' >&2 \
      || { log "the new environment does not import mmagic/mmcv.ops"; exit 1; }
  echo "$stamp" > "$VENV/.vsr_multigrid_stamp"
  # Older environments of this project are no longer needed.
  for old in "$CACHE"/venv "$CACHE"/venv-*; do
    [[ "$old" != "$VENV" && -d "$old" ]] && rm -rf "$old"
  done
fi

# END OF RECIPE (the venv is named after everything above this line)

# The package itself: an editable install pointing at this checkout (cheap, so
# a second clone reusing the cached venv tests its own code). Skipped when it
# already points here: reinstalling rewrites the import hook, and a training
# run started at that moment from this venv would fail to import the package.
installed=$(cd / && "$VENV/bin/python" -c 'import os, vsr_multigrid as m; print(os.path.dirname(os.path.dirname(os.path.realpath(m.__file__))))' 2>/dev/null || true)
if [[ "$installed" != "$(cd "$ROOT" && pwd -P)" ]]; then
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" >&2
fi

if [[ "${1:-}" == "--print-env" ]]; then
  # NO_ALBUMENTATIONS_UPDATE: albumentations would otherwise query PyPI at import.
  echo "export PATH=\"$VENV/bin:\$PATH\"; export VIRTUAL_ENV=\"$VENV\"; export NO_ALBUMENTATIONS_UPDATE=1"
fi
