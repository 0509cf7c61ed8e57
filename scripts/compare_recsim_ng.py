"""Compare RecSim NG's interest-evolution user with our ``interest-evolution`` scenario.

Runs both under the same configuration and policies and writes ``report.md``,
``comparison.csv``, ``per_step.csv`` and ``comparison.png`` to ``--out``.  RecSim NG runs in its
own environment: ``bash scripts/recsim_ng/setup.sh`` once (see docs/recsim-ng.md).

    python scripts/compare_recsim_ng.py --out out/recsim-ng [--users N] [--seed S] \\
        [--config FILE.json] [--recsim-python PATH]

Bad input (a configuration field, a missing RecSim NG environment) prints one ``error:`` line and
exits with 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from divrec_rl.config import ScenarioError
from divrec_rl.interop.recsim_ng import (
    RecSimNGError,
    compare,
    default_python,
    load_config,
    parse_config,
)

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "scripts" / "recsim_ng" / "run_interest_evolution.py"


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="Output directory of the report.")
    p.add_argument(
        "--config",
        help="JSON file of RecSim NG configuration fields "
        "(num_users, num_topics, num_docs, slate_size, horizon, seed, policies).",
    )
    p.add_argument("--users", type=int, default=None, help="Overrides num_users.")
    p.add_argument("--seed", type=int, default=None, help="Overrides seed.")
    p.add_argument("--horizon", type=int, default=None, help="Overrides horizon.")
    p.add_argument("--policies", default=None, help="Comma-separated subset of random,greedy.")
    p.add_argument(
        "--recsim-python",
        type=Path,
        default=None,
        help="Python of the RecSim NG environment (default: $RECSIM_NG_PYTHON, "
        "else .venv-recsim/bin/python).",
    )
    p.add_argument("--no-plot", action="store_true", help="Skip comparison.png.")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("num_users", args.users),
            ("seed", args.seed),
            ("horizon", args.horizon),
            ("policies", args.policies),
        )
        if value is not None
    }
    python = args.recsim_python or default_python(REPO)
    start = time.perf_counter()
    try:
        cfg = load_config(args.config, overrides) if args.config else parse_config(overrides)
        result = compare(cfg, args.out, python, RUNNER, plot=not args.no_plot)
    except (ScenarioError, RecSimNGError) as exc:
        for line in getattr(exc, "errors", [str(exc)]):
            print(f"error: {line}", file=sys.stderr)
        return 2
    for policy in cfg.policies:
        ng, us = result.recsim[policy]["summary"], result.ours[policy]["summary"]
        print(
            f"{policy}: click rate RecSim NG {ng['click_rate']:.3f} / divrec-rl "
            f"{us['click_rate']:.3f}; topic entropy {ng['topic_entropy_bits']:.2f} / "
            f"{us['topic_entropy_bits']:.2f} bits"
        )
    print(f"report: {Path(args.out) / 'report.md'} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
