"""``divrec-rl sweep`` / ``scripts/sweep.py``: parse, run the sweep on Ray Tune, print.

The work is in :mod:`divrec_rl.sweep.driver`; without the ``[ray]`` extra the command prints
the one install command and exits with 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from divrec_rl.commands.common import guarded, reference_table, script_main
from divrec_rl.errors import SweepError

__all__ = [
    "add_sweep_arguments",
    "add_sweep_command",
    "main",
    "run_sweep_command",
    "schema_markdown",
]

DESCRIPTION = (
    "Train many PPO runs on Ray Tune from a sweep file (a search space over scenario and train "
    "fields, seeds, optional ASHA early stopping). Every trial is an ordinary run directory "
    "under OUT/trials/; the configuration is chosen on validation users only. Writes "
    "OUT/sweep.csv (one row per trial) and OUT/summary.md (per configuration: mean over seeds "
    "with a seed-level 95% interval, the chosen configuration)."
)
_INTERRUPTED = "continue with --resume"


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """Every flag of ``sweep``."""
    p.add_argument(
        "sweep_file", nargs="?", metavar="SWEEP.yaml", help="the sweep file (see docs/sweeps.md)"
    )
    p.add_argument(
        "--schema",
        action="store_true",
        help="print the sweep file reference (Markdown, as in docs/sweeps.md) and exit",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="sweep directory (default: sweeps/<file name without .yaml>); on a cluster it must "
        "be on storage every node reaches at the same path",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="auto|HOST:PORT",
        help="join a Ray cluster started with `ray start --head` (auto: the one on this "
        "machine); default: start Ray in this process with this machine's CPUs",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        metavar="N",
        help="run at most N trials at once (default: as many as the resources allow)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep in --out after its driver was killed: finished trials are "
        "kept, interrupted ones continue from their own checkpoints",
    )


def schema_markdown() -> str:
    """The sweep file reference table, generated from the schema."""
    from divrec_rl.sweep.spec import sweep_reference

    return reference_table(sweep_reference())


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run the sweep and print where its results are; bad input raises a DivrecError."""
    from divrec_rl.sweep.driver import run_sweep

    if args.schema:
        print(schema_markdown(), end="")
        return 0
    if not args.sweep_file:
        raise SweepError("SWEEP.yaml: give a sweep file (see docs/sweeps.md)")

    outcome = run_sweep(
        args.sweep_file,
        args.out,
        address=args.address,
        max_concurrent=args.max_concurrent,
        resume=args.resume,
    )
    statuses = [row.status for row in outcome.rows]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    print(f"sweep directory: {outcome.sweep_dir} ({len(statuses)} trials: {counts})")
    print(f"chosen on validation users: {outcome.chosen or 'none'} (see summary.md)")
    return 0


def add_sweep_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep`` (``divrec-rl sweep``)."""
    p = subparsers.add_parser(
        "sweep", help="train many PPO runs on Ray Tune from a sweep file", description=DESCRIPTION
    )
    add_sweep_arguments(p)
    p.set_defaults(func=guarded(run_sweep_command, _INTERRUPTED))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Stand-alone entry point of ``scripts/sweep.py`` (same flags as ``divrec-rl sweep``)."""
    return script_main(
        add_sweep_arguments, run_sweep_command, DESCRIPTION, argv, prog, _INTERRUPTED
    )
