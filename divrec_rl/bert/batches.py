"""The training examples of one fine-tuning step, drawn as a pure function of ``(seed, step)``.

See :mod:`divrec_rl.bert.train` for how a step uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from divrec_rl.bert.prepare import PreparedData
from divrec_rl.bert.settings import TrainConfig


@dataclass
class Batch:
    """One step's ratings ``(users, items, ratings)``, the flattened histories of their users
    (``hist_rows`` indexes the rating, ``hist_items`` the history item, ``hist_age`` how many
    items the user rated after it and before the rating: 0 = the latest) and the negative pool
    with ``pool_valid[b, j]`` = "user of rating b has not rated pool item j in training"."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    hist_rows: np.ndarray
    hist_items: np.ndarray
    hist_age: np.ndarray
    pool: np.ndarray
    pool_valid: np.ndarray


def draw_batch(prep: PreparedData, cfg: TrainConfig, step: int) -> Batch:
    """The examples and negative pool of ``step`` (a pure function of ``(seed, step)``).

    ``batch_items`` distinct items are drawn without replacement with probability ∝ their number
    of training examples (Gumbel top-k), then ``ratings_per_item`` of each item's examples
    uniformly with replacement: in expectation every training rating is equally likely, while
    each item the encoder runs on is reused for several users.
    """
    rng = np.random.default_rng([cfg.seed, step])
    counts = np.diff(prep.item_examples_indptr)
    with np.errstate(divide="ignore"):
        keys = np.log(counts) - np.log(-np.log(rng.random(len(counts))))
    n_items = min(cfg.batch_items, int((counts > 0).sum()))
    chosen = np.argpartition(-keys, n_items - 1)[:n_items]
    starts = prep.item_examples_indptr[chosen]
    picks = np.floor(rng.random((n_items, cfg.ratings_per_item)) * counts[chosen][:, None])
    j = prep.item_examples[(starts[:, None] + picks.astype(np.int64)).ravel()]
    users = prep.examples_user[j]
    pos = prep.examples_position[j]
    starts = prep.hist_indptr[users]
    offsets = np.arange(pos.sum()) - np.repeat(np.cumsum(pos) - pos, pos)
    hist_items = prep.hist_items[np.repeat(starts, pos) + offsets]
    pool = rng.integers(0, prep.n_items, cfg.n_pool)
    return Batch(
        users=users,
        items=prep.examples_item[j],
        ratings=prep.examples_rating[j],
        hist_rows=np.repeat(np.arange(len(j)), pos),
        hist_items=hist_items,
        hist_age=np.repeat(pos, pos) - 1 - offsets,
        pool=pool,
        pool_valid=~prep.train_seen[users[:, None], pool[None, :]],
    )
