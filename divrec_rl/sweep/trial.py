"""One sweep trial: an ordinary ``divrec-rl train`` run that reports ``val/*`` to Ray Tune.

The trial's run directory is made by :func:`divrec_rl.training.runner.train_run` in
``SWEEP_DIR/trials/TRIAL_ID/`` (same layout, events, config, checkpoints and ``model.zip`` as
``divrec-rl train``).  Its periodic evaluation runs on the scenario's **val** users
(``eval_split: val``), and every evaluation is reported to Tune (for the scheduler) through the
runner's ``on_eval`` hook; the held-out eval users are never seen.

Restarted by Tune after the driver was killed, the trial continues its run from the run's own
latest checkpoint (:func:`~divrec_rl.training.runner.resume_run`); a trial that had already
finished reports what its ``trial.json`` says and trains nothing.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from divrec_rl.errors import SweepError
from divrec_rl.sweep.layout import (
    SWEEP_FILE,
    chosen_point,
    find_trial_run,
    is_sweep_dir,
    read_trial_result,
    trial_logdir,
    write_trial_result,
)
from divrec_rl.training.rundir import list_checkpoints, model_path

if TYPE_CHECKING:
    from divrec_rl.sweep.spec import SweepFile

__all__ = [
    "POINT_KEY",
    "TrialPlan",
    "chosen_configuration",
    "flat_point",
    "one_configuration",
    "run_trial",
    "train_point",
]

#: Key of a confirmation trial's configuration in its Tune config: the stage grids over whole
#: configurations (one dict of swept values each), not over each key separately.
POINT_KEY = "point"


def flat_point(config: dict[str, Any]) -> dict[str, Any]:
    """A trial's swept values and seed as one flat mapping, whichever stage it belongs to."""
    nested = config.get(POINT_KEY) or {}
    return {**nested, **{k: v for k, v in config.items() if k != POINT_KEY}}


@dataclass
class TrialPlan:
    """What every trial of a sweep shares (sent once to the workers by Tune)."""

    sweep_dir: str
    scenario: str
    overrides: dict[str, Any]
    train: dict[str, Any]
    imports: list[str] = field(default_factory=list)


def train_point(plan: TrialPlan, point: dict[str, Any], logdir: Path) -> dict[str, Any]:
    """The TrainConfig values of one trial: the plan's, the swept ``train.*`` keys, the seed."""
    swept = {k.removeprefix("train."): v for k, v in point.items() if k.startswith("train.")}
    return {
        **plan.train,
        **swept,
        "scenario": plan.scenario,
        "seed": int(point["seed"]),
        "logdir": str(logdir),
        "eval_split": "val",
        "progress_bar": False,
    }


