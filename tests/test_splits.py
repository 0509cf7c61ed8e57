"""Properties of the temporal (per-user) and user-level splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from divrec_rl.data import temporal_split, user_split


def random_ratings(seed: int = 0, n_users: int = 40, max_n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        n = int(rng.integers(1, max_n))
        items = rng.choice(200, size=n, replace=False)
        ts = rng.integers(0, 10, size=n)  # few distinct times: many ties
        rows += [
            (u, int(i), float(rng.integers(1, 6)), int(t)) for i, t in zip(items, ts, strict=True)
        ]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # shuffled rows


def _key(df: pd.DataFrame) -> list[tuple[int, int, int]]:
    return sorted(map(tuple, df[["user_id", "item_id", "timestamp"]].to_numpy().tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("val_frac", "test_frac", "min_train"), [(0.1, 0.1, 1), (0.2, 0.3, 3)])
def test_temporal_split_properties(
    seed: int, val_frac: float, test_frac: float, min_train: int
) -> None:
    ratings = random_ratings(seed)
    train, val, test = temporal_split(ratings, val_frac, test_frac, min_train)
    # partition: disjoint and covering (user, item) pairs are unique per user here
    assert _key(pd.concat([train, val, test])) == _key(ratings)
    assert list(train.columns) == list(ratings.columns)
    sizes = ratings.groupby("user_id").size()
    for u, n in sizes.items():
        tr = train[train.user_id == u]
        va = val[val.user_id == u]
        te = test[test.user_id == u]
        # counts follow the documented formula
        avail = max(n - min_train, 0)
        n_test = min(int(np.floor(test_frac * n + 0.5 + 1e-9)), avail)
        n_val = min(int(np.floor(val_frac * n + 0.5 + 1e-9)), avail - n_test)
        assert (len(tr), len(va), len(te)) == (n - n_test - n_val, n_val, n_test)
        assert len(tr) >= min(n, min_train)
        # temporal order with item_id tie-break: train < val < test in (timestamp, item)
        seq = [list(zip(p.timestamp, p.item_id, strict=True)) for p in (tr, va, te)]
        flat = [k for part in seq for k in part]
        assert flat == sorted(flat)
        if len(tr) and len(va):
            assert tr.timestamp.max() <= va.timestamp.min()
        if len(va) and len(te):
            assert va.timestamp.max() <= te.timestamp.min()
        if len(tr) and len(te):
            assert tr.timestamp.max() <= te.timestamp.min()


def test_temporal_split_deterministic_and_order_free() -> None:
    ratings = random_ratings(5)
    a = temporal_split(ratings)
    b = temporal_split(ratings.sample(frac=1.0, random_state=1))
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
        assert x.index.equals(pd.RangeIndex(len(x)))


def test_temporal_split_edge_cases() -> None:
    df = pd.DataFrame(
        {"user_id": [0, 1, 1, 2, 2, 2], "item_id": [5, 1, 2, 3, 4, 5], "timestamp": [1] * 6}
    )
    train, val, test = temporal_split(df, val_frac=0.4, test_frac=0.4, min_train=1)
    # user 0 (n=1): train only; user 1 (n=2): 1 train + 1 test (test filled before val);
    # user 2 (n=3): rnd(1.2)=1 test, rnd(1.2)=1 val, 1 train; ties broken by item id
    assert train[["user_id", "item_id"]].values.tolist() == [[0, 5], [1, 1], [2, 3]]
    assert val[["user_id", "item_id"]].values.tolist() == [[2, 4]]
    assert test[["user_id", "item_id"]].values.tolist() == [[1, 2], [2, 5]]
    train, val, test = temporal_split(df, val_frac=0.0, test_frac=0.0)
    assert len(train) == 6 and len(val) == 0 and len(test) == 0
    empty = df.iloc[:0]
    assert all(len(p) == 0 for p in temporal_split(empty))
    train, val, test = temporal_split(df, val_frac=0.4, test_frac=0.4, min_train=0)
    assert len(train) + len(val) + len(test) == 6


def test_temporal_split_rejects_bad_args() -> None:
    df = random_ratings(0, n_users=2)
    with pytest.raises(ValueError, match="must be < 1"):
        temporal_split(df, 0.5, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        temporal_split(df, -0.1, 0.1)
    with pytest.raises(ValueError, match="min_train"):
        temporal_split(df, min_train=-1)
    with pytest.raises(ValueError, match="timestamp"):
        temporal_split(df.drop(columns="timestamp"))


def test_user_split_properties() -> None:
    ids = np.arange(100, 1100)
    s = user_split(ids, eval_frac=0.2, val_frac=0.1, seed=3)
    assert set(s) == {"train", "val", "eval"}
    assert (len(s["eval"]), len(s["val"]), len(s["train"])) == (200, 100, 700)
    allc = np.concatenate([s["train"], s["val"], s["eval"]])
    assert len(np.unique(allc)) == len(allc) == len(ids)  # disjoint
    assert set(allc.tolist()) == set(ids.tolist())  # covering
    for part in s.values():
        assert np.all(np.diff(part) > 0) and part.dtype == ids.dtype
    # deterministic by seed, independent of order and duplicates; other seeds differ
    again = user_split(np.concatenate([ids[::-1], ids[:10]]), 0.2, 0.1, seed=3)
    for k in s:
        np.testing.assert_array_equal(s[k], again[k])
    other = user_split(ids, 0.2, 0.1, seed=4)
    assert not np.array_equal(s["eval"], other["eval"])


def test_user_split_edge_cases() -> None:
    one = user_split([7], eval_frac=0.5, val_frac=0.4)
    assert one["train"].tolist() == [7] and len(one["val"]) == len(one["eval"]) == 0
    three = user_split([1, 2, 3], eval_frac=0.5, val_frac=0.4)  # rnd: 2 eval + 1 val -> cut
    assert len(three["train"]) == 1 and len(three["eval"]) == 2 and len(three["val"]) == 0
    empty = user_split(np.array([], dtype=np.int64))
    assert all(len(v) == 0 for v in empty.values())
    with pytest.raises(ValueError):
        user_split([1, 2], eval_frac=0.6, val_frac=0.4)
