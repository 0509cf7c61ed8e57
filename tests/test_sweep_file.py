"""``divrec-rl sweep`` without running a sweep: the sweep file's validation, the missing extra,
an unreachable cluster, the reference page and the seed-level interval."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from divrec_rl.cli import main as cli_main
from divrec_rl.resolve import resolve_scenario
from divrec_rl.sweep.results import seed_interval
from divrec_rl.sweep.spec import load_sweep, scenario_overrides

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "scenario": "synthetic-shop",
    "overrides": {"catalog.n_items": 300},
    "train": {"total_timesteps": 1024, "n_envs": 8},
    "space": {"reward.diversity_weight": {"grid": [0.0, 0.5]}},
    "seeds": [0, 1],
}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_good_file_loads_and_layers_overrides(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, GOOD))
    assert sweep.space["reward.diversity_weight"].values == [0.0, 0.5]
    nested = scenario_overrides(sweep, {"reward.diversity_weight": 0.5, "seed": 1})
    assert nested == {"catalog": {"n_items": 300}, "reward": {"diversity_weight": 0.5}}


BAD = {
    "unknown top-level key": ({**GOOD, "spaces": {}}, "unknown field 'spaces'"),
    "empty space": ({**GOOD, "space": {}}, "field 'space': empty"),
    "unknown scenario key": (
        {**GOOD, "space": {"reward.no_such_field": {"grid": [1]}}},
        "space.reward.no_such_field",
    ),
    "value the field rejects": (
        {**GOOD, "space": {"reward.diversity_weight": {"grid": [0.1, -1.0]}}},
        "field 'space.reward.diversity_weight' value -1.0",
    ),
    "bad train value in space": (
        {**GOOD, "space": {"train.learning_rate": {"choice": [0.001, 0]}}},
        "field 'space.train.learning_rate' value 0",
    ),
    "unknown train field in space": (
        {**GOOD, "space": {"train.no_such": {"grid": [1]}}},
        "field 'space.train.no_such'",
    ),
    "both grid and choice": (
        {**GOOD, "space": {"reward.diversity_weight": {"grid": [0.1], "choice": [0.2]}}},
        "exactly one of 'grid' or 'choice'",
    ),
    "empty grid": (
        {**GOOD, "space": {"reward.diversity_weight": {"grid": []}}},
        "the list of values is empty",
    ),
    "seed set in train": ({**GOOD, "train": {"seed": 3}}, "field 'train.seed'"),
    "unknown train field": ({**GOOD, "train": {"n_env": 3}}, "unknown field 'n_env'"),
    "bad metric": ({**GOOD, "metric": "eval/mean_reward"}, "field 'metric'"),
    "duplicate seeds": ({**GOOD, "seeds": [1, 1]}, "field 'seeds'"),
    "unknown scenario": ({**GOOD, "scenario": "synthetic-shopp"}, "synthetic-shop"),
    "grace period past the end": (
        {**GOOD, "scheduler": {"grace_period": 5000}},
        "field 'scheduler.grace_period'",
    ),
    "grace period past every swept budget": (
        {**GOOD, "space": {"train.total_timesteps": {"grid": [1024, 2048]}},
         "scheduler": {"grace_period": 4096}},
        "field 'scheduler.grace_period': must be ≤ the longest trial's train.total_timesteps "
        "(2048)",
    ),
    "grace period past a budget written 2e3": (
        {**GOOD, "train": {"total_timesteps": "2e3", "n_envs": 8},
         "scheduler": {"grace_period": 4096}},
        "train.total_timesteps (2000)",
    ),
    "a grid value twice": (
        {**GOOD, "space": {"reward.diversity_weight": {"grid": [0.5, 0.5]}}},
        "the grid repeats 0.5",
    ),
    "a boolean seed": ({**GOOD, "seeds": [True]}, "field 'seeds': must be integers"),
    "a boolean confirmation seed": (
        {**GOOD, "confirm": {"seeds": [False]}}, "field 'confirm.seeds': must be integers",
    ),
    "a GPU share that is not a number": (
        {**GOOD, "resources": {"gpus_per_trial": "lots"}},
        "must be a number ≥ 0 or 'auto', got 'lots'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sweep_file_is_one_line_exit_2_nothing_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, needle = BAD[case]
    path = write(tmp_path, data)
    out = tmp_path / "out"
    code = cli_main(["sweep", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    assert needle in err and "Traceback" not in err
    assert str(path) in lines[0]
    assert not out.exists()


def test_without_ray_prints_the_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from divrec_rl.sweep.driver import INSTALL_COMMAND

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    out = tmp_path / "out"
    code = cli_main(["sweep", str(write(tmp_path, GOOD)), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and INSTALL_COMMAND in err
    assert not out.exists()


def test_unreachable_address_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    pytest.importorskip("ray")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    args = ["sweep", str(write(tmp_path, GOOD)), "--out", str(out)]
    code = cli_main([*args, "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and f"--address 127.0.0.1:{port}" in err
    assert not out.exists()


def test_existing_out_without_resume_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code = cli_main(["sweep", str(write(tmp_path, GOOD)), "--out", str(out)])
    assert code == 2 and "--resume" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_sweep_reference_doc_is_current() -> None:
    from divrec_rl.commands.sweep import schema_markdown

    doc = (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")
    assert schema_markdown() in doc, "regenerate with: divrec-rl sweep --schema"


def test_seed_interval_is_the_student_t_interval() -> None:
    # n = 3, mean 2, sd 1: half-width t_{0.975,2} · 1/√3 with t_{0.975,2} = 4.302652729911275.
    mean, low, high = seed_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert mean == 2.0
    assert low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    assert seed_interval([5.0]) == (5.0, None, None)


def test_no_sweep_file_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["sweep"]) == 2
    assert "SWEEP.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("seeds", "said"),
    [([0], "no interval with fewer than two seeds"), ([0, 1], "the intervals do not overlap")],
)
def test_summary_says_what_the_seeds_allow_about_the_runner_up(seeds, said) -> None:
    from divrec_rl.sweep.results import TrialRow, summarise
    from divrec_rl.sweep.results import _summary as summary_text
    from divrec_rl.sweep.spec import SweepFile

    sweep = SweepFile(space={"train.learning_rate": {"grid": [0.1, 0.2]}}, seeds=seeds)
    rows = [
        TrialRow(f"t{lr}{s}", {"train.learning_rate": lr}, s, "finished",
                 {"val/mean_reward": value + s * 0.01}, 10, 1.0, "")
        for lr, value in ((0.1, 1.0), (0.2, 5.0)) for s in seeds
    ]  # fmt: skip
    configs, chosen = summarise(rows, sweep)
    text = summary_text(configs, chosen, sweep, rows)
    assert "Chosen: `train.learning_rate=0.2`" in text and said in text
    assert "Code: no trials with a run directory." in text


def test_a_scheduler_reads_train_settings_as_trials_run_them(tmp_path: Path) -> None:
    # best-val checkpoint selection is only valid on val users; the scheduler's step budget is
    # read from the same settings a trial runs with (it once rebuilt them without eval_split).
    from divrec_rl.sweep.spec import max_steps, trial_train

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "scenario": "synthetic-shop",
        "train": {"total_timesteps": 4096, "select_checkpoint": "best-val", "eval_every": 1024},
        "space": {"train.learning_rate": {"choice": [0.001, 0.0003]}},
        "scheduler": {"type": "asha", "grace_period": 1024},
    }), encoding="utf-8")  # fmt: skip
    sweep = load_sweep(path)
    assert trial_train(sweep).eval_split == "val"
    assert max_steps(sweep) == 4096


EXPERIMENT_SWEEPS = sorted((ROOT / "experiments").rglob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENT_SWEEPS, ids=lambda p: p.name)
def test_every_shipped_experiment_sweep_file_loads(path: Path) -> None:
    """The documented experiments' sweep files pass the same checks `divrec-rl sweep` makes."""
    assert load_sweep(path).space


