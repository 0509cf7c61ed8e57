"""Checkpoint selection on validation users (``--select-checkpoint best-val``): the kept weights
are those of the best validation evaluation, they are the run's model for ``evaluate``, and the
option refuses to select on anything but validation users."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.agents.ppo import PPOAgent
from divrec_rl.agents.registry import load_ppo_run
from divrec_rl.envs import make_simulator
from divrec_rl.errors import TrainingError
from divrec_rl.training.config import TrainConfig, config_from_args
from divrec_rl.training.episodes import run_episodes
from divrec_rl.training.rundir import BEST_MODEL_FILE, find_model, read_run
from divrec_rl.training.runner import resume_run, train_run

OVERRIDES = [
    "catalog.n_items=300",
    "catalog.n_categories=8",
    "catalog.embedding_dim=16",
    "slate.size=5",
    "slate.n_candidates=20",
]


def _args(tmp_path, **extra: str) -> dict:
    args = {"n_envs": "8", "n_steps": "32", "batch_size": "128", "n_epochs": "2",
            "learning_rate": "3e-3", "eval_every": "256", "eval_users": "12",
            "checkpoint_every": "512", "progress_bar": False, "logdir": str(tmp_path),
            "device": "cpu", "total_timesteps": "1024", "eval_split": "val",
            "select_checkpoint": "best-val"}  # fmt: skip
    return {**args, **extra, "overrides": OVERRIDES}


def test_the_kept_weights_are_those_of_the_best_validation_evaluation(tmp_path) -> None:
    config, overrides = config_from_args(_args(tmp_path))
    result = train_run(config, overrides)
    events = EventAccumulator(str(result.run_dir))
    events.Reload()
    curve = {e.step: e.value for e in events.Scalars("val/mean_reward")}
    assert len(curve) >= 4
    record = json.loads((result.run_dir / "best_model.json").read_text())
    best_step = max(curve, key=lambda s: (curve[s], -s))  # the first of equal maxima is kept
    assert record["step"] == best_step == result.selected["step"]
    assert record["val"]["mean_reward"] == pytest.approx(curve[best_step], rel=1e-6)
    # the run's model is the kept one, and it scores what was recorded on the same val users
    assert find_model(result.run_dir)[0].name == BEST_MODEL_FILE
    run = load_ppo_run(result.run_dir)
    train = TrainConfig(**read_run(result.run_dir).train)
    sim = make_simulator(read_run(result.run_dir).scenario, train.eval_users, split="val")
    again = run_episodes(PPOAgent(run.model), sim, train.eval_seed).summary()
    assert again["mean_reward"] == pytest.approx(record["val"]["mean_reward"], rel=1e-9)


def test_a_resumed_run_keeps_selecting_over_the_whole_run(tmp_path) -> None:
    config, overrides = config_from_args(_args(tmp_path, total_timesteps="512"))
    first = train_run(config, overrides)
    before = first.selected["val"]["mean_reward"]
    more = resume_run(first.run_dir, {"total_timesteps": 1536, "progress_bar": False})
    assert more.selected["val"]["mean_reward"] >= before
    events = EventAccumulator(str(first.run_dir))
    events.Reload()
    assert more.selected["val"]["mean_reward"] == pytest.approx(
        max(e.value for e in events.Scalars("val/mean_reward")), rel=1e-6
    )


def test_without_the_option_the_final_weights_are_the_model(tmp_path) -> None:
    config, overrides = config_from_args(_args(tmp_path, select_checkpoint="last",
                                               total_timesteps="256"))  # fmt: skip
    result = train_run(config, overrides)
    assert result.selected is None and not (result.run_dir / BEST_MODEL_FILE).exists()
    assert find_model(result.run_dir)[0].name == "model.zip"


@pytest.mark.parametrize(("extra", "named"), [({"eval_split": "eval"}, "--eval-split eval"),
                                             ({"eval_every": "0"}, "--eval-every 0")])  # fmt: skip
def test_selection_is_refused_unless_it_is_on_validation_users(tmp_path, extra, named) -> None:
    with pytest.raises(TrainingError, match="select-checkpoint") as info:
        config_from_args(_args(tmp_path, **extra))
    assert named in str(info.value)
    assert not any(tmp_path.iterdir())
