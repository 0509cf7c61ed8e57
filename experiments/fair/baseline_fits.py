"""How much the comparison depends on the seed of the baseline's click-model fits.

    python experiments/fair/baseline_fits.py FIT_DIR [FIT_DIR ...]

Each ``FIT_DIR`` is the output of one ``divrec-rl evaluate ... --baseline-seed S`` run (the same
agents, users and seeds; only the baseline's fit seed differs).  Prints one Markdown table row per
run, read from its ``report.md`` (nothing recomputed): the fit seed, the baseline's chosen
setting and validation return ("Baseline tuning"), its held-out return ("Results"), and for
every PPO agent the seed-level paired PPO − baseline return with its 95% interval and the number
of evaluation seeds PPO won.  A last line says, per PPO agent, whether the sign of the interval
(above 0, below 0, or containing 0) is the same for every fit.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect import section

_BLOCK = re.compile(r"^\*\*(ppo[^ ]*) − baseline\*\*", re.MULTILINE)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def fit_seed(report: str, where: Path) -> str:
    """The baseline's fit seed: the protocol's "fit seed N" (reports written since it was
    added), else the ``--baseline-seed N`` of the report's regenerate command."""
    found = re.search(r"fit seed (-?\d+)", report) or re.search(r"--baseline-seed (-?\d+)", report)
    if not found:
        sys.exit(
            f"error: {where}: names no baseline fit seed (no 'fit seed N' in its protocol, no "
            "--baseline-seed in its command); is it a divrec-rl evaluate report?"
        )
    return found.group(1)


def chosen_setting(report: str) -> tuple[str, str]:
    """(β / re-ranker / λ, validation return) of the ``(chosen)`` tuning row."""
    for line in section(report, "Baseline tuning (validation users)").splitlines():
        if "**(chosen)**" in line:
            beta, method, lam, ret = _cells(line)[:4]
            rerank = "no re-ranking" if method == "none" else f"{method} λ {lam}"
            return f"β {beta}, {rerank}", ret.replace("**(chosen)**", "").strip()
    return "?", "?"


def held_out_return(report: str) -> str:
    """The baseline's held-out return (the results table's ``return`` column)."""
    lines = [
        x for x in section(report, "Results (held-out users)").splitlines() if x.startswith("|")
    ]
    column = _cells(lines[0]).index("return")
    row = next(_cells(x) for x in lines if _cells(x)[0] == "baseline")
    return row[column].split(" [")[0]


def seed_level(report: str) -> dict[str, tuple[str, str]]:
    """Per PPO label: (return difference with its seed-level interval, seeds PPO won)."""
    paired = section(report, "PPO against the supervised baseline (paired)")
    out: dict[str, tuple[str, str]] = {}
    blocks = list(_BLOCK.finditer(paired))
    for i, block in enumerate(blocks):
        body = paired[block.end() : blocks[i + 1].start() if i + 1 < len(blocks) else None]
        seed_table = body.split("Seed level", 1)[-1]
        row = next(_cells(x) for x in seed_table.splitlines() if x.startswith("| return |"))
        out[block.group(1)] = (row[1], row[3])
    return out


def _sign(difference: str) -> str:
    low, high = (float(x) for x in difference.split("[")[1].rstrip("]").split(","))
    return "above 0" if low > 0 else "below 0" if high < 0 else "contains 0"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit_dirs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for fit_dir in args.fit_dirs:
        path = fit_dir / "report.md"
        if not path.is_file():
            sys.exit(f"error: {path}: not found; it is written by divrec-rl evaluate")
        report = path.read_text(encoding="utf-8")
        rows.append((fit_seed(report, path), *chosen_setting(report), held_out_return(report),
                     seed_level(report)))  # fmt: skip
    labels = list(rows[0][4])
    head = "| fit seed | chosen setting | validation return | held-out return | "
    head += " | ".join(f"{label} − baseline (seeds won)" for label in labels) + " |"
    print(head)
    print("|---" * (4 + len(labels)) + "|")
    for seed, setting, val, held, paired in rows:
        diffs = " | ".join(f"{paired[x][0]} ({paired[x][1]})" for x in labels)
        print(f"| {seed} | {setting} | {val} | {held} | {diffs} |")
    print()
    for label in labels:
        signs = {_sign(paired[label][0]) for *_, paired in rows}
        verdict = f"the same for all {len(rows)} fits: {signs.pop()}" if len(signs) == 1 else (
            "differs between fits: " + ", ".join(sorted(signs)))  # fmt: skip
        print(f"- {label} − baseline, seed-level interval {verdict}.")


if __name__ == "__main__":
    main()
