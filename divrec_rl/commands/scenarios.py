"""``divrec-rl scenarios list | show NAME | validate FILE… | schema``."""

from __future__ import annotations

import argparse

import yaml

from divrec_rl.commands.common import (
    add_import_argument,
    import_modules,
    reference_table,
    report_errors,
)
from divrec_rl.config import schema_reference
from divrec_rl.errors import DivrecError
from divrec_rl.resolve import resolve_scenario, scenario_names
from divrec_rl.scenario import check_scenario


def add_scenario_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``scenarios`` command group."""
    p = subparsers.add_parser("scenarios", help="list, show, validate scenarios; print the schema")
    sub = p.add_subparsers(dest="scenarios_command", metavar="ACTION", parser_class=type(p))
    listing = sub.add_parser("list", help="registered scenarios")
    add_import_argument(listing)
    listing.set_defaults(func=_list)
    show = sub.add_parser("show", help="the resolved scenario as YAML")
    show.add_argument("name", help="scenario name, module:attr or YAML path")
    add_import_argument(show)
    show.set_defaults(func=_show)
    val = sub.add_parser(
        "validate",
        help="check scenarios as training would: resolve and build each; report every error",
    )
    val.add_argument("files", nargs="+", help="scenario YAML files (or names, module:attr)")
    add_import_argument(val)
    val.set_defaults(func=_validate)
    sch = sub.add_parser("schema", help="the scenario field reference (Markdown)")
    sch.set_defaults(func=_schema)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _list(args: argparse.Namespace) -> int:
    import_modules(args)
    for name in scenario_names():
        try:
            desc = resolve_scenario(name).description
        except DivrecError as exc:
            desc = f"(invalid: {exc.errors[0]})"
        first = desc.split(". ")[0].strip()
        print(f"{name:24s} {first}")
    return 0


def _show(args: argparse.Namespace) -> int:
    import_modules(args)
    config = resolve_scenario(args.name)
    print(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end=""
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    import_modules(args)
    errors: list[str] = []
    for f in args.files:
        problems = check_scenario(f)
        errors.extend(problems)
        if not problems:
            print(f"{f}: ok")
    if errors:
        return report_errors(errors)
    return 0


def schema_markdown() -> str:
    """The field reference table generated from the schema."""
    return reference_table(schema_reference())


def _schema(args: argparse.Namespace) -> int:
    print(schema_markdown(), end="")
    return 0
