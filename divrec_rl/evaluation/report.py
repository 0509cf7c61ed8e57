"""Write an evaluation to disk: CSV files, PNG figures and ``report.md``.

Every number in the report is computed from the run by :mod:`divrec_rl.evaluation.runner`; the
report also states the protocol and the seeds, and the command that regenerates it.
"""

from __future__ import annotations

import platform
import time
from functools import partial
from pathlib import Path

import pandas as pd
import scipy.stats as sps

import divrec_rl
from divrec_rl.agents.registry import DESCRIPTIONS, PPORun, display_name
from divrec_rl.evaluation.io import results_frame, staged_directory, trajectories_frame
from divrec_rl.evaluation.offline import offline_section
from divrec_rl.evaluation.plots import (
    agent_colours,
    cross_sim_plot,
    frontier_plot,
    lorenz_plot,
    session_plot,
)
from divrec_rl.evaluation.report_baseline import baseline_protocol, tuning_table
from divrec_rl.evaluation.report_paired import fmt as _fmt
from divrec_rl.evaluation.report_paired import paired_section as _paired_section
from divrec_rl.evaluation.runner import BASELINE_KINDS, EvaluationResult, SimulatorOutcome
from divrec_rl.evaluation.stats import MetricCI
from divrec_rl.evaluation.summary import METRICS
from divrec_rl.provenance import code_summary, describe_inputs, inputs_summary
from divrec_rl.training.rundir import read_code_record

__all__ = ["write_evaluation"]

# The results table: engagement, then the return, then the rest of the results.csv schema.
TABLE_METRICS = ("engagement", "return", *METRICS[1 : METRICS.index("mcd") + 1])
CROSS_DIR = "cross_simulator"


def _display(result: EvaluationResult, label: str) -> str:
    return display_name(label, next(s.kind for s in result.config.agents if s.label == label))


def _names(result: EvaluationResult, labels: list[str]) -> list[str]:
    """Display names of ``labels`` (an oracle never passes for a deployable agent)."""
    return [_display(result, label) for label in labels]


def _means_table(result: EvaluationResult, outcome: SimulatorOutcome) -> list[str]:
    head = "| agent | " + " | ".join(TABLE_METRICS) + " |"
    lines = [head, "|---" * (len(TABLE_METRICS) + 1) + "|"]
    for label, agent in outcome.agents.items():
        cells = []
        for m in TABLE_METRICS:
            ci = agent.summary[m]
            cells.append(f"{_fmt(ci.mean)} [{_fmt(ci.low)}, {_fmt(ci.high)}]")
        lines.append(f"| {_display(result, label)} | " + " | ".join(cells) + " |")
    return lines


def _ranking(outcome: SimulatorOutcome, metric: str) -> list[str]:
    return sorted(outcome.agents, key=lambda lab: -outcome.agents[lab].summary[metric].mean)


def _swaps(a: list[str], b: list[str]) -> list[tuple[str, str]]:
    """Pairs ranked x above y in ``a`` but below in ``b``."""
    return [(x, y) for i, x in enumerate(a) for y in a[i + 1 :] if b.index(x) > b.index(y)]


def _overlap(p: MetricCI, q: MetricCI) -> bool:
    return not (p.low > q.high or q.low > p.high)


