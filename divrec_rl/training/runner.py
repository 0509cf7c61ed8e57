"""Build, run, resume and save a PPO training run.

A run lives in ``LOGDIR/{scenario}__ppo__{seed}__{timestamp}/``; its layout (config, command
history, checkpoints, final model) belongs to :mod:`divrec_rl.training.rundir`.  TensorBoard
events go into the same directory (a resumed run adds a file that starts with a purge marker at
the checkpoint's step).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stable_baselines3
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import HumanOutputFormat, KVWriter, Logger
from stable_baselines3.common.logger import TensorBoardOutputFormat as _SB3TensorBoardFormat
from stable_baselines3.common.vec_env import VecMonitor
from torch.utils.tensorboard import SummaryWriter

import divrec_rl
from divrec_rl.agents.ppo import make_ppo
from divrec_rl.config import ScenarioConfig
from divrec_rl.config_fields import flat_fields
from divrec_rl.envs import SlateRecVecEnv, make_simulator
from divrec_rl.errors import ModelError, TrainingError
from divrec_rl.provenance import (
    CodeIdentity,
    changed_since,
    code_identity,
    describe_inputs,
    scenario_inputs,
)
from divrec_rl.resolve import import_plugins, resolve_scenario
from divrec_rl.scenario import Scenario, build_scenario
from divrec_rl.simulator import SlateSimulator
from divrec_rl.training.best import BestOnValidation, read_best
from divrec_rl.training.callbacks import (
    CheckpointCallback,
    CriticWarmupCallback,
    EvalCallback,
    HParamsCallback,
    ProgressCallback,
    RolloutMetricsCallback,
    SlateGapCallback,
    UpdateThreadsCallback,
)
from divrec_rl.training.checkpoint import (
    read_resume_state,
    restore_env_state,
    restore_rng,
    save_model,
)
from divrec_rl.training.config import TrainConfig, resumed_config
from divrec_rl.training.device import resolve_device, resolve_threads, torch_threads
from divrec_rl.training.rundir import (
    RunInfo,
    check_logdir,
    create_run_dir,
    find_checkpoint,
    list_checkpoints,
    model_path,
    plugins_for,
    read_run,
    write_config,
)
from divrec_rl.training.warmstart import behaviour_clone, collect_teacher_slates

__all__ = ["AGENT_NAME", "EvalHook", "RunResult", "read_run_config", "resume_run", "train_run"]

AGENT_NAME = "ppo"

#: Called after every periodic evaluation with the step count and the ``eval/*`` (``val/*``)
#: summary; a sweep reports to Ray Tune through it.
EvalHook = Callable[[int, dict[str, float]], None]


@dataclass
class RunResult:
    """Where a run ended: its directory, final model, step count, last held-out evaluation and,
    when the run selects its checkpoint on validation users, the selected evaluation."""

    run_dir: Path
    model_path: Path
    num_timesteps: int
    final_eval: dict[str, float] | None
    #: ``--select-checkpoint best-val``: ``{"step": N, "val": stats}`` of the kept weights.
    selected: dict[str, Any] | None = None


class _TensorBoardFormat(_SB3TensorBoardFormat):
    """SB3's TensorBoard writer, opened with a ``purge_step``: TensorBoard then drops every event
    of earlier files in this directory at or after that step (what a killed run wrote after its
    last checkpoint), so a resumed run's curve continues without repeats."""

    def __init__(self, folder: str, purge_step: int | None = None) -> None:
        self.writer = SummaryWriter(log_dir=folder, purge_step=purge_step)
        self._is_closed = False


def _make_logger(run_dir: Path, verbose: int, purge_step: int | None) -> Logger:
    formats: list[KVWriter] = [_TensorBoardFormat(str(run_dir), purge_step)]
    if verbose:
        formats.append(HumanOutputFormat(sys.stdout))
    return Logger(folder=str(run_dir), output_formats=formats)


def _header(run_dir: Path, device: str, code: CodeIdentity, inputs: dict[str, str]) -> list[str]:
    return [
        f"divrec-rl training run {run_dir.name}",
        f"versions: divrec-rl {divrec_rl.__version__}, stable-baselines3 "
        f"{stable_baselines3.__version__}, torch {th.__version__}; device {device}",
        f"code of the latest command: {code.describe()}",
        f"numerical environment: {code.describe_environment()}",
        *([f"simulated users' inputs: {describe_inputs(inputs)}"] if inputs else []),
        "Repeat this run: divrec-rl train --config THIS_FILE",
    ]


