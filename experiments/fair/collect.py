"""Assemble the fair experiment's tables for docs/evaluation.md from the generated reports.

    python experiments/fair/collect.py SCENARIO TUNE_DIR EVAL_DIR [--seeds-dir SEEDS_DIR]
                                       [--sections ...]

Prints Markdown: the tuning sweep's best configurations (from ``TUNE_DIR/sweep.csv``) and, when
the sweep had a confirmation stage, each confirmed configuration's scores; with ``--seeds-dir``
(the stage-2 sweep) a selection check, the chosen configuration's tuning score against its
retrained seeds' validation returns and the tuned baseline's; then the named
sections of ``EVAL_DIR/report.md`` verbatim (the tables ``divrec-rl evaluate`` wrote), so no
number is copied by hand.
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


def _is_search(row: dict[str, str]) -> bool:
    """A trial of the search (sweeps before the confirmation stage have no ``phase`` column)."""
    return row.get("phase", "search") in ("search", "")


def tuning_table(tune_dir: Path, top: int = 5) -> str:
    """The ``top`` configurations of a one-seed tuning sweep by the validation metric (its
    search trials; :func:`confirmation_table` shows the confirmation stage)."""
    with open(tune_dir / "sweep.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "finished" and _is_search(r)]
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


def confirmation_table(tune_dir: Path) -> str:
    """Per configuration of the confirmation stage: its search score, the confirmation seeds'
    scores and the mean over all seeds (what the choice was made by); '' without the stage."""
    rows = _finished(tune_dir)
    confirmed = [r for r in rows if not _is_search(r)]
    if not confirmed:
        return ""
    keys = [k for k in rows[0] if k.startswith("train.")]

    def label(row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[k] for k in keys)

    wanted = {label(c) for c in confirmed}
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        if label(row) in wanted:
            groups.setdefault(label(row), []).append(row)
    short = [k.removeprefix("train.") for k in keys]
    out = ["| " + " | ".join(short) + " | search seed | confirmation seeds | mean | chosen |",
           "|---" * (len(keys) + 4) + "|"]  # fmt: skip
    ranked = sorted(groups.values(), key=lambda g: -sum(float(r["val/mean_reward"]) for r in g)
                    / len(g))  # fmt: skip
    for group in ranked:
        search = [float(r["val/mean_reward"]) for r in group if _is_search(r)]
        more = sorted((int(r["seed"]), float(r["val/mean_reward"])) for r in group
                      if not _is_search(r))  # fmt: skip
        values = search + [v for _, v in more]
        cells = " | ".join(group[0][k] for k in keys)
        out.append(
            f"| {cells} | {', '.join(f'{v:.2f}' for v in search)} | "
            + ", ".join(f"{v:.2f} ({s})" for s, v in more)
            + f" | {sum(values) / len(values):.2f} | {group[0].get('chosen', '')} |"
        )
    return "\n".join(out)


def rl_contribution(tune_dir: Path) -> str:
    """What the PPO updates added to a warm start: per warm-started trial (behaviour cloning or
    a prior), the validation return at step 0 (the warm start itself), at the selected
    checkpoint and at the end, from the trial's TensorBoard curve ``val/mean_reward``."""
    import json

    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows, unfinished = [], 0
    for run in sorted(tune_dir.glob("trials/*/*/config.yaml")):
        train = yaml.safe_load(run.read_text(encoding="utf-8"))["train"]
        if train["bc_from"] == "none" and train["prior"] == "none":
            continue
        events = EventAccumulator(str(run.parent))
        events.Reload()
        best_file = run.parent / "best_model.json"
        # A trial that failed or was cut off before its first validation has neither.
        if "val/mean_reward" not in events.Tags()["scalars"] or not best_file.is_file():
            unfinished += 1
            continue
        curve = [(e.step, e.value) for e in events.Scalars("val/mean_reward")]
        best = json.loads(best_file.read_text(encoding="utf-8"))
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
    if unfinished:
        out.append(f"- {unfinished} warm-started trial(s) without a validation curve or a "
                   "selected checkpoint (failed or unfinished) are left out.")  # fmt: skip
    return "\n".join(out)


