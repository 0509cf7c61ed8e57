"""The sweep file: a typed model, validated like a scenario file.

A sweep file is YAML with the fields of :class:`SweepFile`::

    scenario: synthetic-shop            # any form --scenario accepts
    overrides: {catalog.n_items: 300}   # scenario overrides, dotted keys like --set
    train: {total_timesteps: 4000}      # TrainConfig fields (divrec-rl train flags)
    space:                              # what varies: dotted keys, grid or random choice
      reward.diversity_weight: {grid: [0.0, 0.5]}
      train.learning_rate: {choice: [0.0001, 0.0003]}
    seeds: [0, 1]                       # every configuration is trained once per seed
    num_samples: 1                      # draws of the random choices (grids are crossed)
    metric: val/mean_reward             # selection metric, on validation users only
    scheduler: {type: asha, grace_period: 2000}   # optional early stopping
    confirm: {top: 3, seeds: [101, 102]}          # optional: retrain the best with more seeds

A space key is either ``train.FIELD`` (a :class:`~divrec_rl.training.config.TrainConfig` field)
or a scenario field by its dotted name (the keys ``--set`` takes).  Every value of the space is
checked before anything runs: an unknown key, an empty space or list, a value its field rejects
is a :class:`~divrec_rl.errors.SweepError`, one line each, naming the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from divrec_rl.errors import DivrecError, SweepError
from divrec_rl.resolve import read_yaml
from divrec_rl.training.config import TrainConfig

__all__ = [
    "METRICS",
    "SWEEP_OWNED",
    "Confirm",
    "Resources",
    "Scheduler",
    "SpaceAxis",
    "SweepFile",
    "load_sweep",
    "nested_overrides",
    "plan_train",
    "scenario_overrides",
    "sweep_reference",
    "trial_train",
]

#: Validation metrics a trial reports (``val/*`` of :class:`~divrec_rl.training.callbacks.
#: EvalCallback` on the scenario's val users).
METRICS = (
    "val/mean_reward",
    "val/mean_engagement",
    "val/mean_diversity",
    "val/mean_ild",
    "val/coverage",
    "val/mean_ep_length",
)
#: Train fields the sweep sets itself (the seed from ``seeds``, the run directory's place, the
#: evaluation split): a sweep file may not set or sweep them.
SWEEP_OWNED = ("seed", "logdir", "eval_split", "progress_bar", "scenario", "diversity_weight")
_OWNED_HINT = (
    "not set in train: (seeds: `seeds`; scenario: top level; diversity_weight: "
    "`reward.diversity_weight`; logdir: --out; eval_split is val, progress_bar off)"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SpaceAxis(_Strict):
    """One swept key: exactly one of ``grid`` (every value, crossed with the other grids) or
    ``choice`` (one value drawn uniformly per sample)."""

    grid: list[Any] | None = Field(None, description="Values tried in every combination.")
    choice: list[Any] | None = Field(
        None, description="Values drawn uniformly at random, once per sample."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SpaceAxis:
        given = [v for v in (self.grid, self.choice) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'grid' or 'choice'")
        if not given[0]:
            raise ValueError("the list of values is empty")
        cells = [json.dumps(v, sort_keys=True, default=str) for v in self.grid or []]
        for value, cell in zip(self.grid or [], cells, strict=True):
            if cells.count(cell) > 1:
                raise ValueError(f"the grid repeats {value!r} (each value is trained once)")
        return self

    @property
    def values(self) -> list[Any]:
        """The values of the axis, whichever kind."""
        return list(self.grid if self.grid is not None else self.choice or [])


class Scheduler(_Strict):
    """Early stopping with ASHA (asynchronous successive halving) on ``metric``, in steps."""

    type: Literal["asha"] = Field("asha", description="Scheduler kind (only `asha`).")
    grace_period: int = Field(
        1, ge=1, description="Steps every trial runs before it may be stopped."
    )
    reduction_factor: float = Field(
        2.0, gt=1.0, description="Keep the best 1/reduction_factor at each rung."
    )


def _no_booleans(value: Any) -> Any:
    """Seeds are integers: ``true`` is refused (pydantic's lax mode would read it as 1)."""
    if isinstance(value, list) and any(isinstance(v, bool) for v in value):
        raise ValueError(f"must be integers, got {value}")
    return value


Seeds = Annotated[list[int], BeforeValidator(_no_booleans)]


def _gpu_share_value(value: Any) -> Any:
    """``auto`` or a number ≥ 0, in one message whichever is wrong (the union's two branches
    gave two lines)."""
    if value == "auto" or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise ValueError(f"must be a number ≥ 0 or 'auto', got {value!r}")


class Confirm(_Strict):
    """A second stage against the winner's curse: the ``top`` configurations of the search (by
    their mean over ``seeds``) are trained again with the seeds ``confirm.seeds``, and the sweep
    chooses among them by the mean over all their seeds."""

    top: int = Field(
        3, ge=1, description="How many of the search's best configurations to retrain."
    )
    seeds: Seeds = Field(
        min_length=1,
        description="Further training seeds for those configurations (none of `seeds`).",
    )


class Resources(_Strict):
    """What Tune reserves for one trial on a node."""

    cpus_per_trial: float = Field(1.0, gt=0.0, description="CPUs reserved per trial.")
    gpus_per_trial: Annotated[float | Literal["auto"], BeforeValidator(_gpu_share_value)] = Field(
        "auto",
        description="GPU share per trial; `auto` = the cluster's GPUs shared by the concurrent "
        "trials when there are GPUs and `train.device` is not `cpu`, else 0.",
    )

    @model_validator(mode="after")
    def _non_negative(self) -> Resources:
        if isinstance(self.gpus_per_trial, float) and self.gpus_per_trial < 0:
            raise ValueError("gpus_per_trial: must be ≥ 0 or 'auto'")
        return self


class SweepFile(_Strict):
    """A training sweep: one scenario, train settings, a search space, seeds, a metric."""

    scenario: str = Field(
        "synthetic-shop",
        min_length=1,
        description="Scenario: a registered name, `package.module:attr` or a .yaml file.",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Scenario overrides for every trial (dotted keys or nested, like `--set`).",
    )
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="`divrec-rl train` settings for every trial (TrainConfig fields except "
        + ", ".join(SWEEP_OWNED)
        + ").",
    )
    space: dict[str, SpaceAxis] = Field(
        description="Swept keys (`train.FIELD` or a dotted scenario field) → `{grid: [...]}` "
        "or `{choice: [...]}`; at least one.",
    )
    seeds: Seeds = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        min_length=1,
        description="Training seeds; every configuration is trained once per seed.",
    )
    num_samples: int = Field(
        1, ge=1, description="Samples of the random choices (each crossed with the grids)."
    )
    sample_seed: int = Field(
        0,
        ge=0,
        description="Seed of the random choices: the same file draws the same configurations.",
    )
    metric: Literal[METRICS] = Field(  # type: ignore[valid-type]
        "val/mean_reward",
        description="Selection metric on the validation users: " + ", ".join(METRICS) + ".",
    )
    mode: Literal["max", "min"] = Field("max", description="Whether larger `metric` is better.")
    scheduler: Scheduler | None = Field(
        None, description="Early stopping on `metric` (ASHA); null = every trial runs to the end."
    )
    confirm: Confirm | None = Field(
        None,
        description="Retrain the search's best configurations with more seeds and choose among "
        "them by the mean over all seeds; null = choose from the search alone.",
    )
    resources: Resources = Field(default_factory=Resources, description="Per-trial resources.")
    imports: list[str] = Field(
        default_factory=list, description="Modules to import first (like `--import`)."
    )