@pytest.mark.parametrize(
    ("variant", "base"),
    [
        ("tune-movielens-100k-long", "tune-movielens-100k"),
        ("tune-movielens-1m-long", "tune-movielens-1m"),
        ("tune-movielens-100k-timed", "tune-movielens-100k"),
        ("tune-movielens-100k-confirmed", "tune-movielens-100k"),
        ("tune-synthetic-shop-confirmed", "tune-synthetic-shop"),
        ("tune-synthetic-shop-long", "tune-synthetic-shop"),
        ("tune-filter-bubble-long", "tune-filter-bubble"),
        ("tune-shop-returns-long", "tune-shop-returns"),
    ],
)
def test_reruns_tune_the_same_configurations(variant: str, base: str) -> None:
    """The documented reruns ("the same 30 configurations") draw exactly the main tuning's
    configurations: same space, sample count, sample seed and seeds."""
    fair = ROOT / "experiments" / "fair"
    main, other = load_sweep(fair / f"{base}.yaml"), load_sweep(fair / f"{variant}.yaml")
    same = ("space", "num_samples", "sample_seed", "seeds", "metric", "mode")
    assert {k: getattr(other, k) for k in same} == {k: getattr(main, k) for k in same}


def test_the_experiment_sweep_files_are_found() -> None:
    # An empty glob would turn the parametrised check above into one skipped test.
    assert {"tune-synthetic-shop.yaml", "tune-movielens-100k.yaml"} <= {
        p.name for p in EXPERIMENT_SWEEPS
    }