def _cross_section(result: EvaluationResult) -> list[str]:
    cross = result.cross
    if cross is None:
        return ["Not run (`--cross-sim none`).", ""]
    primary = result.primary
    lines = [
        f"The same agents — nothing retrained or re-tuned — meet the same held-out users under a "
        f"second user model: response model `{cross.response_model}` instead of "
        f"`{primary.response_model}` (see `docs/evaluation.md`; everything else — catalogue, "
        "behaviour dynamics, users, seeds — unchanged).  The myopic oracle reads the response "
        "model it is evaluated in, so it stays an oracle in both.",
        "",
        f"| agent | engagement ({primary.response_model}) | engagement ({cross.response_model}) "
        f"| return ({primary.response_model}) | return ({cross.response_model}) |",
        "|---|---|---|---|---|",
    ]
    for label in primary.agents:
        p, c = primary.agents[label].summary, cross.agents[label].summary
        lines.append(
            f"| {_display(result, label)} | {_fmt(p['engagement'].mean)} "
            f"[{_fmt(p['engagement'].low)}, {_fmt(p['engagement'].high)}] | "
            f"{_fmt(c['engagement'].mean)} [{_fmt(c['engagement'].low)}, "
            f"{_fmt(c['engagement'].high)}] | {_fmt(p['return'].mean)} | {_fmt(c['return'].mean)} |"
        )
    lines.append("")
    for metric in ("engagement", "return"):
        a, b = _ranking(primary, metric), _ranking(cross, metric)
        labels = list(primary.agents)
        if len(labels) >= 2:
            tau = sps.kendalltau([a.index(x) for x in labels], [b.index(x) for x in labels])
            tau_text = f"Kendall τ = {tau.statistic:.2f}"
        else:
            tau_text = "one agent"
        holds = "**holds**" if a == b else "**changes**"
        lines.append(
            f"- Ranking by {metric}: {' > '.join(_names(result, a))} ({primary.response_model}) "
            f"vs {' > '.join(_names(result, b))} ({cross.response_model}) — the ranking {holds} "
            f"({tau_text})."
        )
        for x, y in _swaps(a, b):
            px, py = primary.agents[x].summary[metric], primary.agents[y].summary[metric]
            cx, cy = cross.agents[x].summary[metric], cross.agents[y].summary[metric]
            lines.append(
                f"  - swapped: {_display(result, x)} vs {_display(result, y)} — "
                f"{_fmt(px.mean)} vs {_fmt(py.mean)} "
                f"({primary.response_model}), {_fmt(cx.mean)} vs {_fmt(cy.mean)} "
                f"({cross.response_model}); intervals overlap under {cross.response_model}: "
                f"{'yes' if _overlap(cx, cy) else 'no'}."
            )
    lines.append("")
    lines += ["Paired PPO-vs-baseline test under the second user model:", ""]
    lines += _paired_section(result, "cross")
    return lines


def _behaviour_section(result: EvaluationResult) -> list[str]:
    """The same agents under a second behaviour model (another long-term mechanism)."""
    other, primary = result.cross_behaviour, result.primary
    if other is None:
        return []
    names = (result.scenario.behaviour.model, result.config.cross_behaviour)
    lines = [
        "## Behaviour cross-check",
        "",
        f"The same agents — nothing retrained or re-tuned — meet the same held-out users under "
        f"behaviour model `{names[1]}` instead of `{names[0]}` (same catalogue, response model, "
        "users and seeds; see `docs/evaluation.md`).",
        "",
        f"| agent | return ({names[0]}) | return ({names[1]}) | episode length ({names[1]}) |",
        "|---|---|---|---|",
    ]
    for label in primary.agents:
        p, c = primary.agents[label].summary["return"], other.agents[label].summary
        lines.append(
            f"| {_display(result, label)} | {_fmt(p.mean)} [{_fmt(p.low)}, {_fmt(p.high)}] | "
            f"{_fmt(c['return'].mean)} [{_fmt(c['return'].low)}, {_fmt(c['return'].high)}] | "
            f"{_fmt(c['episode_length'].mean)} |"
        )
    a, b = _ranking(primary, "return"), _ranking(other, "return")
    holds = "**holds**" if a == b else "**changes**"
    lines += [
        "",
        f"- Ranking by return: {' > '.join(_names(result, a))} ({names[0]}) vs "
        f"{' > '.join(_names(result, b))} ({names[1]}) — the ranking {holds}.",
        "",
        f"Paired PPO-vs-baseline test under `{names[1]}`:",
        "",
        *_paired_section(result, "behaviour"),
    ]
    return lines


