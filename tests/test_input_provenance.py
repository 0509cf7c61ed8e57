"""Which simulated users a result came from: a scenario's response model names the files outside
the package it reads (a trained user model's checkpoint), training runs record them beside the
code, evaluation reports print them, and an agent trained on other inputs than those it is
evaluated on is named in a note and a warning (:mod:`divrec_rl.provenance`, inputs part)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from divrec_rl.bert.checkpoint import TABLES_FILE, read_config, sha256_file
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_scenario_overrides
from divrec_rl.commands.evaluate import main as evaluate_main
from divrec_rl.provenance import (
    describe_inputs,
    input_mismatches,
    inputs_summary,
    scenario_inputs,
)
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import build_scenario
from divrec_rl.training import rundir
from divrec_rl.training.config import config_from_args
from divrec_rl.training.runner import train_run

TABLES = "a1" * 32
DATA = "d4" * 32


def test_describe_inputs_shortens_digests_and_keeps_places() -> None:
    inputs = {
        "user_model": "/m/ml",
        "user_model_tables_sha256": TABLES,
        "dataset_fingerprint": DATA,
    }
    assert describe_inputs(inputs) == (
        "user_model /m/ml (user_model_tables_sha256 a1a1a1a1a1a1, dataset_fingerprint d4d4d4d4d4d4)"
    )
    assert describe_inputs({"dataset_fingerprint": DATA}) == "dataset_fingerprint d4d4d4d4d4d4"
    assert describe_inputs({}) == ""


def test_only_differing_digests_are_mismatches() -> None:
    now = {
        "user_model": "/new/place",
        "user_model_tables_sha256": TABLES,
        "dataset_fingerprint": DATA,
    }
    # The same checkpoint copied elsewhere: the place differs, the content does not.
    assert input_mismatches({**now, "user_model": "/old/place"}, now) == []
    retrained = {**now, "user_model_tables_sha256": "b2" * 32}
    assert input_mismatches(retrained, now) == [
        "user_model_tables_sha256: b2b2b2b2b2b2 → a1a1a1a1a1a1"
    ]
    # A record without an entry says nothing about it (runs written before the record).
    assert input_mismatches({"user_model": "/x"}, now) == []


def _code(tables: str | None) -> list[dict[str, object]]:
    entry: dict[str, object] = {"version": "1", "source_sha256": "c" * 64}
    if tables is not None:
        entry["inputs"] = {"user_model": "/m", "user_model_tables_sha256": tables}
    return [entry]


def test_inputs_summary_says_same_different_or_nothing() -> None:
    same = {"a": _code(TABLES), "b": _code(TABLES), "old": _code(None)}
    assert inputs_summary(same, "trials") == (
        "2 of 3 trials recorded the same simulated-user inputs, "
        "user_model_tables_sha256 a1a1a1a1a1a1."
    )
    mixed = {"a": _code(TABLES), "b": _code("b2" * 32), "c": _code(TABLES)}
    assert inputs_summary(mixed, "trials") == (
        "**trials recorded 2 different simulated-user inputs** (a user model retrained between "
        "them): user_model_tables_sha256 a1a1a1a1a1a1: a, c; "
        "user_model_tables_sha256 b2b2b2b2b2b2: b."
    )
    assert inputs_summary({"a": _code(None)}, "trials") == ""
    assert inputs_summary({}, "trials") == ""


def test_the_sweep_summary_names_the_trials_inputs() -> None:
    from divrec_rl.sweep.results import TrialRow, summarise
    from divrec_rl.sweep.results import _summary as summary_text
    from divrec_rl.sweep.spec import SweepFile

    sweep = SweepFile(space={"train.learning_rate": {"grid": [0.1, 0.2]}}, seeds=[0])

    def rows(tables: list[str | None]) -> list[TrialRow]:
        return [
            TrialRow(f"t{i}", {"train.learning_rate": lr}, 0, "finished",
                     {"val/mean_reward": float(i)}, 10, 1.0, f"trials/t{i}", _code(t))
            for i, (lr, t) in enumerate(zip((0.1, 0.2), tables, strict=True))
        ]  # fmt: skip

    def text(tables: list[str | None]) -> str:
        trials = rows(tables)
        return summary_text(*summarise(trials, sweep), sweep, trials)

    assert "Simulated users: 2 of 2 trials recorded the same" in text([TABLES, TABLES])
    assert "2 different simulated-user inputs" in text([TABLES, "b2" * 32])
    assert "Simulated users" not in text([None, None])


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


def _tiny_overrides(tiny: dict[str, Path]) -> list[str]:
    return [
        f"catalog.path={tiny['data']}",
        f"response.path={tiny['model']}",
        "slate.size=4",
        "slate.n_candidates=12",
        "episode.max_steps=8",
    ]


def test_a_trained_user_model_names_its_checkpoint_and_generated_users_name_nothing(
    tiny: dict[str, Path],
) -> None:
    sc = build_scenario(resolve_scenario("movielens-100k", overrides=tiny_scenario_overrides(tiny)))
    assert sc.response.inputs() == {
        "user_model": str(tiny["model"]),
        "user_model_tables_sha256": sha256_file(tiny["model"] / TABLES_FILE),
        "dataset_fingerprint": read_config(tiny["model"])["dataset"]["fingerprint"],
        "dataset_ratings_fingerprint": read_config(tiny["model"])["dataset"]["ratings_fingerprint"],
    }
    assert build_scenario(resolve_scenario("synthetic-shop")).response.inputs() == {}


def test_training_records_the_inputs_and_evaluation_names_a_retrained_model(
    tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, overrides = config_from_args(
        {
            "scenario": "movielens-100k",
            "n_envs": "4",
            "n_steps": "16",
            "batch_size": "32",
            "n_epochs": "1",
            "eval_every": "0",
            "eval_users": "4",
            "checkpoint_every": "64",
            "total_timesteps": "64",
            "progress_bar": False,
            "logdir": str(tmp_path / "runs"),
            "overrides": _tiny_overrides(tiny),
        }
    )
    run = train_run(config, overrides, command="tiny")
    tables = sha256_file(tiny["model"] / TABLES_FILE)
    (entry,) = rundir.read_code_record(run.run_dir)
    assert entry["inputs"]["user_model_tables_sha256"] == tables
    header = (run.run_dir / "config.yaml").read_text(encoding="utf-8")
    assert f"# simulated users' inputs: user_model {tiny['model']} (" in header

    def evaluate(out: Path) -> str:
        argv = ["--scenario", "movielens-100k"]
        for item in _tiny_overrides(tiny):
            argv += ["--set", item]
        argv += ["--agents", f"ppo={run.run_dir},random", "--users", "6", "--seeds", "1",
                 "--cross-sim", "none", "--no-frontier", "--out", str(out), "--quiet"]  # fmt: skip
        assert evaluate_main(argv) == 0
        return (out / "report.md").read_text(encoding="utf-8")

    report = evaluate(tmp_path / "same")
    assert f"simulated users' inputs: user_model {tiny['model']} (" in report
    assert tables[:12] in report and "trained on other simulated users" not in report
    assert "1 of 1 training run recorded the same simulated-user inputs" in report
    # The checkpoint is retrained after the agent was: its run record names other tables.
    path = run.run_dir / "config.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["run"]["code"][0]["inputs"]["user_model_tables_sha256"] = "0f" * 32
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    capsys.readouterr()
    report = evaluate(tmp_path / "retrained")
    assert "was trained on other simulated users than these" in report
    assert f"user_model_tables_sha256: 0f0f0f0f0f0f → {tables[:12]}" in report
    assert "trained on other simulated users" in capsys.readouterr().err


PLUGIN = """
from divrec_rl.plugins import register_behaviour
from divrec_rl.users.behaviour import StandardBehaviour


