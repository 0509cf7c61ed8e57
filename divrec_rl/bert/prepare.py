"""From an :class:`~divrec_rl.data.InteractionData` to what the user model trains and runs on.

* the per-user temporal split (:func:`~divrec_rl.data.temporal_split`): train = oldest ratings,
  val = the next ``val_frac``, test = the newest ``test_frac``;
* the *fit period* the model learns from: ``train`` (validation held out, to choose a recipe)
  or ``train+val`` (everything before the test period: the refit, as the report's baselines
  are refitted on everything before the period they are scored on);
* static user features in [0, 1] (:func:`user_features`);
* item statistics of the fit period (:func:`item_features`);
* each user's fit-period history in time order, as CSR arrays (:func:`history_csr`);
* the training examples: every fit-period rating with at least ``min_history`` earlier ratings.

No torch here: the simulator's population and the report use it too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from divrec_rl.data import InteractionData, temporal_split

if TYPE_CHECKING:
    from divrec_rl.bert.settings import TrainConfig

#: Ratings at or above this value count as engagement (the binary label).
POSITIVE_RATING = 4.0
#: Pseudo-count of the shrunk mean rating, ``(Σr + k·r̄) / (n + k)``.
RATING_PRIOR_COUNT = 10.0
#: The periods a model can be fitted on (``TrainConfig.fit_period``).
FIT_PERIODS = ("train", "train+val")


def user_features(users: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Static features ``(U, F)`` float32 in [0, 1] and their names.

    One-hot gender (``M``, ``F``), one-hot occupation (sorted names), and age scaled by
    ``(age − min) / (max − min)`` over the dataset's users (ML-1M: the age-bracket code).
    """
    genders = ["F", "M"]
    occupations = sorted(set(users["occupation"].astype(str)))
    n = len(users)
    x = np.zeros((n, len(genders) + len(occupations) + 1), dtype=np.float32)
    g_col = {g: j for j, g in enumerate(genders)}
    o_col = {o: len(genders) + j for j, o in enumerate(occupations)}
    rows = np.arange(n)
    x[rows, [g_col[g] for g in users["gender"]]] = 1.0
    x[rows, [o_col[str(o)] for o in users["occupation"]]] = 1.0
    age = users["age"].to_numpy(dtype=np.float64)
    span = age.max() - age.min() if n else 0.0
    x[:, -1] = (age - age.min()) / span if span > 0 else 0.0
    names = [f"gender={g}" for g in genders] + [f"occupation={o}" for o in occupations] + ["age"]
    return x, names


def _standardise(x: np.ndarray) -> np.ndarray:
    return ((x - x.mean()) / (x.std() + 1e-8)).astype(np.float32)


