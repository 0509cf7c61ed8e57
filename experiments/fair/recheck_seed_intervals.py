#!/usr/bin/env python
"""Recompute every published seed-level interval of ``docs/evaluation.md`` with the corrected
method, from the per-seed differences the tables print.

Until 2026-12-03 the seed-level interval of a paired comparison was a two-stage percentile
bootstrap, which undercovers when trained models differ more than their users
(:mod:`divrec_rl.evaluation.stats`).  The reports' "Seed level" tables print the S per-seed mean
differences beside that interval, so the corrected interval -- the Student-t interval of those S
values, :func:`divrec_rl.evaluation.stats.t_interval` -- can be recomputed from the page itself,
without the runs.  The per-seed values are printed to 3 decimals: the recomputed bounds can
differ from an exact recomputation by a few units of the third decimal.

    python experiments/fair/recheck_seed_intervals.py                 # return rows, Markdown
    python experiments/fair/recheck_seed_intervals.py --all-metrics   # every metric

Prints one row per comparison: where it is (the page's headings), the comparison, the metric,
the published interval, the corrected one, and whether "the interval excludes 0" changed.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from divrec_rl.evaluation.stats import t_interval

ROOT = Path(__file__).resolve().parents[2]
_INTERVAL = re.compile(r"^(?P<mean>[-+]?[\d.]+) \[(?P<low>[-+]?[\d.]+), (?P<high>[-+]?[\d.]+)\]$")
_COMPARISON = re.compile(r"^\*\*(?P<a>.+?) − (?P<b>.+?)\*\*, paired")
#: Seed-level rows of metrics other than the verdict's (shown with --all-metrics).
_OTHER_METRICS = {"engagement", "episode_length", "user_mean_ild"}


@dataclass(frozen=True)
class Recheck:
    """One seed-level row of the page, published and corrected."""

    where: str
    comparison: str
    row: str
    published: tuple[float, float, float]
    corrected: tuple[float, float, float]

    @property
    def changed(self) -> bool:
        """Whether "the 95% interval excludes 0" reads differently now."""
        return _excludes(self.published) != _excludes(self.corrected)


def _excludes(ci: tuple[float, float, float]) -> bool:
    return ci[1] > 0 or ci[2] < 0


def _numbers(cell: str) -> list[float] | None:
    """The comma-separated signed numbers of a cell (≥ 2 of them), else None."""
    parts = [x.strip() for x in cell.replace("−", "-").replace("*", "").split(",")]
    try:
        values = [float(x) for x in parts]
    except ValueError:
        return None
    return values if len(values) >= 2 else None


def _seed_row(line: str) -> tuple[str, tuple[float, float, float], list[float]] | None:
    """``(first cell, published interval, per-seed values)`` of a table row that prints an
    interval followed by the per-seed differences it came from, else None."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    for i in range(1, len(cells) - 1):
        match = _INTERVAL.match(cells[i].replace("−", "-").replace("*", ""))
        values = _numbers(cells[i + 1])
        if match and values:
            ci = (float(match["mean"]), float(match["low"]), float(match["high"]))
            return cells[0], ci, values
    return None


#: A paragraph that opens with a bold phrase: its lead names what follows.
_LEAD = re.compile(r"^\*\*(?P<lead>[^*]+)\*\*")


def recheck(text: str) -> list[Recheck]:
    """Every seed-level row of ``text`` (the page), with its corrected interval: the report's
    "Seed level" tables and the hand-assembled tables that print per-seed differences."""
    headings: dict[int, str] = {}
    # The bold lead of the paragraph that introduces a table under a heading which holds
    # several ("**Retrained on a third machine, …**"): without it those rows read as the
    # heading's own table.
    lead = ""
    comparison, out = "", []
    fenced = False  # inside a ``` block, where "# …" is a shell comment, not a heading
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = line.lstrip("#").strip()
            lead = ""
            continue
        match = _COMPARISON.match(line)
        if match:
            comparison = f"{match['a']} − {match['b']}"
        elif bold := _LEAD.match(line):
            lead = bold["lead"].rstrip(".:")
        found = _seed_row(line) if line.startswith("|") else None
        if found is None:
            continue
        first, published, values = found
        ci = t_interval(np.array(values), 0.95)
        out.append(
            Recheck(
                where=" › ".join(
                    [*(headings[k] for k in sorted(headings) if k >= 3), *([lead] if lead else [])]
                ),
                comparison=comparison
                if first in (_OTHER_METRICS | {"return"})
                else "PPO − baseline",
                row=first,
                published=published,
                corrected=(ci.mean, ci.low, ci.high),
            )
        )
    return out


def _fmt(ci: tuple[float, float, float]) -> str:
    return f"{ci[0]:+.3f} [{ci[1]:+.3f}, {ci[2]:+.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default=str(ROOT / "docs" / "evaluation.md"))
    parser.add_argument(
        "--all-metrics", action="store_true", help="every metric, not only the return"
    )
    args = parser.parse_args(argv)
    try:
        text = Path(args.page).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: --page {args.page!r}: cannot read it ({exc})", file=sys.stderr)
        return 2
    rows = recheck(text)
    if not args.all_metrics:
        rows = [r for r in rows if r.row not in _OTHER_METRICS]
    print("| where | comparison | row | published (two-stage bootstrap) | corrected "
          "(Student-t over seeds) | excludes 0: published → corrected |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        flip = f"**{_excludes(r.published)} → {_excludes(r.corrected)}**" if r.changed else "same"
        print(
            f"| {r.where} | {r.comparison} | {r.row} | {_fmt(r.published)} | "
            f"{_fmt(r.corrected)} | {flip} |"
        )
    changed = sum(r.changed for r in rows)
    print(f"\n{len(rows)} rows, {changed} whose verdict on 0 changes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
