"""End-to-end PPO training throughput (env-steps/s) on synthetic-shop at several catalogue sizes,
for each slate policy in the same run: ``plackett-luce`` (the default), the same without
set-aware scores (``plackett-luce-independent``) and the ``gaussian`` ablation.

Each (policy, size) runs the real training pipeline (``divrec_rl.training.runner.train_run``:
batched VecEnv + VecMonitor, SB3 PPO with the slate policy, our rollout callbacks, TensorBoard)
with the default hyperparameters; held-out evaluation and periodic checkpoints are off so the
figure is the training loop itself.  Reported per (policy, size):

* ``fps`` — SB3's ``time/fps`` at the end: steps / seconds since ``learn()`` started (rollouts,
  PPO updates and logging; the first rollout included);
* ``steady_fps`` — steps / seconds between the second and the last logged rollout: the start-up
  and the first PPO update are excluded (in that update torch's optimiser imports
  ``torch._dynamo`` on first use, ≈ 1 s, once per process); ``n/a`` (JSON ``null``) when
  fewer than 3 rollouts were logged, as there is then no such window;
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch as th
from _cli import nonnegative_int, positive_int, run
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.agents.rollout_buffer import SlateRolloutBuffer
from divrec_rl.envs import SlateRecVecEnv
from divrec_rl.resolve import resolve_scenario
from divrec_rl.training.config import config_from_args, parse_set
from divrec_rl.training.device import resolve_device
from divrec_rl.training.runner import train_run

#: Named policy variants: training fields of each.
VARIANTS = {
    "plackett-luce": {"policy": "plackett-luce"},
    "plackett-luce-independent": {"policy": "plackett-luce", "set_aware": False},
    "gaussian": {"policy": "gaussian"},
}


#: Where a training run's time goes: the phase each timed method is charged to, and the
#: (class, method) pairs timed for it.  The buffer's ``add`` is timed on every rollout buffer
#: class that defines one: the slate policy's buffer (:class:`SlateRolloutBuffer`) is a
#: ``DictRolloutBuffer``, whose ``add`` does not call ``RolloutBuffer.add``.
PHASES: dict[str, tuple[tuple[type, str], ...]] = {
    "learn": ((OnPolicyAlgorithm, "learn"),),
    "update": ((PPO, "train"),),
    "simulator": ((SlateRecVecEnv, "step_wait"),),
    "policy": ((ActorCriticPolicy, "forward"),),
    "buffer": tuple(
        (cls, "add")
        for cls in (RolloutBuffer, DictRolloutBuffer, SlateRolloutBuffer)
        if "add" in cls.__dict__
    ),
}


#: The phases reported as shares of ``learn``.
SHARES = ("update", "simulator", "policy", "buffer")


@contextlib.contextmanager
def phase_timer(clock: Callable[[], float] = time.perf_counter) -> Iterator[dict[str, float]]:
    """Seconds (of ``clock``) spent in each of :data:`PHASES` while the block runs (the methods
    are wrapped for the block only; ``learn`` is the whole training loop).  ``policy`` counts
    the rollouts' forward passes (the update's go through ``evaluate_actions``, inside
    ``update``).  A phase's method called from inside the same phase (a subclass's ``add``
    calling its parent's) is counted once, by the outermost call."""
    spent = dict.fromkeys(PHASES, 0.0)
    depth = dict.fromkeys(PHASES, 0)
    originals = {
        (cls, attr): cls.__dict__[attr] for pairs in PHASES.values() for cls, attr in pairs
    }

    def timed(name: str, method: Callable) -> Callable:
        def wrapper(*args: object, **kwargs: object) -> object:
            if depth[name]:
                return method(*args, **kwargs)
            depth[name] += 1
            start = clock()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += clock() - start
                depth[name] -= 1

        return wrapper

    for name, pairs in PHASES.items():
        for cls, attr in pairs:
            setattr(cls, attr, timed(name, originals[cls, attr]))
    try:
        yield spent
    finally:
        for (cls, attr), method in originals.items():
            setattr(cls, attr, method)


