"""The sensitivity scan: which fields it scales, and a tiny end-to-end scan written to disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from divrec_rl.agents.registry import parse_agents
from divrec_rl.cli import main as cli_main
from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.runner import EvaluationConfig
from divrec_rl.evaluation.sensitivity import scan, scan_table, strength_overrides, write_scan
from divrec_rl.resolve import resolve_scenario

TINY = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 4, "n_candidates": 16},
    "episode": {"max_steps": 15},
}


def test_overrides_scale_boredom_and_patience_only() -> None:
    cfg = resolve_scenario("synthetic-shop")
    b, p = cfg.behaviour.boredom, cfg.behaviour.patience
    both = strength_overrides(cfg, 0.5)["behaviour"]
    assert both["boredom"] == {
        "attraction_penalty": 0.5 * b.attraction_penalty,
        "satisfaction_penalty": 0.5 * b.satisfaction_penalty,
    }
    assert both["patience"] == {
        "step_cost": 0.5 * p.step_cost,
        "no_click_cost": 0.5 * p.no_click_cost,
    }
    assert set(strength_overrides(cfg, 0.0, "boredom")["behaviour"]) == {"boredom"}
    assert set(strength_overrides(cfg, 1.5, "patience")["behaviour"]) == {"patience"}
    with pytest.raises(EvaluationError, match="--vary"):
        strength_overrides(cfg, 1.0, "fatigue")
    with pytest.raises(EvaluationError, match="--factors"):
        strength_overrides(cfg, -1.0)


@pytest.mark.parametrize("seeds", [1, 2])  # user-level, then seed-level differences
def test_tiny_scan_reports_returns_and_paired_differences(tmp_path, seeds) -> None:
    base = EvaluationConfig(
        agents=parse_agents("popularity,greedy,random"),
        scenario="synthetic-shop",
        overrides=TINY,
        seeds=seeds,
        users=12,
        n_boot=50,
    )
    result = scan(base, (0.0, 1.0), "both", reference="popularity")
    points = result.points
    assert (result.weight, result.weight_source) == (0.1, "the scenario's reward.diversity_weight")
    assert [(p.factor, p.agent) for p in points] == [
        (f, a) for f in (0.0, 1.0) for a in ("popularity", "greedy", "random")
    ]
    at = {(p.factor, p.agent): p for p in points}
    assert at[(0.0, "popularity")].diff_mean is None
    for f in (0.0, 1.0):
        for a in ("greedy", "random"):
            p = at[(f, a)]
            assert p.diff_mean == pytest.approx(p.return_mean - at[(f, "popularity")].return_mean)
            assert p.diff_low <= p.diff_mean <= p.diff_high
    # without boredom and patience nobody leaves early: every agent runs the full 15 steps more
    # often, so returns are no lower than at full strength for the myopic oracle
    assert at[(0.0, "greedy")].return_mean >= at[(1.0, "greedy")].return_mean
    table = scan_table(points, "popularity")
    assert table.count("\n") == 4 and "greedy (myopic oracle) − popularity" in table
    paths = write_scan(result, tmp_path / "scan", "# test", "popularity")
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert np.isfinite([p.return_mean for p in points]).all()


def test_a_scan_from_a_later_first_seed_meets_those_seeds_users() -> None:
    """A scan from first seed 1 returns at each factor what a two-seed scan's seed 1 returns
    (the same users and streams): the two-seed mean is the mean of seed 0 and seed 1."""
    common = {"scenario": "synthetic-shop", "overrides": TINY, "users": 12, "n_boot": 50}
    agents = parse_agents("popularity,random")
    later = EvaluationConfig(agents=agents, seeds=1, first_seed=1, **common)
    both = EvaluationConfig(agents=agents, seeds=2, **common)
    only = {
        (p.factor, p.agent): p.return_mean for p in scan(later, (0.5,), reference="random").points
    }
    seed0 = {
        (p.factor, p.agent): p.return_mean
        for p in scan(replace(both, seeds=1), (0.5,), reference="random").points
    }
    pair = {
        (p.factor, p.agent): p.return_mean for p in scan(both, (0.5,), reference="random").points
    }
    for key, value in only.items():
        assert pair[key] == pytest.approx((seed0[key] + value) / 2)
        assert value != pytest.approx(seed0[key])


@pytest.mark.parametrize(
    ("flags", "needle"),
    [(["--factors", "a,b"], "--factors"), (["--first-seed", "-2"], "--first-seed")],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, flags, needle) -> None:
    code = cli_main(["sensitivity", *flags, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_a_scan_scales_the_values_the_evaluation_uses(monkeypatch) -> None:
    """`--set behaviour.boredom.attraction_penalty=2` then factor 0.5: the evaluated scenario
    has 1.0 (it had 0.5 × the file's 0.8 = 0.4 before, the --set silently lost)."""
    import divrec_rl.evaluation.sensitivity as sensitivity

    seen: list[float] = []

    def fake_evaluate(config: EvaluationConfig) -> None:
        resolved = resolve_scenario(config.scenario, overrides=config.overrides)
        seen.append(resolved.behaviour.boredom.attraction_penalty)
        raise StopIteration  # the scaled setting is all this test needs

    monkeypatch.setattr(sensitivity, "evaluate", fake_evaluate)
    overrides = {**TINY, "behaviour": {"boredom": {"attraction_penalty": 2.0}}}
    base = EvaluationConfig(
        agents=parse_agents("random"), scenario="synthetic-shop", overrides=overrides, users=12
    )
    with pytest.raises(StopIteration):
        scan(base, (0.5, 1.0), "boredom", reference="random")
    assert seen == [1.0]


@pytest.mark.parametrize(
    ("changes", "vary", "said"),
    [
        ({"behaviour": {"model": "quit-on-repetition"}}, "both",
         "behaviour 'quit-on-repetition' does not read them (boredom.attraction_penalty=0.8"),
        ({"behaviour": {"boredom": {"attraction_penalty": 0.0, "satisfaction_penalty": 0.0}}},
         "boredom", "the scenario sets them all to 0"),
    ],
)  # fmt: skip
def test_a_scan_whose_factors_change_nothing_is_refused(changes, vary, said) -> None:
    base = EvaluationConfig(
        agents=parse_agents("random"), scenario="synthetic-shop",
        overrides={**TINY, **changes}, users=12,
    )  # fmt: skip
    with pytest.raises(EvaluationError, match=f"--vary {vary}: factors 0 and 1.5 ") as err:
        scan(base, (0.0, 1.0, 1.5), vary, reference="random")
    assert said in str(err.value) and "every factor would give the same numbers" in str(err.value)


def test_the_cli_refuses_a_scan_that_changes_nothing_in_one_line(tmp_path, capsys) -> None:
    flags = ["--scenario", "synthetic-shop", "--set", "behaviour.model=quit-on-repetition",
             "--agents", "random", "--reference", "random", "--users", "8"]  # fmt: skip
    code = cli_main(["sensitivity", *flags, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "quit-on-repetition' does not read them" in err[0]
    assert not (tmp_path / "o").exists()


def test_the_cli_takes_evaluates_baseline_flags(tmp_path, monkeypatch) -> None:
    """`--baseline-fits 5` (and every other baseline flag of `evaluate`) reaches the scan, so a
    scan can carry the baseline's fit-to-fit spread like `evaluate --baseline-fits`."""
    import divrec_rl.evaluation.sensitivity as sensitivity

    seen: list[EvaluationConfig] = []

    def fake_scan(base: EvaluationConfig, *args, **kwargs) -> list:
        seen.append(base)
        raise EvaluationError("stop here")

    monkeypatch.setattr(sensitivity, "scan", fake_scan)
    flags = ["--baseline-fits", "5", "--log-users", "700", "--baseline-mmr-tradeoffs", "0.2,0.4"]
    assert cli_main(["sensitivity", *flags, "--out", str(tmp_path / "o")]) == 2
    (base,) = seen
    assert (base.baseline.fits, base.baseline.log_users) == (5, 700)
    assert base.baseline.mmr_tradeoffs == (0.2, 0.4)


def _run_trained_at(root: Path, factor: float, diversity_weight: float = 0.1) -> Path:
    """A PPO run directory as training writes it, trained on TINY's shop with boredom and
    patience scaled by ``factor`` and the given λ."""
    from divrec_rl.training.testing import write_untrained_run

    tiny = resolve_scenario("synthetic-shop", overrides=TINY)
    overrides = {
        **TINY,
        "behaviour": strength_overrides(tiny, factor)["behaviour"],
        "reward": {"diversity_weight": diversity_weight},
    }
    scenario = resolve_scenario("synthetic-shop", overrides=overrides)
    run_dir = root / f"synthetic-shop__ppo__0__f{factor:g}-l{diversity_weight:g}"
    return write_untrained_run(run_dir, scenario)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scan-runs")
    return {
        "at0": _run_trained_at(root, 0.0),
        "at1": _run_trained_at(root, 1.0),
        "at1-lambda0": _run_trained_at(root, 1.0, diversity_weight=0.0),
    }


def _base(**changes: object) -> EvaluationConfig:
    settings: dict = {"overrides": TINY, **changes}
    return EvaluationConfig(
        agents=parse_agents("random"), scenario="synthetic-shop", users=12, n_boot=50, **settings
    )


def _no_evaluation(monkeypatch: pytest.MonkeyPatch) -> list[EvaluationConfig]:
    """Make any evaluation fail the test, unless the caller reads the returned list (the
    configurations evaluate was called with, each stopping the scan)."""
    import divrec_rl.evaluation.sensitivity as sensitivity

    calls: list[EvaluationConfig] = []

    def fake(config: EvaluationConfig) -> None:
        calls.append(config)
        raise StopIteration

    monkeypatch.setattr(sensitivity, "evaluate", fake)
    return calls


@pytest.mark.parametrize(
    ("ppo", "needle"),
    [
        ({0.0: "at1"}, "--ppo 0=.*trained on another scenario than 'synthetic-shop' at factor 0 "
                       r"\(behaviour.boredom.attraction_penalty: 0.8 → 0"),
        ({0.5: "at1"}, "--ppo 0.5=.*: factor 0.5 is not among --factors"),
        ({0.0: "at0", 1.0: "at1-lambda0"}, r"--ppo: the runs were trained with different λ "
                                           r"\(0: λ = 0.1, 1: λ = 0\)"),
    ],
)  # fmt: skip
def test_every_ppo_run_is_checked_before_anything_is_evaluated(
    runs, monkeypatch, ppo, needle
) -> None:
    calls = _no_evaluation(monkeypatch)
    with pytest.raises(EvaluationError, match=needle):
        scan(_base(), (0.0, 1.0), ppo_runs={f: str(runs[k]) for f, k in ppo.items()},
             reference="random")  # fmt: skip
    assert calls == []


def test_a_mismatch_that_is_allowed_is_noted(runs, monkeypatch) -> None:
    calls = _no_evaluation(monkeypatch)
    with pytest.raises(StopIteration):
        scan(_base(allow_scenario_mismatch=True), (0.0, 1.0), ppo_runs={0.0: str(runs["at1"])},
             reference="random")  # fmt: skip
    assert len(calls) == 1


def test_every_factor_scores_the_ppo_runs_lambda(runs) -> None:
    """A run trained with λ = 0 at factor 1: the factor without a PPO run is scored with
    λ = 0 too (it used the scenario's 0.1 while the PPO factor used the run's 0)."""
    result = scan(_base(), (0.0, 1.0), ppo_runs={1.0: str(runs["at1-lambda0"])},
                  reference="random")  # fmt: skip
    assert (result.weight, result.weight_source) == (0.0, "the PPO runs' λ")
    alone = scan(_base(overrides={**TINY, "reward": {"diversity_weight": 0.0}}), (0.0,),
                 reference="random")  # fmt: skip
    at = {(p.factor, p.agent): p.return_mean for p in result.points}
    assert at[(0.0, "random")] == pytest.approx(alone.points[0].return_mean)
    assert (1.0, "ppo") in at


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--factors", "0,nan"], "--factors: every factor must be a number ≥ 0, got nan"),
        (["--factors", "1,0,1.0"], "--factors: factor 1 is given twice"),
        (["--ppo", "=runs/x"], "--ppo: expected FACTOR=RUN with a number FACTOR, got '=runs/x'"),
        (["--ppo", "abc=runs/x"], "--ppo: expected FACTOR=RUN with a number FACTOR"),
        (["--ppo", "1=a", "--ppo", "1.0=b"], "--ppo: factor 1 is given twice"),
        (["--ppo", "1=runs/x"], "--scenario: required with --ppo"),
    ],
)
def test_cli_bad_scan_input_is_refused_before_evaluating(
    tmp_path, capsys, monkeypatch, flags, needle
) -> None:
    calls = _no_evaluation(monkeypatch)
    code = cli_main(["sensitivity", "--agents", "random", "--reference", "random", *flags,
                     "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert calls == [] and not (tmp_path / "o").exists()


@pytest.mark.parametrize("below", ["", "sub"])
def test_cli_out_that_is_a_file_is_refused_before_evaluating(
    tmp_path, capsys, monkeypatch, below
) -> None:
    calls = _no_evaluation(monkeypatch)
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    out = afile / below if below else afile
    code = cli_main(["sensitivity", "--agents", "random", "--reference", "random", "--out",
                     str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"--out '{out}'" in err[0], err
    assert calls == []


def test_the_three_outputs_are_written_together_or_not_at_all(tmp_path) -> None:
    """The plot fails (its path is a directory): the table and summary of the earlier scan
    stay as they were, with no temporary file left beside them."""
    from divrec_rl.evaluation.sensitivity import ScanPoint, ScanResult

    def result(ret: float) -> ScanResult:
        points = [ScanPoint(0.0, "random", "random", ret, ret - 1, ret + 1)]
        return ScanResult(points, 0.1, "the scenario's reward.diversity_weight", [])

    out = tmp_path / "scan"
    out.mkdir()
    write_scan(result(1.0), out, "# first", "random")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "sensitivity.png").unlink()
    (out / "sensitivity.png").mkdir()
    with pytest.raises(OSError):
        write_scan(result(2.0), out, "# second", "random")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "sensitivity.png"}
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
