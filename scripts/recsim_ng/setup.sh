#!/usr/bin/env bash
# Set up the separate RecSim NG environment `.venv-recsim` used by scripts/compare_recsim_ng.py.
#
# recsim-ng 0.1.2 runs only with a hand-pinned stack that cannot share the main environment
# (numpy<2, tensorflow 2.15, scipy 1.10 for edward2 0.0.2, gym 0.23), so it lives in its own
# virtual environment.  torch is never installed here.
#
# Usage:  bash scripts/recsim_ng/setup.sh            # idempotent: a complete env is left as is
#         RECSIM_VENV=/some/dir bash scripts/recsim_ng/setup.sh
#         RECSIM_PYTHON=python3.10 bash scripts/recsim_ng/setup.sh   (interpreter 3.9–3.11)
#         bash scripts/recsim_ng/setup.sh --force    # reinstall the pins even if complete
# Exit status: 0 when the environment imports recsim_ng, non-zero with an `error:` line otherwise.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${RECSIM_VENV:-$REPO_ROOT/.venv-recsim}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

# The pins, in one place.  tensorflow-cpu is the CPU-only build of tensorflow 2.15.1 (about a
# third of the download); recsim-ng itself is installed with --no-deps because its metadata
# asks for `tensorflow`, which would pull the full (CUDA-capable) build next to tensorflow-cpu.
PINS=(
  "tensorflow-cpu==2.15.1"
  "tensorflow-probability==0.23.0"
  "scipy==1.10.1"
  "numpy<2"
  "jax==0.4.30"
  "jaxlib==0.4.30"
  "gym==0.23.1"
  "edward2==0.0.2"
  "gin-config"
  "absl-py"
  "matplotlib<3.9"
)
NO_DEPS_PINS=("recsim-ng==0.1.2")
STAMP_TEXT="$(printf '%s\n' "${PINS[@]}" "${NO_DEPS_PINS[@]}")"
STAMP="$VENV/.recsim-pins"

fail() { echo "error: $*" >&2; exit 1; }

smoke_test() {
  CUDA_VISIBLE_DEVICES="" JAX_PLATFORMS=cpu TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" - \
    "$REPO_ROOT/divrec_rl/interop/recsim_ng_stats.py" <<'EOF'
import importlib, sys
for name in ("numpy", "scipy", "tensorflow", "tensorflow_probability", "edward2", "gym",
             "jax", "recsim_ng.core.network",
             "recsim_ng.applications.recsys_partially_observable_rl.interest_evolution_simulation"):
    importlib.import_module(name)
try:
    importlib.import_module("torch")
except ImportError:
    pass
else:
    sys.exit("torch is installed in the RecSim NG environment; it must not be")
import numpy
assert int(numpy.__version__.split(".")[0]) < 2, numpy.__version__
# The module the runner shares with divrec_rl, loaded the way the runner loads it: it must
# work on this interpreter (3.9-3.11) and numpy 1.26.
import importlib.util
spec = importlib.util.spec_from_file_location("recsim_ng_stats", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module.parse_config({}, "smoke test")
EOF
}

supported() {  # tensorflow 2.15.1 ships wheels for CPython 3.9–3.11 only
  command -v "$1" >/dev/null 2>&1 &&
    "$1" -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 11) else 1)' 2>/dev/null
}

pick_python() {
  if [[ -n "${RECSIM_PYTHON:-}" ]]; then
    supported "$RECSIM_PYTHON" || return 1
    echo "$RECSIM_PYTHON"; return 0
  fi
  local c
  for c in python3.11 python3.10 python3.9 python3; do
    if supported "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

START=$SECONDS
if [[ $FORCE -eq 0 && -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]] && smoke_test 2>/dev/null; then
  echo "RecSim NG environment already complete: $VENV"
  exit 0
fi

PY="$(pick_python)" || fail "no Python 3.9–3.11 interpreter found${RECSIM_PYTHON:+ (RECSIM_PYTHON=$RECSIM_PYTHON is not one)}: tensorflow 2.15.1 needs one; set RECSIM_PYTHON"
echo "== creating $VENV with $PY ($("$PY" --version 2>&1))"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV" || fail "python -m venv $VENV failed"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
"${PIP[@]}" install -q --upgrade "pip<25" "setuptools<70" wheel \
  || fail "could not upgrade pip/setuptools in $VENV"
echo "== installing pinned stack: ${PINS[*]}"
"${PIP[@]}" install -q "${PINS[@]}" || fail "pip install of the pinned stack failed (see above)"
echo "== installing without dependencies: ${NO_DEPS_PINS[*]}"
"${PIP[@]}" install -q --no-deps "${NO_DEPS_PINS[@]}" || fail "pip install --no-deps recsim-ng failed"
"${PIP[@]}" check || echo "note: pip check reports the conflicts above (expected: recsim-ng names 'tensorflow', we ship tensorflow-cpu)" >&2

echo "== smoke test"
smoke_test || fail "the RecSim NG environment does not import (see the traceback above)"
printf '%s\n' "$STAMP_TEXT" > "$STAMP"
echo "RecSim NG environment ready: $VENV ($(du -sh "$VENV" | cut -f1), $((SECONDS - START)) s)"