def _finished(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "sweep.csv", newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["status"] == "finished"]


def baseline_validation(report: str) -> float | None:
    """The tuned baseline's validation return: the ``(chosen)`` row of the report's
    ``Baseline tuning`` table (its fourth column), or ``None`` without one."""
    for line in section(report, "Baseline tuning (validation users)").splitlines():
        if "**(chosen)**" in line:
            return float(line.split("|")[4].replace("**(chosen)**", ""))
    return None


def selection_check(tune_dir: Path, seeds_dir: Path, report: str) -> str:
    """How the chosen configuration's one-seed tuning score compares with the validation return
    of its retrained seeds (their selected checkpoints) and with the tuned baseline's: a tuning
    score far above its seeds' mean is the winner's curse of picking the best of many one-seed
    runs."""
    import json
    import statistics

    chosen = [r for r in _finished(tune_dir) if r.get("chosen") == "yes"]
    seeds = sorted(_finished(seeds_dir), key=lambda r: int(r["seed"]))
    if not chosen or not seeds:
        return ""
    values = [float(r["val/mean_reward"]) for r in seeds]
    steps = [
        json.loads((seeds_dir / r["run_dir"] / "best_model.json").read_text(encoding="utf-8"))[
            "step"
        ]
        if (seeds_dir / r["run_dir"] / "best_model.json").is_file()
        else "?"
        for r in seeds
    ]
    mean = statistics.fmean(values)
    spread = f", sd {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    base = baseline_validation(report)
    scores = [float(r["val/mean_reward"]) for r in chosen]
    tuned = f"{scores[0]:.2f} in the tuning (one seed)"
    if len(chosen) > 1:
        tuned = (
            f"{statistics.fmean(scores):.2f} in the tuning (mean over seeds "
            f"{', '.join(r['seed'] for r in sorted(chosen, key=lambda r: int(r['seed'])))})"
        )
    text = (
        f"Selection check (validation users): the chosen configuration scored "
        f"{tuned}; its retrained "
        f"seeds {', '.join(r['seed'] for r in seeds)} scored "
        f"{', '.join(f'{v:.2f}' for v in values)} (mean {mean:.2f}{spread}) at their selected "
        f"checkpoints (steps {', '.join(str(x) for x in steps)})"
    )
    return text + (f"; the tuned baseline {base:.2f}." if base is not None else ".")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("tune_dir", type=Path)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS))
    parser.add_argument(
        "--seeds-dir", type=Path, help="the stage-2 sweep (the chosen configuration's seeds)"
    )
    args = parser.parse_args(argv)
    needs = [
        (args.tune_dir / "sweep.csv", "divrec-rl sweep (the tuning)"),
        (args.eval_dir / "report.md", "divrec-rl evaluate"),
    ]
    if args.seeds_dir is not None:
        needs.append((args.seeds_dir / "sweep.csv", "divrec-rl sweep (the retrained seeds)"))
    for needed, made_by in needs:
        if not needed.is_file():
            sys.exit(f"error: {needed}: not found; it is written by {made_by}")
    report = (args.eval_dir / "report.md").read_text(encoding="utf-8")
    # Build every table before printing, so a failure leaves no half-written page behind.
    tuning, contribution = tuning_table(args.tune_dir), rl_contribution(args.tune_dir)
    confirmation = confirmation_table(args.tune_dir)
    check = selection_check(args.tune_dir, args.seeds_dir, report) if args.seeds_dir else ""
    print(f"### {args.scenario}\n")
    print("Tuning (validation users, one seed per configuration, best five):\n")
    print(tuning + "\n")
    if confirmation:
        print("Confirmation (the search's best retrained with more seeds; validation return):\n")
        print(confirmation + "\n")
    if check:
        print(check + "\n")
    print("What PPO's updates added to the warm starts (validation return):\n")
    print(contribution + "\n")
    for title in args.sections:
        # images are the report's own files, not the docs'
        body = "\n".join(x for x in section(report, title).splitlines() if not x.startswith("!["))
        if body.strip():
            print(f"#### {title}\n\n{body}\n")


if __name__ == "__main__":
    main()
