"""What prototyping a behaviour per user costs: the same behaviour written batched and per user.

The behaviour: click the first slot whose attraction exceeds a threshold (engagement =
σ(satisfaction logit)); patience 5, reset by a click, minus 1 per miss; leave at 0.  Both versions
run inside the same simulator on ``synthetic-shop``; the script prints user-steps/s for each at
N = 1, 64, 1024 and the slowdown of the per-user version.

    python benchmarks/plugin_overhead.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _cli import positive_float, run

from divrec_rl.envs import make_simulator
from divrec_rl.plugins import PerUserBehaviour, register_behaviour
from divrec_rl.users.behaviour import SlateResponse, UserBehaviour

THRESHOLD = 1.0


@register_behaviour("bench-threshold-batched")
class BatchedThreshold(UserBehaviour):
    def __init__(self, config) -> None:
        self.config = config

    def respond(
        self, state, slates, attraction, satisfaction_logit, category_weights
    ) -> SlateResponse:
        n, k = slates.shape
        hit = attraction > THRESHOLD
        pos = np.where(hit.any(axis=1) & state.active, hit.argmax(axis=1), -1)
        rows = np.arange(n)
        safe = np.maximum(pos, 0)
        eng = np.where(pos >= 0, 1.0 / (1.0 + np.exp(-satisfaction_logit[rows, safe])), 0.0)
        item = np.where(pos >= 0, slates[rows, safe], -1)
        return SlateResponse(pos, item, eng, np.zeros((n, k + 1)))

    def update(self, state, slates, response, item_vectors, category_weights) -> None:
        act = state.active
        clicked = response.position >= 0
        state.patience[:] = np.where(
            act, np.where(clicked, 5.0, state.patience - 1.0), state.patience
        )

    def leaves(self, state) -> np.ndarray:
        return state.active & (state.patience <= 0)

    def start_session(self, state, rows) -> None:
        state.patience[rows] = 5.0


@register_behaviour("bench-threshold-per-user")
class PerUserThreshold(PerUserBehaviour):
    def __init__(self, config) -> None:
        self.config = config

    def respond_user(self, user, slate, attraction, satisfaction_logit, category_weights, u):
        hits = np.flatnonzero(attraction > THRESHOLD)
        if len(hits) == 0:
            return -1, 0.0
        pos = int(hits[0])
        return pos, float(1.0 / (1.0 + np.exp(-satisfaction_logit[pos])))

    def update_user(self, user, slate, position, engagement, item_vectors, category_weights):
        user.patience = 5.0 if position >= 0 else user.patience - 1.0

    def leaves_user(self, user):
        return user.patience <= 0

    def start_user_session(self, user):
        user.patience = 5.0


def rate(model: str, n: int, seconds: float) -> float:
    """User-steps per second of behaviour ``model`` with ``n`` users over ``seconds``."""
    sim = make_simulator("synthetic-shop", n, config={"behaviour": {"model": model}})
    rows = np.arange(n)
    sim.reset_users(rows, rows.astype(np.uint64))
    actions = (
        np.random.default_rng(0).uniform(-1, 1, (n, *sim.action_space.shape)).astype(np.float32)
    )
    steps, start, next_key = 0, time.perf_counter(), n
    while time.perf_counter() - start < seconds:
        sim.step(actions)
        done = np.flatnonzero(~sim.state.active)
        if len(done):
            sim.reset_users(done, np.arange(next_key, next_key + len(done), dtype=np.uint64))
            next_key += len(done)
        steps += 1
    return steps * n / (time.perf_counter() - start)


def parser() -> argparse.ArgumentParser:
    """The flags; the window length is checked here (a 0 s window times no step)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=positive_float, default=2.0, help="timed window per figure")
    return p


def main(argv: list[str] | None = None) -> None:
    """Time both versions at each N; print the table."""
    args = parser().parse_args(argv)
    print(f"{'N':>6s} {'batched':>14s} {'per-user':>14s} {'slowdown':>9s}   (user-steps/s)")
    for n in (1, 64, 1024):
        batched = rate("bench-threshold-batched", n, args.seconds)
        per_user = rate("bench-threshold-per-user", n, args.seconds)
        print(f"{n:6d} {batched:14,.0f} {per_user:14,.0f} {batched / per_user:8.1f}×")


if __name__ == "__main__":
    run(main)
