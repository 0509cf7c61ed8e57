"""Files of an evaluation: ``results.csv``, ``trajectories.csv``, and a staged output directory.

``results.csv`` has one row per (agent, seed) with the columns ``agent, seed, users`` and then
:data:`~divrec_rl.evaluation.summary.METRICS`; the report inserts ``training_seed`` after
``seed`` (the training seed of the PPO model that played the row, empty for other agents).
``trajectories.csv`` has one row per simulated step: ``agent, seed, user, step, session,
slate`` (item ids separated by spaces, top slot first), ``clicked`` (item id or −1),
``position``, ``engagement``, ``diversity``, ``reward``, ``left`` (0/1) and the user's
``majority_category`` — enough to recompute every number of ``results.csv``
(:func:`read_trajectories` + :func:`~divrec_rl.evaluation.summary.summarise`).

Nothing half-written is left behind: everything is written into a temporary sibling directory
that replaces ``--out`` only when complete (:func:`staged_directory`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from divrec_rl.atomic import check_directory
from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.summary import METRICS
from divrec_rl.rollout import Trajectories

__all__ = [
    "RESULT_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "check_output_dir",
    "read_trajectories",
    "results_frame",
    "staged_directory",
    "trajectories_frame",
]

RESULT_COLUMNS = ("agent", "seed", "users", *METRICS)
TRAJECTORY_COLUMNS = ("agent", "seed", *Trajectories.ROW_FIELDS, "majority_category")


def results_frame(points: dict[tuple[str, int], dict[str, float]], n_users: int) -> pd.DataFrame:
    """One row per (agent, seed) in the given order."""
    rows = [
        {"agent": agent, "seed": seed, "users": n_users, **{m: values[m] for m in METRICS}}
        for (agent, seed), values in points.items()
    ]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def trajectories_frame(runs: dict[tuple[str, int], Trajectories]) -> pd.DataFrame:
    """One row per simulated step of every (agent, seed)."""
    frames = []
    for (agent, seed), traj in runs.items():
        slates = [" ".join(map(str, row)) for row in traj.slate.tolist()]
        frames.append(
            pd.DataFrame(
                {
                    "agent": agent,
                    "seed": seed,
                    "user": traj.user,
                    "step": traj.step,
                    "session": traj.session,
                    "slate": slates,
                    "clicked": traj.clicked,
                    "position": traj.position,
                    "engagement": traj.engagement,
                    "diversity": traj.diversity,
                    "reward": traj.reward,
                    "left": traj.left.astype(np.int8),
                    "majority_category": traj.majority_category[traj.user],
                },
                columns=list(TRAJECTORY_COLUMNS),
            )
        )
    if not frames:
        return pd.DataFrame(columns=list(TRAJECTORY_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def read_trajectories(path: str | Path, n_users: int) -> dict[tuple[str, int], Trajectories]:
    """Read ``trajectories.csv`` back into one :class:`Trajectories` per (agent, seed).

    ``n_users``: users per seed (the ``users`` column of ``results.csv``).  A user's majority
    category is taken from their rows; users without rows keep −1 (they have no steps anyway).
    """
    frame = pd.read_csv(path)
    missing = [c for c in TRAJECTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    out: dict[tuple[str, int], Trajectories] = {}
    for (agent, seed), group in frame.groupby(["agent", "seed"], sort=False):
        user = group["user"].to_numpy(np.int64)
        majority = np.full(n_users, -1, dtype=np.int64)
        majority[user] = group["majority_category"].to_numpy(np.int64)
        slate = np.array([s.split() for s in group["slate"]], dtype=np.int64)
        traj = Trajectories(
            n_users=n_users,
            user=user,
            step=group["step"].to_numpy(np.int64),
            session=group["session"].to_numpy(np.int64),
            slate=slate,
            clicked=group["clicked"].to_numpy(np.int64),
            position=group["position"].to_numpy(np.int64),
            engagement=group["engagement"].to_numpy(np.float64),
            diversity=group["diversity"].to_numpy(np.float64),
            reward=group["reward"].to_numpy(np.float64),
            left=group["left"].to_numpy().astype(bool),
            majority_category=majority,
        )
        traj.validate()
        out[(str(agent), int(seed))] = traj
    return out


def check_output_dir(out: str | Path, overwrite: bool) -> Path:
    """Fail early (before any work) if ``out`` cannot receive the results."""
    path = check_directory(Path(out), f"--out '{out}'", EvaluationError)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise EvaluationError(
            f"--out '{path}': directory is not empty (pass --overwrite to replace its contents)"
        )
    return path


@contextmanager
def staged_directory(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory next to ``out``; on success it becomes ``out`` (replacing an
    existing one only with ``overwrite``), on error it is removed and ``out`` is untouched."""
    path = check_output_dir(out, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary directory
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(path)