def _protocol(result: EvaluationResult) -> list[str]:
    cfg, sc = result.config, result.scenario
    lines = [
        f"- **Scenario** `{sc.name}` — {sc.description.strip() or '(no description)'}  "
        f"Response model `{sc.response.model}`, slate of {sc.slate.size} from "
        f"`{sc.slate.builder}`, at most {sc.episode.max_steps} steps per episode.",
        f"- **Held-out users**: {cfg.users} users of the `eval` split per seed, seeds "
        f"{result.seeds}; user i of seed s has episode key = i-th draw of "
        "`numpy.random.default_rng(s)`.  Every agent meets the same users with the same random "
        "streams (common random numbers), so differences between agents are paired."
        + (
            ""
            if sc.users.population == "synthetic"
            else f"  Population `{sc.users.population}` maps each key to one of the split's "
            "real users, so with more episodes than users a person appears several times (with "
            "other random streams); the bootstrap treats the repeats as independent, which makes "
            "the intervals somewhat optimistic."
        ),
        f"- **Objective**: return = Σ_t engagement_t + λ·diversity_t with λ = "
        f"{result.objective_weight:g} ({result.objective_source}); diversity = "
        f"`{sc.reward.diversity}`.  Engagement is the primary outcome.",
        "- **Agents**:",
    ]
    for spec in cfg.agents:
        desc = DESCRIPTIONS.get(spec.kind, "")
        if spec.kind == "ppo":
            desc += _ppo_description(result.ppo_runs[spec.path])  # type: ignore[index]
        lines.append(f"  - `{spec.label}`: {desc}")
    lines += baseline_protocol(result)
    lines += [
        "- **Uncertainty**: means over seeds; with two or more seeds, 95% Student-t intervals "
        "over the per-seed values (the seeds as units: each carries its users and its trained "
        "model), with one seed a percentile bootstrap over its users "
        f"({cfg.n_boot} resamples, resampling seed {cfg.boot_seed}, the same resamples for "
        "every agent); catalog_coverage and gini, which describe the whole set of slates, get "
        "the Student-t interval over the seeds always (n/a with one seed).  Paired tests: "
        "per-user differences over all (seed, user) pairs (paired bootstrap interval, Wilcoxon "
        "signed-rank and paired t-test, scipy) and at seed level (the seeds as units: "
        "Student-t interval and t-test of the per-seed mean differences).",
        "- **Metrics** (definitions in `docs/evaluation.md`): engagement and return per user; "
        "session_length = slates per session; ctr = clicks per slate; ild = mean cosine ILD of "
        "slates; category_coverage = share of categories a user was shown (mean over users); "
        "catalog_coverage and gini over all slates of a seed; tail_share = long-tail share of "
        "slots (80/20 popularity split); novelty = mean −log2 p(item) in bits; mcd = share of a "
        "user's shown items from the category they consumed most before the episode.",
    ]
    return lines


def _environment(result: EvaluationResult) -> str:
    """The numerical environment (CPU, library versions) after the code, if recorded."""
    if result.code is None or not result.code.environment:
        return ""
    return f", numerical environment: {result.code.describe_environment()}"


def _inputs(result: EvaluationResult) -> str:
    """The simulated users' inputs (a trained user model's identity), if any."""
    if not result.inputs:
        return ""
    return f"; simulated users' inputs: {describe_inputs(result.inputs)}"


def _ppo_description(run: PPORun) -> str:
    """What the report says about a PPO agent: model, training, sweep seeds, code."""
    lam = "unknown" if run.diversity_weight is None else f"{run.diversity_weight:g}"
    trained = f"scenario `{run.scenario}`" if run.scenario else "an unknown scenario"
    desc = (
        f"; model `{run.model_path}`, {run.num_timesteps} training steps on the `train` "
        f"split of {trained}, training seed {run.seed}, reward λ = {lam}"
    )
    if run.seed_runs:
        desc += (
            f"; sweep `{run.sweep_dir}`, its chosen configuration's training seeds "
            f"{[r.seed for r in run.seed_runs]} as one agent (evaluation seed s plays "
            "the model of training seed number s mod k; `training_seed` in results.csv)"
        )
    return desc + ". Trained with: " + _training_code(run)


def _training_code(run: PPORun) -> str:
    """Which code trained a PPO agent's runs, and on which simulated-user inputs (their
    ``run.code`` records)."""
    runs = run.seed_runs or [run]
    records = {
        f"seed {r.seed}" if run.seed_runs else "the run": (
            read_code_record(r.run_dir) if r.run_dir is not None else []
        )
        for r in runs
    }
    what = "training runs" if run.seed_runs else "training run"
    inputs = inputs_summary(records, what)
    return code_summary(records, what) + (f" {inputs}" if inputs else "")


