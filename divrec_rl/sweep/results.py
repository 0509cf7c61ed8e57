"""``sweep.csv`` (one row per trial) and ``summary.md`` (one line per configuration).

A *configuration* is one assignment of the swept keys; its trials differ only in the seed.  Per
configuration and metric, over the n seeds whose trial finished:

    mean = (1/n) Σ_s m_s,   sd = sqrt(Σ_s (m_s − mean)² / (n − 1)),
    95% interval = mean ± t_{0.975, n−1} · sd / √n     (Student t; none when n < 2)

The seed is the unit of replication, so the interval is the seed-to-seed spread of the final
validation metric (not the spread of users within a run).  The chosen configuration is the one
with the best mean of the sweep's metric among those whose every seed finished; the held-out
eval users play no part in it.

With a ``confirm`` stage the search's ``top`` configurations (best mean over ``seeds``, every
seed finished) are trained again with ``confirm.seeds``, and the choice is the best mean over
*all* seeds among those whose every search and confirmation seed finished.  Picking the best of
many noisy one-seed scores favours a lucky seed (the winner's curse); a mean over fresh seeds of
the few front-runners is a less biased score for the final choice.
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
from divrec_rl.sweep.layout import CSV_FILE, SUMMARY_FILE, value_cell
from divrec_rl.sweep.spec import METRICS, SweepFile

__all__ = [
    "ConfigSummary",
    "TrialRow",
    "confirm_candidates",
    "seed_interval",
    "summarise",
    "write_results",
]

#: ``TrialRow.phase`` of the search's trials and of the confirmation stage's.
SEARCH, CONFIRM = "search", "confirm"


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
    phase: str = SEARCH
    """``search`` or ``confirm`` (a trial of the confirmation stage)."""


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
    expected: int = 0
    """Trials the configuration should have: the search's seeds, plus the confirmation seeds
    when it was confirmed."""
    search_mean: float | None = None
    """Mean over the search's seeds alone (what the confirmation stage ranked by)."""


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


def _finished_values(members: list[TrialRow], metric: str) -> list[float]:
    return [r.metrics[metric] for r in members if r.status == "finished" and metric in r.metrics]


def _config_summary(label: str, members: list[TrialRow], sweep: SweepFile) -> ConfigSummary:
    values = _finished_values(members, sweep.metric)
    mean, low, high = seed_interval(values) if values else (None, None, None)
    search = _finished_values([r for r in members if r.phase == SEARCH], sweep.metric)
    confirmed = sweep.confirm is not None and any(r.phase == CONFIRM for r in members)
    expected = len(sweep.seeds) + (len(sweep.confirm.seeds) if confirmed else 0)  # type: ignore[union-attr]
    return ConfigSummary(
        label,
        members[0].values,
        sorted(r.seed for r in members),
        len(values),
        mean,
        low,
        high,
        expected,
        sum(search) / len(search) if search else None,
    )


def _ranked(
    configs: list[ConfigSummary],
    sweep: SweepFile,
    finished: int | None = None,
    search: bool = False,
) -> list[ConfigSummary]:
    """``configs`` with a mean (and, if given, exactly ``finished`` finished trials), best first
    by their mean — or by their search mean with ``search`` — as ``mode`` says."""
    kept = [c for c in configs if c.mean is not None and finished in (None, c.finished)]
    return sorted(
        kept,
        key=lambda c: (c.search_mean if search else c.mean) or 0.0,
        reverse=sweep.mode == "max",
    )


def confirm_candidates(rows: list[TrialRow], sweep: SweepFile) -> list[ConfigSummary]:
    """The configurations the confirmation stage retrains: the ``confirm.top`` best by the mean
    over the search's seeds, among those whose every search seed finished (best first)."""
    if sweep.confirm is None:
        return []
    configs = [_config_summary(k, v, sweep) for k, v in _groups(rows, SEARCH).items()]
    return _ranked(configs, sweep, finished=len(sweep.seeds))[: sweep.confirm.top]


def _groups(rows: list[TrialRow], phase: str | None = None) -> dict[str, list[TrialRow]]:
    """Each configuration's trials by label, one per training seed (:func:`_one_per_seed`)."""
    groups: dict[str, list[TrialRow]] = {}
    for row in rows:
        if phase is None or row.phase == phase:
            groups.setdefault(label_of(row.values), []).append(row)
    return {label: _one_per_seed(members) for label, members in groups.items()}


def _one_per_seed(members: list[TrialRow]) -> list[TrialRow]:
    """One trial per training seed of a configuration: the first finished one, else the first.

    A random search draws each sample's values independently, so two samples can draw the same
    configuration, and Ray then trains it twice with every seed: the same training run twice
    (same settings, same seed), not two seeds.  Counted twice, the configuration would have more
    finished trials than seeds and drop out of the choice (or, beside a confirmation stage, pass
    for confirmed without a fresh seed)."""
    kept: dict[int, TrialRow] = {}
    for row in members:
        first = kept.get(row.seed)
        if first is None or (first.status != "finished" and row.status == "finished"):
            kept[row.seed] = row
    return [row for row in members if kept[row.seed] is row]


def _repeats(rows: list[TrialRow]) -> list[str]:
    """``trial (repeats trial)`` for every trial that :func:`_one_per_seed` leaves out."""
    kept = {(label_of(r.values), r.seed): r for group in _groups(rows).values() for r in group}
    return [
        f"`{r.trial_id}` (repeats `{first.trial_id}`)"
        for r in rows
        if (first := kept[(label_of(r.values), r.seed)]) is not r
    ]


