"""The sweep directory: the only module that knows its layout.

``SWEEP_DIR/`` holds

* ``sweep.yaml`` — the validated sweep file the sweep was started with (``--resume`` checks that
  the file given still says the same);
* ``trials/TRIAL_ID/`` — one trial: an ordinary run directory
  (``{scenario}__ppo__{seed}__{timestamp}/``, see :mod:`divrec_rl.training.rundir`) and, once the
  trial has finished, ``trial.json`` (its final ``val/*`` metrics, steps, wall time, run
  directory) so a restarted trial never trains twice;
* ``tune/`` — Ray Tune's experiment state and per-trial logs (what ``--resume`` restores);
  ``tune-confirm/`` the same for the confirmation stage (a sweep file with ``confirm``);
* ``ray-logs/`` — the logs of a local Ray session (started by the driver without ``--address``);
* ``sweep.csv`` and ``summary.md`` — the results (:mod:`divrec_rl.sweep.results`).

``tensorboard --logdir SWEEP_DIR`` shows every trial's curves side by side.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from divrec_rl.atomic import atomic_write_text
from divrec_rl.errors import SweepError
from divrec_rl.training.rundir import CONFIG_FILE

__all__ = [
    "CONFIRM_NAME",
    "CONFIRM_POINTS",
    "CSV_FILE",
    "RAY_LOGS",
    "SUMMARY_FILE",
    "SWEEP_FILE",
    "TUNE_NAME",
    "chosen_point",
    "chosen_runs",
    "find_trial_run",
    "is_sweep_dir",
    "read_rows",
    "read_trial_result",
    "trial_logdir",
    "value_cell",
    "write_trial_result",
]

SWEEP_FILE = "sweep.yaml"
CSV_FILE = "sweep.csv"
SUMMARY_FILE = "summary.md"
TUNE_NAME = "tune"
CONFIRM_NAME = "tune-confirm"
#: The configurations the confirmation stage retrains (JSON), to tell on --resume whether
#: its saved Tune state still fits the search.
CONFIRM_POINTS = "confirm-points.json"
RAY_LOGS = "ray-logs"
TRIALS_DIR = "trials"
TRIAL_RESULT = "trial.json"


def trial_logdir(sweep_dir: str | Path, trial_id: str) -> Path:
    """The ``--logdir`` of one trial (its run directory is made inside)."""
    return Path(sweep_dir) / TRIALS_DIR / trial_id


def find_trial_run(logdir: Path) -> Path | None:
    """The run directory a trial started in ``logdir`` (``None`` before it started one)."""
    if not logdir.is_dir():
        return None
    runs = sorted(p for p in logdir.iterdir() if (p / CONFIG_FILE).is_file())
    return runs[-1] if runs else None


def read_trial_result(logdir: Path) -> dict[str, Any] | None:
    """What a finished trial recorded, ``None`` when it has not finished."""
    path = logdir / TRIAL_RESULT
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_trial_result(logdir: Path, result: dict[str, Any]) -> None:
    """Record a finished trial (atomically: a killed trial leaves no half file)."""
    atomic_write_text(logdir / TRIAL_RESULT, json.dumps(result, indent=1, sort_keys=True))


def is_sweep_dir(path: str | Path) -> bool:
    """True when ``path`` is a sweep directory with results (``sweep.csv``)."""
    return (Path(path) / CSV_FILE).is_file() and (Path(path) / SWEEP_FILE).is_file()


def read_rows(sweep_dir: str | Path) -> list[dict[str, str]]:
    """The rows of ``sweep.csv`` (strings, as written); a file that cannot be read as CSV text is
    one SweepError naming it."""
    path = Path(sweep_dir) / CSV_FILE
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 CSV text"
        raise SweepError(f"{path}: cannot read the sweep's results ({why})") from None


def _chosen_rows(sweep_dir: str | Path, instead: str) -> list[dict[str, str]]:
    """The ``sweep.csv`` rows marked ``chosen = yes``; a SweepError saying what to do
    ``instead`` when the sweep chose none."""
    rows = [r for r in read_rows(sweep_dir) if r.get("chosen") == "yes"]
    if not rows:
        raise SweepError(
            f"sweep '{sweep_dir}': no configuration was chosen (see {SUMMARY_FILE}); {instead}"
        )
    return rows


def chosen_runs(sweep_dir: str | Path) -> list[tuple[int, Path]]:
    """``(training seed, run directory)`` of every finished trial of the chosen configuration,
    by seed.  A SweepError when the sweep chose none."""
    rows = _chosen_rows(sweep_dir, "give one of its trials' run directories instead")
    runs = []
    for r in rows:
        seed, run_dir = r.get("seed") or "", r.get("run_dir") or ""
        if not seed.isdigit() or not run_dir:
            raise SweepError(
                f"{Path(sweep_dir) / CSV_FILE}: a chosen row needs an integer 'seed' and a "
                f"'run_dir', got seed {seed!r}, run_dir {run_dir!r}"
            )
        runs.append((int(seed), Path(sweep_dir) / run_dir))
    return sorted(runs)


def value_cell(value: Any) -> str:
    """A swept value as its ``sweep.csv`` cell: its ``str``, and ``null`` for None (which the
    CSV writer would leave empty, and no value's ``str`` matches)."""
    return "null" if value is None else str(value)


def chosen_point(sweep_dir: str | Path, space: dict[str, list[Any]]) -> dict[str, Any]:
    """The swept values ``{key: value}`` of the chosen configuration, as the sweep file spells
    them: each ``sweep.csv`` cell (the value's ``str``) matched against its key's values in
    ``space``, so ``3e-05`` stays a float and ``none`` a string.  A SweepError when the sweep
    chose none, or a cell is none of its key's values (the CSV is not this sweep's)."""
    # Every seed of a configuration has the same values: one row is enough.
    row = _chosen_rows(sweep_dir, "one is chosen once each of its seeds has finished (--resume)")[0]
    point: dict[str, Any] = {}
    for key, values in space.items():
        cell = row.get(key)
        # "" is how a null was written before value_cell existed.
        match = [v for v in values if value_cell(v) == cell or (v is None and cell == "")]
        if not match:
            raise SweepError(
                f"{Path(sweep_dir) / CSV_FILE}: the chosen '{key}' is {row.get(key)!r}, not one "
                f"of the sweep's values {values}"
            )
        point[key] = match[0]
    return point
