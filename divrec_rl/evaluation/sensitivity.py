"""Sensitivity scan: where does long-horizon planning matter?

The long-term effect of a scenario comes from boredom (fatigue lowers click and satisfaction
logits) and patience (a session ends when it runs out).  The scan scales their strength by each
factor ``f`` of ``factors`` (default 0, 0.5, 0.75, 1, 1.5) and runs the ordinary evaluation
(:func:`divrec_rl.evaluation.runner.evaluate`: same held-out users and seeds, the baseline fitted
and tuned anew in each setting, no cross-simulator check, no frontier)::

    boredom:  attraction_penalty ← f·attraction_penalty
              satisfaction_penalty ← f·satisfaction_penalty
    patience: step_cost ← f·step_cost
              no_click_cost ← f·no_click_cost

(``vary`` = ``both``, ``boredom`` or ``patience``).  Per setting it reports every agent's mean
return with its 95% bootstrap interval and the paired difference of each agent against the
``reference`` agent (``baseline`` by default: PPO − baseline, oracle − baseline) with its 95%
interval over the same users — at seed level with two or more seeds (the seeds as units,
Student-t interval over the per-seed differences;
:func:`~divrec_rl.evaluation.stats.seed_level_test`).
A PPO run is trained for one setting, so PPO agents are
given per factor (``ppo_runs``: factor → run path); a factor without one is scanned without PPO.
The factors scale the scenario's values after the evaluation's extra files and overrides, and a
scan whose factors do not change the simulated users is refused (:func:`require_effect`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.agents.baselines import RandomAgent
from divrec_rl.agents.registry import AgentSpec, display_name
from divrec_rl.atomic import atomic_write_all
from divrec_rl.config import ScenarioConfig
from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.runner import EvaluationConfig, evaluate
from divrec_rl.evaluation.stats import paired_test, seed_level_test
from divrec_rl.resolve import resolve_scenario
from divrec_rl.rollout import rollout, user_keys
from divrec_rl.scenario import build_scenario
from divrec_rl.simulator import SlateSimulator

__all__ = [
    "DEFAULT_FACTORS",
    "PROBE_USERS",
    "VARY",
    "ScanPoint",
    "ScanResult",
    "check_factors",
    "require_effect",
    "scan",
    "scan_table",
    "strength_overrides",
    "write_scan",
]

DEFAULT_FACTORS = (0.0, 0.5, 0.75, 1.0, 1.5)
VARY = ("both", "boredom", "patience")

#: Validation users of :func:`require_effect`'s check (seed 0, random slates).
PROBE_USERS = 64


@dataclass(frozen=True)
class ScanPoint:
    """One agent at one strength factor: mean return [95% interval] and, for agents other than
    the reference, the paired difference agent − reference [95% interval] on the same users."""

    factor: float
    agent: str
    kind: str
    return_mean: float
    return_low: float
    return_high: float
    diff_mean: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None


def strength_overrides(config: ScenarioConfig, factor: float, vary: str = "both") -> dict:
    """Scenario overrides that scale the boredom and/or patience strength of ``config`` by
    ``factor`` ≥ 0 (module docstring)."""
    if vary not in VARY:
        raise EvaluationError(f"--vary: must be one of {', '.join(VARY)}, got {vary!r}")
    if not np.isfinite(factor) or factor < 0:
        raise EvaluationError(f"--factors: every factor must be ≥ 0, got {factor}")
    b, p = config.behaviour.boredom, config.behaviour.patience
    out: dict[str, dict[str, float]] = {}
    if vary in ("both", "boredom"):
        out["boredom"] = {
            "attraction_penalty": factor * b.attraction_penalty,
            "satisfaction_penalty": factor * b.satisfaction_penalty,
        }
    if vary in ("both", "patience"):
        out["patience"] = {
            "step_cost": factor * p.step_cost,
            "no_click_cost": factor * p.no_click_cost,
        }
    return {"behaviour": out}


def require_effect(
    scenario: ScenarioConfig,
    factors: tuple[float, ...],
    vary: str = "both",
    flag: str | None = None,
) -> None:
    """An EvaluationError when the scan's smallest and largest factor simulate the same users.

    The message starts with ``flag``, the option the caller was given (default: the scan's
    ``--vary VARY``, which then is also offered as the way out).

    :data:`PROBE_USERS` validation users (seed 0) meet random slates under both settings; if
    every click, engagement and exit is the same, the behaviour does not read the scaled fields
    (``quit-on-repetition`` has neither boredom nor patience; a plug-in may ignore them) or the
    scenario sets them to 0, and every row of the scan would repeat the same numbers.
    """
    low, high = min(factors), max(factors)
    if low == high:
        return
    runs = []
    for factor in (low, high):
        config = resolve_scenario(scenario, overrides=strength_overrides(scenario, factor, vary))
        sim = SlateSimulator(build_scenario(config), PROBE_USERS, "val")
        runs.append(rollout(RandomAgent(0), sim, user_keys(0, PROBE_USERS)))
    fields = ("user", "step", "clicked", "engagement", "left")
    if len(runs[0]) != len(runs[1]) or any(
        not np.array_equal(getattr(runs[0], f), getattr(runs[1], f)) for f in fields
    ):
        return
    scaled = strength_overrides(scenario, 1.0, vary)["behaviour"]
    values = ", ".join(f"{part}.{k}={v:g}" for part, kv in scaled.items() for k, v in kv.items())
    zero = all(v == 0 for kv in scaled.values() for v in kv.values())
    why = "the scenario sets them all to 0" if zero else (
        f"behaviour '{scenario.behaviour.model}' does not read them ({values})"
    )  # fmt: skip
    way_out = "scan a scenario whose behaviour uses them"
    if flag is None:  # the scan's own call: its --vary is the other way out
        flag, way_out = f"--vary {vary}", way_out + ", or another --vary"
    raise EvaluationError(
        f"{flag}: factors {low:g} and {high:g} of behaviour."
        + " and behaviour.".join(scaled)
        + f" simulate the same users ({PROBE_USERS} validation users under random slates click, "
        f"engage and leave alike): {why}, so every factor would give the same numbers; {way_out}"
    )


@dataclass(frozen=True)
class ScanResult:
    """A finished scan: its points, the objective's λ every factor was scored with (and where
    it came from), and the notes of the factors' evaluations (prefixed with the factor)."""

    points: list[ScanPoint]
    weight: float
    weight_source: str
    notes: list[str]


