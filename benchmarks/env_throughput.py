"""User-steps per second of the simulator faces.

Prints, for the scenario given (default synthetic-shop, slate 10), the throughput of
* the single-user ``gymnasium.Env`` face made with ``gymnasium.make`` (wrappers included), and
* the batched Gymnasium ``VectorEnv`` face
  (``make_vec(..., vectorization_mode="vector_entry_point")``) at N = 1, 64, 1024 users,
with random actions drawn beforehand and autoreset on, so resets are part of the cost.  Each figure
is the best of ``--repeats`` timed windows, taken round-robin over the faces (machines are
shared; the best window is the least disturbed one).  Targets on 2 cores: ≥ 100,000
user-steps/s at N = 1024, ≥ 5,000 steps/s single.  The flags, the scenario and ``--set`` are
checked before the first window.

    python benchmarks/env_throughput.py [--scenario NAME] [--seconds 2] [--repeats 5] [--set k=v]
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
from _cli import positive_float, positive_int, run

import divrec_rl
from divrec_rl.training.config import parse_set as parse_assignments


def single_env_rate(scenario: str, overrides: dict, seconds: float) -> float:
    """Env-steps per second of the single-user ``gymnasium.make`` face over ``seconds``."""
    env = gym.make(divrec_rl.ENV_ID, scenario=scenario, config=overrides)
    env.reset(seed=0)
    actions = (
        np.random.default_rng(0).uniform(-1, 1, (4096, *env.action_space.shape)).astype(np.float32)
    )
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(256):
            _, _, term, trunc, _ = env.step(actions[(steps + i) % 4096])
            if term or trunc:
                env.reset()
        steps += 256
    return steps / (time.perf_counter() - start)


def vector_env_rate(scenario: str, overrides: dict, n: int, seconds: float) -> float:
    """User-steps per second of the batched face with ``n`` users over ``seconds``."""
    env = gym.make_vec(
        divrec_rl.ENV_ID,
        num_envs=n,
        vectorization_mode="vector_entry_point",
        scenario=scenario,
        config=overrides,
    )
    env.reset(seed=0)
    pool = (
        np.random.default_rng(0)
        .uniform(-1, 1, (8, n, *env.single_action_space.shape))
        .astype(np.float32)
    )
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(pool[steps % 8])
        steps += 1
    return steps * n / (time.perf_counter() - start)


def parser() -> argparse.ArgumentParser:
    """The flags; window length and count are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="synthetic-shop")
    p.add_argument("--seconds", type=positive_float, default=2.0,
                   help="length of one timed window (s)")  # fmt: skip
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="timed windows per figure (best is kept)")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> None:
    """Time every face (module docstring); print a table or JSON."""
    args = parser().parse_args(argv)
    overrides = parse_assignments(args.set)
    # Resolved first: an unknown scenario or field is one error line before any window.
    slate = divrec_rl.resolve_scenario(args.scenario, None, overrides).slate.size
    # Round-robin over the faces, so a disturbed period of the shared machine slows one window
    # of each face rather than every window of one face; each face keeps its best window.
    measures = {"single_env": lambda: single_env_rate(args.scenario, overrides, args.seconds)}
    for n in (1, 64, 1024):
        measures[f"vector_n{n}"] = lambda n=n: vector_env_rate(
            args.scenario, overrides, n, args.seconds
        )
    results = dict.fromkeys(measures, 0.0)
    for _ in range(args.repeats):
        for name, measure in measures.items():
            results[name] = max(results[name], measure())
    if args.json:
        print(json.dumps(results))
        return
    print(f"scenario {args.scenario} (slate {slate})")
    print(f"{'face':28s} {'user-steps/s':>14s}")
    print(f"{'gymnasium.make (N=1)':28s} {results['single_env']:14,.0f}")
    for n in (1, 64, 1024):
        print(f"{f'make_vec VectorEnv N={n}':28s} {results[f'vector_n{n}']:14,.0f}")


if __name__ == "__main__":
    run(main)