def _frontier_families(result: EvaluationResult) -> str:
    """What the frontier shows, naming only the families it has."""
    families = {p.family for p in result.frontier}
    parts = []
    if families & {"baseline-mmr", "baseline-dpp"}:
        parts.append("the supervised ranker (at the tuned β) swept over the MMR and DPP λ")
    if "ppo-sweep" in families:
        parts.append("PPO runs trained with different reward λ (`--ppo-sweep`)")
    parts.append("every evaluated agent")
    text = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
    return text[0].upper() + text[1:]  # "The …" / "Every evaluated agent"


def _frontier_table(result: EvaluationResult) -> list[str]:
    lines = ["| family | point | engagement | ILD | return |", "|---|---|---|---|---|"]
    for p in result.frontier:
        label = _display(result, p.label) if p.family == "agent" else p.label
        lines.append(
            f"| {p.family} | {label} | {_fmt(p.engagement)} | {_fmt(p.ild)} | {_fmt(p.return_)} |"
        )
    return lines


def _results(result: EvaluationResult, outcome: SimulatorOutcome) -> pd.DataFrame:
    """``results.csv``; a ``training_seed`` column names the PPO model behind each row (and,
    with several baseline fits, the baseline fit's seed)."""
    seeds, n_users = result.seeds, result.config.users
    points = {
        (label, seed): agent.points[i]
        for label, agent in outcome.agents.items()
        for i, seed in enumerate(seeds)
    }
    frame = results_frame(points, n_users)
    if outcome is result.primary and result.offline is not None:
        result.offline.add_columns(frame)
    runs = {s.label: result.ppo_runs[s.path] for s in result.config.agents if s.kind == "ppo"}  # type: ignore[index]
    fits = result.config.baseline
    fitted = {s.label for s in result.config.agents if s.kind in BASELINE_KINDS}
    if fits.fits == 1:
        fitted = set()

    def trained_by(agent: str, seed: int) -> int | None:
        if agent in runs:
            return runs[agent].for_seed(seed).seed
        return fits.seed + seed % fits.fits if agent in fitted else None

    frame.insert(
        2,
        "training_seed",
        pd.array(
            [trained_by(a, int(s)) for a, s in zip(frame["agent"], frame["seed"], strict=True)],
            dtype="Int64",
        ),
    )
    return frame


def write_evaluation(
    result: EvaluationResult, out: str | Path, command: str = "", overwrite: bool = False
) -> Path:
    """Write ``results.csv``, ``report.md``, the figures and (if kept) ``trajectories.csv``."""
    cfg = result.config
    with staged_directory(out, overwrite) as tmp:
        _results(result, result.primary).to_csv(tmp / "results.csv", index=False)
        if cfg.save_trajectories:
            trajectories_frame(result.primary.trajectories).to_csv(
                tmp / "trajectories.csv", index=False
            )
        if result.cross is not None:
            (tmp / CROSS_DIR).mkdir()
            _results(result, result.cross).to_csv(tmp / CROSS_DIR / "results.csv", index=False)
            if cfg.save_trajectories:
                trajectories_frame(result.cross.trajectories).to_csv(
                    tmp / CROSS_DIR / "trajectories.csv", index=False
                )
        if result.baselines:
            # one row per (fit, setting); fit_seed tells the fits apart
            rows = [{**vars(r), "fit_seed": b.settings.seed} for b in result.baselines
                    for r in b.tuning]  # fmt: skip
            pd.DataFrame(rows).rename(columns={"return_": "return"}).to_csv(
                tmp / "baseline_tuning.csv", index=False
            )
        if result.frontier:
            pd.DataFrame([vars(p) for p in result.frontier]).rename(
                columns={"return_": "return"}
            ).to_csv(tmp / "frontier.csv", index=False)
        figures = _figures(result, tmp)
        (tmp / "report.md").write_text(_report(result, command, figures), encoding="utf-8")
    return Path(out)