def one_configuration(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(train settings, nested scenario overrides)`` of one configuration, as each trial of
    it runs it (:func:`train_point`), for ``divrec-rl train --config``: either a sweep file
    whose every space key has exactly one value (a stage-2 file that retrains a chosen
    configuration with more seeds), or a finished sweep directory, whose chosen configuration
    it is (:func:`~divrec_rl.sweep.layout.chosen_point`).

    The update threads are a trial's too (:func:`~divrec_rl.sweep.spec.plan_train`: the
    file's, else its ``resources.cpus_per_trial``), since the thread count changes the last
    bits of the updates: on the same machine the run is bit-identical to the trial of the same
    seed.  Left to the train command: the seed (``--seed``; the file's ``seeds`` are a
    sweep's), the run directory's place and the progress bar.  A space key with several values
    is a SweepError naming it: that file describes a search, which ``divrec-rl sweep`` runs."""
    from divrec_rl.sweep.spec import load_sweep

    if Path(path).is_dir():
        return _configuration(*chosen_configuration(path))
    sweep = load_sweep(path)
    several = {k: axis.values for k, axis in sweep.space.items() if len(axis.values) != 1}
    if several:
        lines = [f"{path}: field 'space.{k}': {len(v)} values {v}" for k, v in several.items()]
        raise SweepError(
            [
                *lines,
                f"{path}: a sweep file given to --config must name one configuration (one "
                "value per space key, like a stage-2 file); run a search with `divrec-rl sweep`, "
                "or give its directory once it has chosen",
            ]
        )
    return _configuration(sweep, {key: axis.values[0] for key, axis in sweep.space.items()})


def chosen_configuration(sweep_dir: str | Path) -> tuple[SweepFile, dict[str, Any]]:
    """The sweep file of a finished sweep directory and the swept values of the configuration
    it chose (:func:`~divrec_rl.sweep.layout.chosen_point`); a SweepError when ``sweep_dir``
    is no sweep directory with results or the sweep chose none."""
    from divrec_rl.sweep.spec import load_sweep

    if not is_sweep_dir(sweep_dir):
        raise SweepError(
            f"{sweep_dir}: not a sweep directory with results (no {SWEEP_FILE} and sweep.csv); "
            "--config takes a YAML file, a sweep file or a sweep directory"
        )
    sweep = load_sweep(Path(sweep_dir) / SWEEP_FILE)
    space = {key: axis.values for key, axis in sweep.space.items()}
    return sweep, chosen_point(sweep_dir, space)


def _configuration(
    sweep: SweepFile, point: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`one_configuration` of the swept values ``point``."""
    from divrec_rl.sweep.spec import plan_train, scenario_overrides

    plan = TrialPlan("", sweep.scenario, sweep.overrides, plan_train(sweep), sweep.imports)
    train = train_point(plan, {**point, "seed": 0}, Path())
    for owned in ("seed", "logdir", "progress_bar"):
        train.pop(owned)
    return train, scenario_overrides(sweep, point)


def _val_metrics(step: int, stats: dict[str, float]) -> dict[str, Any]:
    return {**{f"val/{k}": float(v) for k, v in stats.items()}, "timesteps": int(step)}


def _evaluate_finished(run_dir: Path) -> dict[str, float]:
    """``val/*`` of a finished run's final model (the trial was killed after its last save)."""
    from divrec_rl.agents.ppo import PPOAgent
    from divrec_rl.agents.registry import load_ppo_run
    from divrec_rl.envs import make_simulator
    from divrec_rl.training.config import TrainConfig
    from divrec_rl.training.episodes import run_episodes
    from divrec_rl.training.rundir import read_run

    record = read_run(run_dir)
    config = TrainConfig(**record.train)
    sim = make_simulator(record.scenario, config.eval_users, split="val")
    run = load_ppo_run(run_dir)
    return run_episodes(PPOAgent(run.model), sim, config.eval_seed).summary()


def run_trial(point: dict[str, Any], plan: TrialPlan) -> None:
    """Tune's function trainable: train (or continue) the trial's run, report ``val/*``."""
    from ray import tune

    from divrec_rl.sweep.spec import SweepFile, scenario_overrides
    from divrec_rl.training.config import TrainConfig
    from divrec_rl.training.runner import resume_run, train_run

    point = flat_point(point)
    trial_id = tune.get_context().get_trial_id()
    logdir = trial_logdir(plan.sweep_dir, trial_id)
    finished = read_trial_result(logdir)
    if finished is not None:
        tune.report({**finished["metrics"], "final": 1})
        return
    started, started_at = time.perf_counter(), time.time()
    last: dict[str, Any] = {}
    run_dir = find_trial_run(logdir)
    # The plan is the one the run was started with (--resume checks the sweep file), so a
    # resumed run's budget is this one too.
    config = TrainConfig(**train_point(plan, point, logdir))
    budget = config.total_timesteps

    def report(step: int, stats: dict[str, float]) -> None:
        last.update(_val_metrics(step, stats))
        # The evaluation at the end of training is reported once, with final = 1, after
        # trial.json is written: a scheduler stops a trial whose report reaches its max_t, and
        # stopping it here would lose the finished trial's record.
        if step < budget:
            tune.report({**last, "final": 0})

    if run_dir is not None and not list_checkpoints(run_dir):
        shutil.rmtree(run_dir)  # killed before its first checkpoint: nothing to continue
        run_dir = None
    command = f"divrec-rl sweep (trial {trial_id})"
    if run_dir is not None:
        result = resume_run(run_dir, {"progress_bar": False}, command=command, on_eval=report)
        if not last and model_path(run_dir).is_file():
            last.update(_val_metrics(result.num_timesteps, _evaluate_finished(run_dir)))
    else:
        sweep = SweepFile(scenario=plan.scenario, overrides=plan.overrides, space={})
        overrides = scenario_overrides(sweep, point)
        result = train_run(config, overrides, command=command, imports=plan.imports, on_eval=report)
    if result.selected is not None:  # --select-checkpoint best-val: the kept weights' val/*
        last.update(_val_metrics(result.selected["step"], result.selected["val"]))
        last["selected_step"] = int(result.selected["step"])
        last["timesteps"] = int(result.num_timesteps)  # the steps trained, not the selected
    metrics = {**last, "wall_s": time.perf_counter() - started}
    # When this attempt ran (Unix seconds): shows how many trials shared the machine.
    window = {"started_at": started_at, "finished_at": time.time()}
    run = str(result.run_dir.relative_to(plan.sweep_dir))
    write_trial_result(logdir, {"metrics": metrics, "run_dir": run, **window})
    tune.report({**metrics, "final": 1})
