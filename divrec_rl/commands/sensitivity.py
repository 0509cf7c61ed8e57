"""``divrec-rl sensitivity`` / ``scripts/sensitivity_scan.py``: parse → scan → write.  The work
lives in :mod:`divrec_rl.evaluation.sensitivity`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from divrec_rl.commands.common import (
    add_baseline_arguments,
    add_held_out_arguments,
    add_scenario_arguments,
    baseline_settings,
    guarded,
    import_modules,
    invoked_command,
    scenario_overrides,
    script_main,
)
from divrec_rl.errors import EvaluationError

__all__ = ["add_sensitivity_command", "main", "run_sensitivity"]

DEFAULT_AGENTS = "baseline,greedy,popularity,random"
DEFAULT_FACTORS = "0,0.5,0.75,1,1.5"
DESCRIPTION = (
    "Scale the scenario's boredom and/or patience strength by each factor and evaluate the agents "
    "on the same held-out users at every setting (the baseline fitted and tuned anew each time): "
    "writes OUT/sensitivity.md (mean return and agent − reference with 95% intervals per "
    "factor), OUT/sensitivity.csv and OUT/sensitivity.png."
)


def add_sensitivity_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``divrec-rl sensitivity``."""
    add_scenario_arguments(p)
    p.add_argument(
        "--agents",
        default=DEFAULT_AGENTS,
        metavar="LIST",
        help=f"agents without PPO, as for evaluate (default: {DEFAULT_AGENTS})",
    )
    p.add_argument(
        "--ppo",
        action="append",
        default=[],
        metavar="FACTOR=RUN",
        help="the PPO run trained at FACTOR (repeatable); factors without one "
        "are scanned without PPO",
    )
    p.add_argument(
        "--factors",
        default=DEFAULT_FACTORS,
        metavar="LIST",
        help=f"comma-separated strength factors ≥ 0 (default {DEFAULT_FACTORS})",
    )
    p.add_argument(
        "--vary",
        default="both",
        choices=("both", "boredom", "patience"),
        help="which mechanism to scale (default both)",
    )
    p.add_argument(
        "--reference",
        default="baseline",
        metavar="LABEL",
        help="differences are taken against this agent (default baseline)",
    )
    add_held_out_arguments(p)
    # The baseline's settings as `evaluate` takes them (--baseline-fits K: K fits, fit s playing
    # evaluation seed s, refitted at every factor).
    add_baseline_arguments(p)
    p.add_argument(
        "--allow-scenario-mismatch",
        action="store_true",
        help="scan PPO runs trained on other settings than the scenario at their factor "
        "(noted in sensitivity.md) instead of refusing them",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise EvaluationError(f"{flag}: expected comma-separated numbers, got {text!r}") from None


def _ppo_runs(items: list[str]) -> dict[float, str]:
    """``--ppo FACTOR=RUN`` items as factor → run; a malformed item or a factor given twice is
    an EvaluationError naming it."""
    runs: dict[float, str] = {}
    for item in items:
        text, sep, path = item.partition("=")
        try:
            factor = float(text)
        except ValueError:
            factor = None
        if not sep or not path.strip() or factor is None:
            raise EvaluationError(f"--ppo: expected FACTOR=RUN with a number FACTOR, got {item!r}")
        if factor in runs:
            raise EvaluationError(f"--ppo: factor {factor:g} is given twice")
        runs[factor] = path.strip()
    return runs


def run_sensitivity(args: argparse.Namespace) -> int:
    """Scan and write; bad input raises a DivrecError (exit 2) before anything is evaluated."""
    from divrec_rl.agents.registry import parse_agents
    from divrec_rl.atomic import check_directory, make_directory
    from divrec_rl.evaluation.runner import EvaluationConfig
    from divrec_rl.evaluation.sensitivity import check_factors, scan, write_scan

    import_modules(args)
    factors = _floats(args.factors, "--factors")
    check_factors(factors)
    ppo_runs = _ppo_runs(args.ppo)
    base = EvaluationConfig(
        agents=parse_agents(args.agents),
        scenario=args.scenario,
        config_files=list(args.config),
        overrides=scenario_overrides(args),
        seeds=args.seeds,
        first_seed=args.first_seed,
        users=args.users,
        baseline=baseline_settings(args),
        allow_scenario_mismatch=args.allow_scenario_mismatch,
    )
    what = f"--out {args.out!r}"
    check_directory(Path(args.out), what, EvaluationError)  # before minutes of evaluation
    say = None if args.quiet else (lambda text: print(text, flush=True))
    result = scan(base, factors, args.vary, ppo_runs, args.reference, say)
    out = make_directory(Path(args.out), what, EvaluationError)
    header = f"# Sensitivity scan ({args.vary})\n\nReproduce: `{invoked_command()}`"
    paths = write_scan(result, out, header, args.reference)
    if say:
        say("wrote " + ", ".join(str(p) for p in paths))
    return 0


def add_sensitivity_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sensitivity`` (``divrec-rl sensitivity``)."""
    p = subparsers.add_parser(
        "sensitivity",
        help="scan boredom/patience strength: agents' returns and differences per setting",
        description=DESCRIPTION,
    )
    add_sensitivity_arguments(p)
    p.set_defaults(func=guarded(run_sensitivity))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Stand-alone entry point of ``scripts/sensitivity_scan.py``."""
    return script_main(add_sensitivity_arguments, run_sensitivity, DESCRIPTION, argv, prog)
