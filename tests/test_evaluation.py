"""Evaluation: rollouts with common random numbers, metrics by hand, statistics, and the
``evaluate`` command end to end — results.csv consistent with trajectories.csv."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from divrec_rl import metrics
from divrec_rl.agents.baselines import AttractionRankerAgent, PopularityAgent, RandomAgent
from divrec_rl.agents.ppo import make_ppo
from divrec_rl.agents.registry import AgentSpec, parse_agents
from divrec_rl.catalog import Catalog
from divrec_rl.cli import main as cli_main
from divrec_rl.commands.evaluate import main as evaluate_main
from divrec_rl.envs import SlateRecVecEnv, make_simulator
from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.io import read_trajectories, staged_directory
from divrec_rl.evaluation.stats import bootstrap_metrics, paired_test, resample_weights
from divrec_rl.evaluation.summary import METRICS, UserRecords, summarise
from divrec_rl.rollout import Trajectories, rollout, user_keys

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}
SMALL_SET = [
    "--set",
    "catalog.n_items=300",
    "--set",
    "catalog.n_categories=8",
    "--set",
    "catalog.embedding_dim=16",
    "--set",
    "slate.size=5",
    "--set",
    "slate.n_candidates=20",
]
REQUIRED = [
    "agent",
    "seed",
    "engagement",
    "session_length",
    "ctr",
    "ild",
    "category_coverage",
    "catalog_coverage",
    "gini",
    "tail_share",
    "novelty",
    "mcd",
]


# ---------------------------------------------------------------------------------------------
# rollouts and common random numbers
# ---------------------------------------------------------------------------------------------


def test_user_keys_prefix_and_seeds() -> None:
    np.testing.assert_array_equal(user_keys(4, 10)[:6], user_keys(4, 6))
    assert not np.intersect1d(user_keys(0, 100), user_keys(1, 100)).size
    with pytest.raises(ValueError):
        user_keys(0, 0)


def test_rollout_is_reproducible_and_batch_independent() -> None:
    keys = user_keys(3, 6)
    sim = make_simulator("synthetic-shop", 6, split="eval", config=SMALL)
    a = rollout(PopularityAgent(), sim, keys)
    b = rollout(PopularityAgent(), sim, keys)
    for f in Trajectories.ROW_FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    one = make_simulator("synthetic-shop", 1, split="eval", config=SMALL)
    for u in range(6):
        alone = rollout(PopularityAgent(), one, keys[u : u + 1])
        mine = a.take(a.user == u)
        np.testing.assert_array_equal(alone.slate, mine.slate)
        np.testing.assert_array_equal(alone.clicked, mine.clicked)
        np.testing.assert_allclose(alone.engagement, mine.engagement)


def test_rollout_rows_are_whole_episodes() -> None:
    sim = make_simulator("synthetic-shop", 25, split="eval", config=SMALL)
    traj = rollout(RandomAgent(1), sim, user_keys(0, 25))
    assert np.all(np.diff(traj.user) >= 0)
    for u in range(25):
        rows = traj.take(traj.user == u)
        np.testing.assert_array_equal(rows.step, np.arange(len(rows)))
        assert not rows.left[:-1].any()  # no returns in this scenario: leaving ends it
        assert rows.left[-1] or len(rows) == sim.max_steps
    np.testing.assert_allclose(traj.reward, traj.engagement + sim.diversity_weight * traj.diversity)


def test_agents_meet_the_same_users() -> None:
    sim = make_simulator("synthetic-shop", 20, split="eval", config=SMALL)
    keys = user_keys(7, 20)
    pop, greedy = (rollout(a, sim, keys) for a in (PopularityAgent(), AttractionRankerAgent()))
    np.testing.assert_array_equal(pop.majority_category, greedy.majority_category)
    other = rollout(PopularityAgent(), sim, user_keys(8, 20))
    assert not np.array_equal(pop.majority_category, other.majority_category)


# ---------------------------------------------------------------------------------------------
# metrics: a case computed by hand
# ---------------------------------------------------------------------------------------------


def _tiny_catalog() -> Catalog:
    weights = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0, -1]], dtype=np.float32)
    return Catalog(
        item_ids=np.arange(4),
        texts=["a0", "a1", "b2", "b3"],
        category_names=["A", "B"],
        category_weights=weights,
        popularity=np.array([10.0, 5.0, 1.0, 0.0]),
        embeddings=vectors,
        quality=np.zeros(4, dtype=np.float32),
    )


def _tiny_trajectories() -> Trajectories:
    # user 0: [0 1] click item 0 (0.5); [0 2] no click, leaves.  user 1: [2 3] click 3 (1.0), leaves
    return Trajectories(
        n_users=2,
        user=np.array([0, 0, 1]),
        step=np.array([0, 1, 0]),
        session=np.zeros(3, dtype=np.int64),
        slate=np.array([[0, 1], [0, 2], [2, 3]]),
        clicked=np.array([0, -1, 3]),
        position=np.array([0, -1, 1]),
        engagement=np.array([0.5, 0.0, 1.0]),
        diversity=np.array([0.0, 1.0, 2.0]),
        reward=np.array([0.5, 0.1, 1.2]),
        left=np.array([False, True, True]),
        majority_category=np.array([0, 1]),
    )


def test_summary_of_a_hand_computed_case() -> None:
    s = summarise(_tiny_trajectories(), _tiny_catalog())
    novelty = (
        2 * math.log2(20 / 11) + math.log2(20 / 6) + 2 * math.log2(20 / 2) + math.log2(20 / 1)
    ) / 6
    expected = {
        "engagement": 0.75,  # (0.5 + 1.0) / 2 users
        "return": 0.9,  # (0.6 + 1.2) / 2
        "session_length": 1.5,  # 3 slates / 2 sessions
        "episode_length": 1.5,
        "sessions": 1.0,
        "ctr": 2 / 3,  # 2 clicks / 3 slates
        "ild": 1.0,  # (0 + 1 + 2) / 3: identical, orthogonal, opposite pairs
        "category_ild": 1 / 3,  # only [0 2] mixes categories
        "category_coverage": 0.75,  # user 0 saw A and B, user 1 only B
        "catalog_coverage": 1.0,
        "gini": 1 / 6,  # exposure [2, 1, 2, 1]
        "tail_share": 0.5,  # head = items 0, 1 (10 + 5 ≥ 80% of 16); 3 of 6 slots are tail
        "novelty": novelty,  # p(i) = (pop + 1) / 20
        "mcd": 0.875,  # user 0: 3 of 4 shown items from A; user 1: 2 of 2 from B
    }
    assert set(s) == set(METRICS)
    for key, value in expected.items():
        assert s[key] == pytest.approx(value), key


def test_summary_agrees_with_the_metric_functions() -> None:
    sim = make_simulator("synthetic-shop", 30, split="eval", config=SMALL)
    traj = rollout(RandomAgent(0), sim, user_keys(2, 30))
    cat = sim.catalog
    s = summarise(traj, cat)
    shown = traj.slate.ravel()
    assert s["catalog_coverage"] == pytest.approx(metrics.catalog_coverage(shown, cat.n_items))
    assert s["gini"] == pytest.approx(
        metrics.gini_exposure(metrics.exposure_counts(shown, cat.n_items))
    )
    assert s["ctr"] == pytest.approx(metrics.ctr(traj.clicked >= 0))
    assert s["ild"] == pytest.approx(
        metrics.intra_list_diversity(cat.embeddings[traj.slate]).mean()
    )
    assert s["novelty"] == pytest.approx(metrics.novelty(shown, cat.popularity_prob))
    tail = metrics.tail_mask_from_popularity(cat.popularity)
    assert s["tail_share"] == pytest.approx(metrics.long_tail_share(shown, tail))
    per_user = metrics.cumulative_engagement(traj.engagement, traj.user, 30)
    assert s["engagement"] == pytest.approx(per_user.mean())
    # the reward's diversity is the same ILD (embedding diversity in this scenario)
    np.testing.assert_allclose(
        traj.diversity, metrics.intra_list_diversity(cat.embeddings[traj.slate])
    )


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def test_paired_test_finds_a_shift_and_no_shift() -> None:
    rng = np.random.default_rng(0)
    b = rng.normal(10, 3, 400)
    a = b + 0.5 + rng.normal(0, 0.2, 400)
    t = paired_test("return", a, b)
    assert t.mean_diff == pytest.approx(0.5, abs=0.05)
    assert t.ci_low > 0 and t.wilcoxon_p < 1e-6 and t.ttest_p < 1e-6 and t.share_a_better > 0.9
    same = paired_test("return", b, b)
    assert same.mean_diff == 0 and same.wilcoxon_p == 1.0 and same.ci_low == same.ci_high == 0


def test_bootstrap_interval_brackets_the_mean() -> None:
    sim = make_simulator("synthetic-shop", 200, split="eval", config=SMALL)
    records = [
        UserRecords.from_trajectories(rollout(RandomAgent(s), sim, user_keys(s, 200)), sim.catalog)
        for s in (0, 1)
    ]
    rng = np.random.default_rng(0)
    weights = [resample_weights(200, 300, rng) for _ in records]
    ci = bootstrap_metrics(records, weights)
    for m in METRICS:
        assert ci[m].low <= ci[m].mean <= ci[m].high, m
    one = bootstrap_metrics(records[:1], weights[:1])
    assert math.isnan(one["gini"].low)  # set-level metrics need two seeds for an interval


# ---------------------------------------------------------------------------------------------
# agent names
# ---------------------------------------------------------------------------------------------


def test_parse_agents() -> None:
    specs = parse_agents("ppo=runs/a, baseline,greedy,ppo-l0=runs/b.zip")
    assert specs == [
        AgentSpec("ppo", "ppo", "runs/a"),
        AgentSpec("baseline", "baseline"),
        AgentSpec("greedy", "greedy"),
        AgentSpec("ppo-l0", "ppo", "runs/b.zip"),
    ]
    for bad, needle in [
        ("basline", "did you mean 'baseline'"),
        ("ppo", "needs a path"),
        ("greedy=3", "takes no"),
        ("random,random", "given twice"),
        ("random,,greedy", "comma-separated"),
    ]:
        with pytest.raises(EvaluationError, match=needle):
            parse_agents(bad)


# ---------------------------------------------------------------------------------------------
# the command, end to end
# ---------------------------------------------------------------------------------------------


def _save_ppo(run_dir: Path, diversity_weight: float, config: dict | None = None) -> Path:
    env = SlateRecVecEnv(2, config=config or SMALL)
    model = make_ppo(env, seed=0, device="cpu", n_steps=8, batch_size=16)
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.zip")
    # The scenario the model was trained on, as training records it (evaluation compares it
    # field by field with the scenario it evaluates on).
    saved = {
        "train": {"seed": 0},
        **(config or SMALL),
        "name": "synthetic-shop",
        "reward": {"diversity_weight": diversity_weight},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    return run_dir


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Path]:
    root = tmp_path_factory.mktemp("evaluation")
    run = _save_ppo(root / "runs" / "small__ppo__0__x", 0.1)
    sweep = _save_ppo(root / "runs" / "small__ppo__0__y", 0.5)
    out = root / "out"
    argv = [
        "--agents",
        f"ppo={run},baseline,greedy,popularity,random",
        "--out",
        str(out),
        "--seeds",
        "2",
        "--users",
        "25",
        "--val-users",
        "15",
        "--log-users",
        "60",
        "--ppo-sweep",
        str(sweep),
        "--save-trajectories",
        "--quiet",
        *SMALL_SET,
    ]
    rc = evaluate_main(argv)
    return out, rc, run


def test_evaluate_writes_every_output(evaluated) -> None:
    out, rc, _ = evaluated
    assert rc == 0
    for name in (
        "results.csv",
        "report.md",
        "trajectories.csv",
        "frontier.png",
        "session_lengths.png",
        "lorenz.png",
        "cross_simulator.png",
        "frontier.csv",
        "baseline_tuning.csv",
        "cross_simulator/results.csv",
        "cross_simulator/trajectories.csv",
    ):
        assert (out / name).is_file(), name
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.parent.glob(".out.*")), "staging directories left behind"
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[:2]) == ["agent", "seed"]
    assert [c for c in results.columns if c in REQUIRED] == REQUIRED
    assert sorted(results["agent"].unique()) == [
        "baseline",
        "greedy",
        "popularity",
        "ppo",
        "random",
    ]
    assert sorted(results["seed"].unique()) == [0, 1] and len(results) == 10
    report = (out / "report.md").read_text(encoding="utf-8")
    for needle in (
        "## Protocol",
        "`eval` split",
        "`val` split",
        "`train` split",
        "seeds [0, 1]",
        "greedy (myopic oracle)",
        "fit seed 0: one fit per β, which plays every evaluation seed",
        "ppo − baseline",
        "Wilcoxon",
        "## Cross-simulator check",
        "response model `mf`",
        "Ranking by engagement",
        "noisy popularity",
        "frontier.png",
        "PPO λ=0.5",
    ):
        assert needle in report, needle
    # The oracle is labelled as one wherever agents are named: rankings, frontier table, plots.
    rankings = [line for line in report.splitlines() if line.startswith("- Ranking by")]
    assert rankings and all("greedy (myopic oracle)" in line for line in rankings), rankings
    assert "| agent | greedy (myopic oracle) |" in report


def test_results_are_consistent_with_trajectories(evaluated) -> None:
    out, rc, _ = evaluated
    assert rc == 0
    results = pd.read_csv(out / "results.csv")
    steps = pd.read_csv(out / "trajectories.csv")
    sim = make_simulator("synthetic-shop", 1, config=SMALL)
    n_users = int(results["users"].iloc[0])
    runs = read_trajectories(out / "trajectories.csv", n_users)
    assert set(runs) == {(a, s) for a, s in zip(results["agent"], results["seed"], strict=True)}
    for row in results.itertuples(index=False):
        values = results[(results.agent == row.agent) & (results.seed == row.seed)].iloc[0]
        recomputed = summarise(runs[(row.agent, row.seed)], sim.catalog)
        for m in METRICS:
            assert values[m] == pytest.approx(recomputed[m], rel=1e-9, abs=1e-12), (
                row.agent,
                m,
            )
        # and a few straight from the CSV with pandas, no project code
        mine = steps[(steps.agent == row.agent) & (steps.seed == row.seed)]
        per_user = mine.groupby("user")["engagement"].sum()
        assert len(per_user) == n_users
        assert row.engagement == pytest.approx(per_user.mean())
        assert row.ctr == pytest.approx((mine.clicked >= 0).mean())
        assert row.session_length == pytest.approx(len(mine) / n_users)
        items = {int(i) for s in mine.slate for i in s.split()}
        assert row.catalog_coverage == pytest.approx(len(items) / sim.catalog.n_items)
    # common random numbers: every agent met the same users (same warm-start histories)
    firsts = steps[steps.step == 0].groupby(["agent", "seed"])["majority_category"].apply(tuple)
    for seed in (0, 1):
        assert len({firsts[(a, seed)] for a in results.agent.unique()}) == 1


def test_cross_simulator_results_have_the_same_schema(evaluated) -> None:
    out, _, _ = evaluated
    primary = pd.read_csv(out / "results.csv")
    cross = pd.read_csv(out / "cross_simulator" / "results.csv")
    assert list(cross.columns) == list(primary.columns)
    assert not np.allclose(cross.engagement, primary.engagement)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    rc = evaluate_main(argv)
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize(
    ("agents", "extra", "needle"),
    [
        ("basline,random", [], "did you mean 'baseline'"),
        ("ppo", [], "needs a path"),
        ("ppo=/no/such/run", [], "does not exist"),
        ("random", ["--seeds", "0"], "--seeds: must be ≥ 1"),
        ("random", ["--first-seed", "-1"], "--first-seed: must be ≥ 0"),
        ("random", ["--users", "-3"], "--users: must be ≥ 2"),
        ("random", ["--cross-sim", "mff"], "did you mean 'mf'"),
        ("baseline", ["--baseline-fits", "0"], "field 'baseline.fits' (--baseline-fits): must be"),
    ],
)
def test_bad_input_is_one_error_line(capsys, tmp_path, agents, extra, needle) -> None:
    rc, err = _run(capsys, ["--agents", agents, "--out", str(tmp_path / "o"), *extra])
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert not (tmp_path / "o").exists()


def test_a_later_first_seed_evaluates_the_same_seeds_rows_and_models(tmp_path, evaluated) -> None:
    """--first-seed S --seeds N evaluates seeds S..S+N−1: each row equals that seed's row of an
    evaluation starting at 0 (same users, same random agent, same PPO model), and the seed
    numbers, not their positions, are what results.csv and the report show."""
    _, _, run = evaluated
    common = ["--agents", f"ppo={run},popularity,random", "--users", "12", "--quiet"]
    common += ["--cross-sim", "none", "--no-frontier", *SMALL_SET]
    assert evaluate_main([*common, "--out", str(tmp_path / "all"), "--seeds", "3"]) == 0
    later = [*common, "--out", str(tmp_path / "later"), "--seeds", "2", "--first-seed", "1"]
    assert evaluate_main(later) == 0
    every = pd.read_csv(tmp_path / "all" / "results.csv")
    tail = pd.read_csv(tmp_path / "later" / "results.csv")
    assert sorted(set(tail["seed"])) == [1, 2]
    expected = every[every["seed"] >= 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(tail.reset_index(drop=True), expected)
    assert "seeds [1, 2]" in (tmp_path / "later" / "report.md").read_text(encoding="utf-8")


def test_several_baseline_fits_each_play_their_evaluation_seeds(tmp_path) -> None:
    """--baseline-fits 2: evaluation seed s is played by the baseline fitted (and tuned) with
    seed s mod 2 — its rows equal those of a one-fit evaluation with that --baseline-seed — and
    results.csv, baseline_tuning.csv and the report say which fit played which seed."""
    common = ["--agents", "baseline,random", "--users", "12", "--quiet", "--val-users", "8",
              "--log-users", "30", "--cross-sim", "none", "--no-frontier", *SMALL_SET]  # fmt: skip
    two = [*common, "--out", str(tmp_path / "two"), "--seeds", "2", "--baseline-fits", "2"]
    assert evaluate_main(two) == 0
    results = pd.read_csv(tmp_path / "two" / "results.csv")
    base = results[results["agent"] == "baseline"].sort_values("seed").reset_index(drop=True)
    assert base["training_seed"].tolist() == [0, 1]
    assert results[results["agent"] == "random"]["training_seed"].isna().all()
    for fit in (0, 1):
        one = [*common, "--out", str(tmp_path / f"fit{fit}"), "--seeds", "1"]
        one += ["--first-seed", str(fit), "--baseline-seed", str(fit)]
        assert evaluate_main(one) == 0
        alone = pd.read_csv(tmp_path / f"fit{fit}" / "results.csv")
        alone = alone[alone["agent"] == "baseline"].drop(columns="training_seed")
        mine = base[base["seed"] == fit].drop(columns="training_seed")
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone.reset_index(drop=True))
    tuning = pd.read_csv(tmp_path / "two" / "baseline_tuning.csv")
    assert sorted(set(tuning["fit_seed"])) == [0, 1]
    report = (tmp_path / "two" / "report.md").read_text(encoding="utf-8")
    assert "fit seeds 0–1: 2 independent fits of the whole baseline" in report
    assert "each fit's own choice on validation: fit seed 0: β=" in report
    assert "; fit seed 1: β=" in report


def test_the_note_names_the_training_seeds_that_play_the_evaluation_seeds() -> None:
    """A 5-seed sweep evaluated on seeds 101..103 is played by its training seeds number 1, 2,
    3 (s mod 5): the note names those, and nothing is noted once every training seed plays."""
    from divrec_rl.agents.registry import PPORun
    from divrec_rl.evaluation.results import EvaluationConfig
    from divrec_rl.evaluation.runner import _unused_seed_notes

    def run(seed: int) -> PPORun:
        return PPORun(None, Path(f"m{seed}.zip"), None, 0.1, "synthetic-shop", seed, 1)

    sweep = run(11)
    sweep.seed_runs = [run(s) for s in (11, 12, 13, 14, 15)]
    agents = parse_agents("ppo=SWEEP")
    later = EvaluationConfig(agents=agents, seeds=3, first_seed=101)
    (note,) = _unused_seed_notes(later, {"SWEEP": sweep})
    assert "evaluation seeds [101, 102, 103]" in note and "training seeds 12, 13, 14 only" in note
    assert (
        _unused_seed_notes(EvaluationConfig(agents=agents, seeds=5, first_seed=7), {"S": sweep})
        == []
    )


def test_corrupt_or_mismatched_ppo_is_an_error(capsys, tmp_path, evaluated) -> None:
    _, _, run = evaluated
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip at all")
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("hello.txt", "hi")
    cases = [
        (f"ppo={garbage}", SMALL_SET, "not a model zip"),
        (f"ppo={foreign}", SMALL_SET, "cannot load"),
        # trained on the small shop: even with the mismatch allowed, its shapes do not fit
        (
            f"ppo={run}",
            ["--scenario", "synthetic-shop", "--allow-scenario-mismatch"],
            "does not fit scenario",
        ),
    ]
    for agents, extra, needle in cases:
        rc, err = _run(capsys, ["--agents", agents, "--out", str(tmp_path / "o"), *extra])
        assert rc == 2 and needle in err and "Traceback" not in err, err


def test_non_empty_out_needs_overwrite(capsys, tmp_path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, err = _run(capsys, ["--agents", "random", "--out", str(out)])
    assert rc == 2 and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "mine"


def test_bad_number_is_an_argparse_error(capsys, tmp_path) -> None:
    with pytest.raises(SystemExit) as exc:
        evaluate_main(["--agents", "random", "--out", str(tmp_path), "--users", "many"])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_staged_directory_leaves_nothing_on_failure(tmp_path) -> None:
    out = tmp_path / "o"
    with pytest.raises(RuntimeError), staged_directory(out) as tmp:
        (tmp / "results.csv").write_text("half")
        raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with staged_directory(out) as tmp:
        (tmp / "a.txt").write_text("1")
    with staged_directory(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_divrec_rl_cli_has_evaluate_and_simulate_uses_the_registry(capsys) -> None:
    rc = cli_main(["simulate", "--users", "5", "--policy", "popularity", "--json", *SMALL_SET])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["users"] == 5 and set(METRICS) <= set(summary)
    assert cli_main(["simulate", "--users", "5", "--policy", "basline"]) == 2
    assert "did you mean 'baseline'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli_main(["evaluate", "--help"])
    assert exc.value.code == 0 and "--save-trajectories" in capsys.readouterr().out
