"""Where a single-user step's time goes: CPU µs per part of the simulator's step.

Each part of ``SlateSimulator.step`` (action check, slate building, response model, choice,
state update, bookkeeping, reward diversity, retrieval of the next candidates, observation) and
the single-user env's unpacking is called repeatedly on one live user of the scenario (its state
restored after every timed window), best of ``--repeats`` windows of ``--calls`` calls, in CPU
time (``time.process_time``: less disturbed by other jobs than the wall clock).  The first rows
are a whole ``gymnasium.make`` step (wrappers included, resets when an episode ends) and a reset;
the parts add up to less than the whole step, which also pays the glue between them, resets and
colder caches.

    python benchmarks/step_profile.py [--scenario NAME] [--calls 4000] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from _cli import positive_int, run

import divrec_rl
from divrec_rl.reward import slate_diversity


def best_us(
    call: Callable[[], object], calls: int, repeats: int, restore: Callable[[], None]
) -> float:
    """Best CPU µs per call of ``call`` over ``repeats`` windows of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time() - start) / calls * 1e6)
        restore()
    return best


def profile(scenario: str, calls: int, repeats: int) -> dict[str, float]:
    """CPU µs per call of a whole step, a reset and each part of a step (see module doc)."""
    env = gym.make(divrec_rl.ENV_ID, scenario=scenario)
    core = env.unwrapped
    sim = core.simulator
    env.reset(seed=0)
    action = np.random.default_rng(0).uniform(-1, 1, (1, *env.action_space.shape))
    action = action.astype(np.float32)
    for _ in range(3):  # a user a few steps into the episode, with some history
        env.step(action[0])
    st, beh, builder, cat = sim.state, sim.behaviour, sim.builder, sim.catalog
    slates = builder.build(sim.check_actions(action))
    vecs, cw = cat.embeddings.take(slates, axis=0), cat.category_weights.take(slates, axis=0)
    attraction, satisfaction = sim.response.scores(st, slates)
    response = beh.respond(st, slates, attraction, satisfaction, cw)
    result = sim.step(action)
    rows = np.arange(sim.n_users)
    saved, saved_buffers = st.take(rows), sim.builder_buffers()

    def restore() -> None:
        st.assign(rows, saved)
        sim.load_builder_buffers(saved_buffers)
        core._needs_reset = False

    def env_step() -> None:
        env.step(action[0])
        if core._needs_reset:
            env.reset()

    parts: dict[str, Callable[[], object]] = {
        "gymnasium.make step": env_step,
        "reset": env.reset,
        "check actions": lambda: sim.check_actions(action),
        "build slates": lambda: builder.build(action),
        "response scores": lambda: sim.response.scores(st, slates),
        "respond (choice)": lambda: beh.respond(st, slates, attraction, satisfaction, cw),
        "update state": lambda: beh.update(st, slates, response, vecs, cw),
        "bookkeeping": lambda: sim._record_step(st.active.copy(), response),
        "reward diversity": lambda: slate_diversity(sim.config.reward.diversity, vecs, cw),
        "next candidates": lambda: builder.prepare(st, rows),
        "observe": sim.observe,
        "env unpack": lambda: core._unpack(result),
    }
    return {name: best_us(call, calls, repeats, restore) for name, call in parts.items()}


def parser() -> argparse.ArgumentParser:
    """The flags; the window size and count are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="synthetic-shop")
    p.add_argument("--calls", type=positive_int, default=4000, help="calls per timed window")
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="timed windows per part (best is kept)")  # fmt: skip
    p.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> None:
    """Profile the scenario's step (module docstring); print a table or JSON."""
    args = parser().parse_args(argv)
    us = profile(args.scenario, args.calls, args.repeats)
    if args.json:
        print(json.dumps(us))
        return
    print(f"scenario {args.scenario}: CPU µs per call, best of {args.repeats}")
    for name, value in us.items():
        print(f"{name:24s} {value:8.2f}")
    step_parts = sum(v for k, v in us.items() if k not in ("gymnasium.make step", "reset"))
    print(f"{'sum of the parts':24s} {step_parts:8.2f}")


if __name__ == "__main__":
    run(main)
