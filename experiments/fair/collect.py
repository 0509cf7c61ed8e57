"""Assemble the fair experiment's tables for docs/evaluation.md from the generated reports.

    python experiments/fair/collect.py SCENARIO TUNE_DIR EVAL_DIR [--sections ...]

Prints Markdown: the tuning sweep's best configurations (from ``TUNE_DIR/sweep.csv``), then the
named sections of ``EVAL_DIR/report.md`` verbatim (the tables ``divrec-rl evaluate`` wrote), so
no number is copied by hand.
"""

from __future__ import annotations

import argparse
import csv
import sys
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
    if not rows:
        sys.exit(f"error: {tune_dir / 'sweep.csv'}: no finished trial to tabulate")
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


def rl_contribution(tune_dir: Path) -> str:
    """What the PPO updates added to a warm start: per warm-started trial (behaviour cloning or
    a prior), the validation return at step 0 (the warm start itself), at the selected
    checkpoint and at the end, from the trial's TensorBoard curve ``val/mean_reward``."""
    import json

    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = []
    for run in sorted(tune_dir.glob("trials/*/*/config.yaml")):
        train = yaml.safe_load(run.read_text(encoding="utf-8"))["train"]
        if train["bc_from"] == "none" and train["prior"] == "none":
            continue
        events = EventAccumulator(str(run.parent))
        events.Reload()
        curve = [(e.step, e.value) for e in events.Scalars("val/mean_reward")]
        best = json.loads((run.parent / "best_model.json").read_text(encoding="utf-8"))
        rows.append((train, curve, best))
    rows.sort(key=lambda r: -r[2]["val"]["mean_reward"])
    out = ["| learning_rate | gamma | prior | bc_from | val return at step 0 | selected (step) "
           "| at the end |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for train, curve, best in rows:
        out.append(
            f"| {train['learning_rate']:g} | {train['gamma']:g} | {train['prior']} | "
            f"{train['bc_from']} | {curve[0][1]:.2f} | {best['val']['mean_reward']:.2f} "
            f"({best['step']}) | {curve[-1][1]:.2f} |"
        )
    out.append("")
    for label, group in (
        ("behaviour-cloned", [r for r in rows if r[0]["bc_from"] != "none"]),
        ("prior-only", [r for r in rows if r[0]["bc_from"] == "none"]),
    ):
        if not group:
            continue
        kept = sum(best["step"] == 0 for _, _, best in group)
        gains = [best["val"]["mean_reward"] - curve[0][1] for _, curve, best in group]
        out.append(f"- {len(group)} {label} trials: {kept} kept their step-0 checkpoint (no "
                   f"PPO update improved their validation return); selected minus step 0: "
                   f"median {sorted(gains)[len(gains) // 2]:+.2f}, largest "
                   f"{max(gains):+.2f}.")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("tune_dir", type=Path)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS))
    args = parser.parse_args(argv)
    for needed, made_by in (
        (args.tune_dir / "sweep.csv", "divrec-rl sweep (the tuning)"),
        (args.eval_dir / "report.md", "divrec-rl evaluate"),
    ):
        if not needed.is_file():
            sys.exit(f"error: {needed}: not found; it is written by {made_by}")
    report = (args.eval_dir / "report.md").read_text(encoding="utf-8")
    # Build every table before printing, so a failure leaves no half-written page behind.
    tuning, contribution = tuning_table(args.tune_dir), rl_contribution(args.tune_dir)
    print(f"### {args.scenario}\n")
    print("Tuning (validation users, one seed per configuration, best five):\n")
    print(tuning + "\n")
    print("What PPO's updates added to the warm starts (validation return):\n")
    print(contribution + "\n")
    for title in args.sections:
        # images are the report's own files, not the docs'
        body = "\n".join(x for x in section(report, title).splitlines() if not x.startswith("!["))
        if body.strip():
            print(f"#### {title}\n\n{body}\n")


if __name__ == "__main__":
    main()
