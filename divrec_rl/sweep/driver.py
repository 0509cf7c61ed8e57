"""Run a sweep on Ray Tune: start (or join) Ray, run or resume the Tuner, write the results.

Local by default: without an address Ray starts in this process with the machine's CPUs, no
dashboard, quiet, its session files in a short temporary directory (Ray's socket paths must stay
short) while Tune's state and every trial's run directory live in the sweep directory.  With an
address (``auto`` or ``HOST:PORT``) the driver joins a cluster started with ``ray start --head``;
the sweep directory must then be on storage every node reaches at the same path (a shared file
system), because each trial writes its run directory there.

Each trial asks Tune for ``resources.cpus_per_trial`` CPUs and, when the cluster has GPUs and
``train.device`` is not ``cpu``, a share of a GPU (``resources.gpus_per_trial``); Tune runs as
many trials at once as the resources allow, at most ``--max-concurrent``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from divrec_rl.atomic import atomic_write_text, check_directory
from divrec_rl.errors import SweepError
from divrec_rl.sweep.layout import (
    CONFIRM_NAME,
    CONFIRM_POINTS,
    RAY_LOGS,
    SWEEP_FILE,
    TRIALS_DIR,
    TUNE_NAME,
    find_trial_run,
    read_trial_result,
)
from divrec_rl.sweep.layout import trial_logdir as _trial_logdir
from divrec_rl.sweep.results import CONFIRM, SEARCH, TrialRow, confirm_candidates, write_results
from divrec_rl.sweep.spec import SweepFile, load_sweep, max_steps, plan_train, trial_train
from divrec_rl.sweep.trial import POINT_KEY, TrialPlan, flat_point, run_trial
from divrec_rl.training.rundir import read_code_record

__all__ = ["INSTALL_COMMAND", "SweepOutcome", "require_ray", "run_sweep"]

INSTALL_COMMAND = 'python -m pip install "ray[tune]==2.60.0"'

# Keep a local Ray quiet and self-contained: no usage reporting, no metrics exporter, Tune's
# experiment state saved every few seconds (so a killed driver loses little).  And keep each
# trial in the working directory of the process that started it instead of Ray's per-trial
# directory (Tune passes the variable on to the trials): a relative path in the sweep file (a
# scenario .yaml, `response.path`, `catalog.path`) or a plug-in module found through
# `PYTHONPATH=.` then means in a trial what it means to `divrec-rl train` run from the same
# place.  Trials write only into the sweep directory, an absolute path.
_RAY_ENV = {
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
    "RAY_enable_metrics_collection": "0",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_GLOBAL_CHECKPOINT_S": "2",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000",
}


@dataclass
class SweepOutcome:
    """Where a sweep ended: its directory, the rows of ``sweep.csv``, the chosen label."""

    sweep_dir: Path
    rows: list[TrialRow]
    chosen: str | None


def require_ray() -> Any:
    """``ray`` if the extra is installed; a SweepError with the one install command if not."""
    try:
        import ray
        from ray import tune  # noqa: F401
    except ImportError:
        raise SweepError(
            f"divrec-rl sweep needs Ray Tune, which is not installed; run: {INSTALL_COMMAND}"
        ) from None
    return ray


def _check_dir(sweep: SweepFile, sweep_dir: Path, resume: bool) -> None:
    saved = sweep_dir / SWEEP_FILE
    if resume:
        if not (sweep_dir / TUNE_NAME).is_dir() or not saved.is_file():
            raise SweepError(f"--resume: '{sweep_dir}' holds no sweep to resume (give its --out)")
        if yaml.safe_load(saved.read_text(encoding="utf-8")) != sweep.model_dump(mode="json"):
            raise SweepError(
                f"--resume: the sweep file differs from the one '{sweep_dir}' was started "
                f"with ({saved}); resume with that file or start a new --out"
            )
    elif sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        raise SweepError(
            f"--out '{sweep_dir}': exists and is not empty (pass --resume to continue that "
            "sweep, or choose another --out)"
        )
    else:  # a file, under a file, not writable: said now, not after Ray has started
        check_directory(sweep_dir, f"--out '{sweep_dir}'", SweepError)


def _start_ray(ray: Any, address: str | None) -> Path | None:
    """Start (``address`` None) or join Ray; return the local session's temporary directory."""
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)
    common = {"include_dashboard": False, "log_to_driver": False, "configure_logging": True,
              "logging_level": "ERROR"}  # fmt: skip
    if address is None:
        temp = tempfile.mkdtemp(prefix="divrec-ray-")
        ray.init(num_cpus=os.cpu_count() or 1, _temp_dir=temp, **common)
        return Path(temp)
    try:
        _probe(address)
        ray.init(address=address, **common)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError…
        detail = " ".join(str(exc).split())[:200]
        raise SweepError(
            f"--address {address}: cannot join a Ray cluster there ({type(exc).__name__}: "
            f"{detail}); start one with `ray start --head` or leave --address out"
        ) from None
    return None


