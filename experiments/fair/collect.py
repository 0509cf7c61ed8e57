"""Assemble the fair experiment's tables for docs/evaluation.md from the generated reports.

    python experiments/fair/collect.py SCENARIO TUNE_DIR EVAL_DIR [--sections ...]

Prints Markdown: the tuning sweep's best configurations (from ``TUNE_DIR/sweep.csv``), then the
named sections of ``EVAL_DIR/report.md`` verbatim (the tables ``divrec-rl evaluate`` wrote), so
no number is copied by hand.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

SECTIONS = (
    "Results (held-out users)",
    "PPO against the supervised baseline (paired)",
    "Offline accuracy on real users",
    "Behaviour cross-check",
    "Cross-simulator check",
)


def section(report: str, title: str) -> str:
    """The body of ``## title`` in ``report`` (up to the next ``## ``), or '' if absent."""
    lines = report.splitlines()
    try:
        start = lines.index(f"## {title}") + 1
    except ValueError:
        return ""
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).strip()


def tuning_table(tune_dir: Path, top: int = 5) -> str:
    """The ``top`` configurations of a one-seed tuning sweep by the validation metric."""
    with open(tune_dir / "sweep.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "finished"]
    keys = [k for k in rows[0] if k.startswith("train.")]
    metric = "val/mean_reward"
    rows.sort(key=lambda r: -float(r[metric]))
    short = [k.removeprefix("train.") for k in keys]
    head = "| rank | " + " | ".join(short) + " | val return | chosen |"
    out = [head, "|---" * (len(keys) + 3) + "|"]
    for i, r in enumerate(rows[:top], 1):
        cells = [r[k] for k in keys]
        out.append(f"| {i} | " + " | ".join(cells) + f" | {float(r[metric]):.2f} | "
                   f"{r.get('chosen', '')} |")  # fmt: skip
    values = sorted(float(r[metric]) for r in rows)
    out.append("")
    out.append(f"{len(rows)} configurations finished; validation return from {values[0]:.2f} to "
               f"{values[-1]:.2f} (median {values[len(values) // 2]:.2f}).")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("tune_dir", type=Path)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS))
    args = parser.parse_args()
    report = (args.eval_dir / "report.md").read_text(encoding="utf-8")
    print(f"### {args.scenario}\n")
    print("Tuning (validation users, one seed per configuration, best five):\n")
    print(tuning_table(args.tune_dir) + "\n")
    for title in args.sections:
        body = section(report, title)
        if body:
            print(f"#### {title}\n\n{body}\n")


if __name__ == "__main__":
    main()
