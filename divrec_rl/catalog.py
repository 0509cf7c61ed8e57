"""The item catalogue every simulated step works on: ids, text, categories, popularity, vectors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Catalog:
    """Items of one scenario, stored column-wise.

    Parameters
    ----------
    item_ids:
        ``(M,)`` int64, exactly ``0..M-1``: an item's id is its catalogue row (datasets map their
        raw ids to rows when they build the catalogue); every other array is indexed the same way.
    texts:
        ``M`` strings the language model reads (title, attributes, genres).  Never used per step.
    category_names:
        ``C`` category names.
    category_weights:
        ``(M, C)`` float32, each row a distribution over categories (one-hot for single-category
        items, a normalised multi-hot for items with several genres).
    popularity:
        ``(M,)`` float64 non-negative interaction counts (or expected counts) defining the head and
        the long tail.
    embeddings:
        ``(M, d)`` float32 unit-norm item vectors, computed once (e.g. by the fine-tuned item tower)
        and cached; the per-step dynamics use only these.
    quality:
        ``(M,)`` float32 latent item quality in logit units (0 where unknown).
    """

    item_ids: np.ndarray
    texts: list[str]
    category_names: list[str]
    category_weights: np.ndarray
    popularity: np.ndarray
    embeddings: np.ndarray
    quality: np.ndarray
    primary_category: np.ndarray = field(init=False)
    log_popularity_z: np.ndarray = field(init=False)
    popularity_prob: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        m = len(self.item_ids)
        shapes = {
            "texts": (len(self.texts),),
            "category_weights": self.category_weights.shape[:1],
            "popularity": self.popularity.shape,
            "embeddings": self.embeddings.shape[:1],
            "quality": self.quality.shape,
        }
        for name, shape in shapes.items():
            if shape != (m,):
                raise ValueError(
                    f"catalog.{name}: expected {m} rows (one per item), got {shape[0]}"
                )
        if self.category_weights.shape[1] != len(self.category_names):
            raise ValueError(
                f"catalog.category_weights: expected {len(self.category_names)} columns "
                f"(one per category), got {self.category_weights.shape[1]}"
            )
        if m == 0:
            raise ValueError("catalog: must hold at least one item")
        if not np.array_equal(self.item_ids, np.arange(m)):
            raise ValueError("catalog.item_ids: must be 0..M-1 (item id = catalogue row)")
        if np.any(self.popularity < 0):
            raise ValueError("catalog.popularity: must be non-negative")
        _check_rows(self.embeddings, self.category_weights)
        # Derived, read-only views used by every step; computed once here.
        object.__setattr__(self, "primary_category", np.argmax(self.category_weights, axis=1))
        logp = np.log1p(self.popularity)
        z = (logp - logp.mean()) / (logp.std() + 1e-8)
        object.__setattr__(self, "log_popularity_z", z.astype(np.float32))
        prob = (self.popularity + 1.0) / (self.popularity + 1.0).sum()
        object.__setattr__(self, "popularity_prob", prob)
        for arr in (self.category_weights, self.embeddings, self.quality, self.popularity):
            arr.setflags(write=False)

    @property
    def n_items(self) -> int:
        """Number of items M."""
        return len(self.item_ids)

    @property
    def n_categories(self) -> int:
        """Number of categories C."""
        return len(self.category_names)

    @property
    def embedding_dim(self) -> int:
        """Dimension d of the item vectors."""
        return int(self.embeddings.shape[1])

    def category_pools(self) -> list[np.ndarray]:
        """Item indices grouped by primary category (disjoint, together the whole catalogue)."""
        order = np.argsort(self.primary_category, kind="stable")
        bounds = np.searchsorted(self.primary_category[order], np.arange(self.n_categories + 1))
        return [order[bounds[c] : bounds[c + 1]] for c in range(self.n_categories)]


#: How far from 1 a row's norm (embeddings) or sum (category weights) may be: float32 rounding of
#: a normalised row is ≈ 1e-7; 1e-3 still refuses any vector that was not normalised.
ROW_TOLERANCE = 1e-3


def _check_rows(embeddings: np.ndarray, category_weights: np.ndarray) -> None:
    """Refuse item vectors that are not unit-norm and category rows that are not distributions:
    the slate diversity (``1 − mean pairwise cosine`` computed from ``|Σ e|²``), the response
    model's cosine and the observation bounds all assume both."""
    norms = np.sqrt(np.einsum("ij,ij->i", embeddings, embeddings, dtype=np.float64))
    bad = np.flatnonzero(~(np.abs(norms - 1.0) <= ROW_TOLERANCE))
    if len(bad):
        raise ValueError(
            f"catalog.embeddings: every row must have unit L2 norm (normalise the item vectors), "
            f"got norm {norms[bad[0]]:.6g} for item {bad[0]} ({len(bad)} such rows)"
        )
    sums = category_weights.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(
        ~(np.abs(sums - 1.0) <= ROW_TOLERANCE) | (category_weights < 0).any(axis=1)
    )
    if len(bad):
        raise ValueError(
            "catalog.category_weights: every row must be a distribution over the categories "
            f"(non-negative, summing to 1), got sum {sums[bad[0]]:.6g} for item {bad[0]} "
            f"({len(bad)} such rows)"
        )


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    norms[norms == 0] = 1.0
    return x / norms
