"""``scripts/train_agent.py`` / ``divrec-rl train``: a real run read back with TensorBoard, the
typed config and its layering, and one-line errors with exit code 2."""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl import cli
from divrec_rl.commands.common import CommandParser
from divrec_rl.commands.train import (
    add_train_arguments,
    add_train_command,
    main,
    run_train_command,
)
from divrec_rl.errors import TrainingError
from divrec_rl.training.config import TrainConfig, config_from_args
from divrec_rl.training.runner import read_run_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_agent.py"
QUICK = [
    "--n-envs", "16", "--n-steps", "32", "--batch-size", "256", "--n-epochs", "2",
    "--eval-every", "1024", "--eval-users", "32", "--checkpoint-every", "1024",
]  # fmt: skip
REQUIRED_TAGS = [
    "rollout/ep_rew_mean",
    "rollout/ep_len_mean",
    "time/fps",
    "train/loss",
    "train/value_loss",
    "train/policy_gradient_loss",
    "train/approx_kl",
    "train/entropy_loss",
    "rollout/slate_overlap_sampled_vs_mode",
    "rollout/temperature_mean",
    "rollout/ep_engagement_mean",
    "rollout/ep_diversity_mean",
    "rollout/ep_ild_mean",
    "rollout/coverage",
    "eval/mean_reward",
    "eval/mean_ep_length",
    "eval/mean_engagement",
    "eval/mean_diversity",
    "eval/mean_ild",
    "eval/coverage",
    "eval/mean_return_sampled",
    "eval/mean_engagement_sampled",
]


@pytest.fixture(scope="module")
def trained_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess]:
    logdir = tmp_path_factory.mktemp("runs")
    cmd = [sys.executable, str(SCRIPT), "--scenario", "synthetic-shop", "--total-timesteps",
           "3000", "--logdir", str(logdir), *QUICK]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = logdir.iterdir()
    return run_dir, proc


def test_run_directory_holds_model_config_checkpoints_and_events(trained_run) -> None:
    run_dir, proc = trained_run
    assert re.fullmatch(r"synthetic-shop__ppo__0__\d{8}-\d{6}", run_dir.name)
    assert (run_dir / "model.zip").is_file() and (run_dir / "config.yaml").is_file()
    last_checkpoint = sorted(p.name for p in (run_dir / "checkpoints").iterdir())[-1]
    assert last_checkpoint == "step_000000003072.zip"
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert not list(run_dir.rglob("*.tmp"))
    assert f"run directory: {run_dir}" in proc.stdout
    assert "step" in proc.stderr  # the progress bar
    model = PPO.load(run_dir / "model.zip", device="cpu")
    assert model.num_timesteps == 3072


def test_tensorboard_has_sb3_and_our_tags_all_finite(trained_run) -> None:
    run_dir, _ = trained_run
    events = EventAccumulator(str(run_dir))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    missing = [tag for tag in REQUIRED_TAGS if tag not in scalars]
    assert not missing, missing
    for tag in scalars:
        values = [e.value for e in events.Scalars(tag)]
        assert values and all(math.isfinite(v) for v in values), tag
    assert [e.step for e in events.Scalars("rollout/ep_rew_mean")] == list(range(512, 3073, 512))
    assert [e.step for e in events.Scalars("eval/mean_reward")] == [0, 1024, 2048, 3072]
    # Hyperparameters: as a text table and in TensorBoard's HPARAMS tab.
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]
    table = events.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| train.n_envs | 16 |" in table and "| reward.diversity_weight | 0.1 |" in table
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")


def test_episode_reward_splits_into_engagement_and_diversity(trained_run) -> None:
    run_dir, _ = trained_run
    events = EventAccumulator(str(run_dir))
    events.Reload()
    tags = ["rollout/ep_rew_mean", "rollout/ep_engagement_mean", "rollout/ep_diversity_mean"]
    last = {t: events.Scalars(t)[-1].value for t in tags}
    rebuilt = last["rollout/ep_engagement_mean"] + 0.1 * last["rollout/ep_diversity_mean"]
    assert rebuilt == pytest.approx(last["rollout/ep_rew_mean"], rel=1e-3)


