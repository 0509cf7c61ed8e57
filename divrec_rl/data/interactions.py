"""The normalised in-memory form of a ratings dataset, :class:`InteractionData`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class InteractionData:
    """A ratings dataset with item and user side information.

    Attributes:
        name: dataset name (registry name, or the directory name for a path).
        items: one row per item, ``item_id`` = row position ``0..M-1``; columns ``item_id``
            (int64), ``raw_item_id`` (str), ``title`` (str), ``year`` (nullable ``Int64``),
            ``genres`` (list[str]), ``text`` (str, ``"Title (1995). Genres: A, B"``).
        users: one row per user, ``user_id`` = row position ``0..U-1``; columns ``user_id``
            (int64), ``raw_user_id`` (str), ``age`` (int64; ML-1M: age-bracket code),
            ``gender`` (``'M'``/``'F'``), ``occupation`` (str).
        ratings: ``user_id``, ``item_id`` (int64, the contiguous ids), ``rating``
            (float32), ``timestamp`` (int64, Unix seconds); sorted by
            ``(user_id, timestamp, item_id)`` with a fresh ``RangeIndex``.
        genres: sorted list of every genre that occurs in ``items.genres``.
        layout: which input layout it was read from (``atomic``, ``ml-100k``, ``ml-1m``).
    """

    name: str
    items: pd.DataFrame
    users: pd.DataFrame
    ratings: pd.DataFrame
    genres: list[str]
    layout: str = field(default="")

    @property
    def n_items(self) -> int:
        """M, number of items in the catalogue (rated or not)."""
        return len(self.items)

    @property
    def n_users(self) -> int:
        """U, number of users."""
        return len(self.users)

    @property
    def n_ratings(self) -> int:
        """Number of (user, item, rating, timestamp) rows."""
        return len(self.ratings)

    def genre_matrix(self) -> np.ndarray:
        """Multi-hot genre matrix ``G`` of shape ``(M, len(genres))``, float32.

        ``G[i, j] = 1`` iff ``genres[j]`` is in ``items.genres[i]``, else 0.
        """
        col = {g: j for j, g in enumerate(self.genres)}
        out = np.zeros((len(self.items), len(self.genres)), dtype=np.float32)
        rows = [i for i, gs in enumerate(self.items["genres"]) for _ in gs]
        cols = [col[g] for gs in self.items["genres"] for g in gs]
        out[rows, cols] = 1.0
        return out

    def summary(self) -> dict[str, float | int | str]:
        """Counts and simple statistics (used by ``divrec-rl data info``).

        ``density = n_ratings / (n_users * n_items)``; per-user counts are over users with
        at least one rating.
        """
        r = self.ratings
        per_user = r.groupby("user_id").size() if len(r) else pd.Series([0])
        cells = max(self.n_users * self.n_items, 1)
        return {
            "name": self.name,
            "layout": self.layout,
            "users": self.n_users,
            "items": self.n_items,
            "ratings": self.n_ratings,
            "rated_users": int(r["user_id"].nunique()),
            "rated_items": int(r["item_id"].nunique()),
            "genres": len(self.genres),
            "density": self.n_ratings / cells,
            "rating_mean": float(r["rating"].mean()) if len(r) else float("nan"),
            "ratings_per_user_min": int(per_user.min()),
            "ratings_per_user_median": float(per_user.median()),
            "ratings_per_user_max": int(per_user.max()),
            "timestamp_min": int(r["timestamp"].min()) if len(r) else 0,
            "timestamp_max": int(r["timestamp"].max()) if len(r) else 0,
        }