def steady_fps(rollouts: Sequence[tuple[int, float]]) -> float | None:
    """Env-steps per second between the second and the last logged rollout, from the
    ``(step, wall time in s)`` of each logged rollout; ``None`` with fewer than 3 rollouts.

    SB3 logs a rollout before the update that follows it: the second logged rollout comes after
    the first update and its one-off import (module docstring), so the window starts there."""
    if len(rollouts) < 3:
        return None
    (first_step, first_time), (last_step, last_time) = rollouts[1], rollouts[-1]
    return (last_step - first_step) / max(last_time - first_time, 1e-9)


def measure(
    policy: str,
    n_items: int,
    total_timesteps: int,
    n_envs: int,
    logdir: Path,
    device: str = "cpu",
    update_threads: int = 0,
    torch_threads: int = 1,
) -> dict[str, float | int | str | None]:
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
    # time/fps is logged with every rollout (rollout/* only once an episode has ended).
    logged = events.Scalars("time/fps")
    steady = steady_fps([(point.step, point.wall_time) for point in logged])
    return {
        "policy": policy,
        "device": device,
        "update_threads": config.update_threads,
        "torch_threads": config.torch_threads,
        "n_items": n_items,
        "steps": result.num_timesteps,
        "fps": float(logged[-1].value),
        "steady_fps": steady,
        "wall_s": wall,
        **{f"{name}_share": spent[name] / spent["learn"] for name in SHARES},
    }


def parser() -> argparse.ArgumentParser:
    """The flags; every count is checked here, before any training."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=positive_int, nargs="+", default=[2000, 20000],
                   help="catalogue sizes")  # fmt: skip
    p.add_argument(
        "--policies",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="slate policies (plackett-luce-independent = without set-aware scores)",
    )
    p.add_argument("--total-timesteps", type=positive_int, default=50_000,
                   help="steps per measurement")  # fmt: skip
    p.add_argument(
        "--n-envs", type=positive_int, default=64, help="parallel users (as in training)"
    )
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="runs per size; the best is kept")  # fmt: skip
    p.add_argument(
        "--devices", nargs="+", choices=["cpu", "cuda"], default=["cpu"], help="training devices"
    )
    for flag, default, phase in (
        ("--update-threads", 0, "PPO's updates (0 = the CPUs available, the default)"),
        ("--torch-threads", 1, "the rollouts (train's --torch-threads, default 1)"),
    ):
        help = f"torch threads of {phase}"
        p.add_argument(flag, type=nonnegative_int, nargs="+", default=[default], help=help)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def check_settings(args: argparse.Namespace) -> None:
    """Raise the project's error for a setting no measurement could run with (a catalogue size
    the scenario refuses, a device not here, a training field out of range) before the first
    measurement, rather than after the ones before it."""
    for n_items in args.items:
        resolve_scenario("synthetic-shop", None, parse_set([f"catalog.n_items={n_items}"]))
    for device in args.devices:
        resolve_device(device, "--devices")
    config_from_args({"total_timesteps": str(args.total_timesteps), "n_envs": str(args.n_envs)})


def print_table(rows: list[dict], n_envs: int) -> None:
    """The measurements as a Markdown table (shares in % of ``learn()``'s time)."""
    print(f"\nPPO training throughput, synthetic-shop, {n_envs} users, torch {th.__version__}")
    print(
        "| policy | device | rollout threads | update threads | catalogue items | steps "
        "| fps (SB3 time/fps) "
        "| steady fps | wall s | update % | simulator % | policy act % | buffer % |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        shares = " | ".join(f"{100 * float(r[f'{name}_share']):.0f}" for name in SHARES)
        steady = "n/a" if r["steady_fps"] is None else f"{r['steady_fps']:,.0f}"
        print(
            f"| {r['policy']} | {r['device']} | {r['torch_threads']} | {r['update_threads']} "
            f"| {r['n_items']:,} "
            f"| {r['steps']:,} | {r['fps']:,.0f} | {steady} | {r['wall_s']:.1f} "
            f"| {shares} |"
        )
    print(
        "\n(% of learn()'s time: PPO's updates; the simulator's steps; the policy's rollout "
        "forward passes; the rollout buffer's adds; the rest is SB3's loop, observation "
        "conversion and callbacks.  steady fps: n/a with fewer than 3 logged rollouts.)"
    )


def main(argv: list[str] | None = None) -> None:
    """Measure every (size, policy, device, threads) point; print a table or JSON."""
    args = parser().parse_args(argv)
    check_settings(args)
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
    print_table(rows, args.n_envs)


if __name__ == "__main__":
    run(main)
