"""Recommendation metrics: engagement, beyond-accuracy (diversity, coverage, fairness, novelty,
filter-bubble) and offline ranking quality.

Every function is pure numpy, validates its inputs (raising ``ValueError`` with the offending
shape / value) and documents its formula and a literature reference.

Conventions
-----------
* A *slate* is the ordered list of ``k`` items shown at one step; batched slate inputs have a
  leading ``n_slates`` (or ``n_users``) axis.
* Item ids / category ids are non-negative integers ``< n_items`` / ``< n_categories``.
* Functions that reduce over a set of shown items (coverage, novelty, long-tail share) return a
  scalar by default; with ``per_row=True`` a 2-D input ``(n_rows, m)`` yields one value per row
  (e.g. per user or per session).
* Per-slate / per-user metrics (ILD, MCD, NDCG, hit rate) return one value per row; aggregate
  with ``np.mean`` (or ``np.nanmean`` for the ranking metrics, see there).
"""

from __future__ import annotations

from divrec_rl.metrics.bubble import majority_category, majority_category_domination
from divrec_rl.metrics.coverage import catalog_coverage, category_coverage
from divrec_rl.metrics.engagement import (
    ctr,
    cumulative_engagement,
    session_ids_from_dones,
    session_length,
)
from divrec_rl.metrics.exposure import (
    exposure_counts,
    gini_exposure,
    long_tail_share,
    novelty,
    tail_mask_from_popularity,
)
from divrec_rl.metrics.intra_list import category_ild, intra_list_diversity, mean_pairwise_dot
from divrec_rl.metrics.ranking import hit_rate_at_k, ndcg_at_k, precision_at_k, recall_at_k

__all__ = [
    "catalog_coverage",
    "category_coverage",
    "category_ild",
    "ctr",
    "cumulative_engagement",
    "exposure_counts",
    "gini_exposure",
    "hit_rate_at_k",
    "intra_list_diversity",
    "long_tail_share",
    "majority_category",
    "majority_category_domination",
    "mean_pairwise_dot",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
    "session_ids_from_dones",
    "session_length",
    "tail_mask_from_popularity",
]