def _probe(address: str) -> None:
    """Fail fast when nothing listens at the cluster's address (``ray.init`` would retry for
    minutes); ``auto`` is resolved as Ray resolves it (``RAY_ADDRESS``, then the latest
    ``ray start`` on this machine)."""
    from ray._private.services import canonicalize_bootstrap_address

    resolved = canonicalize_bootstrap_address(address)
    if resolved is None:
        raise ConnectionError("no running Ray cluster found")
    host, _, port = resolved.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5):
        pass


def _keep_logs(temp: Path | None, sweep_dir: Path) -> None:
    """Move a local Ray session's logs into ``SWEEP_DIR/ray-logs`` and drop its temp files."""
    if temp is None:
        return
    logs = temp / "session_latest" / "logs"
    try:
        if logs.is_dir() and sweep_dir.is_dir():
            shutil.copytree(logs, sweep_dir / RAY_LOGS, dirs_exist_ok=True)
    except OSError as exc:  # never hide the sweep's own error, or leave the temp files behind
        print(f"note: Ray's logs were not kept ({exc})", file=sys.stderr)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _param_space(sweep: SweepFile, tune: Any) -> dict[str, Any]:
    space: dict[str, Any] = {}
    for key, axis in sweep.space.items():
        space[key] = tune.grid_search(axis.grid) if axis.grid is not None else tune.choice(
            axis.values)  # fmt: skip
    space["seed"] = tune.grid_search(list(sweep.seeds))
    return space