def _retrain_chosen(args: list[str]) -> subprocess.CompletedProcess[str]:
    script = ROOT / "experiments" / "fair" / "retrain_chosen.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=False
    )


def test_a_scan_from_a_committed_stage2_file_keeps_its_choice_and_scales_the_behaviour(
    tmp_path: Path,
) -> None:
    """`retrain_chosen.py seeds-X.yaml OUT --strength F` (used when the tuning directory is gone)
    retrains exactly the recorded configuration, with the new seeds and F × boredom/patience."""
    fair = ROOT / "experiments" / "fair"
    out = tmp_path / "scan.yaml"
    done = _retrain_chosen(
        [
            str(fair / "seeds-movielens-100k-long.yaml"),
            str(out),
            "--seeds",
            "1,2",
            "--strength",
            "0.5",
        ]
    )
    assert done.returncode == 0, done.stderr
    # The header names the source without this machine's directories.
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert "seeds-movielens-100k-long.yaml" in header and str(ROOT) not in header
    recorded, scan = load_sweep(fair / "seeds-movielens-100k-long.yaml"), load_sweep(out)
    assert scan.space == recorded.space
    assert scan.seeds == [1, 2]
    assert scan.train == recorded.train
    base = resolve_scenario("movielens-100k")
    assert scan.overrides["behaviour.boredom.attraction_penalty"] == pytest.approx(
        0.5 * base.behaviour.boredom.attraction_penalty
    )
    assert scan.overrides["behaviour.patience.no_click_cost"] == pytest.approx(
        0.5 * base.behaviour.patience.no_click_cost
    )


SCAN_FILES = sorted((ROOT / "experiments" / "fair").glob("sensitivity-*.yaml"))


@pytest.mark.parametrize("path", SCAN_FILES, ids=[p.stem for p in SCAN_FILES])
def test_each_committed_scan_file_retrains_its_variants_recorded_choice(path: Path) -> None:
    """sensitivity-VARIANT-F.yaml trains what seeds-VARIANT.yaml records (scenario, space, train
    settings, metric) with boredom and patience at F × the scenario's values, and nothing else
    (so a scan and the main run it explains cannot drift apart)."""
    variant, strength = path.stem.removeprefix("sensitivity-").rsplit("-", 1)
    recorded = load_sweep(ROOT / "experiments" / "fair" / f"seeds-{variant}.yaml")
    scan = load_sweep(path)
    assert (scan.scenario, scan.space, scan.train, scan.metric) == (
        recorded.scenario,
        recorded.space,
        recorded.train,
        recorded.metric,
    )
    assert recorded.overrides == {}
    base = resolve_scenario(scan.scenario)
    f = float(strength)
    assert scan.overrides == pytest.approx(
        {
            "behaviour.boredom.attraction_penalty": f * base.behaviour.boredom.attraction_penalty,
            "behaviour.boredom.satisfaction_penalty": f
            * base.behaviour.boredom.satisfaction_penalty,
            "behaviour.patience.step_cost": f * base.behaviour.patience.step_cost,
            "behaviour.patience.no_click_cost": f * base.behaviour.patience.no_click_cost,
        }
    )
    # The main run's training seeds, never the tuning's.
    assert len(scan.seeds) >= 3 and set(scan.seeds) <= set(recorded.seeds)


