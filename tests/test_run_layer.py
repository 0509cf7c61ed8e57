"""The run layer: the run directory round trip, the command history, and a plug-in scenario (an
entry point and a ``module:attr``) that trains, is cut short, resumes in a fresh process and is
evaluated from its run directory alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from divrec_rl.errors import ModelError, TrainingError
from divrec_rl.provenance import CodeIdentity, code_identity
from divrec_rl.resolve import resolve_scenario
from divrec_rl.training import rundir
from divrec_rl.training.config import config_from_args
from divrec_rl.training.runner import resume_run, train_run

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train_agent.py"
EVALUATE = ROOT / "scripts" / "evaluate.py"
QUICK = [
    "--n-envs", "8", "--n-steps", "32", "--batch-size", "64", "--n-epochs", "1",
    "--eval-every", "0", "--eval-users", "8", "--checkpoint-every", "256",
    "--no-progress-bar", "--device", "cpu",
]  # fmt: skip
SMALL = ["catalog.n_items=300", "catalog.n_categories=8", "slate.n_candidates=20"]


def _small_run(logdir: Path, total: str = "256"):
    config, overrides = config_from_args(
        {
            "n_envs": "8",
            "n_steps": "32",
            "batch_size": "64",
            "n_epochs": "1",
            "eval_every": "0",
            "eval_users": "8",
            "checkpoint_every": "256",
            "total_timesteps": total,
            "progress_bar": False,
            "logdir": str(logdir),
            "overrides": SMALL,
        }
    )
    return train_run(config, overrides, command="first command")


def test_run_directory_round_trip(tmp_path: Path) -> None:
    scenario = resolve_scenario("synthetic-shop", overrides={"catalog": {"n_items": 321}})
    run_dir = rundir.create_run_dir(tmp_path / "runs", "my shop/x", "ppo", 7)
    assert re.fullmatch(r"my-shop-x__ppo__7__\d{8}-\d{6}", run_dir.name)
    info = rundir.RunInfo("synthetic-shop", ["json"], ["a b", "c"])
    rundir.write_config(run_dir, {"seed": 7}, scenario, info, ["header line"])
    text = (run_dir / "config.yaml").read_text()
    assert text.startswith("# header line\n")
    record = rundir.read_run(run_dir)
    assert record.train == {"seed": 7} and record.scenario == scenario and record.info == info
    # Checkpoints: found newest first by step, not by name order; the model wins for inference.
    for step in (512, 64, 4096):
        path = rundir.checkpoint_path(run_dir, step)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
    assert [p.name for p in rundir.list_checkpoints(run_dir)] == [
        "step_000000000064.zip",
        "step_000000000512.zip",
        "step_000000004096.zip",
    ]
    assert rundir.find_checkpoint(run_dir) == (rundir.checkpoint_path(run_dir, 4096), run_dir)
    assert rundir.find_model(run_dir)[0] == rundir.checkpoint_path(run_dir, 4096)
    rundir.model_path(run_dir).write_bytes(b"m")
    assert rundir.find_model(run_dir) == (rundir.model_path(run_dir), run_dir)
    assert rundir.find_model(rundir.checkpoint_path(run_dir, 64))[1] == run_dir
    with pytest.raises(ModelError, match="does not exist"):
        rundir.find_model(tmp_path / "nope")
    with pytest.raises(TrainingError, match="no checkpoint"):
        rundir.find_checkpoint(tmp_path)


def test_a_name_clash_gets_a_suffix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rundir.time, "strftime", lambda fmt: "20260101-000000")
    first = rundir.create_run_dir(tmp_path, "s", "ppo", 0)
    second = rundir.create_run_dir(tmp_path, "s", "ppo", 0)
    assert second.name == first.name + "-2"


def test_resume_appends_to_the_command_history(tmp_path: Path) -> None:
    run = _small_run(tmp_path)
    record = rundir.read_run(run.run_dir)
    assert record.info.commands == ["first command"]
    assert record.info.scenario_spec == "synthetic-shop"
    resume_run(run.run_dir, {"total_timesteps": "512"}, command="second command")
    # Nothing to do: nothing recorded (no command or code entry that trained nothing).
    resume_run(run.run_dir, {}, command="third command")
    assert rundir.read_run(run.run_dir).info.commands == ["first command", "second command"]
    assert rundir.read_run(run.run_dir).train["total_timesteps"] == 512


def test_a_run_records_the_code_of_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    here = code_identity()
    run = _small_run(tmp_path)
    text = (run.run_dir / "config.yaml").read_text(encoding="utf-8")
    assert f"# code of the latest command: {here.describe()}" in text
    assert rundir.read_run(run.run_dir).info.code == [here.as_dict()]
    # A resume appends its own entry; one during which the source changed says so.
    edited = CodeIdentity(here.version, "cd" * 32, here.git_commit, True)
    monkeypatch.setattr("divrec_rl.training.runner.changed_since", lambda start: edited)
    resume_run(run.run_dir, {"total_timesteps": "512"}, command="second command")
    assert "source changed while this run trained" in capsys.readouterr().err
    code = rundir.read_run(run.run_dir).info.code
    assert code == [here.as_dict(), {**here.as_dict(), "changed_during_run": "cd" * 32}]


def test_a_run_without_a_code_record_still_reads_and_a_bad_one_is_named(tmp_path: Path) -> None:
    scenario = resolve_scenario("synthetic-shop")
    run_dir = rundir.create_run_dir(tmp_path, "s", "ppo", 0)
    rundir.write_config(run_dir, {"seed": 0}, scenario, rundir.RunInfo(None, [], ["c"]), [])
    path = run_dir / "config.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["run"]["code"]  # written before the record existed
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert rundir.read_run(run_dir).info.code == []
    data["run"]["code"] = ["not a mapping"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(TrainingError, match=r"run\.code"):
        rundir.read_run(run_dir)


PLUGIN = '''
import numpy as np
from divrec_rl.plugins import register_behaviour
from divrec_rl.users.behaviour import StandardBehaviour


@register_behaviour("runlayer-impatient")
class Impatient(StandardBehaviour):
    """Standard dynamics, but every unclicked slate costs extra patience."""

    def __init__(self, config):
        super().__init__(config.behaviour, config.users.history_decay)

    def update(self, state, slates, response, item_vectors, category_weights):
        super().update(state, slates, response, item_vectors, category_weights)
        missed = state.active & (response.position < 0)
        state.patience[missed] = np.maximum(state.patience[missed] - 0.2, 0.0)


def make():
    return {
        "name": "runlayer-shop",
        "behaviour": {"model": "runlayer-impatient"},
        "catalog": {"n_items": 300, "n_categories": 6},
        "slate": {"size": 5, "n_candidates": 15},
    }
'''


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.parametrize(
    ("spec", "trained_name", "extra"),
    [
        ("novelty-seekers", "novelty-seekers", [a for s in SMALL for a in ("--set", s)]),
        ("runlayer_plugin:make", "runlayer-shop", []),
    ],
    ids=["entry-point", "module-attr"],
)
def test_plugin_scenario_trains_is_killed_resumes_and_evaluates(
    spec: str, trained_name: str, extra: list[str], tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "runlayer_plugin.py").write_text(textwrap.dedent(PLUGIN))
    # The user's environment: their module is importable; nothing else is said about it.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
    }
    logdir = tmp_path / "runs"
    _run([str(TRAIN), "--scenario", spec, "--total-timesteps", "256", "--logdir", str(logdir),
          *QUICK, *extra], env)  # fmt: skip
    (run_dir,) = logdir.iterdir()
    # Killed after its checkpoint, before the final model was written.
    rundir.model_path(run_dir).unlink()
    assert [p.name for p in rundir.list_checkpoints(run_dir)] == ["step_000000000256.zip"]
    resumed = _run([str(TRAIN), "--resume", str(run_dir), "--total-timesteps", "512"], env)
    assert "resuming at step 256" in resumed.stdout
    assert rundir.model_path(run_dir).is_file()
    out = tmp_path / "eval"
    _run([str(EVALUATE), "--agents", f"ppo={run_dir},random", "--out", str(out), "--seeds", "1",
          "--users", "6", "--cross-sim", "none", "--no-frontier", "--quiet"], env)  # fmt: skip
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"- **Scenario** `{trained_name}`" in report  # evaluated where it was trained
    assert f"split of scenario `{trained_name}`" in report  # the agent's training scenario
    config = (run_dir / "config.yaml").read_text()
    assert "--resume" in config and f"--scenario {spec}" in config  # both commands recorded


def test_the_recorded_command_can_be_retyped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A script is recorded with the interpreter in front, as the docs show it."""
    from divrec_rl.commands.train import command_line

    monkeypatch.setattr("sys.argv", ["scripts/train_agent.py", "--seed", "1"])
    assert command_line() == "python scripts/train_agent.py --seed 1"
    monkeypatch.setattr("sys.argv", ["/usr/bin/divrec-rl", "train", "--scenario", "my shop.yaml"])
    assert command_line() == "/usr/bin/divrec-rl train --scenario 'my shop.yaml'"


def test_a_scenario_file_is_recorded_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--scenario my-shop.yaml` from the directory holding it: the run records the file's
    absolute path, so `train --config RUN/config.yaml` repeats the run from any directory (a
    relative one failed elsewhere with "scenario file 'my-shop.yaml' does not exist")."""
    (tmp_path / "my-shop.yaml").write_text("base: synthetic-shop\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config, _ = config_from_args({"scenario": "my-shop.yaml"})
    assert config.scenario == str(tmp_path / "my-shop.yaml")
    assert config_from_args({"scenario": "synthetic-shop"})[0].scenario == "synthetic-shop"
    monkeypatch.chdir(tmp_path.parent)  # the run's config.yaml read from elsewhere
    extra = tmp_path / "config.yaml"
    extra.write_text(yaml.safe_dump({"train": {"scenario": config.scenario}}), encoding="utf-8")
    again, _ = config_from_args({"config": [str(extra)]})
    assert resolve_scenario(again.scenario).name == "my-shop"