@register_behaviour("input-provenance-test")
class Plain(StandardBehaviour):
    def __init__(self, config):
        super().__init__(config.behaviour, config.users.history_decay)
"""


def test_a_plug_ins_source_is_an_input_and_an_edit_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A behaviour plug-in: built-in scenarios record no input, the plug-in's scenario records
    its source digest, and an agent evaluated after the plug-in was edited is named as trained
    on other simulated users (the dynamics it learned are not these)."""
    assert scenario_inputs(build_scenario(resolve_scenario("synthetic-shop"))) == {}
    module = tmp_path / "input_provenance_plugin.py"
    module.write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sets = ["behaviour.model=input-provenance-test", "catalog.n_items=300",
            "catalog.n_categories=8", "slate.size=4", "slate.n_candidates=12",
            "episode.max_steps=8"]  # fmt: skip
    args = {"scenario": "synthetic-shop", "n_envs": "4", "n_steps": "16", "batch_size": "32",
            "n_epochs": "1", "eval_every": "0", "checkpoint_every": "64", "total_timesteps": "64",
            "progress_bar": False, "logdir": str(tmp_path / "runs"), "overrides": sets}  # fmt: skip
    config, overrides = config_from_args(args)
    run = train_run(config, overrides, command="tiny", imports=["input_provenance_plugin"])
    (entry,) = rundir.read_code_record(run.run_dir)
    digest = entry["inputs"]["plugins_sha256"]
    assert len(digest) == 64

    def evaluate(out: Path) -> str:
        argv = ["--agents", f"ppo={run.run_dir},random", "--users", "6", "--seeds", "1",
                "--cross-sim", "none", "--no-frontier", "--out", str(out), "--quiet"]  # fmt: skip
        assert evaluate_main(argv) == 0
        return (out / "report.md").read_text(encoding="utf-8")

    assert "trained on other simulated users" not in evaluate(tmp_path / "same")
    module.write_text(PLUGIN + "\nSLEEPINESS = 0.5\n", encoding="utf-8")
    capsys.readouterr()
    report = evaluate(tmp_path / "edited")
    assert "was trained on other simulated users than these" in report
    assert f"plugins_sha256: {digest[:12]} → " in report
    assert "trained on other simulated users" in capsys.readouterr().err
