"""What every subcommand shares: the parser class, the scenario arguments, the error printer.

* :class:`CommandParser` — argparse with exit code 2 and one ``error:`` line on a usage error;
* :func:`add_scenario_arguments` — ``--scenario``, ``--config EXTRA.yaml`` (repeatable),
  ``--set KEY=VALUE`` (repeatable; parsed by :func:`divrec_rl.training.config.parse_set`, the one
  ``--set`` parser) and ``--import MODULE`` (repeatable; imported before the scenario is
  resolved, so a scenario a user's module registers with ``@register_scenario`` can be named);
* :func:`report_errors` / :func:`guarded` — every :class:`~divrec_rl.errors.DivrecError` becomes
  one ``error: …`` line per problem on stderr and exit code 2 (never a traceback);
  ``KeyboardInterrupt`` becomes exit code 130;
* :func:`script_main` — the stand-alone parsers of ``scripts/*.py`` (same flags as the CLI).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from divrec_rl.errors import DivrecError
from divrec_rl.resolve import import_plugins
from divrec_rl.training.config import parse_set
from divrec_rl.training.settings import add_model_arguments, given_fields

__all__ = [
    "CommandParser",
    "Handler",
    "add_held_out_arguments",
    "add_scenario_arguments",
    "guarded",
    "import_modules",
    "reader_gone",
    "report_errors",
    "run_handler",
    "scenario_overrides",
    "script_main",
]

Handler = Callable[[argparse.Namespace], int]


class CommandParser(argparse.ArgumentParser):
    """argparse with exit code 2 and a single ``error:`` line (argparse's own convention)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def report_errors(errors: Sequence[str]) -> int:
    """Print one ``error:`` line per problem to stderr (each squeezed onto one line); return 2."""
    for line in errors:
        print(f"error: {' '.join(str(line).split())}", file=sys.stderr)
    return 2


#: What to print after Ctrl-C: a fixed hint, or one made from the command's arguments.
Interrupted = str | Callable[[argparse.Namespace], str]


def run_handler(handler: Handler, args: argparse.Namespace, interrupted: Interrupted = "") -> int:
    """``handler(args)``: its exit code, 2 for a DivrecError, 130 for Ctrl-C."""
    try:
        return int(handler(args) or 0)
    except DivrecError as exc:
        return report_errors(exc.errors)
    except KeyboardInterrupt as exc:
        # A handler that knows more (e.g. whether a checkpoint exists) says so in the exception.
        hint = interrupted if isinstance(interrupted, str) else interrupted(args)
        hint = str(exc.args[0]) if exc.args else hint
        print(f"interrupted{': ' + hint if hint else ''}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return reader_gone()


def reader_gone() -> int:
    """Exit status after the reader of stdout went away (``divrec-rl … | head``): stop quietly,
    as Unix tools do, with 128 + SIGPIPE; stdout goes to /dev/null so that flushing it at exit
    raises nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


def guarded(handler: Handler, interrupted: Interrupted = "") -> Handler:
    """``handler`` wrapped by :func:`run_handler` (for use as ``args.func``)."""

    def run(args: argparse.Namespace) -> int:
        return run_handler(handler, args, interrupted)

    run.__name__ = getattr(handler, "__name__", "run")
    run.__doc__ = handler.__doc__
    return run


def add_scenario_arguments(
    p: argparse.ArgumentParser,
    *,
    scenario_help: str = "scenario name, module:attr or YAML path",
    config_help: str = "extra config file(s)",
    set_help: str = "override one field",
) -> None:
    """The scenario arguments every command shares; ``--scenario`` defaults to ``None`` (the
    command picks the default), the repeatable ones to empty lists."""
    p.add_argument("--scenario", default=None, metavar="SCENARIO", help=scenario_help)
    p.add_argument("--config", action="append", default=[], metavar="EXTRA.yaml", help=config_help)
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=set_help,
    )
    add_import_argument(p)


def add_import_argument(p: argparse.ArgumentParser) -> None:
    """``--import MODULE`` (repeatable): plug-in modules to import before anything is resolved."""
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this Python module first (repeatable), e.g. one that registers a scenario "
        "with @register_scenario; it must be importable (from the working directory, sys.path "
        "or PYTHONPATH)",
    )


def add_held_out_arguments(p: argparse.ArgumentParser) -> None:
    """Which held-out users an evaluation meets: ``--seeds N``, ``--first-seed S`` (seeds
    S … S+N−1) and ``--users N`` per seed (``evaluate`` and ``sensitivity``)."""
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds S..S+N-1 (default 3)")
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        metavar="S",
        help="first evaluation seed S (default 0).  A range no earlier evaluation used gives "
        "held-out users no choice was made on, for a confirmatory run (generated populations: "
        "new users; MovieLens: the same real users with new random streams)",
    )
    p.add_argument(
        "--users", type=int, default=1000, metavar="N", help="held-out users per seed (1000)"
    )


def add_baseline_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per field of the supervised baseline's settings (``--log-users``,
    ``--baseline-fits`` …), as ``evaluate`` and ``sensitivity`` take them."""
    from divrec_rl.evaluation.settings import BaselineSettings

    add_model_arguments(
        p.add_argument_group("baseline (logging, click model, tuning grid on validation users)"),
        BaselineSettings,
    )


def baseline_settings(args: argparse.Namespace) -> Any:
    """The :class:`~divrec_rl.evaluation.settings.BaselineSettings` of the given flags."""
    from divrec_rl.evaluation.settings import BaselineSettings

    return BaselineSettings(**given_fields(BaselineSettings, args))


def reference_table(rows: Iterable[tuple[str, str, Any, str]]) -> str:
    """A Markdown field reference (``field | type | default | meaning``) from a schema's rows —
    the scenario reference and the sweep-file reference are both rendered by it."""
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for field, tname, default, desc in rows:
        cells = [f"`{field}`", tname, f"`{default}`", desc]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def invoked_command() -> str:
    """The command line of this process as a user would retype it (``python scripts/x.py …``
    for a script, ``divrec-rl …`` for the console entry point), for "reproduce with" lines."""
    program = sys.argv[0]
    head = ["python", program] if program.endswith(".py") else [Path(program).name]
    return shlex.join([*head, *sys.argv[1:]])


def import_modules(args: argparse.Namespace | Any) -> None:
    """Import the ``--import`` modules of ``args`` (a ScenarioError names a failing one)."""
    import_plugins(list(getattr(args, "imports", None) or []))


def scenario_overrides(args: argparse.Namespace | Any) -> dict[str, Any]:
    """The nested overrides of ``args``'s ``--set`` items."""
    return parse_set(list(getattr(args, "overrides", None) or []))


def script_main(
    add_arguments: Callable[[argparse.ArgumentParser], None],
    handler: Handler,
    description: str,
    argv: Sequence[str] | None = None,
    prog: str | None = None,
    interrupted: Interrupted = "",
) -> int:
    """Entry point of a ``scripts/*.py`` wrapper: parse with the command's own arguments, run
    the same handler as the CLI, map errors to exit codes."""
    parser = CommandParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_handler(handler, args, interrupted)