def _gpu_share(sweep: SweepFile, ray: Any, max_concurrent: int | None) -> float:
    wanted = sweep.resources.gpus_per_trial
    if wanted != "auto":
        return float(wanted)
    gpus = float(ray.cluster_resources().get("GPU", 0.0))
    if gpus <= 0 or trial_train(sweep).device == "cpu":
        return 0.0
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    concurrent = max_concurrent or max(1, int(cpus // sweep.resources.cpus_per_trial))
    return min(1.0, gpus / concurrent)


def _trainable(sweep: SweepFile, sweep_dir: Path, max_concurrent: int | None) -> Any:
    ray = require_ray()
    from ray import tune

    plan = TrialPlan(
        str(sweep_dir), sweep.scenario, sweep.overrides, plan_train(sweep), sweep.imports
    )
    return tune.with_resources(
        tune.with_parameters(run_trial, plan=plan),
        {"cpu": sweep.resources.cpus_per_trial, "gpu": _gpu_share(sweep, ray, max_concurrent)},
    )


def _tuner(
    sweep: SweepFile,
    sweep_dir: Path,
    resume: bool,
    max_concurrent: int | None,
    confirm: list[dict[str, Any]] | None = None,
) -> Any:
    """The Tuner of the search, or with ``confirm`` (the configurations to retrain) of the
    confirmation stage; restored from its own state directory when ``resume``."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    name = TUNE_NAME if confirm is None else CONFIRM_NAME
    trainable = _trainable(sweep, sweep_dir, max_concurrent)
    if resume:
        return tune.Tuner.restore(
            str(sweep_dir / name), trainable, resume_unfinished=True, resume_errored=True
        )
    scheduler = None
    if sweep.scheduler is not None and confirm is None:  # confirmed trials run to the end
        scheduler = ASHAScheduler(
            time_attr="timesteps",
            max_t=max_steps(sweep),
            grace_period=sweep.scheduler.grace_period,
            reduction_factor=sweep.scheduler.reduction_factor,
        )
    space = _param_space(sweep, tune)
    if confirm is not None:
        assert sweep.confirm is not None
        space = {
            POINT_KEY: tune.grid_search(confirm),
            "seed": tune.grid_search(sweep.confirm.seeds),
        }
    return tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=sweep.metric,
            mode=sweep.mode,
            num_samples=sweep.num_samples if confirm is None else 1,
            # One draw of the random choices per sample, shared by every grid point (so every
            # seed trains the same configuration), from a seeded generator (so the same file
            # draws the same configurations).
            # The limit goes to the generator: Tune ignores max_concurrent_trials beside a
            # search algorithm that is not a Searcher (it only logs a warning).
            search_alg=BasicVariantGenerator(
                constant_grid_search=True,
                random_state=sweep.sample_seed,
                max_concurrent=max_concurrent or 0,
            ),
            scheduler=scheduler,
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(sweep_dir), verbose=0, log_to_file=True
        ),
    )


def _can_restore(state: Path) -> bool:
    """Whether a stage's Tune state exists to resume (a driver killed before the confirmation
    stage started leaves none: that stage then starts afresh)."""
    from ray import tune

    return state.is_dir() and bool(tune.Tuner.can_restore(str(state)))


def _fit(
    sweep: SweepFile,
    sweep_dir: Path,
    resume: bool,
    max_concurrent: int | None,
    confirm: list[dict[str, Any]] | None = None,
) -> list[TrialRow]:
    """Run (or resume) one stage and return its trials' rows.

    Ctrl-C stops the stage the way Tune's own handler does (its state saved, ``fit()``
    returning as if done) and is then raised as ``KeyboardInterrupt`` (exit 130, "continue with
    --resume"), before anything is chosen from the stage or a confirmation stage starts on
    partial results (see :func:`_ctrl_c_stops_tune`)."""
    with _ctrl_c_stops_tune() as pressed:
        grid = _tuner(sweep, sweep_dir, resume, max_concurrent, confirm).fit()
    if pressed:
        raise KeyboardInterrupt(
            f"the sweep stopped before its trials ended; continue with divrec-rl sweep "
            f"SWEEP.yaml --out {sweep_dir} --resume"
        )
    phase = SEARCH if confirm is None else CONFIRM
    return [_row(result, sweep, sweep_dir, phase) for result in grid]


@contextlib.contextmanager
def _ctrl_c_stops_tune() -> Iterator[list[bool]]:
    """While a stage runs, Ctrl-C asks Tune to stop through SIGUSR1, the signal its run loop
    always handles as a stop request (checkpointing the stage's state), and is remembered in
    the yielded list: Tune's own SIGINT handler (switched off with TUNE_DISABLE_SIGINT_HANDLER)
    stops the same way but leaves no trace, so ``fit()`` looked finished.  Before Tune's loop
    has started (no SIGUSR1 handler yet), or on a second Ctrl-C, it interrupts at once."""
    pressed: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed  # signal handlers belong to the main thread
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        if pressed or not callable(signal.getsignal(signal.SIGUSR1)):
            raise KeyboardInterrupt
        pressed.append(True)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGINT, stop)
    switch = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
        if switch is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = switch


def _confirm_stage_resumes(
    sweep_dir: Path, points: list[dict[str, Any]], search: list[TrialRow]
) -> bool:
    """Whether a resumed sweep continues its confirmation stage: only when that stage exists
    and retrains the configurations the (now complete) search ranks best.  A search whose
    failed trials were retried by ``--resume`` can rank others best; the old stage (its Tune
    state and the trial directories that are not the search's) is then removed and a fresh
    one runs, since choosing among configurations that are not the best would be wrong."""
    record = sweep_dir / CONFIRM_POINTS
    state = sweep_dir / CONFIRM_NAME
    if not state.exists():
        return False
    wanted = json.loads(json.dumps(points))  # as the record reads back (tuples → lists)
    # A stage started before the record existed is trusted, as it was then.
    saved = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else wanted
    if saved == wanted:
        return _can_restore(state)
    print("note: the search now ranks other configurations best; the confirmation stage "
          "starts afresh", file=sys.stderr)  # fmt: skip
    searched = {row.trial_id for row in search}
    for logdir in (sweep_dir / TRIALS_DIR).glob("*"):
        if logdir.is_dir() and logdir.name not in searched:
            shutil.rmtree(logdir)
    shutil.rmtree(state)
    return False


def _row(result: Any, sweep: SweepFile, sweep_dir: Path, phase: str) -> TrialRow:
    # A trial that failed before its first report has no metrics; Tune's directory name
    # ("run_trial_<trial id>_<index>_<values>_<time>") still carries its id.
    named = re.search(r"_([0-9a-f]+_\d{5})_", Path(result.path).name)
    trial_id = str(
        (result.metrics or {}).get("trial_id") or (named.group(1) if named else result.path)
    )
    logdir = _trial_logdir(sweep_dir, trial_id)
    recorded = read_trial_result(logdir)
    metrics = dict(recorded["metrics"]) if recorded else dict(result.metrics or {})
    if result.error is not None:
        status = "error"
    elif recorded is not None:
        status = "finished"
    else:
        status = "stopped" if metrics.get("timesteps") is not None else "pending"
    run = find_trial_run(logdir)
    run_dir = recorded["run_dir"] if recorded else str(run.relative_to(sweep_dir)) if run else ""
    config = flat_point(result.config)
    values = {k: config.get(k) for k in sweep.space}
    return TrialRow(
        trial_id=trial_id,
        values=values,
        seed=int(config["seed"]),
        status=status,
        metrics={k: float(v) for k, v in metrics.items() if k.startswith("val/")},
        timesteps=metrics.get("timesteps"),
        wall_s=metrics.get("wall_s"),
        run_dir=run_dir,
        code=read_code_record(sweep_dir / run_dir) if run_dir else [],
        phase=phase,
    )


def run_sweep(
    sweep_file: str | Path,
    out: str | Path | None = None,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    resume: bool = False,
) -> SweepOutcome:
    """Run (or with ``resume`` continue) the sweep of ``sweep_file`` into ``out``.

    ``out`` defaults to ``sweeps/<file stem>``.  Bad input (the file, ``out``, an unreachable
    ``address``, a missing extra) is a SweepError raised before anything is written.
    """
    if max_concurrent is not None and max_concurrent < 1:
        raise SweepError(f"--max-concurrent: must be ≥ 1, got {max_concurrent}")
    sweep = load_sweep(sweep_file)
    ray = require_ray()
    sweep_dir = Path(out or Path("sweeps") / Path(sweep_file).stem).resolve()
    _check_dir(sweep, sweep_dir, resume)
    temp = _start_ray(ray, address)
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            text = yaml.safe_dump(sweep.model_dump(mode="json"), sort_keys=False)
            atomic_write_text(sweep_dir / SWEEP_FILE, text)
        rows = _fit(sweep, sweep_dir, resume, max_concurrent)
        if sweep.confirm is not None:
            # The search's results first, so a failed confirmation stage leaves them readable.
            write_results(sweep_dir, rows, sweep)
            points = [dict(c.values) for c in confirm_candidates(rows, sweep)]
            again = resume and _confirm_stage_resumes(sweep_dir, points, rows)
            if points and not again:
                atomic_write_text(sweep_dir / CONFIRM_POINTS, json.dumps(points))
            rows += _fit(sweep, sweep_dir, again, max_concurrent, points) if points else []
    finally:
        ray.shutdown()
        _keep_logs(temp, sweep_dir)
    chosen = write_results(sweep_dir, rows, sweep)
    label = None
    if chosen is not None:
        from divrec_rl.sweep.results import summarise

        label = summarise(rows, sweep)[0][chosen].label
    return SweepOutcome(sweep_dir, rows, label)
