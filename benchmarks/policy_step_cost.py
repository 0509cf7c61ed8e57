"""Where a slate policy's training time goes: milliseconds per rollout step and per PPO
minibatch update, for each policy variant, on synthetic-shop observations.

* ``act ms`` — one ``policy(obs)`` call without gradient for ``--n-envs`` users (what a
  rollout step costs the policy: sampling and the log-probability);
* ``update ms`` — ``evaluate_actions`` on ``--batch-size`` stored transitions, a loss and its
  backward pass (what one PPO minibatch costs, without the optimiser step).

Threads as training uses them: one for the act calls (``train --torch-threads``, default 1),
``--update-threads`` for the update (``train --update-threads``; 0 = the CPUs available, the
default); the median of ``--repeats`` timings.  Machines are shared: compare the rows of one
run, not runs.

    python benchmarks/policy_step_cost.py [--n-envs 64] [--batch-size 1024] [--repeats 30]
                                          [--update-threads 0]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch as th
from _cli import nonnegative_int, positive_int, run
from stable_baselines3.common.vec_env import VecMonitor

from divrec_rl.agents.ppo import make_ppo
from divrec_rl.envs import SlateRecVecEnv
from divrec_rl.training.device import resolve_threads, torch_threads

VARIANTS = {
    "plackett-luce": {"policy": "plackett-luce"},
    "plackett-luce-independent": {"policy": "plackett-luce", "set_aware": False},
    "gaussian": {"policy": "gaussian"},
}


def _median_ms(fn: Callable[[], None], repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls of ``fn``, after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(
    variant: dict, n_envs: int, batch_size: int, repeats: int, update_threads: int = 1
) -> tuple[float, float]:
    """(act ms with one thread, update ms with ``update_threads``) of one policy variant."""
    env = VecMonitor(SlateRecVecEnv(n_envs, scenario="synthetic-shop", split="train"))
    policy = make_ppo(env, device="cpu", **variant).policy
    obs = env.reset()
    small, _ = policy.obs_to_tensor(obs)
    reps = -(-batch_size // n_envs)
    big, _ = policy.obs_to_tensor(
        {k: np.repeat(v, reps, axis=0)[:batch_size] for k, v in obs.items()}
    )
    with th.no_grad():
        actions = policy(big)[0]

    def act() -> None:
        with th.no_grad():
            policy(small)

    def update() -> None:
        values, log_prob, entropy = policy.evaluate_actions(big, actions)
        loss = values.mean() - log_prob.mean()
        if entropy is not None:
            loss = loss - entropy.mean()
        policy.zero_grad()
        loss.backward()

    with torch_threads(1):
        act_ms = _median_ms(act, repeats)
    with torch_threads(update_threads):
        return act_ms, _median_ms(update, repeats)


def parser() -> argparse.ArgumentParser:
    """The flags; sizes and counts are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-envs", type=positive_int, default=64, help="users per rollout step")
    p.add_argument("--batch-size", type=positive_int, default=1024, help="PPO minibatch size")
    p.add_argument("--repeats", type=positive_int, default=30,
                   help="timings per figure (median kept)")  # fmt: skip
    p.add_argument(
        "--update-threads",
        type=nonnegative_int,
        default=0,
        help="torch threads of the update (0 = CPUs)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    """Time every policy variant; print the table."""
    args = parser().parse_args(argv)
    threads = resolve_threads(args.update_threads)
    print(
        f"\nPolicy cost, synthetic-shop, torch {th.__version__}, act 1 thread, "
        f"update {threads} thread(s)"
    )
    print("| policy | act ms (per rollout step) | update ms (per minibatch) |")
    print("|---|---:|---:|")
    for name, variant in VARIANTS.items():
        act, update = measure(variant, args.n_envs, args.batch_size, args.repeats, threads)
        print(f"| {name} | {act:.2f} | {update:.1f} |")


if __name__ == "__main__":
    run(main)
