"""Offline fidelity of a user model on a held-out period: the evaluation protocol and its metrics.

Protocol (one per target period, ``val`` or ``test`` of the per-user temporal split):

* **history** -- for ``val`` the user's training ratings, for ``test`` training + validation
  ratings (everything before the target period);
* **pointwise set** -- every rating of the target period, labelled ``rating ≥ 4``, plus
  ``neg_ratio`` items per rating drawn uniformly from the items the user never rated (in any
  period), labelled 0 (seeded).  AUC, log-loss and ECE are computed on the pooled set; the
  AUC is also split by the kind of negative: ``auc_unrated`` (liked target items against the
  never-rated draws) and ``auc_disliked`` (liked against the user's own target ratings < 4),
  and taken over cold items alone: ``auc_cold``, the rows whose item has fewer than
  :data:`COLD_RATINGS` ratings in the history (where an item's text must stand in for its
  ratings);
* **ranking** -- for every user with at least one positive (``rating ≥ 4``) target rating: score
  every item not in the history (full ranking, no sampled candidates), rank, NDCG@10, HR@10
  and recall@20 with the positive target items as the relevant set (binary relevance,
  :func:`divrec_rl.metrics.ndcg_at_k`, :func:`recall_at_k`), averaged over users.

A model is anything with ``prob(users, items) -> (n,)`` engagement probabilities of matched
pairs and ``rank_scores(users) -> (n_users, M)`` scores; it is told the history through
:class:`EvalSplit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

from divrec_rl.bert.prepare import (
    POSITIVE_RATING,
    PreparedData,
    fit_frame,
    history_csr,
    seen_matrix,
)
from divrec_rl.metrics import hit_rate_at_k, ndcg_at_k

#: Bins of the reliability diagram and of the ECE.
N_BINS = 15
#: An item with fewer ratings than this in a period's history is *cold* for that period
#: (``auc_cold``).  On MovieLens-100k's test period: 794 of the 1,682 items, 13 % of the test
#: ratings (fixed from these counts before any model was scored on it).
COLD_RATINGS = 20


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half): P(s₊ > s₋) + ½P(s₊ = s₋)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels.astype(int), scores))


def split_auc(split: EvalSplit, probs: np.ndarray) -> dict[str, float]:
    """The pointwise AUC by kind of negative: ``auc_unrated`` over the liked target ratings and
    the never-rated draws, ``auc_disliked`` over the target ratings alone (liked against
    rated < 4); and ``auc_cold`` over every row whose item has fewer than
    :data:`COLD_RATINGS` ratings in the split's history.  NaN where a side is empty."""
    rated = np.arange(len(split.labels)) < len(split.ratings)
    liked = split.labels == 1
    cold = split.history_counts[split.items] < COLD_RATINGS
    out = {}
    for name, rows in (
        ("auc_unrated", liked | ~rated),
        ("auc_disliked", rated),
        ("auc_cold", cold),
    ):
        labels = split.labels[rows]
        both = 0 < labels.sum() < len(labels)
        out[name] = roc_auc(labels, probs[rows]) if both else float("nan")
    return out


