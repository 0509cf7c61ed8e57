"""Offline accuracy on real users: each agent's first slate against the users' held-out items.

Protocol (also in ``docs/evaluation.md`` and the report):

* **Who.** The population's real users of the ``eval`` split, each once: episode keys
  ``0, …, n−1`` with ``n`` = the number of eval users (the MovieLens population maps key ``i`` to
  the split's i-th user; if another population repeats a user, the repeat is dropped).  Only
  populations that carry held-out items (``UserPopulation.held_out`` is not ``None``, e.g.
  ``movielens``) are scored; for the others the pass is skipped with a note.
* **Which slate.** The agent's *first* slate for the user — built from the observation of a fresh
  episode, whose history is the user's real history of the user model's fit period (always
  before the held-out period), before any simulated consumption — with the agent of evaluation
  seed s (s = 0, …, S−1, as in the simulated evaluation; a deterministic agent gives the same
  slate for every s).
* **Relevant items** R_u: the user's real interactions of the held-out period, as the population
  states them (``HeldOutItems.relevance``; for MovieLens every rating of the temporal test
  period).  Users with no held-out item are left out (the metrics are undefined for them).
* **Metrics** at k = the slate size (10 in the built-in scenarios), binary relevance, from
  :mod:`divrec_rl.metrics.ranking`: precision@k = |S ∩ R_u| / k, recall@k = |S ∩ R_u| / |R_u|,
  NDCG@k (ranks = slate positions, top slot first) and HR@k = [S ∩ R_u ≠ ∅]; mean over users,
  then over seeds.
* **Ceiling.** Slates are built from the candidates of the scenario's retrieval stage, so an
  agent can only find relevant items that retrieval returned.  With C_u the user's first-step
  candidates (the same for every agent: common random numbers), the report gives the
  candidates' own recall |C_u ∩ R_u| / |R_u| and the best precision@k and recall@k any slate
  of those candidates reaches: min(|C_u ∩ R_u|, k) / k and min(|C_u ∩ R_u|, k) / |R_u|.
  Without a candidate stage (the ``query`` builder) there is no ceiling below 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from divrec_rl.agents.registry import AgentContext, AgentSpec, make_agent
from divrec_rl.metrics.ranking import hit_rate_at_k, ndcg_at_k, precision_at_k, recall_at_k
from divrec_rl.scenario import Scenario
from divrec_rl.simulator import SlateSimulator

__all__ = ["OFFLINE_METRICS", "OfflineAccuracy", "offline_accuracy", "score_slates"]

#: Per-(agent, seed) columns, in the order of ``results.csv`` (the ``@k`` is the slate size).
OFFLINE_METRICS = ("precision", "recall", "ndcg", "hr")


@dataclass
class OfflineAccuracy:
    """The offline pass of one evaluation.

    ``per_seed[label][i]`` maps each of :data:`OFFLINE_METRICS` to the mean over scored users
    for evaluation seed ``seeds[i]``; ``ceiling`` holds ``candidate_recall``, ``precision`` and
    ``recall`` (the best any slate of the retrieved candidates reaches), or is empty without a
    candidate stage.
    """

    k: int
    n_users: int
    n_scored: int
    relevance: str
    per_seed: dict[str, list[dict[str, float]]]
    ceiling: dict[str, float]
    seeds: list[int]

    def column(self, metric: str) -> str:
        """The ``results.csv`` column of ``metric``, e.g. ``precision@10``."""
        return f"{metric}@{self.k}"

    def add_columns(self, frame: pd.DataFrame) -> None:
        """Add the ``metric@k`` columns to a ``results.csv`` frame (rows: ``agent``, ``seed``)."""
        for metric in OFFLINE_METRICS:
            frame[self.column(metric)] = [
                self.per_seed[a][self.seeds.index(int(s))][metric]
                for a, s in zip(frame["agent"], frame["seed"], strict=True)
            ]

    def mean(self, label: str, metric: str) -> float:
        """Mean of ``metric`` over the seeds of agent ``label``."""
        return float(np.mean([p[metric] for p in self.per_seed[label]]))


def score_slates(slates: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    """Mean precision, recall, NDCG and HR at ``k = slates.shape[1]`` over the rows of
    ``relevant`` (``(N, n_items)`` boolean) that hold at least one relevant item."""
    k = slates.shape[1]
    values = {
        "precision": precision_at_k(slates, relevant, k, ranked=True),
        "recall": recall_at_k(slates, relevant, k, ranked=True),
        "ndcg": ndcg_at_k(slates, relevant, k, ranked=True),
        "hr": hit_rate_at_k(slates, relevant, k, ranked=True),
    }
    return {m: float(np.nanmean(v)) for m, v in values.items()}


def _ceiling(candidates: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, float]:
    found = np.take_along_axis(relevant, candidates, axis=1).sum(axis=1)
    n_rel = relevant.sum(axis=1)
    best = np.minimum(found, k)
    return {
        "candidate_recall": float(np.mean(found / n_rel)),
        "precision": float(np.mean(best / k)),
        "recall": float(np.mean(best / n_rel)),
    }


def _first_slates(
    sim: SlateSimulator, keys: np.ndarray, agent: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(first slates, dataset user of each row, first-step candidates or None)."""
    n = sim.n_users
    sim.reset_users(np.arange(n), keys)
    users = sim.state.user_index.copy()
    candidates = None if sim.candidates is None else np.array(sim.candidates)
    actions = agent.act(sim.observe(), sim)  # type: ignore[attr-defined]
    slates = sim.step(actions).info["slate"]
    return np.asarray(slates, dtype=np.int64), users, candidates


