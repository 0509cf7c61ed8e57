"""``divrec-rl train`` / ``scripts/train_agent.py``: parse, train (or resume), print.

Every :class:`~divrec_rl.training.config.TrainConfig` field is a flag of the same name (its
description is the ``--help`` text); the scenario arguments are the shared set of
:mod:`divrec_rl.commands.common`.  The work is in :mod:`divrec_rl.training.runner`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from divrec_rl.commands.common import (
    add_scenario_arguments,
    guarded,
    import_modules,
    script_main,
)
from divrec_rl.training.config import TrainConfig, config_from_args, read_extra
from divrec_rl.training.settings import add_model_arguments, field_extra, flag_of, help_text

__all__ = [
    "add_train_arguments",
    "add_train_command",
    "command_line",
    "main",
    "read_config_file",
    "run_train",
]

DESCRIPTION = (
    "Train the PPO slate agent (Stable-Baselines3) on a scenario. Writes "
    "LOGDIR/{scenario}__ppo__{seed}__{timestamp}/ with TensorBoard events, config.yaml, "
    "checkpoints/ and the final model.zip."
)
_INTERRUPTED = "resume with --resume RUN_DIR"


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The shared scenario arguments, one flag per TrainConfig field, and ``--resume``."""
    add_scenario_arguments(
        p,
        scenario_help=help_text(TrainConfig.model_fields["scenario"]),
        config_help="Extra YAML file layered over the scenario: scenario fields at the top "
        "level, training fields under 'train:'; or a run's config.yaml; or a sweep file with "
        "one value per space key (e.g. experiments/fair/seeds-synthetic-shop-confirmed.yaml) "
        "or a finished sweep directory (its chosen configuration), trained as their trials "
        "are. Repeatable; later files win, flags win over files.",
        set_help="Scenario override KEY=VALUE with a dotted key and a YAML value, e.g. "
        "catalog.n_items=20000. Repeatable; wins over --config files.",
    )
    add_model_arguments(p, TrainConfig, skip=("scenario",))
    p.add_argument(
        "--resume",
        default=None,
        metavar="PATH",
        help="Continue a killed or finished run from its latest checkpoint: the run directory "
        "or a checkpoint .zip in it. Same step count, same TensorBoard curve; only "
        f"{_resumable_flags()} may change.",
    )


def _resumable_flags() -> str:
    """The flags of the TrainConfig fields marked resumable, as an English list."""
    flags = [
        flag_of(TrainConfig, name)
        for name, info in TrainConfig.model_fields.items()
        if field_extra(info).get("resumable")
    ]
    return ", ".join(flags[:-1]) + f" and {flags[-1]}" if len(flags) > 1 else "".join(flags)


def command_line() -> str:
    """This process's command line, as a user would retype it (``python`` before a script)."""
    if not sys.argv or not sys.argv[0]:
        return "(library call)"
    argv = ["python", *sys.argv] if sys.argv[0].endswith(".py") else sys.argv
    return shlex.join(argv)


def read_config_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One ``--config`` of ``train``: a sweep directory (its chosen configuration) or a sweep
    file naming one configuration (it has a ``space:``), both through
    :func:`~divrec_rl.sweep.trial.one_configuration`; else an extra file or a run's
    ``config.yaml`` (:func:`~divrec_rl.training.config.read_extra`)."""
    from divrec_rl.resolve import read_yaml
    from divrec_rl.sweep.trial import one_configuration

    if Path(path).is_dir() or "space" in read_yaml(Path(path)):
        return one_configuration(path)
    return read_extra(path)


def run_train(args: argparse.Namespace) -> int:
    """Train a fresh run, or resume one (``--resume``); bad input raises a DivrecError."""
    from divrec_rl.training.runner import resume_run, train_run

    if args.resume:
        resume_run(args.resume, args, command=command_line())
        return 0
    import_modules(args)
    config, overrides = config_from_args(args, read_config_file)
    train_run(config, overrides, command=command_line(), imports=args.imports)
    return 0


run_train_command = guarded(run_train, _INTERRUPTED)


def add_train_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train`` to ``subparsers`` (``divrec-rl train``); the handler is ``args.func``."""
    parser = subparsers.add_parser(
        "train", help="train the PPO slate agent on a scenario", description=DESCRIPTION
    )
    add_train_arguments(parser)
    parser.set_defaults(func=run_train_command)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``scripts/train_agent.py``: parse ``argv``, train (or resume); return the exit code."""
    return script_main(add_train_arguments, run_train, DESCRIPTION, argv, prog, _INTERRUPTED)
