"""Real data layer: fetch, load and split MovieLens.

* :func:`fetch_dataset` -- download ``movielens-100k`` / ``movielens-1m`` into the cache,
  sha256-verified (:mod:`divrec_rl.data.fetch`);
* :func:`load_dataset` -- a name or a directory (GroupLens ML-100k / ML-1M layouts, RecBole
  atomic files) into :class:`InteractionData` (:mod:`divrec_rl.data.movielens`);
* :func:`temporal_split`, :func:`user_split` -- evaluation protocols
  (:mod:`divrec_rl.data.splits`);
* :class:`DataError` -- the data layer's error (:class:`divrec_rl.errors.DataError`).

The ``divrec-rl data fetch|info`` commands live in :mod:`divrec_rl.commands.data`.
"""

from divrec_rl.data.fetch import (
    DATASET_NAMES,
    DATASETS,
    DataError,
    DatasetSpec,
    dataset_dir,
    default_cache_dir,
    fetch_dataset,
    is_fetched,
)
from divrec_rl.data.movielens import (
    LAYOUTS,
    ML1M_OCCUPATIONS,
    ML100K_GENRES,
    InteractionData,
    detect_layout,
    load_dataset,
)
from divrec_rl.data.splits import temporal_split, user_split

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "LAYOUTS",
    "ML1M_OCCUPATIONS",
    "ML100K_GENRES",
    "DataError",
    "DatasetSpec",
    "InteractionData",
    "dataset_dir",
    "default_cache_dir",
    "detect_layout",
    "fetch_dataset",
    "is_fetched",
    "load_dataset",
    "temporal_split",
    "user_split",
]
