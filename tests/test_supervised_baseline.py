"""The supervised diversity-regularised baseline: logs only, a regulariser that does its job,
MMR/DPP serving, and tuning on validation users only."""

from __future__ import annotations

import numpy as np
import pytest

from divrec_rl.agents.baselines import NoisyPopularityAgent, PopularityAgent
from divrec_rl.agents.rerank import dpp_greedy_batch, mmr_batch
from divrec_rl.agents.supervised import ClickRanker, InteractionLog, RerankAgent, picks_to_actions
from divrec_rl.envs import make_simulator
from divrec_rl.evaluation import baseline as baseline_module
from divrec_rl.evaluation.baseline import collect_logs, train_baseline
from divrec_rl.evaluation.settings import BaselineSettings
from divrec_rl.evaluation.summary import summarise
from divrec_rl.rollout import rollout, user_keys
from divrec_rl.slate import top_k_rows

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}
FAST = BaselineSettings(
    log_users=150,
    val_users=30,
    regularisers=(0.5, 2.0),
    mmr_tradeoffs=(0.3,),
    dpp_tradeoffs=(0.5,),
    epochs=3,
)


@pytest.fixture(scope="module")
def sim():
    return make_simulator("synthetic-shop", 40, split="eval", config=SMALL)


@pytest.fixture(scope="module")
def logs(sim):
    return collect_logs(sim.scenario, FAST, sim.diversity_weight)


@pytest.fixture(scope="module")
def rankers(sim, logs):
    log, _ = logs
    out = {}
    for beta in (0.0, 5.0):
        ranker = ClickRanker(log.user.shape[1], log.items.shape[2], regulariser=beta, epochs=4)
        out[beta] = (ranker, ranker.fit(log, sim.catalog.embeddings))
    return out


def test_logs_hold_what_was_shown_and_clicked(sim, logs) -> None:
    log, stats = logs
    k, d = sim.k, sim.catalog.embedding_dim
    assert log.items.shape == (len(log), k, sim.candidate_feature_dim)
    assert stats["logged_steps"] == len(log) and 0 < stats["logged_clicks"] <= len(log)
    # the first d candidate features are the item vector: the logged features are the slate's
    np.testing.assert_allclose(log.items[:, :, :d], sim.catalog.embeddings[log.item_ids], atol=1e-6)
    assert set(np.unique(log.position)) <= set(range(-1, k))
    assert log.group.max() < FAST.log_users


def test_click_model_beats_the_click_rate_alone_on_held_out_users(logs, rankers) -> None:
    log, _ = logs
    _, stats = rankers[0.0]
    held = np.isin(log.group, np.unique(log.group)[::7])
    k = log.items.shape[1]
    p0 = float((log.position[held] < 0).mean())  # no-click rate, then uniform over the slots
    constant = -(p0 * np.log(p0) + (1 - p0) * np.log((1 - p0) / k))
    assert stats["heldout_nll"] < constant


def test_diversity_regulariser_spreads_the_choice_distribution(logs, rankers, sim) -> None:
    log, _ = logs
    plain, strong = rankers[0.0][0], rankers[5.0][0]
    _, sim_plain = plain.evaluate(log, sim.catalog.embeddings)
    _, sim_strong = strong.evaluate(log, sim.catalog.embeddings)
    assert sim_strong < sim_plain - 0.02


def test_ranker_never_reads_the_hidden_user_state(sim, rankers) -> None:
    ranker = rankers[5.0][0]
    sim.reset_users(np.arange(sim.n_users), user_keys(3, sim.n_users))
    obs = sim.observe()
    for method in ("none", "mmr", "dpp"):
        agent = RerankAgent(ranker, method, 0.4)
        before = agent.act(obs, sim)
        saved = (sim.state.interest.copy(), sim.state.fatigue.copy(), sim.state.patience.copy())
        rng = np.random.default_rng(0)
        sim.state.interest[:] = rng.normal(size=sim.state.interest.shape)
        sim.state.fatigue[:] = rng.random(sim.state.fatigue.shape)
        sim.state.patience[:] = rng.random(sim.state.patience.shape)
        after = agent.act(obs, sim)
        sim.state.interest[:], sim.state.fatigue[:], sim.state.patience[:] = saved
        np.testing.assert_array_equal(before, after)


