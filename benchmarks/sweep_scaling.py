"""Wall time of an 8-trial sweep with 1 and 2 concurrent trials, and Ray's per-trial overhead.

The sweep is 4 λ values × 2 seeds of the same small PPO run (``--steps`` steps on a 300-item
synthetic shop, 16 parallel users, validation every ``--steps``/2 steps, checkpoints at the
same steps), run as ``divrec-rl sweep`` in a fresh process (local in-process Ray, started and
stopped by the command, included in the figure).  The reference is ``divrec-rl train`` with the
same settings, also a fresh process each (``--train-repeats`` runs, mean wall time):

* ``train_s`` — one plain run, process start to exit;
* ``sweep_1_s`` / ``sweep_2_s`` — the whole sweep with ``--max-concurrent`` 1 and 2;
* ``speedup`` — ``sweep_1_s / sweep_2_s``;
* ``overhead_per_trial_s`` — ``(sweep_1_s − 8 · train_s) / 8``: what Ray adds per trial when
  trials run one at a time, against running the 8 trainings one after another by hand.  (Each
  plain run pays its own Python start-up and imports; a sweep pays Ray's start-up once.)

    python benchmarks/sweep_scaling.py [--steps 4096] [--train-repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _cli import positive_int, run

TRIALS = 8


def settings(steps: int) -> dict[str, str]:
    """The train settings every run uses (strings, as flags take them)."""
    half = str(max(steps // 2, 1))
    return {
        "total_timesteps": str(steps),
        "n_envs": "16",
        "n_steps": "32",
        "batch_size": "256",
        "n_epochs": "2",
        "eval_every": half,
        "eval_users": "32",
        "checkpoint_every": half,
    }


def timed(cmd: list[str]) -> float:
    """Wall seconds of ``cmd`` in a fresh process (fails loudly on a non-zero exit)."""
    started = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{cmd[3]} failed:\n{res.stderr[-3000:]}")
    return time.perf_counter() - started


def parser() -> argparse.ArgumentParser:
    """The flags; counts are checked here, before the first run (not after both sweeps)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=positive_int, default=4096, help="env-steps per run")
    p.add_argument("--train-repeats", type=positive_int, default=2,
                   help="plain training runs; their mean wall time is the reference")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> None:
    """Time the plain runs and both sweeps; print the figures as JSON."""
    args = parser().parse_args(argv)
    cli = [sys.executable, "-m", "divrec_rl.cli"]
    train = settings(args.steps)
    overrides = ["catalog.n_items=300", "catalog.n_categories=8"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in train.items()]
        sets = [x for o in overrides for x in ("--set", o)]
        plain = [
            timed(
                [
                    *cli,
                    "train",
                    *flags,
                    *sets,
                    "--no-progress-bar",
                    "--logdir",
                    str(root / f"train{i}"),
                ]
            )
            for i in range(args.train_repeats)
        ]
        sweep = {
            "scenario": "synthetic-shop",
            "overrides": {o.split("=")[0]: int(o.split("=")[1]) for o in overrides},
            "train": {k: int(v) for k, v in train.items()},
            "space": {"reward.diversity_weight": {"grid": [0.0, 0.1, 0.3, 0.5]}},
            "seeds": [0, 1],
        }
        path = root / "bench.yaml"
        path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
        walls = {
            n: timed(
                [*cli, "sweep", str(path), "--out", str(root / f"s{n}"), "--max-concurrent", str(n)]
            )
            for n in (1, 2)
        }
    train_s = sum(plain) / len(plain)
    print(
        json.dumps(
            {
                "cpus": os.cpu_count(),
                "steps_per_trial": args.steps,
                "trials": TRIALS,
                "train_s": round(train_s, 2),
                "train_runs_s": [round(x, 2) for x in plain],
                "sweep_1_s": round(walls[1], 2),
                "sweep_2_s": round(walls[2], 2),
                "speedup": round(walls[1] / walls[2], 2),
                "overhead_per_trial_s": round((walls[1] - TRIALS * train_s) / TRIALS, 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    run(main)