def check_factors(factors: tuple[float, ...]) -> None:
    """An EvaluationError unless ``factors`` is a non-empty list of distinct finite numbers ≥ 0
    (checked before anything is evaluated)."""
    if not factors:
        raise EvaluationError("--factors: name at least one factor")
    for factor in factors:
        if not np.isfinite(factor) or factor < 0:
            raise EvaluationError(f"--factors: every factor must be a number ≥ 0, got {factor}")
    repeated = sorted({f for f in factors if factors.count(f) > 1})
    if repeated:
        raise EvaluationError(f"--factors: factor {repeated[0]:g} is given twice")


def _scan_objective(
    base: EvaluationConfig,
    scenario: ScenarioConfig,
    factors: tuple[float, ...],
    vary: str,
    ppo_runs: dict[float, str],
    notes: list[str],
) -> tuple[float, str]:
    """Load every PPO run once, before the first evaluation, and return the scan's λ.

    Each run must have been trained on the scenario as scaled at its factor (field by field,
    :func:`~divrec_rl.config_fields.differing_fields`; a difference is a note with
    ``base.allow_scenario_mismatch``), and all must share one λ: the objective every factor is
    scored with, those without a PPO run included (else the scenario's λ)."""
    from divrec_rl.agents.registry import load_ppo_run
    from divrec_rl.config_fields import differing_fields, summarise_differences

    weights: dict[float, float] = {}
    for factor, path in ppo_runs.items():
        flag = f"--ppo {factor:g}={path}"
        if factor not in factors:
            raise EvaluationError(f"{flag}: factor {factor:g} is not among --factors")
        run = load_ppo_run(path)
        trained = run.scenario_config
        if trained is not None:
            scaled = resolve_scenario(
                scenario, overrides=strength_overrides(scenario, factor, vary)
            )
            changed = differing_fields(trained, scaled)
            if trained.name != scaled.name:
                changed.insert(0, f"name: {trained.name} → {scaled.name}")
            if changed:
                shown = summarise_differences(changed)
                if not base.allow_scenario_mismatch:
                    raise EvaluationError(
                        f"{flag}: the run was trained on another scenario than '{scaled.name}' "
                        f"at factor {factor:g} ({shown}); give the run trained at that factor "
                        "(experiments/fair/retrain_chosen.py --strength), or pass "
                        "--allow-scenario-mismatch"
                    )
                notes.append(f"factor {factor:g}: the PPO run differs from the scanned scenario: "
                             f"{shown}.")  # fmt: skip
        if run.diversity_weight is not None:
            weights[factor] = run.diversity_weight
    if len(set(weights.values())) > 1:
        listed = ", ".join(f"{f:g}: λ = {w:g}" for f, w in weights.items())
        raise EvaluationError(
            f"--ppo: the runs were trained with different λ ({listed}); one scan scores every "
            "factor with one objective"
        )
    if weights:
        return next(iter(weights.values())), "the PPO runs' λ"
    return scenario.reward.diversity_weight, "the scenario's reward.diversity_weight"


