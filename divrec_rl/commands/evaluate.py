"""``divrec-rl evaluate`` / ``scripts/evaluate.py``: parse → run → write.  The work lives in
:mod:`divrec_rl.evaluation.runner` and :mod:`divrec_rl.evaluation.report`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

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
from divrec_rl.evaluation.settings import CROSS_MODEL

# The runner pulls in torch, scipy and pandas: imported by the handler, not at parser build time,
# so every other ``divrec-rl`` command starts fast.

__all__ = ["add_evaluate_arguments", "add_evaluate_command", "main", "run_evaluate"]

DEFAULT_AGENTS = "baseline,greedy,popularity,random"
DESCRIPTION = (
    "Compare agents on the same held-out users with the same seeds (common random numbers): "
    "writes OUT/results.csv (one row per agent and seed), OUT/report.md (protocol, means with "
    "95% bootstrap intervals, PPO vs baseline paired test, cross-simulator check) and PNG "
    "plots; with --save-trajectories also OUT/trajectories.csv (one row per step)."
)
_INTERRUPTED = "nothing was written"


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """Every flag of ``evaluate``."""
    add_scenario_arguments(
        p,
        scenario_help="scenario name, module:attr or YAML path (default: the scenario the first "
        "PPO run was trained on, else synthetic-shop)",
    )
    p.add_argument(
        "--allow-scenario-mismatch",
        action="store_true",
        help="evaluate PPO runs on a --scenario other than the one they were trained on "
        "(otherwise an error); the report notes the mismatch",
    )
    p.add_argument(
        "--agents",
        default=DEFAULT_AGENTS,
        metavar="LIST",
        help="comma-separated agents: ppo=RUN_DIR_OR_ZIP (more PPO runs as ppo-LABEL=PATH), "
        "baseline, baseline-mmr, baseline-dpp, supervised, greedy (the myopic oracle), "
        "attraction-ranker, popularity, random "
        f"(default: {DEFAULT_AGENTS})",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_held_out_arguments(p)
    p.add_argument("--save-trajectories", action="store_true", help="also write trajectories.csv")
    p.add_argument(
        "--cross-sim",
        default=CROSS_MODEL,
        metavar="MODEL",
        help=f"response model of the cross-simulator check, or 'none' (default: {CROSS_MODEL})",
    )
    p.add_argument(
        "--cross-behaviour",
        default="none",
        metavar="MODEL",
        help="behaviour model of the behaviour cross-check (e.g. quit-on-repetition), or 'none' "
        "(default: none)",
    )
    p.add_argument(
        "--ppo-sweep",
        default="",
        metavar="PATHS",
        help="comma-separated PPO runs trained with other reward λ, for the frontier plot",
    )
    p.add_argument(
        "--no-frontier", action="store_true", help="skip the frontier sweep and its plot"
    )
    add_baseline_arguments(p)
    p.add_argument(
        "--overwrite", action="store_true", help="replace the contents of a non-empty --out"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _cross_model(value: str, flag: str, table: Any) -> str | None:
    """The part named by a cross-check flag (``None`` for none or empty); an unknown name fails
    now, before any work, naming the flag and offering the close names."""
    name = value.strip()
    if name.lower() in ("none", ""):
        return None
    if name not in table:
        raise EvaluationError(f"{flag} {name}: {table.unknown_message(name)}")
    return name


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~divrec_rl.evaluation.runner.EvaluationConfig` of parsed arguments (raises a
    :class:`~divrec_rl.errors.DivrecError` on bad input)."""
    from divrec_rl.agents.registry import parse_agents
    from divrec_rl.evaluation.runner import EvaluationConfig
    from divrec_rl.parts import BEHAVIOURS
    from divrec_rl.scenario import RESPONSE_MODELS

    cross = _cross_model(args.cross_sim, "--cross-sim", RESPONSE_MODELS)
    sweep = [s.strip() for s in args.ppo_sweep.split(",") if s.strip()]
    behaviour = _cross_model(args.cross_behaviour, "--cross-behaviour", BEHAVIOURS)
    return EvaluationConfig(
        agents=parse_agents(args.agents),
        scenario=args.scenario,
        allow_scenario_mismatch=args.allow_scenario_mismatch,
        config_files=list(args.config),
        overrides=scenario_overrides(args),
        seeds=args.seeds,
        first_seed=args.first_seed,
        users=args.users,
        save_trajectories=args.save_trajectories,
        cross_sim=cross,
        cross_behaviour=behaviour,
        ppo_sweep=sweep,
        frontier=not args.no_frontier,
        baseline=baseline_settings(args),
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate and write the report; bad input raises a DivrecError (exit 2)."""
    from divrec_rl.evaluation.io import check_output_dir
    from divrec_rl.evaluation.report import write_evaluation
    from divrec_rl.evaluation.runner import evaluate

    import_modules(args)
    config = config_from_args(args)
    check_output_dir(args.out, args.overwrite)
    result = evaluate(config, progress=not args.quiet)
    out = write_evaluation(result, args.out, invoked_command(), args.overwrite)
    if not args.quiet:
        print(f"wrote {out}/results.csv and {out}/report.md ({result.timings['total']:.1f} s)")
    return 0


def add_evaluate_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``evaluate`` (``divrec-rl evaluate``)."""
    p = subparsers.add_parser(
        "evaluate",
        help="compare agents on held-out users, write a report",
        description=DESCRIPTION,
    )
    add_evaluate_arguments(p)
    p.set_defaults(func=guarded(run_evaluate, _INTERRUPTED))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Stand-alone entry point of ``scripts/evaluate.py`` (same flags as ``divrec-rl evaluate``)."""
    return script_main(add_evaluate_arguments, run_evaluate, DESCRIPTION, argv, prog, _INTERRUPTED)
