"""``divrec-rl`` command line: thin parsing, the work lives in the library.

Every subcommand handler returns an exit code.  Bad input (a scenario error, a data error, an
unknown name) prints one ``error: …`` line per problem to stderr and exits with 2 — never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from divrec_rl.config import ScenarioError

# Each entry adds its subcommands to the parser: "module:function(subparsers)".
COMMAND_PROVIDERS: list[str] = [
    "divrec_rl.commands.scenarios:add_scenario_commands",
    "divrec_rl.commands.simulate:add_simulate_command",
    "divrec_rl.data.commands:add_data_commands",
    "divrec_rl.train:add_train_command",
    "divrec_rl.evaluation.command:add_evaluate_command",
    "divrec_rl.bert.commands:add_user_model_commands",
]


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and a single ``error:`` line (argparse's own convention)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``divrec-rl`` parser with every provider's subcommands."""
    parser = _Parser(prog="divrec-rl", description="Diversity-aware RL recommendation simulator.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for spec in COMMAND_PROVIDERS:
        module_name, _, func = spec.partition(":")
        getattr(importlib.import_module(module_name), func)(sub)
    return parser


def report_errors(errors: Sequence[str]) -> int:
    """Print one ``error:`` line per problem to stderr; return exit code 2."""
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``divrec-rl``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        return report_errors(exc.errors)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
