"""Train/validation/test splits: per-user temporal splits and disjoint user splits.

Two protocols are used by the experiments:

* :func:`temporal_split` cuts every user's history in time (train = oldest, test = newest),
  for models fitted on logged ratings (supervised rankers, simulated-user preferences);
* :func:`user_split` partitions the *users* into disjoint groups for the simulator: agents
  train on ``train`` users, baselines are tuned on ``val`` users, and every method is
  evaluated on held-out ``eval`` users nobody trained or tuned on.

Counts use round-half-up, ``rnd(x) = floor(x + 0.5)`` (so 2.5 -> 3; a tiny epsilon absorbs
float error such as ``0.1 * 35 = 3.5000000000000004``), not Python's banker's rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["temporal_split", "user_split"]

_EPS = 1e-9


def _round_half_up(x: np.ndarray | float) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5 + _EPS).astype(np.int64)


def _check_fracs(**fracs: float) -> None:
    for key, value in fracs.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{key} must be in [0, 1), got {value}")
    if sum(fracs.values()) >= 1.0:
        names = " + ".join(fracs)
        raise ValueError(f"{names} must be < 1, got {sum(fracs.values())}")


def temporal_split(
    ratings: pd.DataFrame,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    min_train: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split each user's ratings by time into (train, val, test).

    Each user's ``n`` rows are ordered by ``(timestamp, item_id)`` (ties in time broken by
    item id, then by original row order, so the result is deterministic). With
    ``avail = max(n - min_train, 0)``:

    * ``n_test = min(rnd(test_frac * n), avail)`` -- the user's last ``n_test`` rows;
    * ``n_val = min(rnd(val_frac * n), avail - n_test)`` -- the ``n_val`` rows before those;
    * ``n_train = n - n_test - n_val`` -- the rest, at least ``min(n, min_train)``.

    where ``rnd`` rounds half up. Edge cases: a user with ``n <= min_train`` rows goes to
    train only; with few rows, test is filled before val (e.g. ``n=2, min_train=1`` gives
    1 train + 1 test, no val); ``test_frac=0`` / ``val_frac=0`` give empty frames.
    Consequently, per user, every train timestamp <= every val timestamp <= every test
    timestamp, and the three parts partition the input rows.

    Args:
        ratings: frame with at least ``user_id``, ``item_id``, ``timestamp`` columns; other
            columns are carried along.
        val_frac, test_frac: fractions in ``[0, 1)`` with ``val_frac + test_frac < 1``.
        min_train: minimum rows a user keeps in train (``>= 0``).

    Returns:
        ``(train, val, test)`` frames with the input's columns, each sorted by
        ``(user_id, timestamp, item_id)`` with a fresh ``RangeIndex``.
    """
    _check_fracs(val_frac=val_frac, test_frac=test_frac)
    if min_train < 0:
        raise ValueError(f"min_train must be >= 0, got {min_train}")
    missing = {"user_id", "item_id", "timestamp"} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings lacks column(s) {', '.join(sorted(missing))}")

    order = np.lexsort(
        (
            np.arange(len(ratings)),
            ratings["item_id"].to_numpy(),
            ratings["timestamp"].to_numpy(),
            ratings["user_id"].to_numpy(),
        )
    )
    df = ratings.iloc[order].reset_index(drop=True)
    users = df["user_id"].to_numpy()
    # run-length encode the sorted user column: start offset and size of every user block
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(df) else np.array([])
    sizes = np.diff(np.r_[starts, len(df)]).astype(np.int64)
    avail = np.maximum(sizes - min_train, 0)
    n_test = np.minimum(_round_half_up(test_frac * sizes), avail)
    n_val = np.minimum(_round_half_up(val_frac * sizes), avail - n_test)
    n = np.repeat(sizes, sizes)
    pos = np.arange(len(df)) - np.repeat(starts.astype(np.int64), sizes)  # rank in user
    from_end = n - pos  # 1 for the user's last row
    is_test = from_end <= np.repeat(n_test, sizes)
    is_val = ~is_test & (from_end <= np.repeat(n_test + n_val, sizes))
    is_train = ~is_test & ~is_val
    return (
        df.loc[is_train].reset_index(drop=True),
        df.loc[is_val].reset_index(drop=True),
        df.loc[is_test].reset_index(drop=True),
    )


def user_split(
    user_ids: np.ndarray | pd.Series | list[int],
    eval_frac: float = 0.2,
    val_frac: float = 0.1,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Partition users into disjoint ``train`` / ``val`` / ``eval`` groups.

    The distinct ids are sorted (so the input order and duplicates do not matter), shuffled
    with ``numpy.random.default_rng(seed).permutation``, and cut as
    ``[eval | val | train]`` with, for ``U`` distinct users,

    * ``n_eval = rnd(eval_frac * U)``, ``n_val = rnd(val_frac * U)`` (round half up),
    * reduced (val first, then eval) so that ``n_train = U - n_eval - n_val >= 1`` when
      ``U >= 1``.

    Roles: ``train`` -- users RL agents interact with during training; ``val`` -- users
    used to tune baselines / hyper-parameters; ``eval`` -- held-out users every method is
    evaluated on. Same ``seed`` and same id set give the same split.

    Args:
        user_ids: user ids (any integer array-like; duplicates allowed).
        eval_frac, val_frac: fractions in ``[0, 1)`` with ``eval_frac + val_frac < 1``.
        seed: seed of the permutation.

    Returns:
        ``{"train": ..., "val": ..., "eval": ...}``, each a sorted 1-D array of the input's
        dtype; together they are exactly the distinct input ids.
    """
    _check_fracs(eval_frac=eval_frac, val_frac=val_frac)
    ids = np.unique(np.asarray(user_ids))
    n_users = len(ids)
    n_eval = int(_round_half_up(eval_frac * n_users))
    n_val = int(_round_half_up(val_frac * n_users))
    excess = max(n_eval + n_val - (n_users - 1), 0) if n_users else n_eval + n_val
    cut = min(excess, n_val)
    n_val -= cut
    n_eval -= min(excess - cut, n_eval)
    perm = ids[np.random.default_rng(seed).permutation(n_users)]
    return {
        "train": np.sort(perm[n_eval + n_val :]),
        "val": np.sort(perm[n_eval : n_eval + n_val]),
        "eval": np.sort(perm[:n_eval]),
    }
