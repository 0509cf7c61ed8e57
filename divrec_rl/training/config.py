"""The typed settings of a PPO training run, and how they are layered.

:class:`TrainConfig` is the single description of a training run: each field's ``description``
is its ``--help`` text and its documentation; each field is a flag of the same name
(``n_envs`` → ``--n-envs``).  Layering (later wins, RecBole-style):

    defaults  <  scenario  <  ``--config EXTRA.yaml``  <  command-line flags

Scenario fields (``reward.diversity_weight``, ``catalog.n_items``…) layer over the scenario; an
extra YAML file holds scenario fields at its top level and training fields under ``train:``.
For ``divrec-rl train`` a sweep file whose every space key has one value (a stage-2 file of the
fair experiment), or a finished sweep directory (its chosen configuration), is a ``--config``
too: its scenario, overrides, train settings and space values, as its trials run them
(:func:`divrec_rl.sweep.trial.one_configuration`, read by the train command's reader).
``--diversity-weight`` and ``--set KEY=VALUE`` are scenario overrides from the command line.
A run directory's ``config.yaml`` has the same shape, so
``divrec-rl train --config runs/NAME/config.yaml`` repeats a run.

Bad input raises :class:`~divrec_rl.errors.TrainingError` (one line naming the field, its flag
and what is allowed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from divrec_rl.config import dotted_to_nested, merge_overrides
from divrec_rl.errors import ScenarioError, TrainingError
from divrec_rl.resolve import DEFAULT_SCENARIO, import_plugins, read_yaml, scenario_file
from divrec_rl.training.settings import SettingsModel, field_extra, given_fields, label_of

__all__ = [
    "DEVICES",
    "ConfigReader",
    "TrainConfig",
    "config_from_args",
    "parse_set",
    "read_extra",
    "resumed_config",
]

DEVICES = ("auto", "cpu", "cuda")


def _scientific(value: Any) -> Any:
    # Step counts are written "1e6" in the docs and on command lines; pydantic's int parser
    # rejects that spelling, its float parser accepts it (and int then checks it is whole).
    if isinstance(value, str) and "e" in value.lower():
        try:
            return float(value)
        except ValueError:
            return value
    return value


Count = Annotated[int, BeforeValidator(_scientific)]


def _opt(default: Any, description: str, *, resumable: bool = False, **limits: Any) -> Any:
    return Field(default, description=description, json_schema_extra={"resumable": resumable},
                 **limits)  # fmt: skip


class TrainConfig(SettingsModel):
    """Settings of one PPO training run; every field is a command-line flag of the same name."""

    error_class = TrainingError

    scenario: str = _opt(
        DEFAULT_SCENARIO,
        "Scenario to train on: a registered name, 'package.module:attr' or a .yaml file.",
        min_length=1,
    )
    total_timesteps: Count = _opt(
        200_000,
        "Environment steps to train for in total, counted over all parallel users; a resumed "
        "run counts the steps it already did (training stops at the first rollout boundary at "
        "or past this number).",
        ge=1,
        resumable=True,
    )
    seed: Count = _opt(
        0,
        "Seed of everything random: Python, NumPy, torch, and the users (user i of the batch "
        "gets seed + i).",
        ge=0,
    )
    n_envs: Count = _opt(
        64, "Users simulated in parallel by the batched VecEnv (one row each).", ge=1
    )
    diversity_weight: float | None = _opt(
        None,
        "λ in reward = engagement + λ·diversity; unset = the scenario's "
        "reward.diversity_weight; 0 = the pure-engagement ablation.",
        ge=0.0,
        le=100.0,
    )
    logdir: str = _opt(
        "runs",
        "Directory of the run directories ({scenario}__{agent}__{seed}__{timestamp}); "
        "watch it with `tensorboard --logdir`.",
        min_length=1,
    )
    device: Literal["auto", "cpu", "cuda"] = _opt(
        "auto",
        "Torch device for the networks: auto (cuda when present, else cpu), cpu or cuda.",
        resumable=True,
    )
    n_steps: Count = _opt(
        64, "PPO: steps per user per rollout (a rollout holds n_steps × n_envs transitions).", ge=1
    )
    batch_size: Count = _opt(1024, "PPO: minibatch size of the updates.", ge=2)
    n_epochs: Count = _opt(4, "PPO: passes over each rollout.", ge=1)
    learning_rate: float = _opt(3e-4, "PPO: Adam learning rate.", gt=0.0)
    gamma: float = _opt(0.98, "PPO: discount factor.", gt=0.0, le=1.0)
    gae_lambda: float = _opt(0.95, "PPO: GAE λ.", ge=0.0, le=1.0)
    clip_range: float = _opt(0.2, "PPO: clipping range of the probability ratio.", gt=0.0)
    ent_coef: float = _opt(0.0, "PPO: entropy bonus coefficient.", ge=0.0)
    vf_coef: float = _opt(0.5, "PPO: value-loss coefficient.", ge=0.0)
    max_grad_norm: float = _opt(0.5, "PPO: gradient-norm clip.", gt=0.0)
    target_kl: float | None = _opt(
        None, "PPO: stop an update early past this KL (unset = never).", gt=0.0
    )
    critic_warmup: Count = _opt(
        0,
        "PPO: environment steps during which the updates train only the critic (the value "
        "function), leaving the actor as initialised (e.g. by --bc-from) until the critic can "
        "judge it; 0 = off.",
        ge=0,
    )
    hidden_size: Count = _opt(
        64,
        "Width of the policy's hidden layers (the candidate scorer is shared by all "
        "candidates, so the size does not depend on the catalogue or the candidate count).",
        ge=1,
    )
    policy: Literal["plackett-luce", "gaussian"] = _opt(
        "plackett-luce",
        "Slate policy: plackett-luce (k sequential softmax draws without replacement over the "
        "candidates; PPO's ratio is that of the ordered slate shown) or gaussian (the ablation: "
        "a diagonal Gaussian over one score per candidate, slate = top-k; also the only policy "
        "of the query slate builder).",
    )
    set_aware: bool = _opt(
        True,
        "plackett-luce: let each pick's scores depend on the items already picked (their mean "
        "projection and the largest similarity to one of them), so the policy can compose a set.",
    )
    # Bounded: below 1e-3 the picked candidates' finite mask logit (−1e9) no longer stays below
    # every free candidate's score/τ, and τ is stored in float32 (a huge init overflowed there).
    temperature_floor: float = _opt(
        0.05,
        "plackett-luce: lower bound τ_min of the state-dependent softmax temperature.",
        ge=1e-3,
        le=1e3,
    )
    temperature_init: float = _opt(
        1.0,
        "plackett-luce: softmax temperature at initialisation (must exceed --temperature-floor).",
        gt=0.0,
        le=1e3,
    )
    prior: Literal["none", "baseline"] = _opt(
        "none",
        "plackett-luce: none, or baseline = start as a residual on the supervised click model "
        "of the tuned baseline (fitted and tuned on the scenario's train/val users first): "
        "logits = (click logits + learned residual)/τ, the residual starting at zero, the "
        "click model frozen.",
    )
    bc_from: Literal["none", "baseline"] = _opt(
        "none",
        "plackett-luce: none, or baseline = warm-start by behaviour cloning: before PPO, "
        "maximise the Plackett–Luce log-likelihood of the tuned supervised baseline's ordered "
        "slates on --bc-users training users (the baseline is fitted and tuned on the "
        "scenario's train/val users first).",
    )
    bc_steps: Count = _opt(500, "Behaviour cloning: Adam steps of --batch-size slates.", ge=1)
    bc_users: Count = _opt(
        500, "Behaviour cloning: training users the teacher serves (one episode each).", ge=1
    )
    baseline_log_users: Count = _opt(
        2000,
        "--prior / --bc-from baseline: training users the baseline's logging policy serves "
        "before its click model is fitted (as `evaluate --log-users`; match the two when the "
        "baseline compared with gets more logs).",
        ge=1,
    )
    log_std_init: float = _opt(
        0.0, "gaussian: initial log standard deviation of the exploration over scores."
    )
    eval_every: Count = _opt(
        20_000,
        "Evaluate the deterministic policy on held-out users (the split --eval-split names) "
        "every this many steps and at the end, logged as eval/* (val/*); 0 = never.",
        ge=0,
        resumable=True,
    )
    eval_split: Literal["eval", "val"] = _opt(
        "eval",
        "User split of the periodic evaluation, logged under its name (eval/* or val/*): "
        "'eval' = the held-out users; 'val' = the validation users, for choosing a "
        "configuration without looking at the held-out users (what sweeps use).",
    )
    select_checkpoint: Literal["last", "best-val"] = _opt(
        "last",
        "Which weights are the run's model: last = the final weights (model.zip); best-val = "
        "the weights of the periodic evaluation with the highest val/mean_reward (the "
        "validation return), kept as best_model.zip and loaded by `evaluate` (needs "
        "--eval-split val and --eval-every > 0: checkpoints are never chosen on eval users).",
    )
    eval_users: Count = _opt(256, "Held-out users per evaluation, one episode each.", ge=1)
    eval_seed: Count = _opt(
        1_000_000,
        "Seed of the held-out users (user i gets eval_seed + i; the same users every time).",
        ge=0,
    )
    checkpoint_every: Count = _opt(
        50_000,
        "Write a resumable checkpoint every this many steps (atomically, in checkpoints/); one "
        "is always written at the end; 0 = only at the end.",
        ge=0,
        resumable=True,
    )
    keep_checkpoints: Count = _opt(
        3, "Most recent checkpoints to keep; 0 = keep all.", ge=0, resumable=True
    )
    torch_threads: Count = _opt(
        1,
        "CPU threads for torch. 1 is fastest for these small networks on a few cores (the "
        "simulator runs in the main thread; more threads contend with it).",
        ge=1,
        resumable=True,
    )
    update_threads: Count = _opt(
        0,
        "CPU threads for torch during PPO's updates, when the simulator is idle (the rollouts "
        "keep --torch-threads); 0 = every CPU this process may use.",
        ge=0,
        resumable=True,
    )
    progress_bar: bool = _opt(True, "Show a progress bar while training.", resumable=True)
    verbose: Count = _opt(
        0,
        "0 = progress bar only, 1 = also SB3's table of logged values after every rollout.",
        ge=0,
        le=1,
        resumable=True,
    )

    @model_validator(mode="after")
    def _temperatures(self) -> TrainConfig:
        if self.temperature_floor >= self.temperature_init:
            raise ValueError(
                f"--temperature-init ({self.temperature_init}) must exceed "
                f"--temperature-floor ({self.temperature_floor})"
            )
        if self.select_checkpoint == "best-val" and (
            self.eval_split != "val" or self.eval_every == 0
        ):
            raise ValueError(
                "--select-checkpoint best-val chooses among the periodic evaluations on "
                "validation users: it needs --eval-split val and --eval-every > 0 (got "
                f"--eval-split {self.eval_split}, --eval-every {self.eval_every})"
            )
        return self

    def train_section(self) -> dict[str, Any]:
        """The ``train:`` section of a config file (every field, JSON-ready)."""
        return self.model_dump(mode="json")


def parse_set(items: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` → ``{"a": {"b": 1}, "c": "x"}``: dotted keys, YAML values (never
    ``eval``).  The one parser of ``--set``; a malformed item is a ScenarioError naming it."""
    import yaml

    flat: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ScenarioError(
                f"{flag} {item!r}: expected KEY=VALUE with a dotted KEY, "
                "e.g. reward.diversity_weight=0.2"
            )
        try:
            flat[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ScenarioError(f"{flag} {item!r}: the value is not valid YAML") from None
    return dotted_to_nested(flat)


#: Reads one ``--config`` file into (training fields, nested scenario fields).
ConfigReader = Callable[[str], tuple[dict[str, Any], dict[str, Any]]]


def read_extra(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training fields, scenario fields) of one ``--config`` file: an extra file or a run's
    ``config.yaml``."""
    data = read_yaml(Path(path))
    if not any(value is not None for value in data.values()):
        # An emptied run config.yaml would otherwise train the defaults without a word.
        raise TrainingError(f"{path}: empty config file (no training or scenario fields)")
    train = data.pop("train", None) or {}
    run = data.pop("run", None)
    if isinstance(run, dict) and isinstance(run.get("plugins"), list):
        # A run's config.yaml repeats the run: its scenario may need the run's plug-ins.
        import_plugins(run["plugins"])
    if not isinstance(train, dict):
        raise TrainingError(f"{path}: field 'train': must be a mapping of training fields")
    allowed = ", ".join(TrainConfig.model_fields)
    for key in train:
        if key not in TrainConfig.model_fields:
            raise TrainingError(f"{path}: unknown field 'train.{key}' (allowed here: {allowed})")
    try:
        TrainConfig(**train)
    except TrainingError as exc:
        raise TrainingError([f"{path}: {line}" for line in exc.errors]) from None
    return train, data


def config_from_args(
    args: Mapping[str, Any] | Any, read: ConfigReader = read_extra
) -> tuple[TrainConfig, dict[str, Any]]:
    """The layered :class:`TrainConfig` of a fresh run and its scenario overrides.

    ``args`` (a namespace or mapping) holds the flags given: :class:`TrainConfig` fields (as
    strings or values), ``config`` (extra files, each read by ``read``) and ``overrides``
    (``--set`` items).  The overrides are a nested mapping for
    :func:`divrec_rl.resolve.resolve_scenario`: the extra files' scenario fields, then ``--set``,
    then ``--diversity-weight``.  (The train command's reader also takes sweep files,
    :func:`divrec_rl.commands.train.read_config_file`.)
    """
    raw = args if isinstance(args, Mapping) else vars(args)
    given = {k: v for k, v in given_fields(TrainConfig, raw).items() if v is not None}
    values: dict[str, Any] = {}
    scenario_layers: dict[str, Any] = {}
    for path in raw.get("config") or []:
        train, scenario_part = read(path)
        values.update(train)
        scenario_layers = merge_overrides(scenario_layers, scenario_part)
    values.update(given)
    file = scenario_file(values.get("scenario"))
    if file is not None:
        # Recorded absolute, so the run's config.yaml (a --config file) repeats the run from
        # any directory: a relative path meant the directory the run was started in.
        values["scenario"] = str(file.resolve())
    config = TrainConfig(**values)
    scenario_layers = merge_overrides(scenario_layers, parse_set(raw.get("overrides")))
    if config.diversity_weight is not None:
        scenario_layers = merge_overrides(
            scenario_layers, {"reward": {"diversity_weight": config.diversity_weight}}
        )
    return config, scenario_layers


def resumed_config(saved: Mapping[str, Any], args: Mapping[str, Any] | Any) -> TrainConfig:
    """The configuration of a resumed run: the saved ``train:`` section, then the flags given.

    Only fields marked resumable may change; giving another one with a different value is an
    error (it would silently start a different experiment on the same curve).
    """
    raw = args if isinstance(args, Mapping) else vars(args)
    for key, flag in (("config", "--config"), ("overrides", "--set"), ("imports", "--import")):
        if raw.get(key):
            raise TrainingError(
                f"{flag} cannot be combined with --resume (the run's config.yaml is used)"
            )
    try:
        base = TrainConfig(**saved)
    except TrainingError as exc:
        raise TrainingError([f"config.yaml: train: {line}" for line in exc.errors]) from None
    given = {k: v for k, v in given_fields(TrainConfig, raw).items() if v is not None}
    changed = TrainConfig(**{**base.model_dump(), **given})
    for key in given:
        info = TrainConfig.model_fields[key]
        old, new = getattr(base, key), getattr(changed, key)
        if not field_extra(info).get("resumable") and old != new:
            # None reads "unset" (e.g. λ: the run used its scenario's reward.diversity_weight).
            had = "unset" if old is None else repr(old)
            raise TrainingError(
                f"{label_of(TrainConfig, key)}: cannot change when resuming (the run has "
                f"{had}, got {new!r})"
            )
    return changed
