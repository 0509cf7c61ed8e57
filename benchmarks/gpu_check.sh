#!/usr/bin/env bash
# One-command GPU check (under 8 minutes): the GPU's name, PPO training env-steps/s on cuda vs
# cpu with the same settings (benchmarks/train_fps.py), and one BERT fine-tuning epoch's wall time
# on cuda (benchmarks/finetune_epoch.py: synthetic data unless DATASET names a dataset or folder;
# the default MiniLM encoder when installed, else a random one of its shape).
#
#   bash benchmarks/gpu_check.sh            # PYTHON=... to choose the interpreter
#   DATASET=movielens-1m bash benchmarks/gpu_check.sh
#
# Exits 3 with a one-line message when torch sees no CUDA GPU; each stage has its own time
# limit (PPO 4 min, fine-tuning 3 min), so the whole check stays under 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
STEPS="${PPO_STEPS:-32768}"

if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA GPU visible to torch (torch.cuda.is_available() is False);" \
        "nothing measured" >&2
    exit 3
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
