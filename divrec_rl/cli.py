"""``divrec-rl`` command line: assembles the subcommands of :mod:`divrec_rl.commands`.

Every subcommand handler returns an exit code.  Bad input (any
:class:`~divrec_rl.errors.DivrecError`) prints one ``error: …`` line per problem to stderr and
exits with 2 — never a traceback; Ctrl-C exits with 130.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from divrec_rl.commands.common import CommandParser, reader_gone, report_errors
from divrec_rl.commands.data import add_data_commands
from divrec_rl.commands.evaluate import add_evaluate_command
from divrec_rl.commands.scenarios import add_scenario_commands
from divrec_rl.commands.sensitivity import add_sensitivity_command
from divrec_rl.commands.simulate import add_simulate_command
from divrec_rl.commands.sweep import add_sweep_command
from divrec_rl.commands.train import add_train_command
from divrec_rl.commands.user_model import add_user_model_commands
from divrec_rl.errors import DivrecError

#: The subcommand groups, in ``--help`` order.
COMMANDS = (
    add_scenario_commands,
    add_simulate_command,
    add_data_commands,
    add_train_command,
    add_sweep_command,
    add_evaluate_command,
    add_sensitivity_command,
    add_user_model_commands,
)


def build_parser() -> CommandParser:
    """The full ``divrec-rl`` parser with every subcommand."""
    parser = CommandParser(
        prog="divrec-rl", description="Diversity-aware RL recommendation simulator."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``divrec-rl``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except DivrecError as exc:
        return report_errors(exc.errors)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return reader_gone()


if __name__ == "__main__":
    sys.exit(main())