def item_features(train: pd.DataFrame, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features (M, 2) float32, popularity (M,) float64)`` from the ratings in ``train``
    (the fit period).

    Column 0: standardised ``log(1 + n_i)`` with ``n_i`` the item's ratings in ``train`` (also
    returned as ``popularity``); column 1: standardised shrunk mean rating
    ``(Σ r + k·r̄) / (n_i + k)``, ``k`` = :data:`RATING_PRIOR_COUNT`, ``r̄`` the mean of ``train``.
    """
    items = train["item_id"].to_numpy()
    ratings = train["rating"].to_numpy(dtype=np.float64)
    count = np.bincount(items, minlength=n_items).astype(np.float64)
    total = np.bincount(items, weights=ratings, minlength=n_items)
    mean = ratings.mean() if len(ratings) else 0.0
    shrunk = (total + RATING_PRIOR_COUNT * mean) / (count + RATING_PRIOR_COUNT)
    feats = np.stack([_standardise(np.log1p(count)), _standardise(shrunk)], axis=1)
    return feats, count


def history_csr(frame: pd.DataFrame, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's items in ``frame`` in time order: ``indptr (U+1,)``, ``items``.

    ``frame`` must be sorted by ``(user_id, timestamp, item_id)`` (the data layer's order).
    """
    users = frame["user_id"].to_numpy()
    counts = np.bincount(users, minlength=n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, frame["item_id"].to_numpy().astype(np.int64)


def seen_matrix(frames: list[pd.DataFrame], n_users: int, n_items: int) -> np.ndarray:
    """``(U, M)`` bool: the user rated the item in any of ``frames``."""
    seen = np.zeros((n_users, n_items), dtype=bool)
    for f in frames:
        seen[f["user_id"].to_numpy(), f["item_id"].to_numpy()] = True
    return seen


def dataset_fingerprint(data: InteractionData) -> str:
    """sha256 of the item texts, the raw user ids and the rating count (catalogue identity)."""
    h = hashlib.sha256()
    for text in data.items["text"]:
        h.update(str(text).encode("utf-8") + b"\x00")
    for uid in data.users["raw_user_id"]:
        h.update(str(uid).encode("utf-8") + b"\x01")
    h.update(str(data.n_ratings).encode())
    return h.hexdigest()


def ratings_fingerprint(data: InteractionData) -> str:
    """sha256 of every rating: user, item, rating and timestamp columns, in the loader's order (what
    :func:`dataset_fingerprint` leaves out, so the same catalogue with other ratings differs)."""
    h = hashlib.sha256()
    columns = (("user_id", "<i8"), ("item_id", "<i8"), ("rating", "<f8"), ("timestamp", "<i8"))
    for column, dtype in columns:
        h.update(np.ascontiguousarray(data.ratings[column].to_numpy(), dtype=dtype).tobytes())
    return h.hexdigest()


def same_dataset(recorded: dict[str, Any], data: InteractionData) -> bool:
    """Whether ``data`` is the dataset a checkpoint recorded (its config's ``dataset`` entry):
    the catalogue fingerprint, and the ratings' when recorded (checkpoints written before it
    was recorded compare by the catalogue alone)."""
    if recorded.get("fingerprint") != dataset_fingerprint(data):
        return False
    expected = recorded.get("ratings_fingerprint")
    return expected is None or expected == ratings_fingerprint(data)


@dataclass
class PreparedData:
    """A dataset split and featurised for the user model.

    ``train``/``val``/``test`` are the temporal split, whatever the fit period; everything else
    describes the fit period ``fit`` (``train``, or ``train`` + ``val`` in time order):
    ``examples_*`` are the training examples (rows of ``fit`` with ``position ≥ min_history``,
    ``position`` = how many earlier fit-period ratings the user has); ``hist_indptr``/
    ``hist_items`` hold each user's fit-period items in time order, so example ``j``'s history
    is ``hist_items[hist_indptr[u] : hist_indptr[u] + position[j]]``; ``item_examples[
    item_examples_indptr[i] : item_examples_indptr[i + 1]]`` are the examples rating item ``i``;
    ``train_seen`` = rated in the fit period, ``train_liked`` = rated ≥ 4 there (the engagement
    label's positives); ``item_features``/``popularity`` its statistics.
    """

    data: InteractionData
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    user_features: np.ndarray
    feature_names: list[str]
    item_features: np.ndarray
    popularity: np.ndarray
    hist_indptr: np.ndarray
    hist_items: np.ndarray
    train_seen: np.ndarray
    train_liked: np.ndarray
    examples_user: np.ndarray
    examples_item: np.ndarray
    examples_rating: np.ndarray
    examples_position: np.ndarray
    item_examples_indptr: np.ndarray
    item_examples: np.ndarray
    fingerprint: str
    fit_period: str = "train"

    @property
    def n_users(self) -> int:
        """U."""
        return self.data.n_users

    @property
    def n_items(self) -> int:
        """M."""
        return self.data.n_items


def prepare(
    data: InteractionData,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    min_train: int = 5,
    min_history: int = 3,
    fit_period: str = "train",
) -> PreparedData:
    """Split and featurise ``data`` (see the module docstring); ``fit_period`` is one of
    :data:`FIT_PERIODS`."""
    if fit_period not in FIT_PERIODS:
        raise ValueError(f"fit_period: must be one of {', '.join(FIT_PERIODS)}, got {fit_period!r}")
    train, val, test = temporal_split(data.ratings, val_frac, test_frac, min_train)
    fit = train if fit_period == "train" else fit_frame([train, val])
    u, m = data.n_users, data.n_items
    ufeat, names = user_features(data.users)
    ifeat, pop = item_features(fit, m)
    indptr, items = history_csr(fit, u)
    users = fit["user_id"].to_numpy()
    position = np.arange(len(fit)) - indptr[users]
    keep = position >= min_history
    ex_items = fit["item_id"].to_numpy()[keep].astype(np.int64)
    by_item = np.argsort(ex_items, kind="stable")
    item_indptr = np.concatenate([[0], np.cumsum(np.bincount(ex_items, minlength=m))])
    return PreparedData(
        data=data,
        train=train,
        val=val,
        test=test,
        user_features=ufeat,
        feature_names=names,
        item_features=ifeat,
        popularity=pop,
        hist_indptr=indptr,
        hist_items=items,
        train_seen=seen_matrix([fit], u, m),
        train_liked=seen_matrix([fit[fit["rating"] >= POSITIVE_RATING]], u, m),
        examples_user=users[keep].astype(np.int64),
        examples_item=ex_items,
        examples_rating=fit["rating"].to_numpy()[keep].astype(np.float32),
        examples_position=position[keep].astype(np.int64),
        item_examples_indptr=item_indptr.astype(np.int64),
        item_examples=by_item.astype(np.int64),
        fingerprint=dataset_fingerprint(data),
        fit_period=fit_period,
    )


def prepare_for(data: InteractionData, cfg: TrainConfig) -> PreparedData:
    """:func:`prepare` with the split, history and fit-period settings of ``cfg``."""
    return prepare(
        data, cfg.val_frac, cfg.test_frac, cfg.min_train, cfg.min_history, cfg.fit_period
    )


def fit_frame(periods: list[pd.DataFrame]) -> pd.DataFrame:
    """Consecutive periods of the temporal split as one frame in the data layer's order
    ``(user_id, timestamp, item_id)`` (per user, every earlier period precedes the later ones, so
    this is each user's ratings of those periods in time order)."""
    frame = pd.concat(periods, ignore_index=True)
    return frame.sort_values(["user_id", "timestamp", "item_id"], kind="stable").reset_index(
        drop=True
    )


def mean_history_vectors(
    item_vectors: np.ndarray, indptr: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """``(U, d)`` unit-norm mean of each user's history item vectors (zero rows for no history).

    This is the user state θ the towers read, and a simulated user's starting interest.
    """
    n_users = len(indptr) - 1
    owner = np.repeat(np.arange(n_users), np.diff(indptr))
    sums = np.zeros((n_users, item_vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, item_vectors[items].astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (sums / norms).astype(np.float32)


def recency_history_vectors(
    item_vectors: np.ndarray, indptr: np.ndarray, items: np.ndarray, decay: float, length: int
) -> np.ndarray:
    """``(U, d)`` recency summaries ρ_u = Σ_{age a < length} (1−δ)·δ^a·e_(a) of each user's
    history (``e_(0)`` the latest item), float32.

    The batch form of the exponential moving average ``ρ ← δ·ρ + (1−δ)·e`` over the last
    ``length`` items starting from ρ = 0, which the simulator applies per consumed item to the
    user's observed history (``users.history_decay`` = δ).
    """
    n_users = len(indptr) - 1
    lengths = np.diff(indptr)
    owner = np.repeat(np.arange(n_users), lengths)
    age = np.repeat(indptr[1:], lengths) - 1 - np.arange(len(items))
    keep = age < length
    w = (1.0 - decay) * decay ** age[keep].astype(np.float64)
    out = np.zeros((n_users, item_vectors.shape[1]), dtype=np.float64)
    np.add.at(out, owner[keep], item_vectors[items[keep]].astype(np.float64) * w[:, None])
    return out.astype(np.float32)
