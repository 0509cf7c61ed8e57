"""Coverage of the catalogue and of its categories by the shown items."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from divrec_rl.metrics.inputs import (
    FloatArray,
    IntArray,
    int_ids,
    positive_int,
    rows_for_per_row,
)


def _coverage(ids: IntArray, n: int, per_row: bool, name: str) -> float | FloatArray:
    rows = rows_for_per_row(ids, name, per_row)
    seen = np.zeros((rows.shape[0], n), dtype=bool)
    seen[np.arange(rows.shape[0])[:, None], rows] = True
    cov = seen.mean(axis=1)
    return cov if per_row else float(cov[0])


def category_coverage(
    shown_categories: ArrayLike, n_categories: int, per_row: bool = False
) -> float | FloatArray:
    """Fraction of all categories that appear at least once among the shown items.

    ``Cov_cat = |{c : c shown}| / C`` ∈ [0, 1] (subtopic recall).

    Args:
        shown_categories: either integer category ids of the shown items (any shape; an item
            with several categories contributes each of them), or a boolean multi-hot array
            ``(..., C)`` with one row per shown item.
        n_categories: total number of categories C.
        per_row: with a 2-D id array ``(n_rows, m)`` (or a 3-D multi-hot array
            ``(n_rows, m, C)``), return the coverage of each row (e.g. per user).

    Returns:
        A float, or ``(n_rows,)`` floats when ``per_row``.

    Reference: subtopic recall, Zhai, Cohen and Lafferty, "Beyond Independent Relevance",
    SIGIR 2003.
    """
    n = positive_int(n_categories, "n_categories")
    arr = np.asarray(shown_categories)
    if arr.dtype == bool:
        if arr.ndim < 1 or arr.shape[-1] != n:
            raise ValueError(
                f"multi-hot shown_categories must have last axis n_categories={n}, "
                f"got shape {arr.shape}"
            )
        if per_row:
            if arr.ndim != 3:
                raise ValueError(
                    f"per_row=True needs multi-hot shape (n_rows, m, C), got {arr.shape}"
                )
            return arr.any(axis=1).mean(axis=1).astype(np.float64)
        return float(arr.reshape(-1, n).any(axis=0).mean())
    ids = int_ids(arr, "shown_categories", upper=n)
    return _coverage(ids, n, per_row, "shown_categories")


def catalog_coverage(
    shown_item_ids: ArrayLike, n_items: int, per_row: bool = False
) -> float | FloatArray:
    """Catalog (prediction) coverage: fraction of the catalog that was ever recommended.

    ``Cov = |{i : i shown}| / n_items`` ∈ [0, 1].

    Args:
        shown_item_ids: integer ids of every shown item (any shape).
        n_items: catalog size.
        per_row: with a 2-D ``(n_rows, m)`` input, return the coverage of each row.

    Returns:
        A float, or ``(n_rows,)`` floats when ``per_row``.

    Reference: Ge, Delgado-Battenfeld and Jannach, "Beyond Accuracy: Evaluating Recommender
    Systems by Coverage and Serendipity", RecSys 2010.
    """
    n = positive_int(n_items, "n_items")
    ids = int_ids(shown_item_ids, "shown_item_ids", upper=n)
    return _coverage(ids, n, per_row, "shown_item_ids")
