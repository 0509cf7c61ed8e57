#!/usr/bin/env bash
# One-command GPU check (under 8 minutes): the GPU's name, PPO training env-steps/s on cuda vs
# cpu with the same settings (benchmarks/train_fps.py), and one BERT fine-tuning epoch's wall time
# on cuda (benchmarks/finetune_epoch.py: synthetic data unless DATASET names a dataset or folder;
# the default MiniLM encoder when installed, else a random one of its shape).
#
#   bash benchmarks/gpu_check.sh            # PYTHON=... to choose the interpreter
#   DATASET=movielens-1m bash benchmarks/gpu_check.sh
#
# Exits 2 with a one-line message when PYTHON is not an executable or cannot import torch, and
# 3 when torch sees no CUDA GPU; each stage has its own time limit (PPO 4 min, fine-tuning
# 3 min), so the whole check stays under 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
    # An interpreter asked for by name must be the one measured: never fall back silently.
    PY="$(command -v -- "$PYTHON" || true)"
    if [ -z "$PY" ] || [ ! -f "$PY" ] || [ ! -x "$PY" ]; then
        echo "gpu_check: PYTHON=$PYTHON: not an executable" >&2
        exit 2
    fi
else
    PY=.venv/bin/python
    [ -x "$PY" ] || PY="$(command -v python3)"
fi
STEPS="${PPO_STEPS:-32768}"

# One interpreter start (importing torch takes seconds): exit 10 = torch not importable (the
# reason on stdout), 11 = torch sees no CUDA GPU.
found=0
why="$("$PY" -c '
import sys
try:
    import torch
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(10)
sys.exit(0 if torch.cuda.is_available() else 11)
' 2>/dev/null)" || found=$?
if [ "$found" -eq 11 ]; then
    echo "gpu_check: no CUDA GPU visible to torch (torch.cuda.is_available() is False);" \
        "nothing measured" >&2
    exit 3
elif [ "$found" -ne 0 ]; then
    echo "gpu_check: torch not importable by $PY (${why:-exit $found}); nothing measured" >&2
    exit 2
fi

echo "== GPU"
"$PY" -c "import torch; print(torch.cuda.get_device_name(0), '| torch', torch.__version__, \
'| CUDA', torch.version.cuda)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader || true

echo "== PPO training throughput, cuda vs cpu (same settings, ${STEPS} steps each)"
timeout 240 "$PY" benchmarks/train_fps.py --devices cuda cpu --items 2000 \
    --policies plackett-luce --total-timesteps "$STEPS" \
    || echo "gpu_check: PPO stage failed or ran past 4 minutes (exit $?)"

echo "== BERT fine-tuning epoch on cuda"
timeout 180 "$PY" benchmarks/finetune_epoch.py --device cuda ${DATASET:+--dataset "$DATASET"} \
    || echo "gpu_check: fine-tuning stage failed or ran past 3 minutes (exit $?)"
