"""``divrec-rl train`` / ``scripts/train_agent.py``: the typed training configuration and its CLI.

:class:`TrainConfig` is the single description of a training run: each field's ``help`` metadata
is its ``--help`` text and its documentation.  Layering (later wins, RecBole-style):

    defaults  <  scenario  <  ``--config EXTRA.yaml``  <  command-line flags

Scenario fields (``reward.diversity_weight``, ``catalog.n_items``…) layer over the scenario; an
extra YAML file holds scenario fields at its top level and training fields under ``train:``.
``--diversity-weight`` and ``--set KEY=VALUE`` are scenario overrides from the command line.
The run directory's ``config.yaml`` has the same shape, so
``divrec-rl train --config runs/NAME/config.yaml`` repeats a run.

Bad input raises :class:`TrainError` (one line naming the field and what is allowed); the
command turns it into ``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from divrec_rl.config import ScenarioError, dotted_to_nested, merge_overrides
from divrec_rl.resolve import DEFAULT_SCENARIO, read_yaml

__all__ = [
    "DEVICES",
    "TrainConfig",
    "TrainError",
    "add_train_arguments",
    "add_train_command",
    "build_parser",
    "config_from_args",
    "main",
    "resumed_config",
    "run_train_command",
]

DEVICES = ("auto", "cpu", "cuda")


class TrainError(ValueError):
    """Bad training input (config, flags, ``--resume`` path); the message is one line."""


def _meta(
    help: str,
    *,
    check: tuple[str, Callable[[Any], bool]] | None = None,
    choices: tuple[str, ...] | None = None,
    flag: str | None = None,
    cli_only: bool = False,
    resumable: bool = False,
) -> dict[str, Any]:
    return {
        "help": help,
        "check": check,
        "choices": choices,
        "flag": flag,
        "cli_only": cli_only,
        "resumable": resumable,
    }


def _opt(default: Any, help: str, **meta: Any) -> Any:
    return field(default=default, metadata=_meta(help, **meta))


def _ge(bound: float) -> tuple[str, Callable[[Any], bool]]:
    return f"≥ {bound}", lambda v: v >= bound


def _gt(bound: float) -> tuple[str, Callable[[Any], bool]]:
    return f"> {bound}", lambda v: v > bound


def _unit(lo_open: bool) -> tuple[str, Callable[[Any], bool]]:
    if lo_open:
        return "in (0, 1]", lambda v: 0.0 < v <= 1.0
    return "in [0, 1]", lambda v: 0.0 <= v <= 1.0


@dataclass
class TrainConfig:
    """Settings of one PPO training run; every field is a command-line flag of the same name."""

    scenario: str = _opt(
        DEFAULT_SCENARIO,
        "Scenario to train on: a registered name, 'package.module:attr' or a .yaml file.",
    )
    total_timesteps: int = _opt(
        200_000,
        "Environment steps to train for in total, counted over all parallel users; a resumed "
        "run counts the steps it already did (training stops at the first rollout boundary at "
        "or past this number).",
        check=_ge(1),
        resumable=True,
    )
    seed: int = _opt(
        0,
        "Seed of everything random: Python, NumPy, torch, and the users (user i of the batch "
        "gets seed + i).",
        check=_ge(0),
    )
    n_envs: int = _opt(
        64, "Users simulated in parallel by the batched VecEnv (one row each).", check=_ge(1)
    )
    diversity_weight: float | None = _opt(
        None,
        "λ in reward = engagement + λ·diversity; unset = the scenario's "
        "reward.diversity_weight; 0 = the pure-engagement ablation.",
        check=("in [0, 100]", lambda v: 0.0 <= v <= 100.0),
    )
    logdir: str = _opt(
        "runs",
        "Directory of the run directories ({scenario}__{agent}__{seed}__{timestamp}); "
        "watch it with `tensorboard --logdir`.",
    )
    device: str = _opt(
        "auto",
        "Torch device for the networks: auto (cuda when present, else cpu), cpu or cuda.",
        choices=DEVICES,
        resumable=True,
    )
    config: list[str] = field(
        default_factory=list,
        metadata=_meta(
            "Extra YAML file layered over the scenario: scenario fields at the top level, "
            "training fields under 'train:'. Repeatable; later files win, flags win over files.",
            flag="--config",
            cli_only=True,
        ),
    )
    overrides: list[str] = field(
        default_factory=list,
        metadata=_meta(
            "Scenario override KEY=VALUE with a dotted key and a YAML value, e.g. "
            "catalog.n_items=20000. Repeatable; wins over --config files.",
            flag="--set",
            cli_only=True,
        ),
    )
    resume: str | None = _opt(
        None,
        "Continue a killed or finished run from its latest checkpoint: the run directory or a "
        "checkpoint .zip in it. Same step count, same TensorBoard curve; only "
        "--total-timesteps, --device, --torch-threads, --checkpoint-every, "
        "--keep-checkpoints, --eval-every, --progress-bar and --verbose may change.",
        cli_only=True,
    )
    n_steps: int = _opt(
        64,
        "PPO: steps per user per rollout (a rollout holds n_steps × n_envs transitions).",
        check=_ge(1),
    )
    batch_size: int = _opt(1024, "PPO: minibatch size of the updates.", check=_ge(2))
    n_epochs: int = _opt(4, "PPO: passes over each rollout.", check=_ge(1))
    learning_rate: float = _opt(3e-4, "PPO: Adam learning rate.", check=_gt(0))
    gamma: float = _opt(0.98, "PPO: discount factor.", check=_unit(lo_open=True))
    gae_lambda: float = _opt(0.95, "PPO: GAE λ.", check=_unit(lo_open=False))
    clip_range: float = _opt(0.2, "PPO: clipping range of the probability ratio.", check=_gt(0))
    ent_coef: float = _opt(0.0, "PPO: entropy bonus coefficient.", check=_ge(0))
    vf_coef: float = _opt(0.5, "PPO: value-loss coefficient.", check=_ge(0))
    max_grad_norm: float = _opt(0.5, "PPO: gradient-norm clip.", check=_gt(0))
    target_kl: float | None = _opt(
        None, "PPO: stop an update early past this KL (unset = never).", check=_gt(0)
    )
    hidden_size: int = _opt(
        64,
        "Width of the policy's hidden layers (the candidate scorer is shared by all "
        "candidates, so the size does not depend on the catalogue or the candidate count).",
        check=_ge(1),
    )
    log_std_init: float = _opt(
        0.0, "Initial log standard deviation of the Gaussian exploration over scores."
    )
    eval_every: int = _opt(
        20_000,
        "Evaluate the deterministic policy on held-out users (the scenario's eval split) every "
        "this many steps and at the end, logged as eval/*; 0 = never.",
        check=_ge(0),
        resumable=True,
    )
    eval_users: int = _opt(256, "Held-out users per evaluation, one episode each.", check=_ge(1))
    eval_seed: int = _opt(
        1_000_000,
        "Seed of the held-out users (user i gets eval_seed + i; the same users every time).",
        check=_ge(0),
    )
    checkpoint_every: int = _opt(
        50_000,
        "Write a resumable checkpoint every this many steps (atomically, in checkpoints/); one "
        "is always written at the end; 0 = only at the end.",
        check=_ge(0),
        resumable=True,
    )
    keep_checkpoints: int = _opt(
        3, "Most recent checkpoints to keep; 0 = keep all.", check=_ge(0), resumable=True
    )
    torch_threads: int = _opt(
        1,
        "CPU threads for torch. 1 is fastest for these small networks on a few cores (the "
        "simulator runs in the main thread; more threads contend with it).",
        check=_ge(1),
        resumable=True,
    )
    progress_bar: bool = _opt(True, "Show a progress bar while training.", resumable=True)
    verbose: int = _opt(
        0,
        "0 = progress bar only, 1 = also SB3's table of logged values after every rollout.",
        check=("0 or 1", lambda v: v in (0, 1)),
        resumable=True,
    )

    def __post_init__(self) -> None:
        # Every construction is validated (and strings from the command line converted), so a
        # TrainConfig built in Python is as safe as one from the CLI.
        for f in fields(self):
            setattr(self, f.name, _coerce(f.name, getattr(self, f.name)))

    def train_section(self) -> dict[str, Any]:
        """The fields that go under ``train:`` in a config file (no command-line-only ones)."""
        only_cli = {f.name for f in fields(self) if f.metadata["cli_only"]}
        return {k: v for k, v in asdict(self).items() if k not in only_cli}


_FIELDS = {f.name: f for f in fields(TrainConfig)}
_TYPES = get_type_hints(TrainConfig)


def _flag(name: str) -> str:
    return _FIELDS[name].metadata["flag"] or "--" + name.replace("_", "-")


def _describe(name: str) -> str:
    return f"field '{name}' ({_flag(name)})"


def _coerce(name: str, raw: Any) -> Any:
    """``raw`` (a command-line string or a YAML value) as the field's type, range-checked."""
    tp = str(_TYPES[name]).replace("typing.", "")
    meta = _FIELDS[name].metadata
    optional = "None" in tp
    if optional and (raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null"))):
        return None
    value: Any
    if tp.startswith("list"):
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise TrainError(f"{_describe(name)}: must be a list of strings, got {raw!r}")
        return list(raw)
    if "bool" in tp:
        if not isinstance(raw, bool):
            raise TrainError(f"{_describe(name)}: must be true or false, got {raw!r}")
        return raw
    if "int" in tp:
        value = _to_int(raw)
        if value is None:
            raise TrainError(f"{_describe(name)}: must be an integer, got {raw!r}")
    elif "float" in tp:
        value = _to_float(raw)
        if value is None:
            raise TrainError(f"{_describe(name)}: must be a finite number, got {raw!r}")
    else:
        if not isinstance(raw, str) or not raw:
            raise TrainError(f"{_describe(name)}: must be a non-empty string, got {raw!r}")
        value = raw
    if meta["choices"] and value not in meta["choices"]:
        allowed = ", ".join(meta["choices"])
        raise TrainError(f"{_describe(name)}: must be one of {allowed}, got {value!r}")
    if meta["check"] and not meta["check"][1](value):
        raise TrainError(f"{_describe(name)}: must be {meta['check'][0]}, got {raw!r}")
    return value


def _to_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            number = _to_float(raw)  # "1e5", "2.0e6"
            return int(number) if number is not None and number.is_integer() else None
    return None


def _to_float(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _default(name: str) -> Any:
    f = _FIELDS[name]
    return f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]


def _help_text(name: str) -> str:
    meta = _FIELDS[name].metadata
    default = _default(name)
    if meta["cli_only"]:
        return meta["help"]
    shown = "unset" if default is None else default
    return f"{meta['help']} (default: {shown})"


def _metavar(name: str) -> str:
    tp = str(_TYPES[name])
    if _FIELDS[name].metadata["choices"]:
        return "{" + ",".join(_FIELDS[name].metadata["choices"]) + "}"
    for word, shown in (("int", "N"), ("float", "X")):
        if word in tp:
            return shown
    return {"config": "EXTRA.yaml", "overrides": "KEY=VALUE", "resume": "PATH"}.get(
        name, name.upper()
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per :class:`TrainConfig` field (help text = the field's ``help``).

    Every flag defaults to "not given" so the layering can tell a flag from a default; values
    are parsed by :func:`config_from_args`, which reports bad ones as :class:`TrainError`.
    """
    for name in _FIELDS:
        flag = _flag(name)
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        if "bool" in str(_TYPES[name]):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif str(_TYPES[name]).startswith("list"):
            kwargs.update(action="append", metavar=_metavar(name))
        else:
            kwargs["metavar"] = _metavar(name)
        parser.add_argument(flag, help=_help_text(name), **kwargs)


def _given(args: argparse.Namespace | Mapping[str, Any]) -> dict[str, Any]:
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    return {k: v for k, v in values.items() if k in _FIELDS}


def _parse_set(items: list[str]) -> dict[str, Any]:
    assignments: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise TrainError(f"{_describe('overrides')}: expected KEY=VALUE, got {item!r}")
        try:
            assignments[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise TrainError(
                f"{_describe('overrides')}: value of {key.strip()!r} is not valid YAML: {text!r}"
            ) from None
    return dotted_to_nested(assignments)


def _read_extra(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training fields, scenario fields) of one ``--config`` file."""
    data = read_yaml(Path(path))
    train = data.pop("train", None) or {}
    if not isinstance(train, dict):
        raise TrainError(f"{path}: field 'train': must be a mapping of training fields")
    allowed = [n for n, f in _FIELDS.items() if not f.metadata["cli_only"]]
    for key, raw in train.items():
        if key not in allowed:
            raise TrainError(
                f"{path}: unknown field 'train.{key}' (allowed here: {', '.join(allowed)})"
            )
        try:
            _coerce(key, raw)
        except TrainError as exc:
            raise TrainError(f"{path}: {exc}") from None
    return train, data


def config_from_args(
    args: argparse.Namespace | Mapping[str, Any],
) -> tuple[TrainConfig, dict[str, Any]]:
    """The layered :class:`TrainConfig` of a fresh run and its scenario overrides.

    ``args`` holds only the flags given (strings, as parsed by :func:`add_train_arguments`).
    The overrides are a nested mapping for :func:`divrec_rl.resolve.resolve_scenario`: the extra
    files' scenario fields, then ``--set``, then ``--diversity-weight``.
    """
    given = _given(args)
    values: dict[str, Any] = {}
    scenario_layers: dict[str, Any] = {}
    for path in _coerce("config", given.get("config", [])):
        train, scenario_part = _read_extra(path)
        values.update(train)
        scenario_layers = merge_overrides(scenario_layers, scenario_part)
    values.update(given)
    config = TrainConfig(**values)
    scenario_layers = merge_overrides(scenario_layers, _parse_set(config.overrides))
    if config.diversity_weight is not None:
        scenario_layers = merge_overrides(
            scenario_layers, {"reward": {"diversity_weight": config.diversity_weight}}
        )
    return config, scenario_layers


def resumed_config(
    saved: Mapping[str, Any], args: argparse.Namespace | Mapping[str, Any]
) -> TrainConfig:
    """The configuration of a resumed run: the saved ``train:`` section, then the flags given.

    Only fields marked resumable may change; giving another one with a different value is an
    error (it would silently start a different experiment on the same curve).
    """
    given = _given(args)
    for name in ("config", "overrides"):
        if given.get(name):
            raise TrainError(
                f"{_flag(name)} cannot be combined with --resume (the run's config.yaml is used)"
            )
    for key in saved:
        if key not in _FIELDS or _FIELDS[key].metadata["cli_only"]:
            raise TrainError(f"config.yaml: unknown field 'train.{key}'")
    values = asdict(TrainConfig(**saved))
    for key, raw in given.items():
        value = _coerce(key, raw)
        if not _FIELDS[key].metadata["resumable"] and key != "resume" and value != values[key]:
            raise TrainError(
                f"{_describe(key)}: cannot change when resuming (the run has "
                f"{values[key]!r}, got {value!r})"
            )
        values[key] = value
    return TrainConfig(**values)


def run_train_command(args: argparse.Namespace) -> int:
    """Handler of ``divrec-rl train``: 0 on success, 2 with one ``error:`` line on bad input."""
    try:
        from divrec_rl.training.runner import resume_run, train_run

        if getattr(args, "resume", None):
            resume_run(args.resume, args)
        else:
            config, scenario_overrides = config_from_args(args)
            train_run(config, scenario_overrides, command=" ".join(sys.argv))
    except (TrainError, ScenarioError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: resume with --resume RUN_DIR", file=sys.stderr)
        return 130
    return 0


_DESCRIPTION = (
    "Train the PPO slate agent (Stable-Baselines3) on a scenario. Writes "
    "LOGDIR/{scenario}__ppo__{seed}__{timestamp}/ with TensorBoard events, config.yaml, "
    "checkpoints/ and the final model.zip."
)


def add_train_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train`` to ``subparsers`` (``divrec-rl train``); the handler is ``args.func``."""
    parser = subparsers.add_parser(
        "train", help="train the PPO slate agent on a scenario", description=_DESCRIPTION
    )
    add_train_arguments(parser)
    parser.set_defaults(func=run_train_command)
    return parser


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The stand-alone parser of ``scripts/train_agent.py`` (same flags as ``divrec-rl train``)."""
    parser = argparse.ArgumentParser(prog=prog, description=_DESCRIPTION)
    add_train_arguments(parser)
    parser.set_defaults(func=run_train_command)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv``, train (or resume), save; return the exit code."""
    args = build_parser(prog).parse_args(argv)
    return int(args.func(args))
