"""Bad input to the command line: one ``error:`` line naming the argument, exit code 2, nothing
written; the ``--set`` parser, the generated training flags, ``--import``, device resolution and
the evaluation's training-scenario check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from divrec_rl import cli
from divrec_rl.commands.common import CommandParser
from divrec_rl.commands.train import add_train_arguments
from divrec_rl.commands.train import main as train_main
from divrec_rl.errors import ScenarioError, TrainingError
from divrec_rl.resolve import resolve_scenario
from divrec_rl.training.config import TrainConfig, parse_set
from divrec_rl.training.device import resolve_device
from divrec_rl.training.settings import flag_of
from divrec_rl.training.testing import write_untrained_run

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}
SMALL_SET = [
    "--set", "catalog.n_items=300", "--set", "catalog.n_categories=8",
    "--set", "catalog.embedding_dim=16", "--set", "slate.size=5", "--set", "slate.n_candidates=20",
]  # fmt: skip


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- --logdir ----------------------------------------------------------------------------------


@pytest.mark.parametrize("below", ["", "sub"])
def test_logdir_that_is_a_file_is_one_line_and_nothing_is_written(
    below: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "runs"
    blocker.write_text("not a directory")
    logdir = blocker / below if below else blocker
    code = train_main(["--logdir", str(logdir), "--total-timesteps", "64", "--no-progress-bar"])
    assert code == 2
    line = _one_error_line(capsys)
    assert f"--logdir '{logdir}'" in line and "is not a directory" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert blocker.read_text() == "not a directory"


# --- --set -------------------------------------------------------------------------------------


def test_set_parses_dotted_keys_and_yaml_values() -> None:
    parsed = parse_set(
        [
            "catalog.n_items=20000",
            "reward.diversity_weight=0.25",
            "behaviour.params.bonus=[1, 2]",
            "behaviour.params.on=true",
            "description=two words",
            "users.population= null",
        ]
    )
    assert parsed == {
        "catalog": {"n_items": 20000},
        "reward": {"diversity_weight": 0.25},
        "behaviour": {"params": {"bonus": [1, 2], "on": True}},
        "description": "two words",
        "users": {"population": None},
    }
    assert parse_set([]) == {} and parse_set(None) == {}


@pytest.mark.parametrize("item", ["nokey", "=3", "a..b=1", "catalog.=1", "x=[1, 2"])
def test_malformed_set_names_the_flag(item: str) -> None:
    with pytest.raises(ScenarioError, match=r"^--set ") as exc:
        parse_set([item])
    assert len(exc.value.errors) == 1


def test_set_on_the_command_line_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["simulate", "--users", "3", "--set", "catalog.n_items"]) == 2
    assert "--set 'catalog.n_items': expected KEY=VALUE" in _one_error_line(capsys)


# --- training flags generated from the pydantic model ------------------------------------------


def test_every_train_field_has_a_flag_with_its_description() -> None:
    parser = CommandParser(prog="train")
    add_train_arguments(parser)
    options = {a.dest: a for a in parser._actions}
    for name, info in TrainConfig.model_fields.items():
        assert name in options, name
        action = options[name]
        assert flag_of(TrainConfig, name) in action.option_strings
        assert action.help and info.description and action.help.startswith(info.description)
    help_text = " ".join(parser.format_help().split())
    assert "(default: 200000)" in help_text and "--no-progress-bar" in help_text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--n-envs", "0"], "field 'n_envs' (--n-envs): must be ≥ 1, got '0'"),
        (["--n-envs", "2.5"], "field 'n_envs' (--n-envs): must be an integer, got '2.5'"),
        (["--learning-rate", "inf"], "(--learning-rate): must be a finite number"),
        (["--gae-lambda", "2"], "field 'gae_lambda' (--gae-lambda): must be in [0, 1], got '2'"),
        (["--verbose", "2"], "field 'verbose' (--verbose): must be in [0, 1]"),
        (["--device", "gpu"], "(--device): must be one of auto, cpu, cuda, got 'gpu'"),
        (["--diversity-weight", "abc"], "(--diversity-weight): must be a finite number"),
        # Below 1e-3 the picked candidates' mask broke (repeated picks); 1e39 overflowed the
        # float32 bias after the run directory had been made.
        (
            ["--temperature-floor", "1e-4"],
            "(--temperature-floor): must be in [0.001, 1000], got '1e-4'",
        ),
        (["--temperature-init", "1e39"], "(--temperature-init): must be in (0, 1000], got '1e39'"),
    ],
)
def test_bad_training_values_name_the_flag(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_main([*argv, "--logdir", str(tmp_path / "runs")]) == 2
    assert expected in _one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


def test_scientific_step_counts_are_accepted() -> None:
    assert TrainConfig(total_timesteps="1e6").total_timesteps == 1_000_000
    with pytest.raises(TrainingError, match="must be an integer"):
        TrainConfig(total_timesteps="1.5e0")


# --- --import ----------------------------------------------------------------------------------


def test_a_decorator_registered_scenario_is_reachable_with_import(tmp_path: Path) -> None:
    (tmp_path / "my_shop_plugin.py").write_text(
        textwrap.dedent(
            """
            from divrec_rl.plugins import register_scenario

            @register_scenario("my-decorated-shop")
            def shop():
                return {"catalog": {"n_items": 200, "n_categories": 5},
                        "slate": {"size": 4, "n_candidates": 12}}
            """
        )
    )
    # A fresh process, as a user runs it: the module is importable, nothing has imported it.
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def run(*argv: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "divrec_rl.cli", "simulate", "--users", "3", *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)

    missing = run("--scenario", "my-decorated-shop")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: unknown scenario 'my-decorated-shop'")
    found = run("--import", "my_shop_plugin", "--scenario", "my-decorated-shop", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["users"] == 3
    broken = run("--import", "no_such_module_xyz")
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "cannot import module 'no_such_module_xyz'" in broken.stderr


# --- device ------------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_names_the_flag_and_what_is_available(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(TrainingError, match=r"^--device cuda: .*available: auto, cpu"):
        resolve_device("cuda")
    from divrec_rl.bert.train import resolve_device as bert_device

    with pytest.raises(TrainingError, match=r"^--device cuda"):
        bert_device("cuda")
    assert resolve_device("auto") == "cpu" and str(bert_device("auto")) == "cpu"
    assert train_main(["--device", "cuda", "--logdir", str(tmp_path / "runs")]) == 2
    assert "--device cuda: CUDA is not available" in _one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


# --- evaluate ----------------------------------------------------------------------------------


def test_evaluate_help_shows_a_single_percent_sign(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "95%" in out and "95%%" not in out


def _trained_on(run_dir: Path, name: str) -> Path:
    """A PPO run directory as training writes it, trained on the small shop called ``name``."""
    scenario = resolve_scenario("synthetic-shop", overrides={**SMALL, "name": name})
    return write_untrained_run(run_dir, scenario)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained_on(tmp_path_factory.mktemp("runs") / "small__ppo__0__x", "small-shop")


EVAL = ["--seeds", "1", "--users", "4", "--cross-sim", "none", "--no-frontier", "--quiet"]


def test_evaluate_without_scenario_uses_the_training_scenario(
    small_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert (
        cli.main(["evaluate", "--agents", f"ppo={small_run},random", "--out", str(out), *EVAL]) == 0
    )
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "- **Scenario** `small-shop`" in report
    assert "split of scenario `small-shop`" in report


def test_evaluate_on_another_scenario_is_an_error_naming_both(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--agents", f"ppo={small_run},random", "--out", str(out), *EVAL]
    assert cli.main([*argv, "--scenario", "synthetic-shop", *SMALL_SET]) == 2
    line = _one_error_line(capsys)
    assert "--scenario synthetic-shop" in line and "trained on scenario 'small-shop'" in line
    assert "--allow-scenario-mismatch" in line and not out.exists()
    flags = ["--scenario", "synthetic-shop", "--allow-scenario-mismatch", *SMALL_SET]
    assert cli.main([*argv, *flags]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "- **Scenario** `synthetic-shop`" in report
    assert "was trained on `small-shop` and is evaluated on `synthetic-shop`" in report


def test_evaluate_on_the_same_name_with_other_settings_is_an_error_naming_the_fields(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`small-shop` with other boredom is not the scenario the agent learned: error or note."""
    out = tmp_path / "out"
    argv = ["evaluate", "--agents", f"ppo={small_run},random", "--out", str(out), *EVAL]
    changed = ["--set", "behaviour.boredom.attraction_penalty=3.0"]
    assert cli.main([*argv, *changed]) == 2
    line = _one_error_line(capsys)
    assert "agent 'ppo' was trained on scenario 'small-shop' with other settings" in line
    assert "behaviour.boredom.attraction_penalty: 0.8 → 3.0" in line
    assert "--allow-scenario-mismatch" in line and not out.exists()
    assert cli.main([*argv, *changed, "--allow-scenario-mismatch"]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "was trained on `small-shop` with other settings: " in report
    # λ is the objective, not the users: another λ is reported as such, not refused.
    lam = ["--set", "reward.diversity_weight=0.3", "--overwrite"]
    assert cli.main([*argv, *lam]) == 0


def test_simulate_chooses_and_checks_a_ppo_runs_scenario_as_evaluate_does(
    small_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --scenario a PPO run is simulated on its own scenario; on another one it is the
    evaluation's one-line error, or a note with --allow-scenario-mismatch (it simulated the
    default scenario, or any named one, without a word)."""
    argv = ["simulate", "--policy", f"ppo={small_run}", "--users", "3"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("scenario small-shop, policy ppo, 3 eval users")
    assert cli.main([*argv, "--scenario", "synthetic-shop", *SMALL_SET]) == 2
    line = _one_error_line(capsys)
    assert "--scenario synthetic-shop" in line and "trained on scenario 'small-shop'" in line
    flags = ["--scenario", "synthetic-shop", "--allow-scenario-mismatch", *SMALL_SET]
    assert cli.main([*argv, *flags]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("scenario synthetic-shop, policy ppo")
    assert "note: ppo was trained on small-shop and is evaluated on synthetic-shop" in captured.err


def _spoilt_copy(run: Path, tmp_path: Path, spoil) -> Path:
    import shutil

    copy = Path(shutil.copytree(run, tmp_path / run.name))
    spoil(copy)
    return copy


def _as_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _best_val(run: Path) -> None:
    config = run / "config.yaml"
    data = yaml.safe_load(config.read_text())
    data["train"]["select_checkpoint"] = "best-val"
    config.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (lambda r: _as_directory(r / "model.zip"), "model.zip' exists but is not a file"),
        (lambda r: _as_directory(r / "config.yaml"), "config.yaml' exists but is not a file"),
        (_best_val, "has no best_model.zip (no validation evaluation was saved); give '"),
        (lambda r: (r / "config.yaml").write_text(""), "config.yaml' has no 'train:' section"),
    ],
)
def test_a_run_directory_with_a_wrong_kind_of_file_is_one_line_not_another_model(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil, said: str
) -> None:
    # These loaded a checkpoint, or the final model of a best-val run, or no scenario record,
    # without a word; an emptied config.yaml said "agent 'ppo' …" twice.
    run = _spoilt_copy(small_run, tmp_path, spoil)
    assert cli.main(["simulate", "--policy", f"ppo={run}", "--users", "2"]) == 2
    line = _one_error_line(capsys)
    assert said in line and line.count("agent 'ppo'") == 1, line


def test_simulate_says_when_a_run_without_a_final_model_plays_a_checkpoint(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def checkpoint_only(run: Path) -> None:
        (run / "checkpoints").mkdir()
        (run / "model.zip").rename(run / "checkpoints" / "step_000000000016.zip")

    run = _spoilt_copy(small_run, tmp_path, checkpoint_only)
    assert cli.main(["simulate", "--policy", f"ppo={run}", "--users", "2"]) == 0
    assert f"note: '{run}' has no final model; using {run}/checkpoints/step_" in (
        capsys.readouterr().err
    )


def test_an_empty_config_file_is_refused_not_the_defaults_trained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in [("empty.yaml", ""), ("nulls.yaml", "train:\nscenario:\n")]:
        (tmp_path / name).write_text(text)
        argv = ["train", "--config", str(tmp_path / name), "--logdir", str(tmp_path / "runs")]
        assert cli.main(argv) == 2
        assert _one_error_line(capsys).endswith(
            f"{name}: empty config file (no training or scenario fields)"
        )
    assert not (tmp_path / "runs").exists()


def test_simulate_refuses_a_negative_seed_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--seed", "-1", "--users", "2"]) == 2
    assert _one_error_line(capsys) == "error: --seed: must be ≥ 0, got -1"


@pytest.mark.parametrize(
    ("flag", "typo", "said"),
    [
        ("--cross-behaviour", "quit-on-repetitio", "unknown behaviour.model 'quit-on-repetitio'; "
                                                   "did you mean 'quit-on-repetition'?"),
        ("--cross-sim", "mff", "unknown response.model 'mff'; did you mean 'mf'?"),
    ],
)  # fmt: skip
def test_an_unknown_cross_check_model_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, typo: str, said: str
) -> None:
    out = tmp_path / "out"
    assert cli.main(["evaluate", "--agents", "random", flag, typo, "--out", str(out)]) == 2
    assert _one_error_line(capsys).startswith(f"error: {flag} {typo}: {said}")
    assert not out.exists()


def test_evaluate_input_errors_are_evaluation_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from divrec_rl.errors import EvaluationError
    from divrec_rl.evaluation.io import check_output_dir
    from divrec_rl.evaluation.runner import EvaluationConfig

    with pytest.raises(EvaluationError, match="--seeds"):
        EvaluationConfig(agents=[], seeds=0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(EvaluationError, match="--out"):
        check_output_dir(blocker, overwrite=False)
    with pytest.raises(EvaluationError, match=r"--out .*: cannot create the directory .* a file"):
        check_output_dir(blocker / "sub", overwrite=False)  # under a file: said before any work
    assert yaml.safe_load(blocker.read_text()) == "x"


def test_every_baseline_setting_is_an_evaluate_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from divrec_rl.evaluation.settings import BaselineSettings

    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for name in BaselineSettings.model_fields:
        assert flag_of(BaselineSettings, name) in text
    assert flag_of(BaselineSettings, "val_users") == "--val-users"
    assert flag_of(BaselineSettings, "hidden") == "--baseline-hidden"


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--baseline-hidden", "0", "field 'baseline.hidden' (--baseline-hidden): must be ≥ 1"),
        ("--val-users", "-3", "field 'baseline.val_users' (--val-users): must be ≥ 1"),
        ("--baseline-dpp-tradeoffs", "0.5,2", "(--baseline-dpp-tradeoffs)"),
    ],
)
def test_bad_baseline_flags_are_one_line_naming_the_flag(
    flag: str, value: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    code = cli.main(["evaluate", "--agents", "random", flag, value, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and expected in err[0], err
    assert not out.exists()
