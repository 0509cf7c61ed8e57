"""Full-ranking metrics and consumption-fidelity statistics by hand; ``finetune --device cuda``
without a GPU."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divrec_rl.bert.consumption import (
    ConsumptionLog,
    consumption_stats,
    real_log,
    simulate_log,
    stat_distances,
)
from divrec_rl.bert.fidelity import EvalSplit, evaluate, recall_at_k


class _Fixed:
    """A scorer with fixed scores ``(1, M)`` and fixed pointwise probabilities."""

    def __init__(self, scores: np.ndarray, probs: np.ndarray) -> None:
        self._scores, self._probs = scores, probs

    def prob(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._probs

    def rank_scores(self, split: EvalSplit, users: np.ndarray) -> np.ndarray:
        return np.repeat(self._scores[None, :], len(users), axis=0)


def _split() -> EvalSplit:
    seen = np.array([[True, False, False, False, False]])  # item 0 is history
    relevant = np.array([[False, False, True, False, True]])  # items 2 and 4
    return EvalSplit(
        name="test",
        hist_indptr=np.array([0, 1]),
        hist_items=np.array([0]),
        history_seen=seen,
        history_frame=pd.DataFrame({"user_id": [0], "item_id": [0], "rating": [5.0]}),
        users=np.array([0, 0]),
        items=np.array([2, 3]),
        labels=np.array([1.0, 0.0]),
        ratings=np.array([5.0]),
        rank_users=np.array([0]),
        relevant=relevant,
    )


def test_full_ranking_metrics_by_hand() -> None:
    # Scores rank the items 0 > 1 > 2 > 3 > 4; item 0 is history, so the ranking is 1, 2, 3, 4.
    model = _Fixed(np.array([9.0, 5.0, 4.0, 3.0, 2.0]), np.array([0.8, 0.3]))
    m = evaluate(model, _split(), k=2, k_recall=3)
    # top-2 = [1, 2]: DCG = 1/log2(3); IDCG = 1 + 1/log2(3) (two relevant items).
    dcg = 1 / np.log2(3)
    assert m["ndcg@2"] == pytest.approx(dcg / (1 + dcg))
    assert m["hr@2"] == 1.0
    assert m["recall@3"] == pytest.approx(0.5)  # top-3 = [1, 2, 3] holds 1 of 2 relevant
    assert m["auc"] == 1.0


def test_recall_at_k_counts_hits_over_all_relevant_items() -> None:
    top = np.array([[0, 1, 2], [3, 2, 1]])
    rel = np.zeros((2, 5), dtype=bool)
    rel[0, [1, 4]] = True
    np.testing.assert_allclose(recall_at_k(top, rel, 3), [0.5, np.nan])


def test_consumption_statistics_on_a_toy_log() -> None:
    genres = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])  # item 1 has both genres
    log_pop = np.log1p(np.array([9.0, 1.0, 0.0]))
    # user 0 consumes 0, 1, 2; user 1 consumes 2, 0.
    log = ConsumptionLog(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 2, 0]))
    s = consumption_stats(log, genres, log_pop)
    np.testing.assert_allclose(s["genre_share"], [2.5 / 5, 2.5 / 5])
    np.testing.assert_allclose(s["log_popularity"], log_pop[[0, 1, 2, 2, 0]])
    # Consecutive pairs of a user: (0,1) share genre 0, (1,2) share genre 1, (2,0) share none.
    assert s["repeat_genre_rate"] == pytest.approx(2 / 3)
    other = consumption_stats(ConsumptionLog(np.array([0, 0]), np.array([0, 0])), genres, log_pop)
    d = stat_distances(other, s)
    assert d["genre_tv"] == pytest.approx(0.5)  # ½(|1 − .5| + |0 − .5|)
    assert d["repeat_genre_abs"] == pytest.approx(1 - 2 / 3)
    # W1 between {log 10, log 10} and the five values above.
    assert d["popularity_w1"] == pytest.approx(
        np.mean(np.abs(log_pop[[0, 1, 2, 2, 0]] - np.log(10)))
    )
    assert stat_distances(s, s) == {"genre_tv": 0.0, "popularity_w1": 0.0, "repeat_genre_abs": 0.0}


def test_real_log_keeps_the_first_steps_in_time_order() -> None:
    frame = pd.DataFrame(
        {"user_id": [1, 0, 1, 1], "item_id": [5, 6, 7, 8], "timestamp": [3, 1, 1, 2]}
    )
    log = real_log(frame, 2)
    assert log.users.tolist() == [0, 1, 1] and log.items.tolist() == [6, 7, 8]


def test_simulated_log_follows_the_model_and_never_repeats_items() -> None:
    seen = np.zeros((2, 30), dtype=bool)
    seen[:, 0] = True
    steps = np.array([5, 3])

    def likes_low_ids(u: np.ndarray, slate: np.ndarray, rho: np.ndarray | None) -> np.ndarray:
        return -10.0 * slate.astype(np.float64)

    log = simulate_log(likes_low_ids, np.array([0, 1]), steps, seen, np.ones(30), 10, seed=0)
    assert log.users.tolist() == [0] * 5 + [1] * 3
    for u in (0, 1):
        items = log.items[log.users == u]
        assert len(set(items.tolist())) == len(items) and 0 not in items
    again = simulate_log(likes_low_ids, np.array([0, 1]), steps, seen, np.ones(30), 10, seed=0)
    assert again.items.tolist() == log.items.tolist()  # seeded
    # Picking the lowest id of each slate: the consumed ids are far below a random draw's.
    assert log.items.mean() < 10


def test_finetune_on_cuda_without_a_gpu_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from divrec_rl.commands.user_model import add_user_model_commands

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    parser = argparse.ArgumentParser()
    add_user_model_commands(parser.add_subparsers())
    out = tmp_path / "m"
    args = parser.parse_args(["finetune", "--out", str(out), "--device", "cuda", "--no-progress"])
    assert args.func(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "--device cuda" in err[0]
    assert not out.exists()  # nothing half-written
