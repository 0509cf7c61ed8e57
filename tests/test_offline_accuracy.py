"""Offline accuracy on real users (issue 12, point 7): precision/recall/NDCG/HR of each agent's
first slate against the real held-out items, its retrieval ceiling, and the held-out items of the
movielens population (tiny synthetic dataset and checkpoint)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from divrec_rl.agents.baselines import scores_to_actions
from divrec_rl.agents.registry import AgentContext, AgentSpec
from divrec_rl.bert.sources import load_bundle
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_scenario_overrides
from divrec_rl.evaluation import offline
from divrec_rl.evaluation.offline import offline_accuracy, score_slates
from divrec_rl.metrics.ranking import precision_at_k, recall_at_k
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import Scenario, build_scenario
from divrec_rl.simulator import SlateSimulator
from divrec_rl.users.heldout import HeldOutItems


@pytest.fixture(scope="module")
def tiny_scenario() -> Scenario:
    shared = shared_tiny_checkpoint()
    overrides = tiny_scenario_overrides(shared)
    return build_scenario(resolve_scenario("movielens-100k", overrides=overrides))


def test_precision_and_recall_by_hand() -> None:
    # user 0: R = {1, 3, 4}; slate [3, 0] -> 1 hit: P@2 = 1/2, R@2 = 1/3
    # user 1: R = {2};       slate [1, 2] -> 1 hit: P@2 = 1/2, R@2 = 1
    # user 2: R = {}         -> undefined (NaN)
    rel = np.array([[0, 1, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    slates = np.array([[3, 0], [1, 2], [0, 1]])
    np.testing.assert_allclose(precision_at_k(slates, rel, 2, ranked=True), [0.5, 0.5, np.nan])
    np.testing.assert_allclose(recall_at_k(slates, rel, 2, ranked=True), [1 / 3, 1.0, np.nan])
    # scores form: the top 2 of user 0's scores are items 4 and 1 -> both relevant
    scores = np.array([[0.0, 0.5, 0.1, 0.2, 0.9]])
    assert precision_at_k(scores, rel[:1], 2)[0] == 1.0
    assert recall_at_k(scores, rel[:1], 2)[0] == pytest.approx(2 / 3)


def test_score_slates_by_hand() -> None:
    rel = np.array([[0, 1, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    slates = np.array([[3, 0], [1, 2], [0, 1]])
    got = score_slates(slates, rel)
    # NDCG: user 0 hit at rank 1 of an ideal with 2 hits: 1 / (1 + 1/log2 3);
    # user 1 hit at rank 2 of an ideal with 1 hit: (1/log2 3) / 1.  User 2 is left out.
    ndcg = [1 / (1 + 1 / np.log2(3)), 1 / np.log2(3)]
    assert got["precision"] == pytest.approx(0.5)
    assert got["recall"] == pytest.approx((1 / 3 + 1) / 2)
    assert got["ndcg"] == pytest.approx(np.mean(ndcg))
    assert got["hr"] == pytest.approx(1.0)


def test_held_out_items_from_a_frame() -> None:
    frame = pd.DataFrame({"user_id": [2, 0, 2, 2], "item_id": [3, 1, 0, 3]})
    held = HeldOutItems.from_frame(frame, 3, 5, "test", {"eval": 3})
    np.testing.assert_array_equal(held.counts(np.array([0, 1, 2])), [1, 0, 2])  # repeat once
    np.testing.assert_array_equal(
        held.relevance_matrix(np.array([2, 1, 0])),
        [[1, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]],
    )
    with pytest.raises(ValueError, match="item ids"):
        HeldOutItems.from_frame(frame, 3, 3, "test", {})


def test_movielens_population_holds_the_test_period(tiny_scenario: Scenario) -> None:
    held = tiny_scenario.population.held_out
    assert held is not None
    config = tiny_scenario.config
    test = load_bundle(config.catalog, config.response).prep.test
    for user, group in test.groupby("user_id"):
        assert set(held.relevance_matrix(np.array([user]))[0].nonzero()[0]) == set(group.item_id)
    assert held.split_sizes["eval"] == len(tiny_scenario.population.split_users("eval"))


class HeldOutPicker:
    """Scores a candidate 1 when it is one of the user's held-out items, else 0."""

    name = "held-out-picker"

    def __init__(self, held: HeldOutItems) -> None:
        self.held = held

    def act(self, observation: dict, simulator: SlateSimulator) -> np.ndarray:
        rel = self.held.relevance_matrix(simulator.state.user_index)
        hit = np.take_along_axis(rel, np.asarray(simulator.candidates), axis=1)
        return scores_to_actions(hit.astype(np.float32))


def test_an_agent_that_picks_held_out_items_reaches_the_ceiling(
    tiny_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = tiny_scenario.population.held_out
    assert held is not None
    monkeypatch.setattr(offline, "make_agent", lambda ctx, spec, seed: HeldOutPicker(held))
    result = offline_accuracy(
        tiny_scenario, [AgentSpec("picker", "x")], AgentContext(0.0), [0, 1], 0.0
    )
    assert result is not None and result.n_scored == result.n_users > 0
    assert result.k == 4
    for seed_metrics in result.per_seed["picker"]:
        assert seed_metrics["precision"] == pytest.approx(result.ceiling["precision"])
        assert seed_metrics["recall"] == pytest.approx(result.ceiling["recall"])
    assert 0 < result.ceiling["recall"] <= result.ceiling["candidate_recall"] <= 1


def test_slates_of_held_out_items_score_one_where_possible(tiny_scenario: Scenario) -> None:
    held = tiny_scenario.population.held_out
    assert held is not None
    users = tiny_scenario.population.split_users("eval")
    rel = held.relevance_matrix(users)
    n_rel = rel.sum(axis=1)
    assert (n_rel > 0).all()
    # each user's held-out items first, then non-relevant items to fill the slate; the tiny
    # users hold 2 items each, so k = 1 tests precision 1, k = 4 recall 1, k = 2 both
    ranked = np.argsort(~rel, axis=1, kind="stable")
    for k in (1, 2, 4):
        precision = precision_at_k(ranked, rel, k, ranked=True)
        recall = recall_at_k(ranked, rel, k, ranked=True)
        np.testing.assert_array_equal(precision[n_rel >= k], 1.0)
        np.testing.assert_array_equal(recall[n_rel <= k], 1.0)
        np.testing.assert_array_equal(score_slates(ranked[:, :k], rel)["ndcg"], 1.0)


def test_synthetic_scenarios_have_no_held_out_items() -> None:
    scenario = build_scenario(resolve_scenario("synthetic-shop"))
    assert scenario.population.held_out is None
    assert (
        offline_accuracy(scenario, [AgentSpec("r", "random")], AgentContext(0.0), [0], 0.0) is None
    )
