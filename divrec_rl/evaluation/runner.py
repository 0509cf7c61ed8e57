"""Run the comparison: every agent meets the same held-out users with the same seeds.

Protocol (also written into ``report.md``):

* **Users.** Seed s ∈ {0, …, S−1} selects N users of the *eval* split (:func:`user_keys`); every
  agent meets exactly these users with exactly the same per-user random streams (common random
  numbers).  PPO was trained on the *train* split; the supervised baseline is logged on *train*
  users and tuned on *val* users (:mod:`divrec_rl.evaluation.baseline`).
* **Objective.** Return = Σ_t engagement_t + λ·diversity_t with the λ the evaluated PPO run was
  trained with (the scenario's λ when no PPO run is given); the baseline is tuned for the same.
* **Uncertainty.** Two-stage bootstrap (seeds, then users) for every metric; paired tests of
  PPO against the baseline per user and at seed level (:mod:`divrec_rl.evaluation.stats`).
* **Offline accuracy.** On populations of real users (MovieLens), every agent's first slate for
  each eval user is scored against the user's real held-out items
  (:mod:`divrec_rl.evaluation.offline`).
* **Cross-simulator.** The same agents (nothing retrained or re-tuned) meet the same users under
  a second response model (:mod:`divrec_rl.evaluation.cross_sim`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th

from divrec_rl.agents.registry import (
    AgentContext,
    PPORun,
    check_compatible,
    load_ppo_run,
    make_agent,
)
from divrec_rl.config import ScenarioConfig
from divrec_rl.errors import EvaluationError, ScenarioError
from divrec_rl.evaluation.baseline import Baseline, BaselineFits
from divrec_rl.evaluation.offline import offline_accuracy
from divrec_rl.evaluation.results import (
    AgentOutcome,
    Comparison,
    EvaluationConfig,
    EvaluationResult,
    FrontierPoint,
    SimulatorOutcome,
)
from divrec_rl.evaluation.scenario_choice import choose_scenario
from divrec_rl.evaluation.stats import (
    bootstrap_metrics,
    paired_test,
    resample_weights,
    seed_level_test,
)
from divrec_rl.evaluation.summary import UserRecords
from divrec_rl.provenance import (
    CodeIdentity,
    changed_since,
    code_identity,
    input_mismatches,
    scenario_inputs,
)
from divrec_rl.resolve import resolve_scenario
from divrec_rl.rollout import Trajectories, rollout, user_keys
from divrec_rl.scenario import Scenario, build_scenario
from divrec_rl.simulator import SlateSimulator
from divrec_rl.training.rundir import read_code_record

__all__ = [
    "AgentOutcome",
    "Comparison",
    "EvaluationConfig",
    "EvaluationResult",
    "FrontierPoint",
    "SimulatorOutcome",
    "evaluate",
]

BASELINE_KINDS = ("baseline", "baseline-mmr", "baseline-dpp", "supervised")
PAIRED_METRICS = ("return", "engagement", "episode_length", "user_mean_ild")


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


def _load_ppo(config: EvaluationConfig) -> tuple[dict[str, PPORun], list[PPORun]]:
    runs = {
        spec.path: load_ppo_run(spec.path)  # type: ignore[misc]
        for spec in config.agents
        if spec.kind == "ppo"
    }
    return runs, [load_ppo_run(path) for path in config.ppo_sweep]


def _check_fit(
    config: EvaluationConfig, runs: dict[str, PPORun], sweep: list[PPORun], sim: SlateSimulator
) -> None:
    for spec in config.agents:
        if spec.kind == "ppo":
            check_compatible(runs[spec.path], sim, spec.label)  # type: ignore[index]
    for path, run in zip(config.ppo_sweep, sweep, strict=True):
        check_compatible(run, sim, f"--ppo-sweep {path}")


def _objective(
    config: EvaluationConfig, scenario: ScenarioConfig, runs: dict[str, PPORun], notes: list[str]
) -> tuple[float, str]:
    first = next((s for s in config.agents if s.kind == "ppo"), None)
    if first is None:
        return scenario.reward.diversity_weight, "scenario reward.diversity_weight (no PPO run)"
    weights = {s.label: runs[s.path].diversity_weight for s in config.agents if s.kind == "ppo"}  # type: ignore[index]
    weight = weights[first.label]
    if weight is None:
        notes.append(
            f"{first.label}: the run's config.yaml gives no λ; the scenario's λ was used "
            "for the objective."
        )
        return scenario.reward.diversity_weight, "scenario reward.diversity_weight"
    if len({w for w in weights.values() if w is not None}) > 1:
        notes.append(
            "PPO runs trained with different λ: the objective (and the baseline's tuning) uses "
            f"{first.label}'s λ = {weight:g}."
        )
    if weight != scenario.reward.diversity_weight:
        notes.append(
            f"{first.label} was trained with λ = {weight:g}, the scenario says "
            f"{scenario.reward.diversity_weight:g}; returns use λ = {weight:g}."
        )
    return weight, f"λ of the PPO run '{first.label}'"


def _run_simulator(
    name: str,
    scenario: Scenario,
    config: EvaluationConfig,
    ctx: AgentContext,
    weight: float,
    weights: list[np.ndarray],
    progress: bool,
) -> SimulatorOutcome:
    sim = SlateSimulator(scenario, config.users, "eval", weight)
    outcomes: dict[str, AgentOutcome] = {}
    kept: dict[tuple[str, int], Trajectories] = {}
    for spec in config.agents:
        started = time.perf_counter()
        records: list[UserRecords] = []
        lengths, exposure = [], np.zeros(scenario.catalog.n_items, dtype=np.int64)
        per_user: dict[str, list[np.ndarray]] = {m: [] for m in PAIRED_METRICS}
        for seed in config.seed_list:
            agent = make_agent(ctx, spec, seed)
            traj = rollout(agent, sim, user_keys(seed, config.users))
            rec = UserRecords.from_trajectories(traj, scenario.catalog)
            records.append(rec)
            lengths.append(rec.columns["steps"])
            exposure += rec.item_exposure()
            steps = np.maximum(rec.columns["steps"], 1.0)
            per_user["return"].append(rec.columns["return"])
            per_user["engagement"].append(rec.columns["engagement"])
            per_user["episode_length"].append(rec.columns["steps"])
            per_user["user_mean_ild"].append(rec.columns["ild"] / steps)
            if config.save_trajectories:
                kept[(spec.label, seed)] = traj
        summary = bootstrap_metrics(records, weights, seed_level=True)
        outcomes[spec.label] = AgentOutcome(
            label=spec.label,
            points=[r.point() for r in records],
            summary=summary,
            per_user={m: np.concatenate(v) for m, v in per_user.items()},
            episode_lengths=np.concatenate(lengths),
            item_exposure=exposure,
            first_seed=records[0],
        )
        _say(
            progress,
            f"  {name}: {spec.label:14s} engagement {summary['engagement'].mean:7.3f}  "
            f"return {summary['return'].mean:7.3f}  ({time.perf_counter() - started:.1f} s)",
        )
    return SimulatorOutcome(name, scenario.config.response.model, outcomes, kept)


def _paired(config: EvaluationConfig, outcome: SimulatorOutcome, seed: int) -> list[Comparison]:
    """Each PPO agent against the baseline (the first of baseline, baseline-mmr, baseline-dpp,
    supervised that was evaluated)."""
    labels = [s.label for s in config.agents]
    reference = next((b for b in BASELINE_KINDS if b in labels), None)
    if reference is None:
        return []
    out = []
    for label in (s.label for s in config.agents if s.kind == "ppo"):
        a, b = outcome.agents[label].per_user, outcome.agents[reference].per_user
        tests = [paired_test(m, a[m], b[m], seed=seed) for m in PAIRED_METRICS]
        # per_user holds the seeds one after another, config.users users each
        seed_tests = [
            seed_level_test(m, np.split(a[m] - b[m], config.seeds), seed=seed)
            for m in PAIRED_METRICS
        ]
        out.append(Comparison(label, reference, tests, seed_tests))
    return out


def _frontier(
    config: EvaluationConfig,
    scenario: Scenario,
    ctx: AgentContext,
    weight: float,
    primary: SimulatorOutcome,
    sweep: list[PPORun],
    progress: bool,
) -> list[FrontierPoint]:
    from divrec_rl.agents.ppo import PPOAgent

    n = min(config.users, config.frontier_users)
    sim = SlateSimulator(scenario, n, "eval", weight)
    keys = user_keys(config.first_seed, n)
    points: list[FrontierPoint] = []

    def add(family: str, label: str, parameter: str, records: UserRecords, users: int) -> None:
        mask = np.zeros((1, records.n_users))
        mask[0, :users] = 1.0  # the first users of the first seed: the same users for every point
        p = {m: float(v[0]) for m, v in records.weighted(mask).items()}
        points.append(
            FrontierPoint(family, label, parameter, p["engagement"], p["ild"], p["return"])
        )

    def run(agent: Any) -> UserRecords:
        return UserRecords.from_trajectories(rollout(agent, sim, keys), scenario.catalog)

    if any(s.kind in BASELINE_KINDS for s in config.agents):
        baseline: Baseline = ctx.baseline()
        beta = baseline.best().regulariser
        rows = {(r.method, r.tradeoff): r for r in baseline.tuning if r.regulariser == beta}
        plain = run(baseline.agent(rows[("none", 0.0)], ""))
        for method, grid in (
            ("mmr", baseline.settings.mmr_tradeoffs),
            ("dpp", baseline.settings.dpp_tradeoffs),
        ):
            add(f"baseline-{method}", f"{method} λ=0", "0", plain, n)
            for lam in grid:
                records = run(baseline.agent(rows[(method, lam)], ""))
                add(f"baseline-{method}", f"{method} λ={lam:g}", f"{lam:g}", records, n)
    for run_ in sweep:
        lam = "?" if run_.diversity_weight is None else f"{run_.diversity_weight:g}"
        records = run(PPOAgent(run_.model, deterministic=True))
        add("ppo-sweep", f"PPO λ={lam}", lam, records, n)
    for label, outcome in primary.agents.items():
        add("agent", label, "", outcome.first_seed, n)
    _say(progress, f"  frontier: {len(points)} points")
    return points


def _prepare(
    config: EvaluationConfig, notes: list[str]
) -> tuple[ScenarioConfig, Scenario, dict[str, PPORun], list[PPORun]]:
    """Load the PPO runs, choose and build the scenario, check that every agent fits it."""
    runs, sweep = _load_ppo(config)
    scenario_config = choose_scenario(config, runs, notes)
    if config.cross_behaviour == scenario_config.behaviour.model:
        raise EvaluationError(
            f"--cross-behaviour {config.cross_behaviour}: the scenario already uses this "
            "behaviour; name another one or none"
        )
    if config.cross_sim == scenario_config.response.model:
        raise EvaluationError(
            f"--cross-sim {config.cross_sim}: the scenario already uses this response model; "
            "name another one (e.g. embedding) or none"
        )
    scenario = build_scenario(scenario_config)
    probe = SlateSimulator(scenario, 1, "eval")
    _check_fit(config, runs, sweep, probe)
    if any(s.kind in BASELINE_KINDS for s in config.agents) and probe.candidates is None:
        raise ScenarioError(
            "agents baseline/supervised need slate.builder = candidates "
            f"(scenario has {scenario_config.slate.builder!r})"
        )
    return scenario_config, scenario, runs, sweep


def _cross(
    config: EvaluationConfig,
    scenario_config: ScenarioConfig,
    runs: dict[str, PPORun],
    run: Callable[[str, Scenario], SimulatorOutcome],
    progress: bool,
) -> SimulatorOutcome:
    """The same agents and users under the ``--cross-sim`` response model."""
    cross_config = resolve_scenario(
        scenario_config, overrides={"response": {"model": config.cross_sim}}
    )
    cross_scenario = build_scenario(cross_config)
    cross_probe = SlateSimulator(cross_scenario, 1, "eval")
    for spec in config.agents:
        if spec.kind == "ppo":
            check_compatible(runs[spec.path], cross_probe, spec.label)  # type: ignore[index]
    _say(progress, f"cross-simulator: response model '{config.cross_sim}'")
    return run("cross", cross_scenario)


def _cross_checks(
    config: EvaluationConfig,
    scenario_config: ScenarioConfig,
    runs: dict[str, PPORun],
    run: Callable[[str, Scenario], SimulatorOutcome],
    timings: dict[str, float],
    progress: bool,
) -> tuple[SimulatorOutcome | None, SimulatorOutcome | None]:
    """The same agents and users under the ``--cross-sim`` response model and under the
    ``--cross-behaviour`` behaviour model (each ``None`` when not asked for)."""
    cross = behaviour = None
    if config.cross_sim:
        t0 = time.perf_counter()
        cross = _cross(config, scenario_config, runs, run, progress)
        timings["cross_simulator"] = time.perf_counter() - t0
    if config.cross_behaviour:
        t0 = time.perf_counter()
        _say(progress, f"behaviour cross-check: behaviour '{config.cross_behaviour}'")
        swap = {"behaviour": {"model": config.cross_behaviour}}
        behaviour = run("behaviour", build_scenario(resolve_scenario(scenario_config, [], swap)))
        timings["cross_behaviour"] = time.perf_counter() - t0
    return cross, behaviour


def _input_notes(runs: dict[str, PPORun], inputs: dict[str, str]) -> list[str]:
    """A note (and a warning on stderr) per PPO agent some of whose training commands recorded
    other simulated-user inputs than this evaluation's (``run.code[*].inputs``, e.g. a user
    model retrained since): the agent was trained on different simulated users."""
    notes = []
    for path, run in runs.items():
        differ = {
            f"training seed {r.seed}": diff
            for r in (run.seed_runs or [run])
            if r.run_dir is not None
            for entry in read_code_record(r.run_dir)
            if isinstance(entry.get("inputs"), dict)
            and (diff := input_mismatches(entry["inputs"], inputs))
        }
        if differ:
            detail = "; ".join(f"{who}: {', '.join(d)}" for who, d in differ.items())
            notes.append(
                f"**`{path}` was trained on other simulated users than these** (its run "
                f"records name other inputs: {detail}). Its figures here are not those of the "
                "users it was trained for; retrain it on the current inputs before comparing."
            )
            print("warning: " + notes[-1].replace("**", ""), file=sys.stderr, flush=True)
    return notes


def _unused_seed_notes(config: EvaluationConfig, runs: dict[str, PPORun]) -> list[str]:
    """A note per sweep some of whose training seeds play no evaluation seed (seed s is played
    by training seed number s mod k)."""
    notes = []
    for path, run in runs.items():
        k = len(run.seed_runs)
        if k == 0:
            continue  # a single run plays every seed
        played = sorted({s % k for s in config.seed_list})
        if len(played) < k:
            seeds = ", ".join(str(run.seed_runs[i].seed) for i in played)
            notes.append(
                f"`{path}` holds {k} training seeds; evaluation seeds {config.seed_list} are "
                f"played by training seeds {seeds} only."
            )
    return notes


def evaluate(config: EvaluationConfig, progress: bool = False) -> EvaluationResult:
    """Run the whole comparison described by ``config`` (nothing is written to disk)."""
    code = code_identity()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    notes: list[str] = []
    scenario_config, scenario, runs, sweep = _prepare(config, notes)
    weight, source = _objective(config, scenario_config, runs, notes)

    notes.extend(_unused_seed_notes(config, runs))
    notes.extend(_input_notes(runs, inputs := scenario_inputs(scenario)))
    fits = BaselineFits(scenario, weight, config.baseline, timings, progress)
    ctx = AgentContext(weight, fits, dict(runs), config.baseline.fits)
    gen = np.random.default_rng(config.boot_seed)
    boot = [resample_weights(config.users, config.n_boot, gen) for _ in range(config.seeds)]

    def run(name: str, sc: Scenario) -> SimulatorOutcome:
        return _run_simulator(name, sc, config, ctx, weight, boot, progress)

    threads = th.get_num_threads()
    th.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        _say(
            progress,
            f"evaluating {len(config.agents)} agents × {config.seeds} seeds × "
            f"{config.users} eval users on {scenario_config.name}",
        )
        primary = run("primary", scenario)
        timings["evaluation"] = time.perf_counter() - t0 - timings.get("baseline", 0.0)
        cross, behaviour = _cross_checks(config, scenario_config, runs, run, timings, progress)
        t0 = time.perf_counter()
        offline = offline_accuracy(scenario, config.agents, ctx, config.seed_list, weight)
        if offline is None:
            notes.append(
                "Offline accuracy skipped: the population has no real held-out items "
                "(generated users)."
            )
        else:
            timings["offline"] = time.perf_counter() - t0
        frontier: list[FrontierPoint] = []
        if config.frontier:
            t0 = time.perf_counter()
            frontier = _frontier(config, scenario, ctx, weight, primary, sweep, progress)
            timings["frontier"] = time.perf_counter() - t0
    finally:
        th.set_num_threads(threads)
    paired = {"primary": _paired(config, primary, config.boot_seed)}
    if cross is not None:
        paired["cross"] = _paired(config, cross, config.boot_seed)
    if behaviour is not None:
        paired["behaviour"] = _paired(config, behaviour, config.boot_seed)
    _note_code_change(code, notes)
    timings["total"] = time.perf_counter() - started
    return EvaluationResult(
        config=config,
        scenario=scenario_config,
        objective_weight=weight,
        objective_source=source,
        seeds=config.seed_list,
        primary=primary,
        cross=cross,
        paired=paired,
        frontier=frontier,
        baseline=ctx.built_baseline,
        baselines=ctx.built_baselines,
        ppo_runs=runs,
        sweep_runs=sweep,
        timings=timings,
        notes=notes,
        cross_behaviour=behaviour,
        offline=offline,
        code=code,
        inputs=inputs,
    )


def _note_code_change(start: CodeIdentity, notes: list[str]) -> None:
    """A note (and a warning on stderr) if the package's source differs from ``start``'s."""
    now = changed_since(start)
    if now is None:
        return
    notes.append(
        f"**The package's source changed while this evaluation ran** (source "
        f"{start.source_sha256[:12]} at the start, {now.source_sha256[:12]} at the end): "
        "modules imported after the change ran the new code, so these figures may mix two "
        "versions of it. Rerun on unchanged code before relying on them."
    )
    print("warning: " + notes[-1].replace("**", ""), file=sys.stderr, flush=True)