def _lines(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            out.append(f"unknown field '{loc}'")
        elif error["type"] == "missing":
            out.append(f"field '{loc}': required")
        else:
            out.append(f"field '{loc}': {message}, got {error.get('input')!r}")
    return out


def plan_train(sweep: SweepFile) -> dict[str, Any]:
    """The ``train`` settings every trial starts from: the sweep file's, with the update
    threads (unless the file sets them) matched to the trial's CPU share, since concurrent
    trials update at the same time."""
    threads = max(1, int(sweep.resources.cpus_per_trial))
    return {"update_threads": threads, **sweep.train}


def trial_train(sweep: SweepFile, **changes: Any) -> TrainConfig:
    """The sweep's ``train`` settings (with ``changes``) as a trial runs them: evaluated on the
    val users (the sweep owns ``eval_split``)."""
    return TrainConfig(**{**plan_train(sweep), **changes, "eval_split": "val"})


def max_steps(sweep: SweepFile) -> int:
    """The longest trial's ``total_timesteps`` (over a swept ``train.total_timesteps`` too), as
    the validated settings have it (``5e2`` is 500): ASHA's ``max_t``."""
    axis = sweep.space.get("train.total_timesteps")
    if axis is None:
        return trial_train(sweep).total_timesteps
    return max(trial_train(sweep, total_timesteps=v).total_timesteps for v in axis.values)


def _check_train(sweep: SweepFile) -> list[str]:
    owned = [k for k in sweep.train if k in SWEEP_OWNED]
    errors = [f"field 'train.{k}': {_OWNED_HINT}" for k in owned]
    try:
        trial_train(sweep)
    except DivrecError as exc:
        errors += [f"train: {e}" for e in exc.errors]
    return errors


def _check_axis(sweep: SweepFile, key: str, axis: SpaceAxis) -> list[str]:
    from divrec_rl.resolve import resolve_scenario

    field = key.removeprefix("train.")
    if key.startswith("train.") and (field not in TrainConfig.model_fields or field in SWEEP_OWNED):
        return [f"field 'space.{key}': not a train field a sweep may vary; {_OWNED_HINT}"]
    errors: list[str] = []
    for value in axis.values:
        try:
            if key.startswith("train."):
                trial_train(sweep, **{field: value})
            else:
                resolve_scenario(sweep.scenario, overrides=scenario_overrides(sweep, {key: value}))
        except DivrecError as exc:
            errors += [f"field 'space.{key}' value {value!r}: {e}" for e in exc.errors]
    return errors


def _flat(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in nested.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _set(nested: dict[str, Any], dotted: str, value: Any) -> None:
    node = nested
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def nested_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """A sweep file's ``overrides`` (dotted keys, nested mappings or both) as the nested mapping
    :func:`~divrec_rl.resolve.resolve_scenario` takes."""
    nested: dict[str, Any] = {}
    for key, value in _flat(overrides).items():
        _set(nested, key, value)
    return nested


def scenario_overrides(sweep: SweepFile, point: dict[str, Any]) -> dict[str, Any]:
    """The nested scenario overrides of one trial: the file's ``overrides``, then the swept
    scenario keys of ``point`` (a mapping of dotted space keys to values)."""
    nested = nested_overrides(sweep.overrides)
    for key, value in point.items():
        if not key.startswith("train.") and key != "seed":
            _set(nested, key, value)
    return nested


def _check_confirm(sweep: SweepFile) -> list[str]:
    if sweep.confirm is None:
        return []
    more = sweep.confirm.seeds
    if len(set(more)) != len(more) or min(more) < 0 or set(more) & set(sweep.seeds):
        return [
            f"field 'confirm.seeds': must be distinct integers ≥ 0 that are not in 'seeds' "
            f"{sweep.seeds} (fresh seeds, so the retrained runs are not the lucky ones again), "
            f"got {more}"
        ]
    return []


def load_sweep(path: str | Path) -> SweepFile:
    """Read and check a sweep file; a SweepError lists every problem, each naming the file."""
    from divrec_rl.resolve import import_plugins, resolve_scenario

    where = str(path)
    try:
        data = read_yaml(Path(path))
    except DivrecError as exc:
        raise SweepError(exc.errors) from None
    try:
        sweep = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise SweepError([f"{where}: {line}" for line in _lines(exc)]) from None
    errors: list[str] = []
    if not sweep.space:
        errors.append("field 'space': empty (name at least one key to vary)")
    try:
        import_plugins(sweep.imports)
        resolve_scenario(sweep.scenario, overrides=scenario_overrides(sweep, {}))
    except DivrecError as exc:
        errors += [f"scenario: {e}" for e in exc.errors]
    errors += _check_train(sweep)
    if not errors:
        for key, axis in sweep.space.items():
            errors += _check_axis(sweep, key, axis)
    if (
        not errors
        and sweep.scheduler is not None
        and sweep.scheduler.grace_period > (most := max_steps(sweep))
    ):
        errors.append(
            f"field 'scheduler.grace_period': must be ≤ the longest trial's train.total_timesteps "
            f"({most})"
        )
    if len(set(sweep.seeds)) != len(sweep.seeds) or min(sweep.seeds) < 0:
        errors.append(f"field 'seeds': must be distinct integers ≥ 0, got {sweep.seeds}")
    errors += _check_confirm(sweep)
    if errors:
        raise SweepError([f"{where}: {line}" for line in errors])
    return sweep


def _type_text(ann: Any) -> str:
    """``'max' | 'min'``, ``float | 'auto'``, ``list[int]``: a type as the reference shows it."""
    args = get_args(ann)
    if get_origin(ann) is Literal:
        return " | ".join(repr(a) for a in args)
    if get_origin(ann) in (Union, UnionType):
        return " | ".join(_type_text(a) for a in args)
    if isinstance(ann, type) and not args:
        return "None" if ann is type(None) else ann.__name__
    return str(ann).replace("typing.", "").replace("divrec_rl.sweep.spec.", "")


def sweep_reference() -> list[tuple[str, str, str, str]]:
    """Rows ``(field, type, default, description)`` of the sweep file, nested fields dotted."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            ann = info.annotation
            nested = [a for a in (ann, *getattr(ann, "__args__", ())) if isinstance(a, type)]
            sub = next((a for a in nested if issubclass(a, BaseModel)), None)
            text = _type_text(ann)
            value = None if info.is_required() else info.get_default(call_default_factory=True)
            default = "required" if info.is_required() else repr(value)
            if isinstance(value, BaseModel):
                default = "(below)"
            rows.append((f"{prefix}{name}", text, default, info.description or ""))
            if sub is SpaceAxis:
                walk(SpaceAxis, f"{prefix}{name}.KEY.")
            elif sub is not None:
                walk(sub, f"{prefix}{name}.")

    walk(SweepFile, "")
    return rows