def summarise(rows: list[TrialRow], sweep: SweepFile) -> tuple[list[ConfigSummary], int | None]:
    """Per-configuration summaries (in first-seen order) and the index of the chosen one: the
    best mean among configurations whose every expected seed finished — with a ``confirm``
    stage, only confirmed configurations (none before the stage has run)."""
    out = [_config_summary(k, v, sweep) for k, v in _groups(rows).items()]
    wanted = len(sweep.seeds) + (len(sweep.confirm.seeds) if sweep.confirm else 0)
    ranked = _ranked(out, sweep, finished=wanted)
    return out, (next(i for i, c in enumerate(out) if c is ranked[0]) if ranked else None)


def _csv(rows: list[TrialRow], sweep: SweepFile, chosen_label: str | None) -> str:
    keys = list(sweep.space)
    header = ["trial_id", *keys, "seed", "status", *METRICS, "timesteps", "wall_s"]
    header += ["run_dir", "chosen", "source_sha256", "code_changed_during_run", "phase"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    # The chosen configuration's trials, one per seed: what `evaluate` and `train --config` load.
    picked = {id(r) for r in _groups(rows).get(chosen_label or "", []) if r.status == "finished"}
    for r in sorted(rows, key=lambda r: (label_of(r.values), r.seed)):
        chosen = "yes" if id(r) in picked else ""
        writer.writerow(
            [r.trial_id, *(value_cell(r.values.get(k)) for k in keys), r.seed, r.status]
            + [repr(r.metrics[m]) if m in r.metrics else "" for m in METRICS]
            + ["" if r.timesteps is None else r.timesteps]
            + ["" if r.wall_s is None else f"{r.wall_s:.2f}", r.run_dir, chosen]
            + [r.code[0].get("source_sha256", "") if r.code else ""]
            + ["yes" if any(e.get("changed_during_run") for e in r.code) else ""]
            + [r.phase]
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
        *_table(configs, chosen, sweep),
    ]
    lines.append("")
    if repeats := _repeats(rows):
        lines += ["Drawn twice (two samples, the same configuration and seed; counted once): "
                  + ", ".join(repeats) + ".", ""]  # fmt: skip
    if sweep.confirm is not None:
        lines += [_confirm_text(configs, sweep), ""]
    if chosen is None and sweep.confirm is not None:
        lines.append("No configuration chosen: none has a finished trial for every search and "
                     "confirmation seed.")  # fmt: skip
    elif chosen is None:
        lines.append("No configuration chosen: none has a finished trial for every seed.")
    else:
        best = configs[chosen]
        # with a confirmation stage the runner-up is a confirmed configuration too
        rivals = [c for c in configs if sweep.confirm is None or c.expected == best.expected]
        others = [c for c in _ranked(rivals, sweep) if c is not best]
        why = f"Chosen: `{best.label}`, the best mean {sweep.metric} ({_fmt(best.mean)}) among "
        why += "the configurations whose every seed finished"
        why += " (the confirmed ones)." if sweep.confirm is not None else "."
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


def _table(configs: list[ConfigSummary], chosen: int | None, sweep: SweepFile) -> list[str]:
    """The per-configuration table; with a confirmation stage, the search seeds' mean too."""
    extra = sweep.confirm is not None
    head = "| configuration | seeds finished | mean | 95% low | 95% high |"
    lines = [head + (" mean over search seeds |" if extra else ""), "|---" * (5 + extra) + "|"]
    for i, c in enumerate(configs):
        mark = " **(chosen)**" if i == chosen else ""
        row = f"| {c.label}{mark} | {c.finished}/{c.expected} | {_fmt(c.mean)} | "
        row += f"{_fmt(c.low)} | {_fmt(c.high)} |"
        lines.append(row + (f" {_fmt(c.search_mean)} |" if extra else ""))
    return lines


def _confirm_text(configs: list[ConfigSummary], sweep: SweepFile) -> str:
    """What the confirmation stage retrained, and how each configuration's score moved."""
    assert sweep.confirm is not None
    confirmed = [c for c in configs if c.expected > len(sweep.seeds)]
    head = (
        f"Confirmation: the {sweep.confirm.top} best configurations of the search (mean over "
        f"seeds {sweep.seeds}) retrained with seeds {sweep.confirm.seeds}; the choice is the "
        "best mean over all their seeds"
    )
    if not confirmed:
        return head + ". Not run yet: no configuration has been confirmed."
    ranked = _ranked(confirmed, sweep, search=True)
    moves = "; ".join(f"`{c.label}` {_fmt(c.search_mean)} → {_fmt(c.mean)}" for c in ranked)
    return head + f". Search mean → mean over all seeds: {moves}."


def write_results(sweep_dir: Path, rows: list[TrialRow], sweep: SweepFile) -> int | None:
    """Write ``sweep.csv`` and ``summary.md`` atomically; return the chosen configuration's
    index in :func:`summarise`'s order (``None`` when none)."""
    configs, chosen = summarise(rows, sweep)
    label = None if chosen is None else configs[chosen].label
    atomic_write_text(sweep_dir / CSV_FILE, _csv(rows, sweep, label))
    atomic_write_text(sweep_dir / SUMMARY_FILE, _summary(configs, chosen, sweep, rows))
    return chosen
