"""Resumable checkpoints, written atomically.

A checkpoint is one file, ``checkpoints/step_<num_timesteps>.zip``: an ordinary SB3 model zip
(``PPO.load`` reads it) with one extra member, ``divrec_resume.pkl``, holding what SB3 does not
save and an exact continuation needs — the random generators (Python, NumPy, torch), the
simulator's users mid-episode, the monitor's running episode sums and the callbacks' state.  It
is written to a temporary file in the same directory and renamed, so a kill at any moment
leaves either the previous checkpoint or the new one, never half of one.

Checkpoints are trusted files (like every SB3 zip they contain pickled Python objects).
"""

from __future__ import annotations

import pickle
import random
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from divrec_rl.atomic import atomic_write
from divrec_rl.errors import ModelError, TrainingError
from divrec_rl.training.rundir import checkpoint_path, find_checkpoint, list_checkpoints

__all__ = [
    "RESUME_MEMBER",
    "atomic_write",
    "capture_env_state",
    "capture_rng",
    "find_checkpoint",
    "list_checkpoints",
    "read_resume_state",
    "restore_env_state",
    "restore_rng",
    "save_checkpoint",
    "save_model",
]

RESUME_MEMBER = "divrec_resume.pkl"
_FORMAT = 1


def save_model(
    model: BaseAlgorithm, path: Path, resume_state: dict[str, Any] | None = None
) -> None:
    """Save ``model`` as an SB3 zip at ``path`` atomically, with ``resume_state`` inside."""

    def write(tmp: Path) -> None:
        model.save(tmp)
        if resume_state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(RESUME_MEMBER, pickle.dumps(resume_state))

    atomic_write(path, write)


def save_checkpoint(
    model: BaseAlgorithm, run_dir: Path, resume_state: dict[str, Any], keep: int = 0
) -> Path:
    """Write ``checkpoints/step_<n>.zip``; delete all but the ``keep`` newest (0 = keep all)."""
    path = checkpoint_path(run_dir, model.num_timesteps)
    save_model(model, path, {"format": _FORMAT, **resume_state})
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def read_resume_state(checkpoint: Path) -> dict[str, Any]:
    """The resume member of ``checkpoint``; a :class:`ModelError` if the file is not one."""
    state: Any = None
    try:
        with zipfile.ZipFile(checkpoint) as archive:
            names = set(archive.namelist())
            # A torn zip can still open on a nested archive's directory (torch's .pth files are
            # zips): require SB3's own members and intact CRCs before trusting it.
            intact = {"data", "_stable_baselines3_version"} <= names and not archive.testzip()
            if intact and RESUME_MEMBER in names:
                state = pickle.loads(archive.read(RESUME_MEMBER))
    except Exception:  # a damaged file fails in zipfile or pickle in many ways
        intact = False
    if not intact:
        raise ModelError(f"--resume: checkpoint '{checkpoint}' is unreadable or corrupt")
    if state is None:
        raise ModelError(
            f"--resume: '{checkpoint}' is a model without resume state (not a checkpoint)"
        )
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ModelError(f"--resume: checkpoint '{checkpoint}' has an unknown resume format")
    return state


def capture_rng() -> dict[str, Any]:
    """States of Python's, NumPy's and torch's global generators."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": th.get_rng_state(),
    }
    if th.cuda.is_available():
        state["cuda"] = th.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng` (a CUDA state is restored only where CUDA is present)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    th.set_rng_state(state["torch"])
    if "cuda" in state and th.cuda.is_available():
        th.cuda.set_rng_state_all(state["cuda"])


def capture_env_state(env: VecEnv) -> dict[str, Any]:
    """Users mid-episode of a (monitored) ``SlateRecVecEnv``: user state, per-user slate-builder
    buffers (e.g. the current candidates), per-user seed generators, running episode sums."""
    inner = env.unwrapped
    sim = inner.simulator  # type: ignore[attr-defined]
    state: dict[str, Any] = {
        "users": {f.name: getattr(sim.state, f.name).copy() for f in fields(sim.state)},
        "builder": sim.builder_buffers(),
        "seeds": [g.bit_generator.state for g in inner._user_seeds.generators],  # type: ignore[attr-defined]
    }
    if isinstance(env, VecMonitor):
        state["monitor"] = {
            "episode_returns": env.episode_returns.copy(),
            "episode_lengths": env.episode_lengths.copy(),
            "episode_count": env.episode_count,
        }
    return state


def restore_env_state(env: VecEnv, state: dict[str, Any]) -> None:
    """Undo :func:`capture_env_state` on a freshly built env of the same scenario and size."""
    inner = env.unwrapped
    sim = inner.simulator  # type: ignore[attr-defined]
    users = state["users"]
    wanted = [f.name for f in fields(sim.state)]
    if set(users) != set(wanted) or len(users["key"]) != sim.n_users:
        raise TrainingError(
            "--resume: the checkpoint's users do not fit this simulator (another version or "
            f"size: {len(users.get('key', []))} users, fields {sorted(users)})"
        )
    for name in wanted:
        getattr(sim.state, name)[...] = users[name]
    sim.load_builder_buffers(state["builder"])
    for generator, seed_state in zip(inner._user_seeds.generators, state["seeds"], strict=True):  # type: ignore[attr-defined]
        generator.bit_generator.state = seed_state
    inner._reset_seeds()  # type: ignore[attr-defined]  # PPO.load seeded the next reset(); none comes
    inner.mark_restored()  # type: ignore[attr-defined]  # mid-episode users step on, no reset()
    if "monitor" in state and isinstance(env, VecMonitor):
        env.episode_returns = state["monitor"]["episode_returns"].copy()
        env.episode_lengths = state["monitor"]["episode_lengths"].copy()
        env.episode_count = state["monitor"]["episode_count"]
