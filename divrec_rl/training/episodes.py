"""Run an agent for one episode per user and summarise what it showed and earned.

Shared by the periodic ``eval/*`` logging of training runs and by the benchmarks, so a curve in
TensorBoard and a number in a benchmark table are computed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from divrec_rl.catalog import Catalog
from divrec_rl.diversity import ild_embedding
from divrec_rl.metrics import catalog_coverage
from divrec_rl.rollout import rollout, user_keys
from divrec_rl.simulator import SlateSimulator

__all__ = ["EpisodeStats", "SlateTracker", "run_episodes"]


class SlateTracker:
    """Per-slate ILD and the catalogue coverage of the slates seen so far.

    ILD is ``1 − mean_{i<j} cos(e_i, e_j)`` of the slate's item vectors (Ziegler et al., WWW 2005;
    :func:`divrec_rl.diversity.ild_embedding`), whatever diversity the reward uses.  Coverage is
    :func:`divrec_rl.metrics.catalog_coverage` of every item shown since :meth:`clear`.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.seen = np.zeros(catalog.n_items, dtype=bool)

    def observe(self, slates: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Record slates ``(N, k)`` of item ids (= catalogue rows), only the rows where ``mask``;
        return the ILD of every slate."""
        self.seen[(slates if mask is None else slates[mask]).ravel()] = True
        return ild_embedding(self.catalog.embeddings[slates])

    def coverage(self) -> float:
        """Share of the catalogue shown at least once since :meth:`clear`."""
        shown = np.flatnonzero(self.seen)
        return float(catalog_coverage(shown, self.catalog.n_items)) if len(shown) else 0.0

    def clear(self) -> None:
        """Forget what was shown."""
        self.seen[:] = False


@dataclass
class EpisodeStats:
    """One episode per user: ``(N,)`` arrays, plus the coverage of everything shown.

    ``reward`` is the return (Σ engagement + λ·diversity), ``engagement`` and ``diversity`` the
    episode sums of the two reward terms, ``ild`` the mean ILD of the episode's slates,
    ``length`` the number of steps.
    """

    reward: np.ndarray
    engagement: np.ndarray
    diversity: np.ndarray
    ild: np.ndarray
    length: np.ndarray
    coverage: float

    def summary(self) -> dict[str, float]:
        """Means over users, named like SB3's ``eval/*`` keys (without the prefix)."""
        return {
            "mean_reward": float(self.reward.mean()),
            "mean_ep_length": float(self.length.mean()),
            "mean_engagement": float(self.engagement.mean()),
            "mean_diversity": float(self.diversity.mean()),
            "mean_ild": float(self.ild.mean()),
            "coverage": self.coverage,
        }


def run_episodes(agent: Any, simulator: SlateSimulator, seed: int) -> EpisodeStats:
    """Run ``agent`` (``act(observation, simulator)``) for one episode of each user.

    The users are :func:`divrec_rl.rollout.user_keys` of ``seed``, and the episodes are played by
    :func:`divrec_rl.rollout.rollout` (the project's one rollout loop), so agents compared with
    the same ``seed`` and simulator split meet the same users.
    """
    n = simulator.n_users
    traj = rollout(agent, simulator, user_keys(seed, n))
    length = np.bincount(traj.user, minlength=n)

    def per_user(values: np.ndarray) -> np.ndarray:
        return np.bincount(traj.user, weights=values, minlength=n)

    ild = ild_embedding(simulator.catalog.embeddings[traj.slate])
    shown = np.unique(traj.slate)
    return EpisodeStats(
        reward=per_user(traj.reward),
        engagement=per_user(traj.engagement),
        diversity=per_user(traj.diversity),
        ild=per_user(ild) / np.maximum(length, 1),
        length=length,
        coverage=float(catalog_coverage(shown, simulator.catalog.n_items)) if len(shown) else 0.0,
    )