def _code_entry(code: CodeIdentity, inputs: dict[str, str]) -> dict[str, Any]:
    """A command's ``run.code`` entry: the code identity and, when the scenario reads files
    outside the package (a trained user model), their identity under ``inputs``
    (``ResponseModel.inputs``)."""
    entry = code.as_dict()
    if inputs:
        entry["inputs"] = inputs
    return entry


def _finish_code_record(
    run_dir: Path,
    config: TrainConfig,
    scenario: ScenarioConfig,
    info: RunInfo,
    device: str,
    start: CodeIdentity,
) -> None:
    """If the package's source changed while this command ran (an edit in an editable
    install reaches modules imported later), record the new digest in the command's ``code``
    entry and warn: the run may mix two versions of the code."""
    now = changed_since(start)
    if now is None:
        return
    info.code[-1]["changed_during_run"] = now.source_sha256
    inputs = info.code[-1].get("inputs") or {}
    write_config(
        run_dir, config.train_section(), scenario, info, _header(run_dir, device, start, inputs)
    )
    print(
        f"warning: divrec-rl's source changed while this run trained (started with "
        f"{start.source_sha256[:12]}, now {now.source_sha256[:12]}); recorded in "
        f"{run_dir / 'config.yaml'} under run.code",
        file=sys.stderr,
        flush=True,
    )


def read_run_config(run_dir: Path) -> tuple[dict[str, Any], ScenarioConfig]:
    """The saved ``train:`` section and the scenario of a run directory (plug-ins imported)."""
    record = read_run(run_dir)
    return record.train, record.scenario


def _hyperparameters(
    config: TrainConfig, scenario: ScenarioConfig, device: str
) -> tuple[dict[str, Any], str]:
    """(hparams for TensorBoard's HPARAMS tab, a markdown table of every setting)."""
    train = config.train_section()
    hparams: dict[str, Any] = {
        k: ("unset" if v is None else v) for k, v in train.items() if not isinstance(v, list)
    }
    hparams.update(
        {
            "device_used": device,
            "scenario.name": scenario.name,
            "reward.diversity_weight": scenario.reward.diversity_weight,
            "catalog.n_items": scenario.catalog.n_items,
            "slate.size": scenario.slate.size,
            "slate.builder": scenario.slate.builder,
        }
    )
    rows: dict[str, Any] = {f"train.{k}": v for k, v in train.items()}
    rows["train.device_used"] = device
    rows.update(flat_fields(scenario))
    table = "| setting | value |\n|---|---|\n" + "\n".join(
        f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows.items()
    )
    return hparams, table


def _build(config: TrainConfig, scenario_config: ScenarioConfig) -> tuple[VecMonitor, Any]:
    built: Scenario = build_scenario(scenario_config)
    env = VecMonitor(SlateRecVecEnv(config.n_envs, scenario=built, split="train"))
    eval_sim = make_simulator(built, config.eval_users, split=config.eval_split)
    return env, eval_sim


def check_policy(config: TrainConfig, scenario: ScenarioConfig) -> None:
    """Raise :class:`TrainingError` when the policy options do not fit the scenario (before
    anything is written)."""
    if config.policy == "plackett-luce" and scenario.slate.builder != "candidates":
        raise TrainingError(
            "field 'policy' (--policy): plackett-luce needs slate.builder = candidates "
            f"(the scenario has {scenario.slate.builder!r}); use --policy gaussian"
        )
    for name, flag in (("prior", "--prior"), ("bc_from", "--bc-from")):
        if config.policy == "gaussian" and getattr(config, name) != "none":
            raise TrainingError(
                f"field '{name}' ({flag}): only --policy plackett-luce takes this option"
            )


def _tuned_baseline(env: VecMonitor, log_users: int) -> Any:
    """The supervised baseline's winning setting on the run's scenario, logged on ``log_users``
    train users and tuned on val users (never the eval users) as ``divrec-rl evaluate`` builds
    it; fitted once per scenario and read from the baseline cache afterwards
    (:mod:`divrec_rl.evaluation.teacher_cache`)."""
    from divrec_rl.evaluation.settings import BaselineSettings
    from divrec_rl.evaluation.teacher_cache import tuned_teacher

    simulator = env.unwrapped.simulator  # type: ignore[attr-defined]
    weight = float(simulator.scenario.config.reward.diversity_weight)
    print("fitting and tuning the supervised baseline…", flush=True)
    settings = BaselineSettings(log_users=log_users)
    teacher = tuned_teacher(simulator.scenario, weight, settings, progress=True)
    print(f"baseline: {teacher.row.label()}", flush=True)
    return teacher


