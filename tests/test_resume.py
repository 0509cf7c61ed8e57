"""Checkpoints and ``--resume``: kill -9 mid-run then resume continues the same step count and
TensorBoard curve; a resumed run is bit-identical to an uninterrupted one; writes are atomic."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch as th
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.commands.train import main
from divrec_rl.errors import TrainingError
from divrec_rl.training.checkpoint import (
    atomic_write,
    find_checkpoint,
    list_checkpoints,
    read_resume_state,
)
from divrec_rl.training.config import config_from_args
from divrec_rl.training.runner import resume_run, train_run

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_agent.py"
ROLLOUT = 16 * 32
QUICK = [
    "--n-envs", "16", "--n-steps", "32", "--batch-size", "256", "--n-epochs", "2",
    "--eval-users", "16", "--no-progress-bar",
]  # fmt: skip
SMALL = {"catalog.n_items": 300, "catalog.n_categories": 8, "slate.n_candidates": 20}


def _small_config(logdir: Path, **fields: str):
    given = {
        "n_envs": "8",
        "n_steps": "32",
        "batch_size": "64",
        "n_epochs": "2",
        "eval_users": "16",
        "eval_every": "256",
        "checkpoint_every": "256",
        "keep_checkpoints": "0",
        "progress_bar": False,
        "logdir": str(logdir),
        "overrides": [f"{k}={v}" for k, v in SMALL.items()],
        **fields,
    }
    return config_from_args(given)


def _steps(run_dir: Path, tag: str) -> list[int]:
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [e.step for e in events.Scalars(tag)]


def test_kill_9_then_resume_continues_the_step_count_and_the_curve(tmp_path: Path) -> None:
    logdir = tmp_path / "runs"
    cmd = [sys.executable, str(SCRIPT), "--total-timesteps", "1000000", "--logdir", str(logdir),
           "--checkpoint-every", str(ROLLOUT), "--keep-checkpoints", "2",
           "--eval-every", str(2 * ROLLOUT), *QUICK]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            runs = list(logdir.glob("*")) if logdir.exists() else []
            if runs and len(list_checkpoints(runs[0])) >= 2:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # let it log past its last checkpoint
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    (run_dir,) = logdir.iterdir()
    checkpoint, _ = find_checkpoint(run_dir)
    done = read_resume_state(checkpoint)["num_timesteps"]
    target = done + 3 * ROLLOUT
    resumed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--resume",
            str(run_dir),
            "--total-timesteps",
            str(target),
            "--no-progress-bar",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming at step {done}" in resumed.stdout
    assert PPO.load(run_dir / "model.zip", device="cpu").num_timesteps == target
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2  # one directory, one curve
    expected = list(range(ROLLOUT, target + 1, ROLLOUT))
    for tag in ("rollout/ep_rew_mean", "train/loss", "rollout/ep_engagement_mean"):
        assert _steps(run_dir, tag) == expected, tag
    evals = _steps(run_dir, "eval/mean_reward")
    assert evals == sorted(set(evals)) and evals[0] == 0 and evals[-1] == target


def test_resumed_run_is_identical_to_an_uninterrupted_one(tmp_path: Path) -> None:
    config, overrides = _small_config(tmp_path, total_timesteps="768")
    full = train_run(config, overrides)
    part = tmp_path / "resumed"
    (part / "checkpoints").mkdir(parents=True)
    shutil.copy(full.run_dir / "config.yaml", part)
    shutil.copy(full.run_dir / "checkpoints" / "step_000000000256.zip", part / "checkpoints")
    resumed = resume_run(part)
    assert resumed.num_timesteps == full.num_timesteps == 768
    a = PPO.load(full.model_path, device="cpu").policy.state_dict()
    b = PPO.load(resumed.model_path, device="cpu").policy.state_dict()
    assert all(th.equal(a[k], b[k]) for k in a)
    assert resumed.final_eval == full.final_eval
    for tag in ("rollout/ep_rew_mean", "train/value_loss", "eval/mean_reward"):
        ev_full, ev_part = EventAccumulator(str(full.run_dir)), EventAccumulator(str(part))
        ev_full.Reload()
        ev_part.Reload()
        tail = [(e.step, e.value) for e in ev_full.Scalars(tag) if e.step > 256]
        assert [(e.step, e.value) for e in ev_part.Scalars(tag)] == tail, tag


def test_resume_refuses_changed_settings_and_corrupt_checkpoints(tmp_path: Path, capsys) -> None:
    config, overrides = _small_config(tmp_path, total_timesteps="256")
    run = train_run(config, overrides)
    capsys.readouterr()
    assert main(["--resume", str(run.run_dir), "--seed", "3"]) == 2
    assert "field 'seed' (--seed): cannot change when resuming" in capsys.readouterr().err
    assert main(["--resume", str(run.run_dir), "--set", "catalog.n_items=400"]) == 2
    assert "--set cannot be combined with --resume" in capsys.readouterr().err
    assert main(["--resume", str(run.model_path)]) == 2
    assert "model without resume state" in capsys.readouterr().err
    (checkpoint,) = list_checkpoints(run.run_dir)
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])  # a torn file, as a non-atomic write leaves
    assert main(["--resume", str(run.run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume: checkpoint") and "corrupt" in err
    with pytest.raises(TrainingError, match="no checkpoint"):
        find_checkpoint(tmp_path)


def test_finished_run_resumes_to_a_larger_total(tmp_path: Path) -> None:
    config, overrides = _small_config(tmp_path, total_timesteps="256", keep_checkpoints="1")
    run = train_run(config, overrides)
    recorded = (run.run_dir / "config.yaml").read_bytes()
    assert resume_run(run.run_dir).num_timesteps == 256  # nothing to do
    # ... and nothing recorded: no command or code version that trained nothing.
    assert (run.run_dir / "config.yaml").read_bytes() == recorded
    more = resume_run(run.run_dir, {"total_timesteps": "512"})
    assert more.num_timesteps == 512
    assert [p.name for p in list_checkpoints(run.run_dir)] == ["step_000000000512.zip"]
    # Sorted: TensorBoard reads a run's event files in name order, and two files opened in the
    # same second by one process differ only in a counter compared as text ('.10' < '.9').
    assert sorted(_steps(run.run_dir, "rollout/ep_rew_mean")) == [256, 512]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "model.zip"
    target.write_bytes(b"old")

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]
    atomic_write(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new"


def test_a_checkpoint_is_an_ordinary_sb3_zip(tmp_path: Path) -> None:
    config, overrides = _small_config(tmp_path, total_timesteps="256")
    run = train_run(config, overrides)
    (checkpoint,) = list_checkpoints(run.run_dir)
    assert "divrec_resume.pkl" in zipfile.ZipFile(checkpoint).namelist()
    assert PPO.load(checkpoint, device="cpu").num_timesteps == 256


def test_ctrl_c_says_resume_only_when_a_checkpoint_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from divrec_rl.commands.common import run_handler
    from divrec_rl.training.runner import _resume_hint

    assert "no checkpoint was written yet" in _resume_hint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_000000000064.zip").write_bytes(b"")
    assert _resume_hint(tmp_path) == f"resume with: divrec-rl train --resume {tmp_path}"

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt(_resume_hint(tmp_path))

    # The handler's own hint replaces the command's generic one.
    assert run_handler(interrupted, None, "generic hint") == 130  # type: ignore[arg-type]
    assert (
        capsys.readouterr().err
        == f"interrupted: resume with: divrec-rl train --resume {tmp_path}\n"
    )
