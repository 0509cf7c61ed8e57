"""``sweep.csv`` (one row per trial) and ``summary.md`` (one line per configuration).

A *configuration* is one assignment of the swept keys; its trials differ only in the seed.  Per
configuration and metric, over the n seeds whose trial finished:

    mean = (1/n) Σ_s m_s,   sd = sqrt(Σ_s (m_s − mean)² / (n − 1)),
    95% interval = mean ± t_{0.975, n−1} · sd / √n     (Student t; none when n < 2)

The seed is the unit of replication, so the interval is the seed-to-seed spread of the final
validation metric (not the spread of users within a run).  The chosen configuration is the one
with the best mean of the sweep's metric among those whose every seed finished; the held-out
eval users play no part in it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divrec_rl.atomic import atomic_write_text
from divrec_rl.provenance import code_summary, inputs_summary
from divrec_rl.sweep.layout import CSV_FILE, SUMMARY_FILE
from divrec_rl.sweep.spec import METRICS, SweepFile

__all__ = ["ConfigSummary", "TrialRow", "seed_interval", "summarise", "write_results"]


@dataclass
class TrialRow:
    """One trial as ``sweep.csv`` writes it."""

    trial_id: str
    values: dict[str, Any]
    seed: int
    status: str
    metrics: dict[str, float]
    timesteps: int | None
    wall_s: float | None
    run_dir: str
    code: list[dict[str, Any]] = field(default_factory=list)
    """The run's ``run.code`` entries (:func:`~divrec_rl.training.rundir.read_code_record`)."""


@dataclass
class ConfigSummary:
    """One configuration over its seeds."""

    label: str
    values: dict[str, Any]
    seeds: list[int]
    finished: int
    mean: float | None
    low: float | None
    high: float | None


def seed_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of the Student-t 95% interval over seeds (bounds ``None`` if n < 2)."""
    from scipy import stats

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def label_of(values: dict[str, Any]) -> str:
    """``key=value`` pairs of a configuration, in space order."""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def summarise(rows: list[TrialRow], sweep: SweepFile) -> tuple[list[ConfigSummary], int | None]:
    """Per-configuration summaries (in first-seen order) and the index of the chosen one."""
    groups: dict[str, list[TrialRow]] = {}
    for row in rows:
        groups.setdefault(label_of(row.values), []).append(row)
    out: list[ConfigSummary] = []
    for label, members in groups.items():
        done = [r for r in members if r.status == "finished" and sweep.metric in r.metrics]
        values = [r.metrics[sweep.metric] for r in done]
        mean, low, high = seed_interval(values) if values else (None, None, None)
        seeds = sorted(r.seed for r in members)
        out.append(ConfigSummary(label, members[0].values, seeds, len(done), mean, low, high))
    complete = [
        i for i, c in enumerate(out) if c.mean is not None and c.finished == len(sweep.seeds)
    ]
    sign = 1.0 if sweep.mode == "max" else -1.0
    chosen = max(complete, key=lambda i: sign * out[i].mean) if complete else None  # type: ignore[operator]
    return out, chosen


def _csv(rows: list[TrialRow], sweep: SweepFile, chosen_label: str | None) -> str:
    keys = list(sweep.space)
    header = ["trial_id", *keys, "seed", "status", *METRICS, "timesteps", "wall_s"]
    header += ["run_dir", "chosen", "source_sha256", "code_changed_during_run"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in sorted(rows, key=lambda r: (label_of(r.values), r.seed)):
        chosen = "yes" if label_of(r.values) == chosen_label and r.status == "finished" else ""
        writer.writerow(
            [r.trial_id, *(r.values.get(k) for k in keys), r.seed, r.status]
            + [repr(r.metrics[m]) if m in r.metrics else "" for m in METRICS]
            + ["" if r.timesteps is None else r.timesteps]
            + ["" if r.wall_s is None else f"{r.wall_s:.2f}", r.run_dir, chosen]
            + [r.code[0].get("source_sha256", "") if r.code else ""]
            + ["yes" if any(e.get("changed_during_run") for e in r.code) else ""]
        )
    return buf.getvalue()


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _inputs_line(rows: list[TrialRow]) -> list[str]:
    """``Simulated users: …`` and a blank line when the trials recorded user-model inputs."""
    text = inputs_summary({r.trial_id: r.code for r in rows if r.run_dir}, "trials")
    return [f"Simulated users: {text}", ""] if text else []


def _summary(
    configs: list[ConfigSummary], chosen: int | None, sweep: SweepFile, rows: list[TrialRow]
) -> str:
    lines = [
        "# Sweep summary",
        "",
        f"Metric: `{sweep.metric}` ({sweep.mode}), the final evaluation of each trial on the "
        "scenario's **validation** users; held-out eval users were not used. Mean over training "
        "seeds with a seed-level 95% Student-t interval (mean ± t·sd/√n, n = finished seeds).",
        "",
        "Code: " + code_summary({r.trial_id: r.code for r in rows if r.run_dir}, "trials"),
        "",
        *_inputs_line(rows),
        "| configuration | seeds finished | mean | 95% low | 95% high |",
        "|---|---|---|---|---|",
    ]
    for i, c in enumerate(configs):
        mark = " **(chosen)**" if i == chosen else ""
        lines.append(
            f"| {c.label}{mark} | {c.finished}/{len(sweep.seeds)} | {_fmt(c.mean)} | "
            f"{_fmt(c.low)} | {_fmt(c.high)} |"
        )
    lines.append("")
    if chosen is None:
        lines.append("No configuration chosen: none has a finished trial for every seed.")
    else:
        best = configs[chosen]
        others = sorted(
            (c for i, c in enumerate(configs) if i != chosen and c.mean is not None),
            key=lambda c: c.mean if sweep.mode == "min" else -c.mean,  # type: ignore[operator]
        )
        why = f"Chosen: `{best.label}`, the best mean {sweep.metric} ({_fmt(best.mean)}) among "
        why += "the configurations whose every seed finished."
        if others:
            runner = others[0]
            bounds = (best.low, best.high, runner.low, runner.high)
            why += f" Runner-up: `{runner.label}` ({_fmt(runner.mean)}); "
            if any(b is None for b in bounds):
                why += (
                    "no interval with fewer than two seeds, so how clear-cut the choice is "
                    "cannot be told from this sweep."
                )
            elif best.low <= runner.high and runner.low <= best.high:  # type: ignore[operator]
                why += "the intervals overlap, so the choice is not clear-cut."
            else:
                why += "the intervals do not overlap."
        lines.append(why)
        if "reward.diversity_weight" in sweep.space and sweep.metric == "val/mean_reward":
            lines += [
                "",
                "Note: the reward includes λ·diversity, so `val/mean_reward` favours large λ by "
                "construction; to compare λ values choose on `val/mean_engagement` or read the "
                "engagement–diversity frontier.",
            ]
        lines.append("")
        lines.append("Evaluate it on held-out users: `divrec-rl evaluate --agents ppo=SWEEP_DIR`.")
    return "\n".join(lines) + "\n"


def write_results(sweep_dir: Path, rows: list[TrialRow], sweep: SweepFile) -> int | None:
    """Write ``sweep.csv`` and ``summary.md`` atomically; return the chosen configuration's
    index in :func:`summarise`'s order (``None`` when none)."""
    configs, chosen = summarise(rows, sweep)
    label = None if chosen is None else configs[chosen].label
    atomic_write_text(sweep_dir / CSV_FILE, _csv(rows, sweep, label))
    atomic_write_text(sweep_dir / SUMMARY_FILE, _summary(configs, chosen, sweep, rows))
    return chosen
