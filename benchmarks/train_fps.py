"""End-to-end PPO training throughput (env-steps/s) on synthetic-shop at several catalogue sizes,
for each slate policy in the same run: ``plackett-luce`` (the default), the same without
set-aware scores (``plackett-luce-independent``) and the ``gaussian`` ablation.

Each (policy, size) runs the real training pipeline (``divrec_rl.training.runner.train_run``:
batched VecEnv + VecMonitor, SB3 PPO with the slate policy, our rollout callbacks, TensorBoard)
with the default hyperparameters; held-out evaluation and periodic checkpoints are off so the
figure is the training loop itself.  Reported per (policy, size):

* ``fps`` — SB3's ``time/fps`` at the end: steps / seconds since ``learn()`` started (rollouts,
  PPO updates and logging; the first rollout included);
* ``steady_fps`` — steps / seconds between the first and the last logged rollout (start-up
  excluded);
* ``wall_s`` — the whole ``train_run`` call, catalogue generation and model saving included.

Target on 2 cores: ≥ 3,000 steps/s, nearly flat from 2,000 to 20,000 items.  Machines are
shared: with ``--repeats`` > 1 the best repeat is kept.

    python benchmarks/train_fps.py [--items 2000 20000] [--policies plackett-luce gaussian]
                                   [--total-timesteps 50000] [--repeats 1] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch as th
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.training.config import config_from_args
from divrec_rl.training.runner import train_run

#: Named policy variants: training fields of each.
VARIANTS = {
    "plackett-luce": {"policy": "plackett-luce"},
    "plackett-luce-independent": {"policy": "plackett-luce", "set_aware": False},
    "gaussian": {"policy": "gaussian"},
}


def measure(
    policy: str,
    n_items: int,
    total_timesteps: int,
    n_envs: int,
    logdir: Path,
    device: str = "cpu",
) -> dict[str, float | int | str]:
    """Train ``policy`` once on a catalogue of ``n_items`` on ``device`` and return the
    throughput figures."""
    config, overrides = config_from_args(
        {
            **VARIANTS[policy],
            "total_timesteps": str(total_timesteps),
            "n_envs": str(n_envs),
            "eval_every": "0",
            "checkpoint_every": "0",
            "progress_bar": False,
            "logdir": str(logdir),
            "overrides": [f"catalog.n_items={n_items}"],
            "device": device,
        }
    )
    start = time.perf_counter()
    result = train_run(config, overrides)
    wall = time.perf_counter() - start
    events = EventAccumulator(str(result.run_dir))
    events.Reload()
    fps = events.Scalars("time/fps")[-1].value
    rollouts = events.Scalars("rollout/ep_len_mean")
    first, last = rollouts[0], rollouts[-1]
    steady = (last.step - first.step) / max(last.wall_time - first.wall_time, 1e-9)
    return {
        "policy": policy,
        "device": device,
        "n_items": n_items,
        "steps": result.num_timesteps,
        "fps": float(fps),
        "steady_fps": float(steady),
        "wall_s": wall,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, nargs="+", default=[2000, 20000], help="catalogue sizes")
    p.add_argument(
        "--policies",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="slate policies (plackett-luce-independent = without set-aware scores)",
    )
    p.add_argument("--total-timesteps", type=int, default=50_000, help="steps per measurement")
    p.add_argument("--n-envs", type=int, default=64, help="parallel users (as in training)")
    p.add_argument("--repeats", type=int, default=1, help="runs per size; the best is kept")
    p.add_argument(
        "--devices", nargs="+", choices=["cpu", "cuda"], default=["cpu"], help="training devices"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_items in args.items:
            for policy in args.policies:
                for device in args.devices:
                    runs = [
                        measure(
                            policy, n_items, args.total_timesteps, args.n_envs, Path(tmp), device
                        )
                        for _ in range(args.repeats)
                    ]
                    rows.append(max(runs, key=lambda r: float(r["fps"])))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"\nPPO training throughput, synthetic-shop, {args.n_envs} users, torch {th.__version__}")
    print(
        "| policy | device | catalogue items | steps | fps (SB3 time/fps) | steady fps | wall s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['policy']} | {r['device']} | {r['n_items']:,} | {r['steps']:,} "
            f"| {r['fps']:,.0f} | {r['steady_fps']:,.0f} | {r['wall_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