def log_loss(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy ``−mean(y log p + (1−y) log(1−p))``, p clipped to [ε, 1−ε]."""
    p = np.clip(probs, eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log1p(-p)))


def reliability(
    labels: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width probability bin: ``(mean predicted p, observed positive rate, count)``.

    Empty bins hold NaN rates and count 0.
    """
    bins = np.clip((probs * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    p_sum = np.bincount(bins, weights=probs, minlength=n_bins)
    y_sum = np.bincount(bins, weights=labels.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p_sum / count, y_sum / count, count


def expected_calibration_error(
    labels: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS
) -> float:
    """ECE = Σ_b (n_b / n) · |ȳ_b − p̄_b| over equal-width bins (Naeini et al., AAAI 2015)."""
    conf, acc, count = reliability(labels, probs, n_bins)
    used = count > 0
    return float(np.sum(count[used] / count.sum() * np.abs(acc[used] - conf[used])))


@dataclass
class EvalSplit:
    """One target period: its history, pointwise set and ranking targets.

    ``hist_indptr``/``hist_items``: each user's history (time order) for user-state models;
    ``history_seen (U, M)``: items excluded from ranking; ``users``/``items``/``labels``: the
    pointwise set, whose first ``len(ratings)`` rows are the target period's ratings
    ``ratings`` (the rest are sampled negatives); ``rank_users``/``relevant (n, M)``: the
    ranking targets.
    """

    name: str
    hist_indptr: np.ndarray
    hist_items: np.ndarray
    history_seen: np.ndarray
    history_frame: pd.DataFrame
    users: np.ndarray
    items: np.ndarray
    labels: np.ndarray
    ratings: np.ndarray
    rank_users: np.ndarray
    relevant: np.ndarray

    @cached_property
    def history_counts(self) -> np.ndarray:
        """``(M,)`` ratings of each item in the history (one per user who rated it), computed
        once per split (every evaluation of a model on it reads them)."""
        return self.history_seen.sum(axis=0)


def make_eval_split(prep: PreparedData, period: str, neg_ratio: int, seed: int) -> EvalSplit:
    """Build the ``val`` or ``test`` evaluation of the module docstring (negatives seeded)."""
    if period not in ("val", "test"):
        raise ValueError(f"period: must be 'val' or 'test', got {period!r}")
    u, m = prep.n_users, prep.n_items
    hist = prep.train if period == "val" else fit_frame([prep.train, prep.val])
    target = prep.val if period == "val" else prep.test
    indptr, items = history_csr(hist, u)
    history_seen = seen_matrix([hist], u, m)
    ever = seen_matrix([prep.train, prep.val, prep.test], u, m)

    t_users = target["user_id"].to_numpy().astype(np.int64)
    t_items = target["item_id"].to_numpy().astype(np.int64)
    t_labels = (target["rating"].to_numpy() >= POSITIVE_RATING).astype(np.float64)
    rng = np.random.default_rng([seed, 0 if period == "val" else 1])
    neg_users = np.repeat(t_users, neg_ratio)
    neg_items = _sample_unseen(rng, neg_users, ever, m)
    users = np.concatenate([t_users, neg_users])
    items_all = np.concatenate([t_items, neg_items])
    labels = np.concatenate([t_labels, np.zeros(len(neg_users))])

    pos = target[target["rating"] >= POSITIVE_RATING]
    rank_users = np.unique(pos["user_id"].to_numpy()).astype(np.int64)
    row = {int(v): j for j, v in enumerate(rank_users)}
    relevant = np.zeros((len(rank_users), m), dtype=bool)
    relevant[[row[int(v)] for v in pos["user_id"]], pos["item_id"].to_numpy()] = True
    relevant &= ~history_seen[rank_users]
    return EvalSplit(
        name=period,
        hist_indptr=indptr,
        hist_items=items,
        history_seen=history_seen,
        history_frame=hist,
        users=users,
        items=items_all,
        labels=labels,
        ratings=target["rating"].to_numpy(dtype=np.float64),
        rank_users=rank_users,
        relevant=relevant,
    )


def _sample_unseen(
    rng: np.random.Generator, users: np.ndarray, seen: np.ndarray, n_items: int
) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user never rated."""
    out = rng.integers(0, n_items, len(users))
    bad = seen[users, out]
    while bad.any():  # rejection sampling; every user has unrated items in MovieLens
        out[bad] = rng.integers(0, n_items, int(bad.sum()))
        bad = seen[users, out]
    return out


def rating_rmse(sat_logits: np.ndarray, ratings: np.ndarray) -> float:
    """RMSE in rating units of the predicted rating ``1 + 4·σ(s)`` (1–5 scale)."""
    pred = 1.0 + 4.0 / (1.0 + np.exp(-sat_logits))
    return float(np.sqrt(np.mean((pred - ratings) ** 2)))


class Scorer(Protocol):
    """What :func:`evaluate` needs from a model."""

    def prob(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Engagement probabilities of matched ``(user, item)`` pairs."""

    def rank_scores(self, split: EvalSplit, users: np.ndarray) -> np.ndarray:
        """``(len(users), M)`` ranking scores (higher = more likely to engage)."""


def recall_at_k(top: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """Recall@k per user: ``|top_k ∩ R_u| / |R_u|`` (NaN when ``R_u`` is empty), ``top (n, ≥k)``
    ranked item ids, ``relevant (n, M)`` boolean."""
    hits = np.take_along_axis(relevant, top[:, :k], axis=1).sum(axis=1).astype(np.float64)
    n_rel = relevant.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits / n_rel, np.nan)


def evaluate(model: Scorer, split: EvalSplit, k: int = 10, k_recall: int = 20) -> dict[str, float]:
    """``{"auc", "auc_unrated", "auc_disliked", "auc_cold", "logloss", "ece", "ndcg@k", "hr@k",
    "recall@k_recall"}`` of ``model`` on
    ``split``; the ranking metrics rank *every* item outside the user's history (full ranking,
    no sampled candidates)."""
    p = np.asarray(model.prob(split, split.users, split.items), dtype=np.float64)
    ndcg, hr, recall = [], [], []
    depth = max(k, k_recall)
    for s in range(0, len(split.rank_users), 256):
        users = split.rank_users[s : s + 256]
        scores = np.array(model.rank_scores(split, users), dtype=np.float64)
        scores[split.history_seen[users]] = -np.inf  # history items are never recommended
        top = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
        rel = split.relevant[s : s + 256]
        ndcg.append(ndcg_at_k(top, rel, k, ranked=True))
        hr.append(hit_rate_at_k(top, rel, k, ranked=True))
        recall.append(recall_at_k(top, rel, k_recall))
    return {
        "auc": roc_auc(split.labels, p),
        **split_auc(split, p),
        "logloss": log_loss(split.labels, p),
        "ece": expected_calibration_error(split.labels, p),
        f"ndcg@{k}": float(np.nanmean(np.concatenate(ndcg))),
        f"hr@{k}": float(np.nanmean(np.concatenate(hr))),
        f"recall@{k_recall}": float(np.nanmean(np.concatenate(recall))),
    }


class TablesScorer:
    """A trained two-tower model evaluated through its numpy runtime tables (the simulator's
    own arithmetic), with θ = the mean direction of the split's history item vectors and ρ its
    recency summary (decay ``recency_decay`` over the last ``recency_length`` items)."""

    def __init__(
        self, tables: object, recency_decay: float = 0.85, recency_length: int = 1000
    ) -> None:
        from divrec_rl.bert.checkpoint import UserModelTables

        assert isinstance(tables, UserModelTables)
        self.tables = tables
        self.recency_decay = recency_decay
        self.recency_length = recency_length
        self._theta: dict[str, np.ndarray] = {}
        self._rho: dict[str, np.ndarray] = {}

    def rho(self, split: EvalSplit) -> np.ndarray:
        """``(U, d)`` recency summaries of the split's history."""
        from divrec_rl.bert.prepare import recency_history_vectors

        if split.name not in self._rho:
            self._rho[split.name] = recency_history_vectors(
                self.tables.item_vectors,
                split.hist_indptr,
                split.hist_items,
                self.recency_decay,
                self.recency_length,
            )
        return self._rho[split.name]

    def theta(self, split: EvalSplit) -> np.ndarray:
        """``(U, d)`` user states of the split's history."""
        from divrec_rl.bert.prepare import mean_history_vectors

        if split.name not in self._theta:
            self._theta[split.name] = mean_history_vectors(
                self.tables.item_vectors, split.hist_indptr, split.hist_items
            )
        return self._theta[split.name]

    def prob(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        attr, _ = self.tables.pair_logits(
            self.theta(split)[users], users, items, self.rho(split)[users]
        )
        return 1.0 / (1.0 + np.exp(-attr))

    def satisfaction_rmse(self, split: EvalSplit) -> float:
        """:func:`rating_rmse` of the satisfaction head on the target period's ratings."""
        n = len(split.ratings)
        users, items = split.users[:n], split.items[:n]
        _, sat = self.tables.pair_logits(
            self.theta(split)[users], users, items, self.rho(split)[users]
        )
        return rating_rmse(sat, split.ratings)

    def rank_scores(self, split: EvalSplit, users: np.ndarray) -> np.ndarray:
        attr, _ = self.tables.logits(
            self.theta(split)[users],
            users,
            np.arange(self.tables.n_items),
            self.rho(split)[users],
        )
        return attr
