"""Run a fixed group of users through whole episodes with any scoring policy, and log each step.

Policies here score the items a user may be shown this step (the retrieved candidates for the
``candidates`` builder, the whole catalogue otherwise); the slate is the top-k.  Every user gets
exactly one episode; a user who left is not stepped again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from divrec_rl import metrics
from divrec_rl.simulator import SlateSimulator
from divrec_rl.slate import CandidateSlateBuilder, top_k_rows

ScoreFn = Callable[[SlateSimulator, np.ndarray], np.ndarray]


def candidate_rows(sim: SlateSimulator) -> np.ndarray:
    """``(N, n)`` catalogue rows each user may be shown now."""
    if isinstance(sim.builder, CandidateSlateBuilder):
        return sim.builder.candidates
    return np.broadcast_to(np.arange(sim.catalog.n_items), (sim.n_users, sim.catalog.n_items))


def random_scores(seed: int) -> ScoreFn:
    """Uniform random scores (a fresh generator seeded with ``seed``)."""
    gen = np.random.default_rng(seed)
    return lambda sim, rows: gen.random(rows.shape)


def popularity_scores(sim: SlateSimulator, rows: np.ndarray) -> np.ndarray:
    """Most popular first."""
    return sim.catalog.popularity[rows]


def attraction_scores(sim: SlateSimulator, rows: np.ndarray) -> np.ndarray:
    """Oracle myopic policy: the simulator's own click logits (ignores boredom and the future)."""
    return sim.response.attraction(sim.state, rows)


POLICIES: dict[str, Callable[[int], ScoreFn]] = {
    "random": random_scores,
    "popularity": lambda seed: popularity_scores,
    "greedy": lambda seed: attraction_scores,
}


@dataclass
class RolloutLog:
    """Step records of a rollout: one entry per (user, step) actually simulated."""

    user: list[np.ndarray] = field(default_factory=list)
    step: list[np.ndarray] = field(default_factory=list)
    slate: list[np.ndarray] = field(default_factory=list)
    clicked: list[np.ndarray] = field(default_factory=list)
    engagement: list[np.ndarray] = field(default_factory=list)
    diversity: list[np.ndarray] = field(default_factory=list)
    left: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """Concatenated records."""
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.__dict__.items()}


def run_episodes(sim: SlateSimulator, score: ScoreFn, keys: np.ndarray) -> RolloutLog:
    """One episode for each of ``sim.n_users`` users started from ``keys``; returns the log."""
    sim.reset_users(np.arange(sim.n_users), keys)
    log = RolloutLog()
    while sim.state.active.any():
        rows = candidate_rows(sim)
        slates = np.take_along_axis(rows, top_k_rows(score(sim, rows), sim.k), axis=1)
        t = sim.state.t.copy()
        r = sim.step_slates(slates)
        who = np.flatnonzero(r.info["active"])
        log.user.append(who)
        log.step.append(t[who])
        log.slate.append(r.info["slate"][who])
        log.clicked.append(r.info["clicked"][who])
        log.engagement.append(r.info["engagement"][who])
        log.diversity.append(r.info["diversity"][who])
        log.left.append(r.info["left"][who])
    return log


def summarise(sim: SlateSimulator, log: RolloutLog) -> dict[str, float]:
    """Headline metrics of a rollout (means over users; see :mod:`divrec_rl.metrics`)."""
    a = log.arrays()
    n = sim.n_users
    cat = sim.catalog
    steps = np.bincount(a["user"], minlength=n)
    shown = a["slate"]
    exposure = metrics.exposure_counts(shown.ravel(), cat.n_items)
    return {
        "users": float(n),
        "engagement": float(metrics.cumulative_engagement(a["engagement"], a["user"], n).mean()),
        "session_length": float(steps.mean()),
        "ctr": float(metrics.ctr(a["clicked"] >= 0)),
        "ild": float(a["diversity"].mean()),
        "catalog_coverage": float(metrics.catalog_coverage(shown.ravel(), cat.n_items)),
        "gini": float(metrics.gini_exposure(exposure)),
    }