def offline_accuracy(
    scenario: Scenario,
    agents: list[AgentSpec],
    ctx: AgentContext,
    seeds: list[int],
    weight: float,
) -> OfflineAccuracy | None:
    """Score every agent's first slate for each real eval user (see the module docstring), once
    per evaluation seed in ``seeds`` (the seed picks the agent, e.g. a sweep's training seed);
    ``None`` when the scenario's population has no held-out items."""
    held = scenario.population.held_out
    if held is None:
        return None
    n = held.split_sizes.get("eval", 0)
    if n == 0:
        return None
    keys = np.arange(n, dtype=np.uint64)
    per_seed: dict[str, list[dict[str, float]]] = {}
    ceiling: dict[str, float] = {}
    n_scored = 0
    for spec in agents:
        per_seed[spec.label] = []
        for seed in seeds:
            sim = SlateSimulator(scenario, n, "eval", weight)
            slates, users, candidates = _first_slates(sim, keys, make_agent(ctx, spec, seed))
            # Each real user once, and only users with something to find.
            _, first = np.unique(users, return_index=True)
            rows = first[held.counts(users[first]) > 0]
            relevant = held.relevance_matrix(users[rows])
            per_seed[spec.label].append(score_slates(slates[rows], relevant))
            n_scored = len(rows)
            if not ceiling and candidates is not None:
                ceiling = _ceiling(candidates[rows], relevant, slates.shape[1])
    return OfflineAccuracy(
        k=scenario.config.slate.size,
        n_users=n,
        n_scored=n_scored,
        relevance=held.relevance,
        per_seed=per_seed,
        ceiling=ceiling,
        seeds=list(seeds),
    )


#: Simulated metrics shown beside the offline ones (engagement, diversity, coverage, fairness).
BESIDE = ("engagement", "ild", "category_coverage", "catalog_coverage", "gini")


def offline_section(
    offline: OfflineAccuracy | None, simulated: dict[str, Any], name: Callable[[str], str]
) -> list[str]:
    """The report's offline-accuracy section: one row per agent (shown as ``name(label)``), the
    offline metrics next to the simulated means ``simulated[label].summary[m].mean`` for ``m``
    in :data:`BESIDE` (``simulated`` = the primary run's agent outcomes), then the retrieval
    ceiling; a one-line skip note when ``offline`` is None."""
    if offline is None:
        return [
            "Skipped: the scenario's population has no real held-out items (generated users), "
            "so there is nothing to score slates against offline.",
            "",
        ]
    k = offline.k
    cols = [offline.column(m) for m in OFFLINE_METRICS]
    lines = [
        "Each agent's first slate (built from the user's real history before the held-out "
        f"period, before any simulated consumption) for each of the {offline.n_users} real "
        f"`eval` users, scored against {offline.relevance}; {offline.n_scored} users have at "
        "least one such item and are scored.  Offline columns: mean over users, then over "
        f"seeds (`results.csv` columns {', '.join(f'`{c}`' for c in cols)}); simulated "
        "columns as in the results table.  Protocol: `divrec_rl/evaluation/offline.py`.",
        "",
        "| agent | " + " | ".join([*cols, *(f"{m} (sim.)" for m in BESIDE)]) + " |",
        "|---" * (len(cols) + len(BESIDE) + 1) + "|",
    ]
    for label in offline.per_seed:
        cells = [f"{offline.mean(label, m):.4f}" for m in OFFLINE_METRICS]
        cells += [f"{simulated[label].summary[m].mean:.3f}" for m in BESIDE]
        lines.append(f"| {name(label)} | " + " | ".join(cells) + " |")
    if offline.ceiling:
        c = offline.ceiling
        lines += [
            "",
            f"Retrieval ceiling: slates are built from the retrieval stage's candidates; they "
            f"hold {c['candidate_recall']:.4f} of the users' held-out items (candidate recall), "
            f"so no agent can exceed precision@{k} = {c['precision']:.4f} or recall@{k} = "
            f"{c['recall']:.4f} (mean over the scored users of min(|C ∩ R|, {k}) / {k} and "
            f"/ |R|).",
        ]
    else:
        lines += ["", "No candidate stage: slates may use the whole catalogue (no ceiling)."]
    return [*lines, ""]
