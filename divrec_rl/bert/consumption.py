"""Fidelity beyond clicks: what simulated users consume under a fixed logging-like policy,
compared with what the real users consumed in the test period.

**Real log.** Each test-period user's first ``max_steps`` test ratings (any rating: a rating is
a consumption), in time order.

**Simulated log.** The same users, the same number of steps each.  Step t shows a slate of
``k`` items drawn without replacement with probability ∝ ``1 + n_i`` (``n_i`` the item's
ratings before the test period: a *logging-like* policy that shows what is popular) among the
items the user has not consumed yet (history or earlier simulated steps); the simulated user
consumes one slate item, drawn from ``softmax(a_u·)`` of the model's attraction logits over the
slate.  For the two-tower model the user state is its history (θ kept, the long-term taste) and
the recency summary ``ρ ← δ·ρ + (1−δ)·e`` updated after every consumed item (the simulator's
own O(d) update).  The popularity reference consumes with logits = its Platt-scaled score.
The random draws are seeded and shared by all compared models.

**Statistics** of a log (:func:`consumption_stats`):

* ``genre_share`` -- mean normalised genre vector of the consumed items (sums to 1);
* ``log_popularity`` -- ``log(1 + n_i)`` of every consumed item (a distribution);
* ``repeat_genre_rate`` -- share of consecutive consumptions of a user whose items share at
  least one genre.

**Distances** to the real log (:func:`stat_distances`): total variation ``½ Σ|p − q|`` of the
genre shares, the 1-Wasserstein distance between the log-popularity distributions, and the
absolute difference of the repeat-genre rates.  Lower is closer to the real users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: ``logits(users (n,), slates (n, k), rho (n, d) | None) -> (n, k)`` attraction logits.
SlateLogits = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]


@dataclass
class ConsumptionLog:
    """Consumptions in order: ``users[j]`` consumed ``items[j]``; rows of a user are
    consecutive and in time order."""

    users: np.ndarray
    items: np.ndarray


def consumption_stats(
    log: ConsumptionLog, genre_weights: np.ndarray, log_popularity: np.ndarray
) -> dict[str, object]:
    """``{"genre_share" (C,), "log_popularity" (n,), "repeat_genre_rate"}`` of ``log``
    (see the module docstring); ``genre_weights (M, C)`` rows sum to 1."""
    g = genre_weights[log.items]
    same_user = log.users[1:] == log.users[:-1]
    shares_genre = ((g[1:] > 0) & (g[:-1] > 0)).any(axis=1)
    pairs = int(same_user.sum())
    return {
        "genre_share": g.sum(axis=0) / max(len(log.items), 1),
        "log_popularity": log_popularity[log.items].astype(np.float64),
        "repeat_genre_rate": float((shares_genre & same_user).sum() / pairs) if pairs else 0.0,
    }


def stat_distances(sim: dict[str, object], real: dict[str, object]) -> dict[str, float]:
    """``{"genre_tv", "popularity_w1", "repeat_genre_abs"}`` between two
    :func:`consumption_stats` results."""
    from scipy.stats import wasserstein_distance

    p, q = np.asarray(sim["genre_share"]), np.asarray(real["genre_share"])
    return {
        "genre_tv": float(0.5 * np.abs(p - q).sum()),
        "popularity_w1": float(
            wasserstein_distance(
                np.asarray(sim["log_popularity"]), np.asarray(real["log_popularity"])
            )
        ),
        "repeat_genre_abs": float(
            abs(float(sim["repeat_genre_rate"]) - float(real["repeat_genre_rate"]))  # type: ignore[arg-type]
        ),
    }


def real_log(target: pd.DataFrame, max_steps: int) -> ConsumptionLog:
    """The first ``max_steps`` target-period ratings of every user, in time order."""
    t = target.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    t = t.groupby("user_id", sort=False).head(max_steps)
    return ConsumptionLog(
        t["user_id"].to_numpy().astype(np.int64), t["item_id"].to_numpy().astype(np.int64)
    )


def simulate_log(
    logits: SlateLogits,
    users: np.ndarray,
    steps: np.ndarray,
    seen: np.ndarray,
    popularity: np.ndarray,
    k: int,
    seed: int,
    rho: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    decay: float = 0.85,
) -> ConsumptionLog:
    """Simulated consumptions of ``users`` for ``steps[u]`` steps each under the logging-like
    policy (module docstring).  ``seen (U, M)`` marks history items (never shown); ``rho``
    ``(len(users), d)`` the users' initial recency summaries, updated after each consumption
    with ``item_vectors`` (``None`` = a model without user state)."""
    rng = np.random.default_rng([seed, 2])
    m = seen.shape[1]
    shown_ok = ~seen[users]
    log_w = np.log1p(popularity.astype(np.float64))
    state = None if rho is None else rho.astype(np.float64).copy()
    out_u: list[np.ndarray] = []
    out_i: list[np.ndarray] = []
    for t in range(int(steps.max(initial=0))):
        live = np.flatnonzero(steps > t)
        keys = log_w[None, :] - np.log(-np.log(rng.random((len(live), m))))
        keys[~shown_ok[live]] = -np.inf
        slate = np.argpartition(-keys, k - 1, axis=1)[:, :k]  # Gumbel top-k: ∝ (1 + n_i)
        a = logits(users[live], slate, None if state is None else state[live])
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        pick = (p.cumsum(axis=1) < rng.random((len(live), 1))).sum(axis=1).clip(0, k - 1)
        chosen = slate[np.arange(len(live)), pick]
        shown_ok[live, chosen] = False
        if state is not None and item_vectors is not None:
            state[live] = decay * state[live] + (1.0 - decay) * item_vectors[chosen]
        out_u.append(users[live])
        out_i.append(chosen)
    if not out_u:
        return ConsumptionLog(np.zeros(0, np.int64), np.zeros(0, np.int64))
    u, i = np.concatenate(out_u), np.concatenate(out_i)
    order = np.argsort(u, kind="stable")  # per user, in step order
    return ConsumptionLog(u[order], i[order])
