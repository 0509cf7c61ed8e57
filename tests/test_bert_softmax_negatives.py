"""The full-softmax loss of the user model: which of the user's own rated items it leaves out
(``softmax_disliked``), checked against a hand-computed cross-entropy, and how old configs read."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from divrec_rl.bert.batches import Batch
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.trainer import FinetuneRun
from divrec_rl.errors import TrainingError

# One user, four items: rated 5 (item 0, the target), 2 (item 1), 4 (item 2), unrated (item 3).
SEEN = np.array([[True, True, True, False]])
LIKED = np.array([[True, False, True, False]])
LOGITS = [0.5, 2.0, 1.0, -1.0]


def _loss(disliked: str) -> float:
    run = SimpleNamespace(
        cfg=TrainConfig(softmax_disliked=disliked, softmax_weight=1.0),  # type: ignore[arg-type]
        prep=SimpleNamespace(train_seen=SEEN, train_liked=LIKED),
        device=torch.device("cpu"),
    )
    empty = np.zeros(0, dtype=np.int64)
    batch = Batch(
        users=np.array([0, 0]),
        items=np.array([0, 1]),  # the second rating (2 stars) is not a softmax positive
        ratings=np.array([5.0, 2.0]),
        hist_rows=empty,
        hist_items=empty,
        hist_age=empty,
        pool=empty,
        pool_valid=np.zeros((2, 0), dtype=bool),
    )
    # u·e_i = the logits above (d = 4, one-hot items), no bias.
    u = torch.tensor([LOGITS, LOGITS])
    loss = FinetuneRun.softmax_loss(run, batch, u, torch.eye(4), torch.zeros(4))  # type: ignore[arg-type]
    return float(loss)


def test_masked_disliked_items_are_left_out_of_the_softmax() -> None:
    # Items 1 (disliked) and 2 (another liked item) are masked: softmax over {0, 3}.
    want = -(0.5 - math.log(math.exp(0.5) + math.exp(-1.0)))
    assert _loss("mask") == pytest.approx(want, rel=1e-6)


def test_disliked_items_as_negatives_stay_in_the_softmax() -> None:
    # Only the other liked item (2) is masked: softmax over {0, 1, 3}; item 1 is a negative.
    want = -(0.5 - math.log(math.exp(0.5) + math.exp(2.0) + math.exp(-1.0)))
    assert _loss("negative") == pytest.approx(want, rel=1e-6)


def test_old_configs_read_as_masked_and_bad_values_name_the_field() -> None:
    old = TrainConfig(softmax_disliked="negative").to_dict()
    del old["softmax_disliked"]
    assert TrainConfig.from_dict(old).softmax_disliked == "mask"
    with pytest.raises(TrainingError, match="softmax_disliked"):
        TrainConfig(softmax_disliked="drop")  # type: ignore[arg-type]


def test_prepare_marks_the_fit_periods_liked_items(tmp_path: object) -> None:
    from divrec_rl.bert.prepare import fit_frame, prepare
    from divrec_rl.bert.testing import write_synthetic_dataset
    from divrec_rl.data import load_dataset

    data = load_dataset(write_synthetic_dataset(tmp_path / "data"))  # type: ignore[operator]
    prep = prepare(data, 0.15, 0.15, 3, 2, "train+val")
    fit = fit_frame([prep.train, prep.val])
    liked = fit[fit["rating"] >= 4]
    want = np.zeros_like(prep.train_seen)
    want[liked["user_id"].to_numpy(), liked["item_id"].to_numpy()] = True
    np.testing.assert_array_equal(prep.train_liked, want)
    assert 0 < prep.train_liked.sum() < prep.train_seen.sum()
    assert not (prep.train_liked & ~prep.train_seen).any()