def test_picks_become_exactly_the_slate() -> None:
    picks = np.array([[7, 2, 9], [0, 1, 2]])
    actions = picks_to_actions(picks, 10)
    assert actions.min() >= -1 and actions.max() <= 1
    np.testing.assert_array_equal(top_k_rows(actions, 3), picks)


def test_serving_rerankers_match_rerank_module_and_add_diversity(sim, rankers) -> None:
    ranker = rankers[0.0][0]
    sim.reset_users(np.arange(sim.n_users), user_keys(5, sim.n_users))
    obs = sim.observe()
    n = sim.candidates.shape[1]
    feats = obs["candidates"].reshape(sim.n_users, n, -1)
    scores = ranker.scores(obs["user"], feats)
    vectors = sim.catalog.embeddings[sim.candidates]
    plain = top_k_rows(RerankAgent(ranker, "mmr", 0.0).act(obs, sim), sim.k)
    np.testing.assert_array_equal(plain, top_k_rows(scores, sim.k))
    span = scores.max(1, keepdims=True) - scores.min(1, keepdims=True)
    rel = (scores - scores.min(1, keepdims=True)) / span
    expected = {
        "mmr": mmr_batch(rel, vectors, sim.k, 0.6),
        "dpp": dpp_greedy_batch(scores, vectors, sim.k, 0.6),
    }
    for method, picks in expected.items():
        got = top_k_rows(RerankAgent(ranker, method, 0.6).act(obs, sim), sim.k)
        np.testing.assert_array_equal(got, picks)
        assert mean_ild(vectors, got) > mean_ild(vectors, plain)


def mean_ild(vectors: np.ndarray, idx: np.ndarray) -> float:
    chosen = np.take_along_axis(vectors, idx[:, :, None], axis=1)
    k = chosen.shape[1]
    gram = np.einsum("bkd,bjd->bkj", chosen, chosen)
    return float((1 - (gram.sum((1, 2)) - k) / (k * (k - 1))).mean())


def test_tuning_uses_train_and_val_users_only_and_is_reproducible(sim, monkeypatch) -> None:
    splits: list[str] = []
    real = baseline_module.SlateSimulator

    def spy(scenario, n_users, split, weight):
        splits.append(split)
        return real(scenario, n_users, split, weight)

    monkeypatch.setattr(baseline_module, "SlateSimulator", spy)
    a = train_baseline(sim.scenario, 0.1, FAST)
    assert set(splits) == {"train", "val"}
    b = train_baseline(sim.scenario, 0.1, FAST)
    assert [r.return_ for r in a.tuning] == [r.return_ for r in b.tuning]
    # 2 regularisers × (plain + 1 MMR + 1 DPP setting)
    assert len(a.tuning) == 6
    best = a.best()
    assert best.return_ == max(r.return_ for r in a.tuning)
    assert a.best("mmr").method in ("none", "mmr") and a.best("dpp").method in ("none", "dpp")
    plain = a.plain_agent("supervised")
    assert plain.method == "none" and plain.ranker.regulariser == 0.0 and 0.0 in a.fit_stats
    # the chosen setting reproduces its validation return when re-run on the validation users
    val = real(sim.scenario, FAST.val_users, "val", 0.1)
    again = summarise(
        rollout(a.agent(best, "b"), val, user_keys(FAST.val_seed, FAST.val_users)), val.catalog
    )
    assert again["return"] == pytest.approx(best.return_)


def test_noisy_popularity_logging_policy_explores(sim) -> None:
    keys = user_keys(0, sim.n_users)
    noisy = rollout(NoisyPopularityAgent(1.0, seed=0), sim, keys)
    plain = rollout(PopularityAgent(), sim, keys)
    assert len(np.unique(noisy.slate)) > len(np.unique(plain.slate))
    assert summarise(noisy, sim.catalog)["tail_share"] > summarise(plain, sim.catalog)["tail_share"]


def test_interaction_log_recorder_requires_steps() -> None:
    _, done = InteractionLog.recorder(3)
    with pytest.raises(ValueError, match="no logged steps"):
        done()