def _make_model(config: TrainConfig, env: VecMonitor, device: str, baseline: Any) -> PPO:
    prior = None
    if config.prior == "baseline":
        prior = baseline.ranker.model
    return make_ppo(
        env,
        policy=config.policy,
        seed=config.seed,
        device=device,
        hidden_size=config.hidden_size,
        log_std_init=config.log_std_init,
        set_aware=config.set_aware,
        temperature_floor=config.temperature_floor,
        temperature_init=config.temperature_init,
        prior=prior,
        **_ppo_kwargs(config),
    )


def _warm_start(model: PPO, config: TrainConfig, env: VecMonitor, baseline: Any) -> None:
    """Behaviour cloning of the baseline's slates (``--bc-from baseline``), logged as
    ``train/bc_nll_before`` and ``train/bc_nll_after`` at step 0."""
    simulator = env.unwrapped.simulator  # type: ignore[attr-defined]
    teacher_sim = SlateSimulator(
        simulator.scenario, config.bc_users, "train", simulator.diversity_weight
    )
    teacher = baseline.agent("baseline")
    slates = collect_teacher_slates(teacher, teacher_sim, config.seed)
    with torch_threads(resolve_threads(config.update_threads)):  # pure torch, like an update
        stats = behaviour_clone(
            model.policy, slates, config.bc_steps, config.batch_size, config.learning_rate,
            seed=config.seed, max_grad_norm=config.max_grad_norm,
        )  # fmt: skip
    print(
        f"behaviour cloning: {int(stats['teacher_steps'])} teacher slates, NLL per slate "
        f"{stats['nll_before']:.2f} → {stats['nll_after']:.2f}",
        flush=True,
    )
    model.logger.record("train/bc_nll_before", stats["nll_before"])
    model.logger.record("train/bc_nll_after", stats["nll_after"])


def _ppo_kwargs(config: TrainConfig) -> dict[str, Any]:
    names = (
        "n_steps",
        "batch_size",
        "n_epochs",
        "learning_rate",
        "gamma",
        "gae_lambda",
        "clip_range",
        "ent_coef",
        "vf_coef",
        "max_grad_norm",
        "target_kl",
    )
    return {name: getattr(config, name) for name in names}


def _learn(
    model: PPO,
    config: TrainConfig,
    scenario: ScenarioConfig,
    run_dir: Path,
    eval_sim: Any,
    device: str,
    metrics: RolloutMetricsCallback,
    on_eval: EvalHook | None = None,
) -> RunResult:
    hparams, table = _hyperparameters(config, scenario, device)
    keeper = BestOnValidation(run_dir) if config.select_checkpoint == "best-val" else None

    def after_eval(step: int, stats: dict[str, float]) -> None:
        if keeper is not None:
            keeper.offer(model, step, stats)
        if on_eval is not None:
            on_eval(step, stats)

    evaluation = EvalCallback(
        eval_sim, config.eval_every, config.eval_seed, config.eval_split, after_eval
    )
    checkpoints = CheckpointCallback(
        run_dir,
        config.checkpoint_every,
        config.keep_checkpoints,
        lambda: {"rollout_metrics": metrics.state_dict()},
    )
    callbacks = CallbackList(
        [
            # First: the evaluations below step the simulator and need the rollout threads.
            UpdateThreadsCallback(config.torch_threads, resolve_threads(config.update_threads)),
            ProgressCallback(config.progress_bar),
            HParamsCallback(hparams, table),
            evaluation,
            SlateGapCallback(),
            metrics,
            checkpoints,
            *([CriticWarmupCallback(config.critic_warmup)] if config.critic_warmup else []),
        ]
    )
    remaining = config.total_timesteps - model.num_timesteps
    try:
        model.learn(remaining, callback=callbacks, reset_num_timesteps=model.num_timesteps == 0)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_resume_hint(run_dir)) from None
    model.logger.close()
    final = model_path(run_dir)
    save_model(model, final)
    selected = None if keeper is None else keeper.record
    return RunResult(run_dir, final, model.num_timesteps, evaluation.last_stats, selected)


def _resume_hint(run_dir: Path) -> str:
    """What to do after Ctrl-C: the command that resumes, or why nothing can be resumed."""
    if list_checkpoints(run_dir):
        return f"resume with: divrec-rl train --resume {run_dir}"
    return (
        f"no checkpoint was written yet (the first comes after --checkpoint-every steps), so "
        f"{run_dir} cannot be resumed; start the run again"
    )


