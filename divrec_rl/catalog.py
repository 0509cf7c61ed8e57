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


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    norms[norms == 0] = 1.0
    return x / norms
