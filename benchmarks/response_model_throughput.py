"""Simulator throughput (user-steps/s) with the BERT response model vs the embedding response model.

Both runs use the same scenario (default ``movielens-100k``), the same catalogue (the fine-tuned
item vectors), the same population, behaviour and slate builder; only ``response.model``
differs (``bert`` vs ``embedding``).  N users are stepped in one batch with random actions drawn
from the action space; users whose episode ends are reset in the same step, so every step
advances N users.  Reported per model:

* ``user_steps_per_s`` — user-steps / wall seconds of the stepping loop (best of ``--repeats``);
* ``response_us_per_user`` — microseconds per user of the response model's ``scores`` call
  alone (the part that differs), best of ``--repeats``;

and the ratio embedding / bert of the user-steps/s (target: ≤ 2 at N = 1024).  Machines are
shared; the best repeat is kept.

    python benchmarks/response_model_throughput.py [--users 1024] [--steps 100]
        [--set response.path=DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _cli import nonnegative_int, positive_int, run

from divrec_rl.config import merge_overrides
from divrec_rl.envs.slate_env import make_simulator
from divrec_rl.simulator import SlateSimulator
from divrec_rl.training.config import parse_set as parse_assignments


def _run(sim: SlateSimulator, steps: int, seed: int) -> float:
    """Step ``sim`` ``steps`` times with random actions; return user-steps per second."""
    n = sim.n_users
    rng = np.random.default_rng(seed)
    low, high = sim.action_space.low, sim.action_space.high
    sim.reset_users(np.arange(n), rng.integers(0, 2**63 - 1, n).astype(np.uint64))
    actions = rng.uniform(low, high, size=(steps, n, *low.shape)).astype(np.float32)
    user_steps = 0
    start = time.perf_counter()
    for t in range(steps):
        result = sim.step(actions[t])
        user_steps += int(result.info["active"].sum())
        done = np.flatnonzero(result.terminated | result.truncated)
        if len(done):
            sim.reset_users(done, rng.integers(0, 2**63 - 1, len(done)).astype(np.uint64))
    return user_steps / (time.perf_counter() - start)


def _response_cost(sim: SlateSimulator, repeats: int, seed: int) -> float:
    """Microseconds per user of one ``scores`` call on random slates."""
    rng = np.random.default_rng(seed)
    n, m, k = sim.n_users, sim.catalog.n_items, sim.k
    slates = np.argsort(rng.random((n, m)), axis=1)[:, :k]
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(20):
            sim.response.scores(sim.state, slates)
        best = min(best, (time.perf_counter() - start) / 20)
    return best / n * 1e6


def measure(scenario: str, model: str, n_users: int, steps: int, repeats: int, seed: int,
            overrides: dict) -> dict[str, float | str]:  # fmt: skip
    """Throughput of ``scenario`` with ``response.model = model``."""
    config = merge_overrides(overrides, {"response": {"model": model}})
    sim = make_simulator(scenario, n_users, "train", config=config)
    _run(sim, 5, seed)  # warm-up: caches, allocations
    rate = max(_run(sim, steps, seed + r) for r in range(repeats))
    return {
        "model": model,
        "users": n_users,
        "steps": steps,
        "user_steps_per_s": rate,
        "response_us_per_user": _response_cost(sim, repeats, seed),
    }


def parser() -> argparse.ArgumentParser:
    """The flags; sizes and counts are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="movielens-100k", help="scenario name or YAML path")
    p.add_argument("--users", type=positive_int, default=1024, help="batch size N")
    p.add_argument("--steps", type=positive_int, default=100,
                   help="batched steps per measurement")  # fmt: skip
    p.add_argument("--repeats", type=positive_int, default=3,
                   help="measurements per model; best kept")  # fmt: skip
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of users and actions")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="scenario override, e.g. response.path=out/ml100k-model")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: list[str] | None = None) -> None:
    """Measure both response models; print a table or JSON."""
    args = parser().parse_args(argv)
    overrides = parse_assignments(args.set)
    rows = [
        measure(args.scenario, model, args.users, args.steps, args.repeats, args.seed, overrides)
        for model in ("bert", "embedding")
    ]
    ratio = float(rows[1]["user_steps_per_s"]) / float(rows[0]["user_steps_per_s"])
    if args.json:
        print(json.dumps({"scenario": args.scenario, "rows": rows, "ratio": ratio}, indent=2))
        return
    print(f"scenario {args.scenario}, N = {args.users}, {args.steps} steps, best of {args.repeats}")
    print(f"{'response':<10} {'user-steps/s':>13} {'response µs/user':>17}")
    for r in rows:
        print(
            f"{r['model']:<10} {r['user_steps_per_s']:>13,.0f} {r['response_us_per_user']:>17.2f}"
        )
    print(f"embedding / bert throughput ratio: {ratio:.2f} (target ≤ 2)")


if __name__ == "__main__":
    run(main)
