"""End-to-end PPO training throughput (env-steps/s) on synthetic-shop at several catalogue sizes,
for each slate policy in the same run: ``plackett-luce`` (the default), the same without
set-aware scores (``plackett-luce-independent``) and the ``gaussian`` ablation.

Each (policy, size) runs the real training pipeline (``divrec_rl.training.runner.train_run``:
batched VecEnv + VecMonitor, SB3 PPO with the slate policy, our rollout callbacks, TensorBoard)
with the default hyperparameters; held-out evaluation and periodic checkpoints are off so the
figure is the training loop itself.  Reported per (policy, size):

* ``fps`` — SB3's ``time/fps`` at the end: steps / seconds since ``learn()`` started (rollouts,
  PPO updates and logging; the first rollout included);
* ``steady_fps`` — steps / seconds between the second and the last logged rollout: start-up
  excluded, including the first PPO update, in which torch's optimiser imports
  ``torch._dynamo`` on first use (≈ 1 s, once per process);
* ``wall_s`` — the whole ``train_run`` call, catalogue generation and model saving included;
* where ``learn()``'s time goes (:data:`SHARES`): PPO's updates, the simulator's steps, the
  policy's forward passes in the rollouts, the rollout buffer; the rest is SB3's loop.

``--update-threads`` sets the torch threads of PPO's updates (``train --update-threads``; 0 =
the CPUs available, the default); ``--torch-threads`` those of the rollouts (default 1).
Targets on 2 cores: ≥ 6,000 steps/s for the default policy, flat from 2,000 to 20,000 items.
Run it on an idle machine (extra torch threads wait on busy cores); with ``--repeats`` > 1 the
best repeat is kept.

    python benchmarks/train_fps.py [--items 2000 20000] [--policies plackett-luce gaussian]
                                   [--total-timesteps 50000] [--repeats 1] [--devices cpu cuda]
                                   [--update-threads 0 1 2] [--torch-threads 1 2]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.envs import SlateRecVecEnv
from divrec_rl.training.config import config_from_args
from divrec_rl.training.runner import train_run

#: Named policy variants: training fields of each.
VARIANTS = {
    "plackett-luce": {"policy": "plackett-luce"},
    "plackett-luce-independent": {"policy": "plackett-luce", "set_aware": False},
    "gaussian": {"policy": "gaussian"},
}


#: Where a training run's time goes: (class, method) timed, and the phase it is charged to.
PHASES = {
    "learn": (OnPolicyAlgorithm, "learn"),
    "update": (PPO, "train"),
    "simulator": (SlateRecVecEnv, "step_wait"),
    "policy": (ActorCriticPolicy, "forward"),
    "buffer": (RolloutBuffer, "add"),
}


#: The phases reported as shares of ``learn``.
SHARES = ("update", "simulator", "policy", "buffer")


@contextlib.contextmanager
def phase_timer() -> Iterator[dict[str, float]]:
    """Seconds spent in each of :data:`PHASES` while the block runs (the methods are wrapped
    for the block only; ``learn`` is the whole training loop).  ``policy`` counts the
    rollouts' forward passes (the update's go through ``evaluate_actions``, inside
    ``update``)."""
    spent = dict.fromkeys(PHASES, 0.0)
    originals = {name: cls.__dict__[attr] for name, (cls, attr) in PHASES.items()}

    def timed(name: str, method: Callable) -> Callable:
        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    for name, (cls, attr) in PHASES.items():
        setattr(cls, attr, timed(name, originals[name]))
    try:
        yield spent
    finally:
        for name, (cls, attr) in PHASES.items():
            setattr(cls, attr, originals[name])


def measure(
    policy: str,
    n_items: int,
    total_timesteps: int,
    n_envs: int,
    logdir: Path,
    device: str = "cpu",
    update_threads: int = 0,
    torch_threads: int = 1,
) -> dict[str, float | int | str]:
    """Train ``policy`` once on a catalogue of ``n_items`` on ``device`` and return the
    throughput figures and the share of ``learn()``'s time in each of :data:`SHARES`."""
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
            "update_threads": str(update_threads),
            "torch_threads": str(torch_threads),
        }
    )
    start = time.perf_counter()
    with phase_timer() as spent:
        result = train_run(config, overrides)
    wall = time.perf_counter() - start
    events = EventAccumulator(str(result.run_dir))
    events.Reload()
    fps = events.Scalars("time/fps")[-1].value
    rollouts = events.Scalars("rollout/ep_len_mean")
    # SB3 logs a rollout before the update that follows it: the second logged rollout comes
    # after the first update and its one-off import (module docstring).
    first, last = rollouts[1 if len(rollouts) > 2 else 0], rollouts[-1]
    steady = (last.step - first.step) / max(last.wall_time - first.wall_time, 1e-9)
    return {
        "policy": policy,
        "device": device,
        "update_threads": config.update_threads,
        "torch_threads": config.torch_threads,
        "n_items": n_items,
        "steps": result.num_timesteps,
        "fps": float(fps),
        "steady_fps": float(steady),
        "wall_s": wall,
        **{f"{name}_share": spent[name] / spent["learn"] for name in SHARES},
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
    for flag, default, phase in (
        ("--update-threads", 0, "PPO's updates (0 = the CPUs available, the default)"),
        ("--torch-threads", 1, "the rollouts (train's --torch-threads, default 1)"),
    ):
        help = f"torch threads of {phase}"
        p.add_argument(flag, type=int, nargs="+", default=[default], help=help)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()
    rows = []
    grid = itertools.product(
        args.items, args.policies, args.devices, args.update_threads, args.torch_threads
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n_items, policy, device, threads, rollout in grid:
            settings = (policy, n_items, args.total_timesteps, args.n_envs, Path(tmp), device)
            runs = [measure(*settings, threads, rollout) for _ in range(args.repeats)]
            rows.append(max(runs, key=lambda r: float(r["fps"])))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"\nPPO training throughput, synthetic-shop, {args.n_envs} users, torch {th.__version__}")
    print(
        "| policy | device | rollout threads | update threads | catalogue items | steps "
        "| fps (SB3 time/fps) "
        "| steady fps | wall s | update % | simulator % | policy act % | buffer % |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        shares = " | ".join(f"{100 * float(r[f'{name}_share']):.0f}" for name in SHARES)
        print(
            f"| {r['policy']} | {r['device']} | {r['torch_threads']} | {r['update_threads']} "
            f"| {r['n_items']:,} "
            f"| {r['steps']:,} | {r['fps']:,.0f} | {r['steady_fps']:,.0f} | {r['wall_s']:.1f} "
            f"| {shares} |"
        )
    print(
        "\n(% of learn()'s time: PPO's updates; the simulator's steps; the policy's rollout "
        "forward passes; the rollout buffer's adds; the rest is SB3's loop, observation "
        "conversion and callbacks.)"
    )


if __name__ == "__main__":
    main()