def train_run(
    config: TrainConfig,
    scenario_overrides: dict[str, Any] | None = None,
    *,
    command: str = "",
    imports: list[str] | tuple[str, ...] = (),
    on_eval: EvalHook | None = None,
) -> RunResult:
    """Train a fresh PPO agent as ``config`` says; return where everything was saved.

    ``imports``: plug-in modules to import before the scenario is resolved (``--import``); they
    and any module the resolution imports are recorded in the run's ``config.yaml``.
    ``on_eval``: called after every periodic evaluation (see :data:`EvalHook`).
    """
    code = code_identity()
    check_logdir(config.logdir)
    import_plugins(list(imports))
    scenario = resolve_scenario(config.scenario, overrides=scenario_overrides)
    check_policy(config, scenario)
    device = resolve_device(config.device)
    th.set_num_threads(config.torch_threads)
    env, eval_sim = _build(config, scenario)
    inputs = scenario_inputs(eval_sim.scenario)
    run_dir = create_run_dir(config.logdir, scenario.name, AGENT_NAME, config.seed)
    info = RunInfo(
        config.scenario,
        plugins_for(config.scenario),
        [command or "(library call)"],
        [_code_entry(code, inputs)],
    )
    write_config(
        run_dir, config.train_section(), scenario, info, _header(run_dir, device, code, inputs)
    )
    print(f"run directory: {run_dir}", flush=True)
    needs_baseline = config.prior == "baseline" or config.bc_from == "baseline"
    baseline = _tuned_baseline(env, config.baseline_log_users) if needs_baseline else None
    model = _make_model(config, env, device, baseline)
    model.set_logger(_make_logger(run_dir, config.verbose, purge_step=None))
    if config.bc_from == "baseline":
        _warm_start(model, config, env, baseline)
    result = _learn(
        model, config, scenario, run_dir, eval_sim, device, RolloutMetricsCallback(), on_eval
    )
    _finish_code_record(run_dir, config, scenario, info, device, code)
    print(f"saved model: {result.model_path} ({result.num_timesteps} steps)", flush=True)
    return result


def resume_run(
    path: str | Path, args: Any = None, *, command: str = "", on_eval: EvalHook | None = None
) -> RunResult:
    """Continue the run of ``path`` (run directory or checkpoint) from its latest checkpoint.

    ``args`` holds the flags given with ``--resume`` (only resumable fields may change).  The
    step count, random generators, users mid-episode and TensorBoard curve all continue.
    """
    code = code_identity()
    checkpoint, run_dir = find_checkpoint(path)
    record = read_run(run_dir)
    scenario = record.scenario
    config = resumed_config(record.train, args or {})
    state = read_resume_state(checkpoint)
    device = resolve_device(config.device)
    th.set_num_threads(config.torch_threads)
    env, eval_sim = _build(config, scenario)
    inputs = scenario_inputs(eval_sim.scenario)
    try:
        model = PPO.load(checkpoint, env=env, device=device, force_reset=False)
    except Exception as exc:  # SB3 raises many kinds on a damaged or foreign zip
        raise ModelError(
            f"--resume: cannot load the model in '{checkpoint}' ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})"
        ) from None
    if model.num_timesteps != state["num_timesteps"]:
        raise ModelError(f"--resume: checkpoint '{checkpoint}' is inconsistent (step counts)")
    restore_env_state(env, state["env"])
    restore_rng(state["rng"])
    metrics = RolloutMetricsCallback()
    metrics.load_state_dict(state["callbacks"]["rollout_metrics"])
    if model.num_timesteps >= config.total_timesteps:
        # Nothing trains, so nothing is recorded: config.yaml keeps naming only the code that
        # trained the model.
        print(
            f"run directory: {run_dir}; nothing to do: the run is at {model.num_timesteps} "
            f"steps ≥ --total-timesteps {config.total_timesteps}",
            flush=True,
        )
        return RunResult(
            run_dir, model_path(run_dir), model.num_timesteps, None, read_best(run_dir)
        )
    info = record.info
    info.commands.append(command or " ".join(sys.argv))
    info.code.append(_code_entry(code, inputs))
    write_config(
        run_dir, config.train_section(), scenario, info, _header(run_dir, device, code, inputs)
    )
    print(f"run directory: {run_dir} (resuming at step {model.num_timesteps})", flush=True)
    model.set_logger(_make_logger(run_dir, config.verbose, purge_step=model.num_timesteps + 1))
    result = _learn(model, config, scenario, run_dir, eval_sim, device, metrics, on_eval)
    _finish_code_record(run_dir, config, scenario, info, device, code)
    print(f"saved model: {result.model_path} ({result.num_timesteps} steps)", flush=True)
    return result
