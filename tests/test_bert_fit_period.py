"""The fit period of the user model: train only (recipe selection) or train + validation (the
refit for the test period), and how checkpoints written before the setting read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.fidelity import make_eval_split
from divrec_rl.bert.prepare import prepare, prepare_for
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import tiny_train_config, write_synthetic_dataset
from divrec_rl.bert.train import _compare_for_resume
from divrec_rl.data import load_dataset
from divrec_rl.errors import TrainingError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> object:
    return load_dataset(write_synthetic_dataset(tmp_path_factory.mktemp("fit") / "data"))


def _user_items(frame: object, user: int) -> list[int]:
    rows = frame[frame["user_id"] == user]  # type: ignore[index]
    return rows["item_id"].tolist()


def test_train_val_fit_adds_the_validation_ratings_after_each_users_training_ratings(
    data: object,
) -> None:
    only = prepare(data, 0.15, 0.15, 3, 2, "train")  # type: ignore[arg-type]
    both = prepare(data, 0.15, 0.15, 3, 2, "train+val")  # type: ignore[arg-type]
    # The temporal split itself does not move: val and test stay what they were.
    for name in ("train", "val", "test"):
        assert getattr(only, name).equals(getattr(both, name)), name
    assert len(both.val) > 0
    for u in range(both.n_users):
        hist = both.hist_items[both.hist_indptr[u] : both.hist_indptr[u + 1]].tolist()
        assert hist == _user_items(both.train, u) + _user_items(both.val, u)
        assert only.hist_items[only.hist_indptr[u] : only.hist_indptr[u + 1]].tolist() == (
            _user_items(both.train, u)
        )
    # Examples: every fit-period rating with ≥ min_history (2) earlier ones, per user n − 2.
    n_fit = np.bincount(
        np.concatenate([both.train["user_id"], both.val["user_id"]]), minlength=both.n_users
    )
    assert len(both.examples_user) == int(np.maximum(n_fit - 2, 0).sum())
    assert len(only.examples_user) == int(
        np.maximum(np.bincount(both.train["user_id"], minlength=both.n_users) - 2, 0).sum()
    )
    # Popularity, seen items and item statistics are those of train + val.
    counts = np.bincount(
        np.concatenate([both.train["item_id"], both.val["item_id"]]), minlength=both.n_items
    )
    np.testing.assert_array_equal(both.popularity, counts)
    u, i = int(both.val["user_id"].iloc[0]), int(both.val["item_id"].iloc[0])
    assert both.train_seen[u, i] and not only.train_seen[u, i]
    assert both.fit_period == "train+val" and only.fit_period == "train"


def test_evaluation_splits_do_not_depend_on_the_fit_period(data: object) -> None:
    only = prepare(data, 0.15, 0.15, 3, 2, "train")  # type: ignore[arg-type]
    both = prepare(data, 0.15, 0.15, 3, 2, "train+val")  # type: ignore[arg-type]
    for period in ("val", "test"):
        a, b = make_eval_split(only, period, 4, 0), make_eval_split(both, period, 4, 0)
        np.testing.assert_array_equal(a.hist_items, b.hist_items)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_array_equal(a.relevant, b.relevant)
    test = make_eval_split(both, "test", 4, 0)
    np.testing.assert_array_equal(test.hist_items, both.hist_items)  # test history = the fit


def test_prepare_for_reads_the_config_and_bad_periods_are_one_line(data: object) -> None:
    cfg = tiny_train_config("d", "e", fit_period="train")
    prep = prepare_for(data, cfg)  # type: ignore[arg-type]
    assert prep.fit_period == "train" and len(prep.examples_user) > 0
    with pytest.raises(ValueError, match="fit_period: must be one of train, train"):
        prepare(data, fit_period="all")  # type: ignore[arg-type]
    with pytest.raises(TrainingError, match="fit_period"):
        TrainConfig(fit_period="test")  # type: ignore[arg-type]


def test_default_refits_and_old_configs_read_as_train_only() -> None:
    assert TrainConfig().fit_period == "train+val"
    old = TrainConfig(fit_period="train").to_dict()
    del old["fit_period"]
    assert TrainConfig.from_dict(old).fit_period == "train"
    assert TrainConfig.from_dict({**old, "fit_period": "train+val"}).fit_period == "train+val"


def test_resuming_an_old_checkpoint_with_the_new_default_is_refused() -> None:
    old = TrainConfig(fit_period="train").to_dict()
    del old["fit_period"]
    with pytest.raises(ckpt.CheckpointError, match=r"fit_period='train\+val'.*'train'"):
        _compare_for_resume(old, TrainConfig(), Path("m/config.json"))
    _compare_for_resume(old, TrainConfig(fit_period="train"), Path("m/config.json"))


def test_resuming_accepts_the_same_encoder_folder_named_another_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from divrec_rl.bert import train

    default = tmp_path / "pkg" / "model"
    default.mkdir(parents=True)
    (tmp_path / "link").symlink_to(default)
    monkeypatch.setattr(train, "default_encoder_path", lambda: default)
    unset = TrainConfig(base_model=None).to_dict()
    where = Path("m/config.json")
    # Unset = the default package's folder, which the report passes by its path.
    _compare_for_resume(unset, TrainConfig(base_model=str(default)), where)
    _compare_for_resume(unset, TrainConfig(base_model=str(tmp_path / "link")), where)
    named = TrainConfig(base_model=str(default)).to_dict()
    _compare_for_resume(named, TrainConfig(base_model=None), where)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ckpt.CheckpointError, match=r"cannot resume with base_model=.*other"):
        _compare_for_resume(unset, TrainConfig(base_model=str(other)), where)