def test_saved_config_repeats_the_run_as_an_extra_config(trained_run) -> None:
    run_dir, _ = trained_run
    saved_train, scenario = read_run_config(run_dir)
    config, overrides = config_from_args({"config": [str(run_dir / "config.yaml")]})
    assert config.train_section() == saved_train
    assert config.n_envs == 16 and config.total_timesteps == 3000
    from divrec_rl.resolve import resolve_scenario

    assert resolve_scenario(config.scenario, overrides=overrides) == scenario


def test_help_is_the_config_field_documentation(capsys) -> None:
    parser = CommandParser(prog="train_agent.py")
    add_train_arguments(parser)
    text = parser.format_help()
    for name in ("--total-timesteps", "--seed", "--n-envs", "--diversity-weight", "--logdir",
                 "--device", "--config", "--resume", "--set", "--checkpoint-every"):  # fmt: skip
        assert name in text
    squeezed = "".join(text.split())  # argparse wraps lines, sometimes at hyphens
    assert "0=thepure-engagementablation" in squeezed
    assert "(default:200000)" in squeezed
    # ``divrec-rl train`` is the same parser, added by its provider.
    assert add_train_command in cli.COMMANDS
    top = argparse.ArgumentParser(prog="divrec-rl")
    add_train_command(top.add_subparsers())
    with pytest.raises(SystemExit) as exc:
        top.parse_args(["train", "--help"])
    assert exc.value.code == 0
    assert "--diversity-weight" in capsys.readouterr().out
    args = top.parse_args(["train", "--seed", "4"])
    assert args.func is run_train_command and args.seed == "4"


def test_layering_defaults_scenario_extra_file_then_flags(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        yaml.safe_dump(
            {
                "reward": {"diversity_weight": 0.3},
                "catalog": {"n_items": 500},
                "train": {"n_envs": 8, "seed": 5, "learning_rate": 1e-3},
            }
        )
    )
    config, overrides = config_from_args(
        {"config": [str(extra)], "seed": "7", "overrides": ["catalog.n_items=600"]}
    )
    assert config.n_envs == 8 and config.learning_rate == 1e-3  # file over default
    assert config.seed == 7  # flag over file
    assert config.gamma == TrainConfig().gamma  # default
    assert overrides == {"reward": {"diversity_weight": 0.3}, "catalog": {"n_items": 600}}
    config, overrides = config_from_args({"config": [str(extra)], "diversity_weight": "0"})
    assert overrides["reward"]["diversity_weight"] == 0.0  # the λ = 0 ablation wins over the file


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--scenario", "synthetic-shoop"], "did you mean 'synthetic-shop'"),
        (["--device", "tpu"], "field 'device' (--device): must be one of auto, cpu, cuda"),
        (["--total-timesteps", "-5"], "field 'total_timesteps' (--total-timesteps): must be ≥ 1"),
        (["--total-timesteps", "many"], "must be an integer, got 'many'"),
        (["--gamma", "1.5"], "field 'gamma' (--gamma): must be in (0, 1]"),
        (["--set", "catalog.n_items=-3"], "field 'catalog.n_items'"),
        (["--set", "nokey"], "expected KEY=VALUE"),
        (["--config", "missing.yaml"], "missing.yaml: cannot read"),
        (["--resume", "no/such/run"], "--resume: 'no/such/run' does not exist"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_code_2(
    argv: list[str], expected: str, tmp_path: Path, capsys
) -> None:
    code = main([*argv, "--logdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_unknown_train_key_in_an_extra_file_is_named(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("train:\n  n_env: 3\n")
    needle = r"unknown field 'train.n_env' \(allowed here: scenario"
    with pytest.raises(TrainingError, match=needle):
        config_from_args({"config": [str(extra)]})


def test_the_script_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--scenario", "nope", "--logdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown scenario 'nope'")
    assert "Traceback" not in proc.stderr
