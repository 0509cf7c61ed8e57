"""From trajectories to the numbers of ``results.csv``: per-user records and their metrics.

Every metric of a run is a function of its per-user records, so the point estimate (each user
counted once) and a bootstrap replicate (users counted as often as they were resampled) are the
same computation with different user weights.  The per-slate and per-slot ingredients come from
the pure functions of :mod:`divrec_rl.metrics`.

Definitions (one evaluation = one agent, one seed, N users, one episode each):

* ``engagement`` — mean over users of cumulative engagement (:func:`metrics.cumulative_engagement`);
* ``return`` — mean over users of Σ_t (engagement_t + λ·diversity_t), the objective of training;
* ``session_length`` — slates per session (:func:`metrics.session_length`), all sessions pooled;
  ``episode_length`` — slates per user; ``sessions`` — sessions per user;
* ``ctr`` — clicks per slate (:func:`metrics.ctr`);
* ``ild`` / ``category_ild`` — mean over all slates of :func:`metrics.intra_list_diversity` of the
  item vectors / :func:`metrics.category_ild` of the category distributions;
* ``category_coverage`` — mean over users of the share of categories shown to the user during
  the episode (:func:`metrics.category_coverage`);
* ``catalog_coverage`` and ``gini`` — :func:`metrics.catalog_coverage` and
  :func:`metrics.gini_exposure` of all slots shown to the N users together;
* ``tail_share`` — share of slots holding long-tail items (:func:`metrics.long_tail_share`, tail
  by :func:`metrics.tail_mask_from_popularity` of the catalogue popularity);
* ``novelty`` — mean self-information of shown items in bits (:func:`metrics.novelty` with the
  catalogue's smoothed popularity probabilities);
* ``mcd`` — mean over users with a warm-start history of
  :func:`metrics.majority_category_domination` (share of the user's shown items from the category
  with the largest share of their recency-weighted history before the episode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from divrec_rl import metrics
from divrec_rl.catalog import Catalog
from divrec_rl.rollout import Trajectories

__all__ = ["BOUNDS", "METRICS", "SET_LEVEL", "UserRecords", "summarise"]

#: Metric columns of ``results.csv``, in order (the first twelve are the issue's schema).
METRICS = (
    "engagement",
    "session_length",
    "ctr",
    "ild",
    "category_coverage",
    "catalog_coverage",
    "gini",
    "tail_share",
    "novelty",
    "mcd",
    "return",
    "episode_length",
    "sessions",
    "category_ild",
)

#: The range each metric can take, ``(low, high)`` (``inf`` where unbounded).  Intervals are
#: kept inside it (:func:`~divrec_rl.evaluation.stats.bootstrap_metrics`).  Shares, rates and
#: coverages are fractions; the Gini of non-negative exposures is at most ``(n − 1) / n < 1``;
#: embedding ILD is ``1 − mean cosine`` ∈ [0, 2], category ILD ∈ [0, 1]; counts, lengths and
#: self-information are non-negative.  ``return`` mixes in ``λ · diversity`` with any sign of
#: λ, so it has no bound.
BOUNDS: dict[str, tuple[float, float]] = {
    "engagement": (0.0, math.inf),
    "session_length": (0.0, math.inf),
    "ctr": (0.0, 1.0),
    "ild": (0.0, 2.0),
    "category_coverage": (0.0, 1.0),
    "catalog_coverage": (0.0, 1.0),
    "gini": (0.0, 1.0),
    "tail_share": (0.0, 1.0),
    "novelty": (0.0, math.inf),
    "mcd": (0.0, 1.0),
    "return": (-math.inf, math.inf),
    "episode_length": (0.0, math.inf),
    "sessions": (0.0, math.inf),
    "category_ild": (0.0, 1.0),
}

#: Metrics of the whole set of slates of a seed (not sums over users): no user bootstrap — a
#: resample repeats users, which shrinks coverage and inflates concentration.
SET_LEVEL = ("catalog_coverage", "gini")

# metric → (numerator, denominator) of its per-user ratio form Σ_u w_u a_u / Σ_u w_u b_u.
_RATIOS = {
    "engagement": ("engagement", "one"),
    "return": ("return", "one"),
    "session_length": ("steps", "sessions"),
    "episode_length": ("steps", "one"),
    "sessions": ("sessions", "one"),
    "ctr": ("clicks", "steps"),
    "ild": ("ild", "steps"),
    "category_ild": ("category_ild", "steps"),
    "category_coverage": ("category_coverage", "one"),
    "tail_share": ("tail", "slots"),
    "novelty": ("information", "slots"),
    "mcd": ("mcd", "has_history"),
}


@dataclass
class UserRecords:
    """Per-user sums of one evaluation: ``columns[name]`` is ``(N,)``; ``exposure`` is
    ``(N, n_items)`` counts of how often each item was shown to each user."""

    columns: dict[str, np.ndarray]
    exposure: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of users N."""
        return len(self.columns["one"])

    @classmethod
    def from_trajectories(cls, traj: Trajectories, catalog: Catalog) -> UserRecords:
        """Aggregate ``traj`` per user with the metric functions of :mod:`divrec_rl.metrics`."""
        n, user = traj.n_users, traj.user
        slate = traj.slate
        k = slate.shape[1]

        def per_user(values: np.ndarray) -> np.ndarray:
            return np.bincount(user, weights=values, minlength=n).astype(np.float64)

        steps = np.bincount(user, minlength=n).astype(np.float64)
        sessions = np.zeros(n)
        np.maximum.at(sessions, user, traj.session + 1.0)
        cols: dict[str, np.ndarray] = {
            "one": np.ones(n),
            "engagement": metrics.cumulative_engagement(traj.engagement, user, n),
            "return": per_user(traj.reward),
            "steps": steps,
            "sessions": sessions,
            "slots": steps * k,
            "clicks": per_user((traj.clicked >= 0).astype(np.float64)),
        }
        if len(traj) and k >= 2:
            cols["ild"] = per_user(metrics.intra_list_diversity(catalog.embeddings[slate]))
            cols["category_ild"] = per_user(
                metrics.category_ild(catalog.category_weights[slate], normalize=True)
            )
        else:
            cols["ild"] = cols["category_ild"] = np.zeros(n)
        tail = metrics.tail_mask_from_popularity(catalog.popularity)
        cols["tail"] = per_user(tail[slate].sum(axis=1).astype(np.float64))
        if len(traj):
            slate_novelty = metrics.novelty(slate, catalog.popularity_prob, per_row=True)
            cols["information"] = per_user(np.asarray(slate_novelty) * k)
        else:
            cols["information"] = np.zeros(n)
        cols["category_coverage"] = _category_coverage(traj, catalog)
        cols["mcd"], cols["has_history"] = _mcd(traj, catalog)
        exposure = np.zeros((n, catalog.n_items), dtype=np.int32)
        np.add.at(exposure, (np.repeat(user, k), slate.ravel()), 1)
        return cls(cols, exposure)

    def point(self) -> dict[str, float]:
        """The metrics with every user counted once (the row of ``results.csv``)."""
        out = {m: float(v[0]) for m, v in self.weighted(np.ones((1, self.n_users))).items()}
        exposure = self.item_exposure()
        shown = np.flatnonzero(exposure)
        n_items = self.exposure.shape[1]
        out["catalog_coverage"] = (
            float(metrics.catalog_coverage(shown, n_items)) if len(shown) else 0.0
        )
        out["gini"] = metrics.gini_exposure(exposure)
        return {m: out[m] for m in METRICS}

    def weighted(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The per-user (ratio) metrics under ``(B, N)`` user weights — bootstrap resample
        counts — as ``(B,)`` arrays each; every metric but :data:`SET_LEVEL`."""
        w = np.asarray(weights, dtype=np.float64)
        out: dict[str, np.ndarray] = {}
        for name, (num, den) in _RATIOS.items():
            a, b = w @ self.columns[num], w @ self.columns[den]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
        return out

    def item_exposure(self) -> np.ndarray:
        """How often each item was shown to these users, ``(n_items,)``."""
        return self.exposure.sum(axis=0, dtype=np.int64)


def summarise(traj: Trajectories, catalog: Catalog) -> dict[str, float]:
    """The metrics of one evaluation (see the module docstring), each user counted once."""
    return UserRecords.from_trajectories(traj, catalog).point()


def _category_coverage(traj: Trajectories, catalog: Catalog) -> np.ndarray:
    """Per user: share of categories shown at least once (multi-category items count for each)."""
    n, c = traj.n_users, catalog.n_categories
    seen = np.zeros((n, c), dtype=bool)
    if len(traj):
        multi_hot = catalog.category_weights[traj.slate] > 0  # (T, k, C)
        np.logical_or.at(seen, traj.user, multi_hot.any(axis=1))
    return np.asarray(metrics.category_coverage(seen[:, None, :], c, per_row=True))


def _mcd(traj: Trajectories, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Per user: MCD (0 where undefined) and whether it is defined (a warm-start history)."""
    n, c, k = traj.n_users, catalog.n_categories, traj.slate.shape[1]
    majority = traj.majority_category
    steps = np.bincount(traj.user, minlength=n)
    has = (majority >= 0) & (steps > 0)
    mcd = np.zeros(n)
    # majority_category_domination needs equally many shown items per user: group by length.
    for length in np.unique(steps[has]):
        group = np.flatnonzero(has & (steps == length))
        rows = np.isin(traj.user, group)
        # Rows are sorted by user, so each user's slates are contiguous and in group order.
        shown = catalog.category_weights[traj.slate[rows]].reshape(len(group), length * k, c)
        history = np.eye(c)[majority[group]]  # the majority category as a one-hot history
        mcd[group] = metrics.majority_category_domination(shown.astype(np.float64), history)
    return mcd, has.astype(np.float64)
