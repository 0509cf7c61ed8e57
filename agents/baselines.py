"""Reference agents that need no training: uniform random scores, the boredom-blind attraction
ranker, popularity, and the noisy-popularity logging policy that produces the supervised
baseline's logs.  The myopic oracle ``greedy`` is :mod:`divrec_rl.agents.myopic`.

Every agent has the project's face :class:`~divrec_rl.agents.protocol.Agent` (re-exported here):
``act(observation, simulator) -> actions``, ``observation`` the batched observation dict of
``simulator`` (a :class:`~divrec_rl.simulator.SlateSimulator`), ``actions`` ``(N, …)`` inside the
simulator's action space, so one evaluator runs any of them, the PPO agent included.  They read
the simulator's public candidate view (``simulator.candidates``), never its slate builder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from divrec_rl.agents.protocol import Agent
from divrec_rl.simulator import SlateSimulator

__all__ = [
    "Agent",
    "AttractionRankerAgent",
    "NoisyPopularityAgent",
    "PopularityAgent",
    "RandomAgent",
    "scores_to_actions",
]


def scores_to_actions(scores: np.ndarray) -> np.ndarray:
    """Map per-row scores to actions in ``[-1, 1]`` with exactly the same order (ties → earlier).

    Ranks rather than a squashing function: no two distinct scores can collide at a bound.
    """
    n = scores.shape[1]
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n)[None, :], axis=1)
    return (1.0 - 2.0 * ranks / max(n - 1, 1)).astype(np.float32)


class RandomAgent:
    """Uniform random actions: a uniformly random slate of the candidates (or a random query).

    Parameters
    ----------
    seed:
        Seed of the agent's own generator (the simulator's randomness is separate).
    """

    name = "random"

    def __init__(self, seed: int | None = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        space = simulator.action_space
        shape = (simulator.n_users, *space.shape)
        return self.rng.uniform(space.low, space.high, size=shape).astype(np.float32)


class AttractionRankerAgent:
    """Ranks candidates by their boredom-free click logit for the current user: reads hidden state.

    With the ``candidates`` builder each candidate is scored with
    ``simulator.response.attraction(state, candidates)`` (the hidden interest, item popularity and
    quality, *before* the boredom penalty), so it is neither deployable nor myopically optimal:
    boredom already lowers this step's click and satisfaction logits, which the myopic oracle
    ``greedy`` (:class:`~divrec_rl.agents.myopic.MyopicOracleAgent`) accounts for.  It stays as
    the "true-affinity ranker" of RecSim's greedy policy.  With the ``query`` builder the query is
    the user's hidden interest vector.
    """

    name = "attraction-ranker"

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        candidates = simulator.candidates
        if candidates is not None:
            logits = simulator.response.attraction(simulator.state, candidates)
            return scores_to_actions(logits)
        return np.clip(simulator.state.interest, -1.0, 1.0).astype(np.float32)


def _popularity_query(catalog: Any) -> np.ndarray:
    """Query vector (``query`` builder) pointing at the popular items: ``Σ_i p_i e_i``, normalised
    to the largest coordinate 1 so it lies in the action box."""
    q = catalog.popularity_prob @ catalog.embeddings
    return (q / max(float(np.abs(q).max()), 1e-12)).astype(np.float32)


class PopularityAgent:
    """Most popular first: candidates ranked by the catalogue's (public) popularity.

    Uses only what a platform knows without any user model: the item interaction counts.  With
    the ``query`` builder the query is the popularity-weighted mean item vector.
    """

    name = "popularity"

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        candidates = simulator.candidates
        if candidates is not None:
            return scores_to_actions(simulator.catalog.log_popularity_z[candidates])
        return np.tile(_popularity_query(simulator.catalog), (simulator.n_users, 1))


class NoisyPopularityAgent:
    """Logging policy: popularity plus Gumbel noise, ``score_i = z(log(1+pop_i)) + τ·G_i``.

    With the top-k of these scores the slate is a Plackett–Luce sample ∝ ``exp(z_i / τ)`` without
    replacement, so every candidate has a non-zero chance to be shown (the logs then hold
    clicks on unpopular items too).  ``τ`` is the ``temperature``.

    Parameters
    ----------
    temperature:
        Noise scale τ > 0 (in standard deviations of log-popularity).
    seed:
        Seed of the agent's own generator.
    """

    name = "noisy-popularity"

    def __init__(self, temperature: float = 1.0, seed: int | None = 0) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature: must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.rng = np.random.default_rng(seed)

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        cands = simulator.candidates
        if cands is None:
            raise ValueError("NoisyPopularityAgent: needs the 'candidates' slate builder")
        noise = self.rng.gumbel(size=cands.shape)
        return scores_to_actions(
            simulator.catalog.log_popularity_z[cands] + self.temperature * noise
        )