def scan(
    base: EvaluationConfig,
    factors: tuple[float, ...] = DEFAULT_FACTORS,
    vary: str = "both",
    ppo_runs: dict[float, str] | None = None,
    reference: str = "baseline",
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Evaluate ``base.agents`` (plus the PPO run of each factor) at every factor.

    ``base`` supplies the scenario, seeds, users and baseline settings; its cross-simulator check
    and frontier are switched off.  ``reference`` must be one of the agents' labels.  Everything
    that can be checked without evaluating is checked first: the factors, the reference, that
    the factors change the simulated users, and every PPO run (see :func:`_scan_objective`).
    """
    check_factors(factors)
    ppo_runs = ppo_runs or {}
    if ppo_runs and base.scenario is None:
        raise EvaluationError("--scenario: required with --ppo (the scenario the scan scales)")
    # Scale the values the evaluation would use: `--set` and extra files included.
    scenario = resolve_scenario(
        base.scenario or "synthetic-shop", base.config_files, base.overrides
    )
    labels = [s.label for s in base.agents]
    if reference not in labels:
        raise EvaluationError(f"--reference: {reference!r} is not among the agents {labels}")
    require_effect(scenario, factors, vary)
    checks: list[str] = []
    weight, source = _scan_objective(base, scenario, factors, vary, ppo_runs, checks)
    # Every factor scores the same objective: λ pinned in the scenario (evaluate takes it
    # from the PPO run where there is one, from the scenario where there is none).
    fixed = _merge(base.overrides, {"reward": {"diversity_weight": weight}})
    points: list[ScanPoint] = []
    said: dict[str, list[float]] = {}  # an evaluation's note → the factors it was made at
    for factor in factors:
        overrides = _merge(fixed, strength_overrides(scenario, factor, vary))
        agents = list(base.agents)
        if factor in ppo_runs:
            agents.append(AgentSpec("ppo", "ppo", ppo_runs[factor]))
        config = replace(
            base,
            agents=agents,
            scenario=scenario,
            overrides=overrides,
            cross_sim=None,
            frontier=False,
        )
        if progress:
            progress(f"factor {factor:g} ({vary}): {', '.join(s.label for s in agents)}")
        result = evaluate(config)
        for note in result.notes:
            said.setdefault(note, []).append(factor)
        points += _factor_points(factor, agents, result, reference, base)
    notes = checks + [
        f"factor{'s' * (len(at) > 1)} {', '.join(f'{f:g}' for f in at)}: {note}"
        for note, at in said.items()
    ]
    return ScanResult(points, weight, source, notes)


def _factor_points(
    factor: float, agents: list[AgentSpec], result: Any, reference: str, base: EvaluationConfig
) -> list[ScanPoint]:
    """Each agent's mean return at ``factor`` and, but for the reference, its paired
    difference against the reference."""
    ref = result.primary.agents[reference].per_user["return"]
    points = []
    for spec in agents:
        outcome = result.primary.agents[spec.label]
        ci = outcome.summary["return"]
        point = ScanPoint(factor, spec.label, spec.kind, ci.mean, ci.low, ci.high)
        if spec.label != reference:
            test = _difference(outcome.per_user["return"], ref, base)
            point = replace(
                point, diff_mean=test.mean_diff, diff_low=test.ci_low, diff_high=test.ci_high
            )
        points.append(point)
    return points


def _difference(a: np.ndarray, ref: np.ndarray, base: EvaluationConfig) -> Any:
    """Paired return difference agent − reference: seed level (the seeds as units, Student-t
    interval) with two or more seeds, else over the users of the one seed."""
    if base.seeds >= 2:
        return seed_level_test("return", np.split(a - ref, base.seeds), seed=base.boot_seed)
    return paired_test("return", a, ref, seed=base.boot_seed)


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def scan_table(points: list[ScanPoint], reference: str = "baseline") -> str:
    """Markdown: one row per factor; per agent the mean return [95% CI], then each agent −
    ``reference`` [95% CI]."""
    factors = sorted({p.factor for p in points})
    agents = list(dict.fromkeys(p.agent for p in points))
    others = [a for a in agents if a != reference]
    kinds = {p.agent: p.kind for p in points}
    name = {a: display_name(a, kinds[a]) for a in agents}
    head = ["factor", *(f"{name[a]} return" for a in agents),
            *(f"{name[a]} − {reference}" for a in others)]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    at = {(p.factor, p.agent): p for p in points}
    for f in factors:
        cells = [f"{f:g}"]
        for a in agents:
            p = at.get((f, a))
            cells.append("–" if p is None else _ci(p.return_mean, p.return_low, p.return_high))
        for a in others:
            p = at.get((f, a))
            cells.append("–" if p is None else _ci(p.diff_mean, p.diff_low, p.diff_high))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _ci(mean: float | None, low: float | None, high: float | None) -> str:
    return f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def write_scan(
    result: ScanResult, out: Path, header: str, reference: str = "baseline"
) -> list[Path]:
    """Write ``out/sensitivity.md`` (``header``, the objective, the notes, the table),
    ``sensitivity.csv`` and ``sensitivity.png`` (returns and differences against the factor)
    together: all three or none (:func:`~divrec_rl.atomic.atomic_write_all`); returns the
    paths."""
    import pandas as pd

    from divrec_rl.evaluation.plots import sensitivity_plot

    md, csv, png = out / "sensitivity.md", out / "sensitivity.csv", out / "sensitivity.png"
    frame = pd.DataFrame([asdict(p) for p in result.points])
    notes = "".join(f"- {note}\n" for note in result.notes)
    text = (
        f"{header.rstrip()}\n\nReturn = Σₜ engagement + λ·diversity with λ = "
        f"{result.weight:g} at every factor ({result.weight_source}).\n\n"
        + (f"Notes:\n\n{notes}\n" if notes else "")
        + scan_table(result.points, reference)
    )
    title = "Where long-term planning matters"
    atomic_write_all(
        {
            csv: lambda tmp: frame.to_csv(tmp, index=False),
            png: lambda tmp: sensitivity_plot(result.points, reference, tmp, title),
            md: lambda tmp: tmp.write_text(text, encoding="utf-8"),
        }
    )
    return [md, csv, png]