def test_no_committed_experiment_file_names_an_absolute_path() -> None:
    """Stage-2 and scan files are written by retrain_chosen.py; their provenance line must read
    the same on every clone (a scratch directory of the machine that ran it means nothing)."""
    for path in sorted((ROOT / "experiments" / "fair").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert " /" not in text and str(ROOT) not in text, path.name


def test_retrain_chosen_rejects_a_source_that_records_no_single_choice(tmp_path: Path) -> None:
    tuning = ROOT / "experiments" / "fair" / "tune-movielens-100k.yaml"
    done = _retrain_chosen([str(tuning), str(tmp_path / "x.yaml")])
    assert done.returncode != 0
    assert "space.train.learning_rate: a stage-2 file has one grid point per key" in done.stderr
    assert not (tmp_path / "x.yaml").exists()
    missing = _retrain_chosen([str(tmp_path / "nothing"), str(tmp_path / "x.yaml")])
    assert missing.returncode != 0
    assert "no such sweep directory or stage-2 file" in missing.stderr


@pytest.mark.parametrize("variant", ["filter-bubble-long", "synthetic-shop-long"])
def test_the_more_logs_reruns_differ_from_their_choice_only_in_the_warm_starts_logs(
    variant: str,
) -> None:
    """seeds-X-logs10k.yaml is seeds-X.yaml with the warm start's baseline fitted on 10,000
    logged users: same scenario, configuration, seeds and metric, no other train setting."""
    fair = ROOT / "experiments" / "fair"
    chosen = load_sweep(fair / f"seeds-{variant}.yaml")
    rerun = load_sweep(fair / f"seeds-{variant}-logs10k.yaml")
    assert rerun.train == {**chosen.train, "baseline_log_users": 10000}
    assert rerun.model_dump(exclude={"train"}) == chosen.model_dump(exclude={"train"})


def _confirm_rows(scores: dict[float, dict[int, float]], confirmed: set[int]) -> list:
    from divrec_rl.sweep.results import TrialRow

    return [
        TrialRow(f"t{lr}-{s}", {"train.learning_rate": lr}, s, "finished",
                 {"val/mean_reward": v}, 10, 1.0, "",
                 phase="confirm" if s in confirmed else "search")
        for lr, by_seed in scores.items() for s, v in by_seed.items()
    ]  # fmt: skip


def test_a_confirmation_stage_chooses_by_the_mean_over_all_seeds_of_the_search_front_runners() -> (
    None
):
    """Hand-computed: search scores 10 / 9 / 8 / 7 (seed 0); the top 2 (lr 0.1, 0.2) are
    retrained with seeds 5, 6 → means (10 + 6 + 5)/3 = 7 and (9 + 9 + 9.3)/3 = 9.1; lr 0.2 is
    chosen although 0.1 led the search, and 0.3 (8 on one seed) is not eligible."""
    from divrec_rl.sweep.results import _summary as summary_text
    from divrec_rl.sweep.results import confirm_candidates, summarise
    from divrec_rl.sweep.spec import SweepFile

    sweep = SweepFile(
        space={"train.learning_rate": {"grid": [0.1, 0.2, 0.3, 0.4]}},
        seeds=[0],
        confirm={"top": 2, "seeds": [5, 6]},
    )
    search = {0.1: {0: 10.0}, 0.2: {0: 9.0}, 0.3: {0: 8.0}, 0.4: {0: 7.0}}
    front = confirm_candidates(_confirm_rows(search, set()), sweep)
    assert [c.values["train.learning_rate"] for c in front] == [0.1, 0.2]
    # Before the stage ran nothing is chosen (the search alone does not decide).
    early = _confirm_rows(search, set())
    configs, chosen = summarise(early, sweep)
    assert chosen is None
    assert "every search and confirmation seed" in summary_text(configs, chosen, sweep, early)
    search[0.1].update({5: 6.0, 6: 5.0})
    search[0.2].update({5: 9.0, 6: 9.3})
    rows = _confirm_rows(search, {5, 6})
    configs, chosen = summarise(rows, sweep)
    assert chosen is not None and configs[chosen].values == {"train.learning_rate": 0.2}
    assert configs[chosen].mean == pytest.approx(9.1) and configs[chosen].search_mean == 9.0
    assert [c.expected for c in configs] == [3, 3, 1, 1]
    text = summary_text(configs, chosen, sweep, rows)
    assert "`train.learning_rate=0.1` 10.0000 → 7.0000" in text
    assert "Runner-up: `train.learning_rate=0.1` (7.0000)" in text  # a confirmed one, not 0.3
    assert "| train.learning_rate=0.2 **(chosen)** | 3/3 | 9.1000 |" in text


@pytest.mark.parametrize("more", [[0, 7], [7, 7], [-1]])
def test_confirmation_seeds_must_be_fresh(tmp_path: Path, more: list[int]) -> None:
    from divrec_rl.errors import SweepError

    with pytest.raises(SweepError, match=r"field 'confirm.seeds': must be distinct integers ≥ 0 "
                       r"that are not in 'seeds' \[0, 1\]"):  # fmt: skip
        load_sweep(write(tmp_path, {**GOOD, "confirm": {"top": 1, "seeds": more}}))
    with pytest.raises(SweepError, match=r"confirm.top"):
        load_sweep(write(tmp_path, {**GOOD, "confirm": {"top": 0, "seeds": [5]}}))


@given(
    search=st.lists(st.floats(-10, 10), min_size=1, max_size=6),
    more=st.lists(st.floats(-10, 10), min_size=12, max_size=12),
    top=st.integers(1, 4),
    unfinished=st.sets(st.integers(0, 11), max_size=3),
    mode=st.sampled_from(["max", "min"]),
)
def test_the_confirmed_choice_is_the_best_mean_of_the_fully_confirmed_front_runners(
    search: list[float], more: list[float], top: int, unfinished: set[int], mode: str
) -> None:
    """For any scores: the confirmation stage retrains the `top` best search configurations,
    and the choice is the best mean over all three seeds among those whose every trial
    finished (none when no such configuration exists)."""
    from divrec_rl.sweep.results import TrialRow, confirm_candidates, summarise
    from divrec_rl.sweep.spec import SweepFile

    lrs = [0.1 * (i + 1) for i in range(len(search))]
    sweep = SweepFile(space={"train.learning_rate": {"grid": lrs}}, seeds=[0], mode=mode,
                      confirm={"top": top, "seeds": [7, 8]})  # fmt: skip

    def row(lr: float, seed: int, value: float, phase: str, done: bool = True) -> TrialRow:
        metrics = {"val/mean_reward": value} if done else {}
        status = "finished" if done else "stopped"
        values = {"train.learning_rate": lr}
        return TrialRow(f"{lr}-{seed}", values, seed, status, metrics, 1, 1.0, "", phase=phase)

    rows = [row(lr, 0, v, "search") for lr, v in zip(lrs, search, strict=True)]
    front = confirm_candidates(rows, sweep)
    sign = 1 if mode == "max" else -1
    expected_front = sorted(range(len(lrs)), key=lambda i: -sign * search[i])[:top]
    assert [search[lrs.index(c.values["train.learning_rate"])] for c in front] == [
        search[i] for i in expected_front
    ]
    for j, config in enumerate(front):
        lr = config.values["train.learning_rate"]
        for k, seed in enumerate((7, 8)):
            slot = 2 * j + k
            rows.append(row(lr, seed, more[slot], "confirm", done=slot not in unfinished))
    configs, chosen = summarise(rows, sweep)
    eligible = [c for c in configs if c.finished == 3]
    if not eligible:
        assert chosen is None
        return
    assert chosen is not None and configs[chosen].finished == 3
    best = max(sign * c.mean for c in eligible)  # type: ignore[operator]
    assert sign * configs[chosen].mean == pytest.approx(best)  # type: ignore[operator]


def test_a_configuration_drawn_by_two_samples_counts_each_seed_once(tmp_path: Path) -> None:
    """Two random samples drew lr 0.1 (Ray trains it twice with seed 0, scoring 5.0 both times);
    lr 0.2 scored 3.0.  lr 0.1 has one seed of one, is chosen, and only its first trial is
    marked chosen; with a confirmation stage (one fresh seed) the repeat is no confirmation."""
    from divrec_rl.sweep.layout import chosen_runs
    from divrec_rl.sweep.results import TrialRow, confirm_candidates, summarise, write_results
    from divrec_rl.sweep.spec import SweepFile

    def trial(tid: str, lr: float, seed: int, value: float, phase: str = "search") -> TrialRow:
        metrics = {"val/mean_reward": value}
        values = {"train.learning_rate": lr}
        return TrialRow(
            tid, values, seed, "finished", metrics, 10, 1.0, f"trials/{tid}/run", phase=phase
        )

    space = {"train.learning_rate": {"choice": [0.1, 0.2]}}
    rows = [trial("a", 0.1, 0, 5.0), trial("b", 0.2, 0, 3.0), trial("c", 0.1, 0, 5.0)]
    sweep = SweepFile(space=space, seeds=[0], num_samples=3)
    configs, chosen = summarise(rows, sweep)
    assert chosen is not None and configs[chosen].values == {"train.learning_rate": 0.1}
    assert (configs[chosen].finished, configs[chosen].seeds) == (1, [0])
    assert write_results(tmp_path, rows, sweep) == chosen
    assert chosen_runs(tmp_path) == [(0, tmp_path / "trials/a/run")]
    summary = (tmp_path / "summary.md").read_text()
    assert "| train.learning_rate=0.1 **(chosen)** | 1/1 | 5.0000 |" in summary
    assert "counted once): `c` (repeats `a`)." in summary

    confirmed = SweepFile(space=space, seeds=[0], num_samples=3, confirm={"top": 1, "seeds": [5]})
    assert summarise(rows, confirmed)[1] is None  # a repeat of seed 0 is not seed 5
    assert [c.values for c in confirm_candidates(rows, confirmed)] == [{"train.learning_rate": 0.1}]
    rows.append(trial("d", 0.1, 5, 4.0, phase="confirm"))
    configs, chosen = summarise(rows, confirmed)
    assert chosen is not None and configs[chosen].seeds == [0, 5]
    assert configs[chosen].mean == pytest.approx(4.5)


def test_a_scan_stage2_file_is_refused_when_its_strength_changes_nothing(tmp_path: Path) -> None:
    """`retrain_chosen.py SRC OUT --strength 0.5` on a scenario whose behaviour has no boredom
    or patience (quit-on-repetition): the scan's one-line error before any training, no file."""
    source = tmp_path / "seeds-quit.yaml"
    stage2 = {"scenario": "synthetic-shop",
              "overrides": {"behaviour.model": "quit-on-repetition", "catalog.n_items": 300},
              "train": {"total_timesteps": 1024},
              "space": {"train.learning_rate": {"grid": [0.001]}}, "seeds": [1]}  # fmt: skip
    source.write_text(yaml.safe_dump(stage2), encoding="utf-8")
    out = tmp_path / "scan.yaml"
    done = _retrain_chosen([str(source), str(out), "--strength", "0.5"])
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and not out.exists()
    assert "behaviour 'quit-on-repetition' does not read them" in lines[0]
    # the message names this script's own option, not the scan's --vary
    assert (
        lines[0].startswith("error: --strength 0.5: factors 0.5 and 1") and "--vary" not in lines[0]
    )
    assert _retrain_chosen([str(source), str(out), "--strength", "1"]).returncode == 0


@pytest.mark.parametrize("below", ["", "sub"])
def test_an_out_that_cannot_be_a_directory_is_one_line_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, below: str
) -> None:
    """A file as --out, or a path under one: one line (it was 'exists and is not empty', or a
    NotADirectoryError traceback after Ray had started, leaving its temporary files)."""
    import divrec_rl.sweep.driver as driver

    monkeypatch.setattr(driver, "_start_ray", lambda *a: pytest.fail("Ray was started"))
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    out = afile / below if below else afile
    assert cli_main(["sweep", str(write(tmp_path, GOOD)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    said = "cannot create the directory" if below else "exists and is not a directory"
    assert len(err) == 1 and err[0].startswith(f"error: --out '{out}': {said}"), err


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--seeds", "3,x"], 2, "error: --seeds: expected comma-separated integers, got '3,x'"),
        ([], 1, "not a sweep directory with results (no sweep.yaml and sweep.csv)"),
    ],
)
def test_retrain_chosen_bad_input_is_one_line(tmp_path: Path, args, code, said) -> None:
    """Tracebacks before: int('x'), and sweep.yaml read before the check that names it."""
    (tmp_path / "trials").mkdir()
    done = _retrain_chosen([str(tmp_path / "trials"), str(tmp_path / "s2.yaml"), *args])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code and len(lines) == 1 and said in lines[0], done.stderr
    assert not (tmp_path / "s2.yaml").exists()