def _figures(result: EvaluationResult, tmp: Path) -> dict[str, str]:
    # The plots name agents by their display names (colours follow them); the data stay keyed
    # by label.
    labels = _names(result, list(result.primary.agents))
    colours = agent_colours(labels)
    named = dict(zip(result.primary.agents, labels, strict=True))
    sc = result.scenario
    out: dict[str, str] = {}
    if result.frontier:
        frontier_plot(
            result.frontier,
            colours,
            tmp / "frontier.png",
            f"{sc.name}: engagement–diversity frontier "
            f"({min(result.config.users, result.config.frontier_users)} eval users, "
            f"seed {result.seeds[0]})",
            named,
        )
        out["frontier"] = "frontier.png"
    session_plot(
        {named[lab]: a.episode_lengths for lab, a in result.primary.agents.items()},
        colours,
        tmp / "session_lengths.png",
        sc.episode.max_steps,
        f"{sc.name}: slates per user before leaving (all seeds)",
    )
    out["sessions"] = "session_lengths.png"
    lorenz_plot(
        {named[lab]: a.item_exposure for lab, a in result.primary.agents.items()},
        colours,
        tmp / "lorenz.png",
        f"{sc.name}: exposure Lorenz curves (all seeds pooled)",
    )
    out["lorenz"] = "lorenz.png"
    if result.cross is not None:

        def triple(o: SimulatorOutcome, lab: str) -> tuple[float, float, float]:
            ci = o.agents[lab].summary["engagement"]
            return ci.mean, ci.low, ci.high

        cross_sim_plot(
            {named[lab]: triple(result.primary, lab) for lab in named},
            {named[lab]: triple(result.cross, lab) for lab in named},
            (result.primary.response_model, result.cross.response_model),
            tmp / "cross_simulator.png",
            "engagement",
        )
        out["cross"] = "cross_simulator.png"
    return out


def _code(result: EvaluationResult) -> str:
    """Which code computed the figures (:mod:`divrec_rl.provenance`)."""
    return f"divrec-rl {divrec_rl.__version__}" if result.code is None else result.code.describe()


def _report(result: EvaluationResult, command: str, figures: dict[str, str]) -> str:
    cfg, sc = result.config, result.scenario
    lines = [
        f"# Evaluation on `{sc.name}`",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by {_code(result)} "
        f"(Python {platform.python_version()}){_environment(result)}{_inputs(result)}.  "
        "Regenerate with:",
        "",
        "```",
        command or "(library call)",
        "```",
        "",
        "## Protocol",
        "",
        *_protocol(result),
        "",
        "## Results (held-out users)",
        "",
        f"Mean over {len(result.seeds)} seed(s) × {cfg.users} users, 95% bootstrap interval in "
        "brackets.  One row per (agent, seed) in `results.csv`"
        + (", every step in `trajectories.csv`." if cfg.save_trajectories else "."),
        "",
        *_means_table(result, result.primary),
        "",
        "## PPO against the supervised baseline (paired)",
        "",
        *_paired_section(result, "primary"),
        "## Offline accuracy on real users",
        "",
        *offline_section(result.offline, result.primary.agents, partial(_display, result)),
    ]
    if "frontier" in figures:
        lines += [
            "## Engagement–diversity frontier",
            "",
            f"{_frontier_families(result)}; all on the same "
            f"{min(cfg.users, cfg.frontier_users)} eval users (the first users of seed "
            f"{result.seeds[0]}).  Nothing is selected here — the baseline's λ was chosen on "
            "validation users.  Data: `frontier.csv`.",
            "",
            f"![frontier]({figures['frontier']})",
            "",
            *_frontier_table(result),
            "",
        ]
    lines += [
        "## Session lengths",
        "",
        f"![session lengths]({figures['sessions']})",
        "",
        "## Exposure concentration",
        "",
        f"![Lorenz curves]({figures['lorenz']})",
        "",
        "## Cross-simulator check",
        "",
        *_cross_section(result),
    ]
    if "cross" in figures:
        lines += [f"![cross-simulator]({figures['cross']})", ""]
    lines += _behaviour_section(result)
    if result.baseline is not None:
        lines += [
            "## Baseline tuning (validation users)",
            "",
            *tuning_table(result),
            "",
        ]
    if result.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in result.notes], ""]
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    lines += ["## Run", "", f"Wall-clock: {timing}.  Metric columns: {', '.join(METRICS)}.", ""]
    return "\n".join(lines)
