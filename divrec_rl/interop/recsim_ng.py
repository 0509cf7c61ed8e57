"""Side by side: RecSim NG's interest-evolution user and our ``interest-evolution`` scenario.

RecSim NG 0.1.2 needs numpy<2, tensorflow 2.15 and scipy 1.10 (its edward2 0.0.2 breaks on newer
ones), so it cannot share this environment.  It runs in ``.venv-recsim``
(``scripts/recsim_ng/setup.sh``) through ``scripts/recsim_ng/run_interest_evolution.py``, which
writes its statistics and the per-(user, step) arrays they come from; this module

1. derives our scenario configuration from a RecSim NG configuration (:func:`derive_scenario`:
   users, topics ↔ categories, documents ↔ items, slate size, horizon, seed; everything else
   differs and is listed by :func:`model_differences`);
2. runs the same policy (``random``: uniform slates; ``greedy``: the myopic oracle, top-k by the
   true click logit) through our rollout machinery (:func:`run_divrec`);
3. computes the same statistics for both with one function,
   :func:`~divrec_rl.interop.recsim_ng_stats.statistics` (the runner loads that module, which
   also holds the configuration schema, by path);
4. writes a report: ``report.md``, ``comparison.csv``, ``per_step.csv`` and ``comparison.png``.

The statistics are defined in :mod:`divrec_rl.interop.recsim_ng_stats`.

Engagement of a click: RecSim NG's consumed fraction ``consumed_time / doc_length = σ(−q)``; ours
the satisfaction ``σ(satisfaction logit − boredom)``.  A topic is RecSim NG's ``doc_topic`` and
our item's primary category.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.agents.baselines import GreedyAttractionAgent, RandomAgent
from divrec_rl.atomic import atomic_write_bytes, atomic_write_text
from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioConfig, ScenarioError
from divrec_rl.interop import recsim_ng_stats as shared
from divrec_rl.interop.recsim_ng_stats import POLICIES, RecSimNGConfig, statistics
from divrec_rl.resolve import resolve_scenario
from divrec_rl.rollout import Trajectories, rollout, user_keys
from divrec_rl.scenario import build_scenario
from divrec_rl.simulator import SlateSimulator
from divrec_rl.synthetic_shop import available_categories

__all__ = [
    "POLICIES",
    "RecSimNGConfig",
    "RecSimNGError",
    "StepLog",
    "compare",
    "default_python",
    "derive_scenario",
    "load_config",
    "model_differences",
    "parse_config",
    "run_divrec",
    "run_recsim_ng",
    "statistics",
    "write_report",
]

SCENARIO = "interest-evolution"
SETUP_SCRIPT = "scripts/recsim_ng/setup.sh"
PYTHON_ENV_VAR = "RECSIM_NG_PYTHON"
STATS_FILE = "recsim_ng_stats.json"


class RecSimNGError(RuntimeError):
    """The RecSim NG side is missing or failed; the message is one line for the user."""


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


def parse_config(raw: Mapping[str, Any], source: str = "") -> RecSimNGConfig:
    """:func:`~divrec_rl.interop.recsim_ng_stats.parse_config` for our catalogue (at most
    ``available_categories()`` topics, ``num_docs ≥ max(2·num_topics, num_topics + slate_size)``);
    raises :class:`ScenarioError` naming the field."""
    try:
        return shared.parse_config(raw, source, available_categories())
    except shared.ConfigError as exc:
        raise ScenarioError(str(exc)) from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RecSimNGConfig:
    """Read a JSON configuration file, apply ``overrides`` (e.g. ``--users``), validate as
    :func:`parse_config` does; raises :class:`ScenarioError`."""
    try:
        return shared.load_config(path, overrides, available_categories())
    except shared.ConfigError as exc:
        raise ScenarioError(str(exc)) from None


def derive_scenario(cfg: RecSimNGConfig) -> tuple[ScenarioConfig, list[tuple[str, str, str]]]:
    """Our ``interest-evolution`` scenario on ``cfg``'s configuration, and what was matched.

    Matched: items = documents, categories = topics, slate size, ``episode.max_steps`` = horizon,
    catalogue seed = seed.  Both policies choose from (almost) the whole catalogue as RecSim NG
    does: retrieval returns ``n_candidates = M − C`` items spread evenly over the categories
    (``explore_fraction = 1``), i.e. every item except one random item per category.  Returns
    the config and rows ``(RecSim NG, ours, value)``.
    """
    overrides = {
        "catalog": {"n_items": cfg.num_docs, "n_categories": cfg.num_topics, "seed": cfg.seed},
        "slate": {
            "size": cfg.slate_size,
            "builder": "candidates",
            "n_candidates": cfg.num_docs - cfg.num_topics,
            "explore_fraction": 1.0,
        },
        "episode": {"max_steps": cfg.horizon},
    }
    scenario = resolve_scenario(SCENARIO, overrides=overrides)
    rows = [
        ("num_users", "users of the eval split, keys user_keys(seed, N)", str(cfg.num_users)),
        ("num_topics", "catalog.n_categories", str(cfg.num_topics)),
        ("num_docs", "catalog.n_items", str(cfg.num_docs)),
        ("slate_size", "slate.size", str(cfg.slate_size)),
        ("horizon (trajectory steps)", "episode.max_steps", str(cfg.horizon)),
        ("seed (tf.random.set_seed)", "catalog.seed and user keys", str(cfg.seed)),
        (
            "slate from the whole corpus",
            "slate.n_candidates = n_items − n_categories, explore_fraction = 1",
            str(cfg.num_docs - cfg.num_topics),
        ),
    ]
    return scenario, rows


def model_differences(sc: ScenarioConfig) -> list[tuple[str, str, str]]:
    """What the configuration cannot match: ``(aspect, RecSim NG, ours)`` from ``sc``'s values."""
    b, r, u = sc.behaviour, sc.response, sc.users
    fatigue = f"{b.boredom.attraction_penalty}·fatigue"
    leave = (
        f"patience {b.patience.initial}, −{b.patience.step_cost} per step, "
        f"−{b.patience.no_click_cost} without a click, +{b.patience.refill}·engagement; "
        "the user leaves at 0"
    )
    return [
        (
            "items",
            "features f ~ N(onehot(topic), 0.7²) in R^T, topics uniform",
            f"unit vectors in R^{sc.catalog.embedding_dim} from category, brand, attributes, "
            "price band; Dirichlet category sizes",
        ),
        (
            "quality",
            "q ~ N(μ_topic, 0.1²); 70 % of topics 'trashy' (μ ∈ [−1, 0])",
            "q ~ N(0, 0.5²), independent of the category",
        ),
        (
            "popularity",
            "none",
            f"Zipf (α = {sc.catalog.popularity_exponent}), weight {r.popularity_weight} in the "
            "click logit",
        ),
        (
            "initial interest",
            "θ ~ N(0, I_T), not normalised",
            f"unit vector: {u.min_favourite_categories}–{u.max_favourite_categories} favourite "
            f"categories + noise {u.interest_noise}",
        ),
        (
            "click model",
            "MNL over −‖θ − f‖ + 2, no-click logit 0",
            f"{b.choice.model.upper()} over {r.match_weight}·cos(θ, e) + {r.popularity_weight}·"
            f"z(log pop) + {r.quality_weight}·q + ({r.bias}) − {fatigue}, no-click logit "
            f"{b.choice.no_click_logit}",
        ),
        (
            "engagement of a click",
            "consumed fraction σ(−q): trashy items hold attention longer",
            f"σ({b.satisfaction.match_weight}·cos + {b.satisfaction.quality_weight}·q + "
            f"({b.satisfaction.bias}) − {b.boredom.satisfaction_penalty}·fatigue)",
        ),
        (
            "interest drift",
            "θ ← squash(θ + 0.1·q·(f − θ)): toward good, away from trashy items",
            f"θ ← normalise(θ + {b.drift.rate}·(e − θ)): toward every consumed item",
        ),
        (
            "boredom",
            "none",
            f"per-category fatigue (exposure {b.boredom.exposure_weight}, consumption "
            f"{b.boredom.consume_weight}, decay {b.boredom.decay})",
        ),
        ("leaving / time budget", "none: every user is stepped for the whole horizon", leave),
        (
            "randomness",
            "TensorFlow/edward2 draws after tf.random.set_seed(seed)",
            "counter-based per-user streams; the users are not the same individuals",
        ),
    ]


# ------------------------------------------------------------------------------------------
# the common per-(user, step) record
# ------------------------------------------------------------------------------------------


class StepLog(shared.StepLog):
    """:class:`~divrec_rl.interop.recsim_ng_stats.StepLog` read from the RecSim NG runner's
    arrays or converted from our rollout."""

    @classmethod
    def from_npz(cls, path: str | Path) -> StepLog:
        """Read the RecSim NG runner's ``recsim_ng_raw_<policy>.npz`` (extra arrays ignored)."""
        with np.load(path) as data:
            missing = [f for f in cls.FIELDS if f not in data.files]
            if missing:
                raise RecSimNGError(f"{path}: missing arrays {', '.join(missing)}")
            return cls(**{f: np.asarray(data[f]) for f in cls.FIELDS}).validate()

    @classmethod
    def from_trajectories(
        cls, traj: Trajectories, catalog: Catalog, interest: np.ndarray, horizon: int
    ) -> StepLog:
        """Our rollout rows as a step log; topics are primary categories, quality is
        standardised with the catalogue's mean and standard deviation."""
        if len(traj) and int(traj.step.max()) >= horizon:
            raise ValueError(f"trajectories: steps beyond the horizon {horizon}")
        u, s = traj.user, traj.step
        shape = (traj.n_users, horizon)
        active = np.zeros(shape, dtype=bool)
        active[u, s] = True
        hit = traj.clicked >= 0
        item = np.where(hit, traj.clicked, 0)
        cat = catalog.primary_category
        q = catalog.quality.astype(np.float64)
        qz = (q - q.mean()) / (q.std() or 1.0)
        log = cls(
            active=active,
            clicked=np.zeros(shape, dtype=bool),
            topic=np.full(shape, -1, dtype=np.int64),
            engagement=np.zeros(shape),
            quality_z=np.full(shape, np.nan),
            slate_topics=np.zeros((*shape, traj.slate.shape[1]), dtype=np.int64),
            interest=np.asarray(interest, dtype=np.float64),
        )
        log.clicked[u, s] = hit
        log.topic[u, s] = np.where(hit, cat[item], -1)
        log.engagement[u, s] = traj.engagement
        log.quality_z[u, s] = np.where(hit, qz[item], np.nan)
        log.slate_topics[u, s] = cat[traj.slate]
        return log.validate()


# ------------------------------------------------------------------------------------------
# our side
# ------------------------------------------------------------------------------------------


class _InterestRecorder:
    """Wraps an agent and records every user's hidden interest before each step."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.name = agent.name
        self.snapshots: list[np.ndarray] = []

    def act(self, observation: dict[str, np.ndarray], simulator: Any) -> np.ndarray:
        self.snapshots.append(simulator.state.interest.astype(np.float64))
        return self.agent.act(observation, simulator)

    def interest(self, final: np.ndarray, horizon: int) -> np.ndarray:
        """``(U, horizon+1, d)``: the snapshots, the final state, then the final state repeated
        (users who left keep their last interest)."""
        final = final.astype(np.float64)
        frames = [*self.snapshots, final]
        frames += [final] * (horizon + 1 - len(frames))
        return np.stack(frames, axis=1)


def make_policy(name: str, seed: int) -> Any:
    """Our agent for a policy name: ``random`` → RandomAgent, ``greedy`` → GreedyAttractionAgent."""
    if name == "random":
        return RandomAgent(seed=seed)
    if name == "greedy":
        return GreedyAttractionAgent()
    raise ScenarioError(
        f"field 'policies': unknown policy {name!r} (allowed: {', '.join(POLICIES)})"
    )


def run_divrec(cfg: RecSimNGConfig, policy: str, scenario: ScenarioConfig | None = None) -> StepLog:
    """One episode for each of ``cfg.num_users`` eval users of our scenario under ``policy``."""
    sc = scenario if scenario is not None else derive_scenario(cfg)[0]
    built = build_scenario(sc)
    sim = SlateSimulator(built, cfg.num_users, split="eval")
    agent = _InterestRecorder(make_policy(policy, cfg.seed))
    traj = rollout(agent, sim, user_keys(cfg.seed, cfg.num_users))
    interest = agent.interest(sim.state.interest, cfg.horizon)
    return StepLog.from_trajectories(traj, built.catalog, interest, cfg.horizon)


# ------------------------------------------------------------------------------------------
# the RecSim NG side (a subprocess in .venv-recsim)
# ------------------------------------------------------------------------------------------


def default_python(repo_root: str | Path) -> Path:
    """``$RECSIM_NG_PYTHON`` if set, else ``<repo_root>/.venv-recsim/bin/python``."""
    env = os.environ.get(PYTHON_ENV_VAR)
    return Path(env) if env else Path(repo_root) / ".venv-recsim" / "bin" / "python"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def run_recsim_ng(
    cfg: RecSimNGConfig, out_dir: Path, python: Path, runner: Path, timeout: float = 1800.0
) -> dict[str, Any]:
    """Run the RecSim NG runner with ``python`` (CPU only) and return its statistics JSON.

    Raises :class:`RecSimNGError` with one line: the environment or runner is missing (naming
    the set-up script), the run failed (its last stderr line) or timed out.
    """
    if not Path(python).is_file():
        raise RecSimNGError(
            f"RecSim NG environment not found ({python} does not exist): run "
            f"`bash {SETUP_SCRIPT}` or point --recsim-python / ${PYTHON_ENV_VAR} at its python"
        )
    if not Path(runner).is_file():
        raise RecSimNGError(f"RecSim NG runner not found: {runner}")
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / "recsim_ng_config.json"
    config_path.write_text(json.dumps(cfg.to_json(), indent=1), encoding="utf-8")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    env.pop("PYTHONPATH", None)  # nothing of this environment may leak into the other one
    cmd = [str(python), str(runner), "--config", str(config_path), "--out", str(out_dir)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RecSimNGError(f"the RecSim NG runner took longer than {timeout:.0f} s") from None
    (out_dir / "recsim_ng_stderr.log").write_text(done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise RecSimNGError(
            f"the RecSim NG runner failed (exit {done.returncode}): {_last_line(done.stderr)} "
            f"(full log: {out_dir / 'recsim_ng_stderr.log'})"
        )
    return json.loads((out_dir / STATS_FILE).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------
# comparison and report
# ------------------------------------------------------------------------------------------

# (key, label); all are "higher means more of it", compared as numbers.
SUMMARY_ROWS: list[tuple[str, str]] = [
    ("click_rate", "click rate (clicks / shown slates)"),
    ("engagement_per_click", "engagement per click (0–1)"),
    ("engagement_per_step", "engagement per shown slate"),
    ("cumulative_engagement_per_user", "cumulative engagement per user"),
    ("session_length_mean", "mean session length (steps)"),
    ("retention_at_horizon", "share of users still there at the horizon"),
    ("topic_entropy_bits", "consumed-topic entropy (bits)"),
    ("topic_entropy_normalised", "consumed-topic entropy / log2 T"),
    ("user_topic_entropy_bits", "per-user consumed-topic entropy (bits)"),
    ("top_topic_share", "share of clicks on the most-clicked topic"),
    ("consumed_quality_z", "consumed quality (z vs catalogue)"),
    ("distinct_topics_per_slate", "distinct topics per slate"),
    ("interest_cosine_final", "cos(initial, final interest)"),
]
_FLAT = 0.005  # |Δ| below this counts as "no effect" when comparing policy effects


@dataclass
class Comparison:
    """Both models' statistics per policy on one configuration."""

    config: RecSimNGConfig
    scenario: ScenarioConfig
    matched: list[tuple[str, str, str]]
    recsim: dict[str, dict[str, Any]]
    ours: dict[str, dict[str, Any]]
    recsim_meta: dict[str, Any]


def compare(
    cfg: RecSimNGConfig, out_dir: str | Path, python: Path, runner: Path, plot: bool = True
) -> Comparison:
    """Run both models under every policy of ``cfg`` and write the report into ``out_dir``."""
    out = Path(out_dir)
    scenario, matched = derive_scenario(cfg)
    report = run_recsim_ng(cfg, out, python, runner)
    recsim: dict[str, dict[str, Any]] = {}
    ours: dict[str, dict[str, Any]] = {}
    for policy in cfg.policies:
        log = StepLog.from_npz(out / f"recsim_ng_raw_{policy}.npz")
        recsim[policy] = statistics(log, cfg.num_topics)
        ours[policy] = statistics(run_divrec(cfg, policy, scenario), cfg.num_topics)
    meta = {k: report.get(k) for k in ("versions", "user_model", "simulator")}
    result = Comparison(cfg, scenario, matched, recsim, ours, meta)
    write_report(result, out, plot=plot)
    return result


def _sign(delta: float) -> int:
    return 0 if abs(delta) < _FLAT else (1 if delta > 0 else -1)


def comparison_rows(c: Comparison) -> list[dict[str, Any]]:
    """One row per (policy, statistic): both values; the CSV and the markdown table."""
    rows = []
    for policy in c.config.policies:
        for key, label in SUMMARY_ROWS:
            rows.append(
                {
                    "policy": policy,
                    "statistic": key,
                    "label": label,
                    "recsim_ng": c.recsim[policy]["summary"][key],
                    "divrec_rl": c.ours[policy]["summary"][key],
                }
            )
    return rows


def effect_rows(c: Comparison) -> list[dict[str, Any]]:
    """Greedy − random in each model and whether the direction agrees: ``agree``, ``disagree``
    or ``both flat`` (|Δ| < 0.005 counts as flat)."""
    if not {"random", "greedy"} <= set(c.config.policies):
        return []
    rows = []
    for key, label in SUMMARY_ROWS:
        d_ng = c.recsim["greedy"]["summary"][key] - c.recsim["random"]["summary"][key]
        d_us = c.ours["greedy"]["summary"][key] - c.ours["random"]["summary"][key]
        s_ng, s_us = _sign(d_ng), _sign(d_us)
        direction = "both flat" if s_ng == s_us == 0 else "agree" if s_ng == s_us else "disagree"
        rows.append(
            {
                "statistic": key,
                "label": label,
                "recsim_ng": d_ng,
                "divrec_rl": d_us,
                "direction": direction,
            }
        )
    return rows


def per_step_rows(c: Comparison) -> list[dict[str, Any]]:
    """Long-format per-step statistics of both models: the ``per_step.csv`` rows."""
    rows = []
    for model, stats in (("recsim_ng", c.recsim), ("divrec_rl", c.ours)):
        for policy, s in stats.items():
            ps = s["per_step"]
            for t in range(len(ps["active"])):
                rows.append(
                    {"model": model, "policy": policy, "step": t, **{k: ps[k][t] for k in ps}}
                )
    return rows


def _fmt(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 1000 else f"{x:.0f}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _reading(c: Comparison) -> list[str]:
    """Plain-language bullets generated from the numbers."""
    lines = []
    for policy in c.config.policies:
        ng, us = c.recsim[policy]["summary"], c.ours[policy]["summary"]
        lines.append(
            f"- `{policy}`: click rate {ng['click_rate']:.3f} (RecSim NG) vs "
            f"{us['click_rate']:.3f} (ours); mean session {ng['session_length_mean']:.1f} vs "
            f"{us['session_length_mean']:.1f} steps of {c.config.horizon}; interest cosine "
            f"start→end {ng['interest_cosine_final']:.3f} vs {us['interest_cosine_final']:.3f}."
        )
    effects = effect_rows(c)
    if effects:

        def names(kind: str) -> str:
            return ", ".join(f"`{r['statistic']}`" for r in effects if r["direction"] == kind)

        lines.append(
            "- The greedy oracle moves these statistics in the same direction in both models: "
            f"{names('agree') or 'none'}; in opposite directions, or in one model only: "
            f"{names('disagree') or 'none'}; in neither: {names('both flat') or 'none'}."
        )
    lines.append(
        "- Absolute levels are not expected to match: the two user models share the protocol "
        "(users, topics, documents, slate size, horizon, policy), not their equations (table "
        "below). Compare directions of policy effects and the shapes of the per-step curves."
    )
    return lines


def markdown_report(c: Comparison) -> str:
    """The ``report.md`` text: protocol, matched configuration, tables, reading, differences."""
    cfg = c.config
    out = [
        "# RecSim NG interest-evolution vs divrec-rl `interest-evolution`",
        "",
        "## Protocol",
        "",
        f"Both simulators run {cfg.num_users} users for at most {cfg.horizon} steps with slates "
        f"of {cfg.slate_size} from {cfg.num_docs} documents in {cfg.num_topics} topics (seed "
        f"{cfg.seed}), under the policies {', '.join(f'`{p}`' for p in cfg.policies)}: `random` "
        "= a uniformly random slate; `greedy` = the myopic oracle, the top-k items by the user's "
        "true click logit (RecSim NG: affinity −‖θ − f‖; ours: `GreedyAttractionAgent`). "
        "RecSim NG runs in `.venv-recsim` (versions: "
        + ", ".join(f"{k} {v}" for k, v in (c.recsim_meta.get("versions") or {}).items())
        + "); statistics of both are computed by `divrec_rl.interop.recsim_ng_stats.statistics` "
        "(the runner loads the same module).",
        "",
        *_md_table(["RecSim NG", "ours", "value"], [list(r) for r in c.matched]),
        "",
        "## Statistics",
        "",
    ]
    table = [
        [r["policy"], r["label"], _fmt(r["recsim_ng"]), _fmt(r["divrec_rl"])]
        for r in comparison_rows(c)
    ]
    out += _md_table(["policy", "statistic", "RecSim NG", "divrec-rl"], table)
    effects = effect_rows(c)
    if effects:
        out += ["", "## Policy effect (greedy − random)", ""]
        out += _md_table(
            ["statistic", "RecSim NG", "divrec-rl", "direction"],
            [
                [r["label"], f"{r['recsim_ng']:+.3f}", f"{r['divrec_rl']:+.3f}", r["direction"]]
                for r in effects
            ],
        )
    out += ["", "## Reading", "", *_reading(c), "", "## What the configuration cannot match", ""]
    out += _md_table(
        ["aspect", "RecSim NG", "divrec-rl"], [list(r) for r in model_differences(c.scenario)]
    )
    out += ["", "Per-step curves: `per_step.csv` (and `comparison.png`).", ""]
    return "\n".join(out)


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def plot_comparison(c: Comparison, path: Path) -> None:
    """Per-step click rate, engagement, interest cosine and active share, both models."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("click_rate", "click rate"),
        ("engagement", "engagement per slate"),
        ("drift_cosine", "cos(initial, current interest)"),
        ("active", "share active"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for ax, (key, title) in zip(axes.ravel(), panels, strict=True):
        for model, stats, style in (("RecSim NG", c.recsim, "--"), ("divrec-rl", c.ours, "-")):
            for policy, s in stats.items():
                y = np.array(s["per_step"][key], dtype=float)  # None → NaN: no line
                if key == "active":
                    y = y / c.config.num_users
                ax.plot(y, style, label=f"{model} {policy}")
        ax.set_title(title)
        ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_report(c: Comparison, out_dir: Path, plot: bool = True) -> list[Path]:
    """Write ``report.md``, ``comparison.csv``, ``per_step.csv``, ``divrec_rl_stats.json`` and
    (``plot``) ``comparison.png`` atomically; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "report.md": markdown_report(c),
        "comparison.csv": _csv_text(
            [{k: v for k, v in r.items() if k != "label"} for r in comparison_rows(c)]
        ),
        "per_step.csv": _csv_text(per_step_rows(c)),
        "divrec_rl_stats.json": json.dumps(
            {"config": c.config.to_json(), "scenario": c.scenario.model_dump(), "policies": c.ours},
            indent=1,
        ),
    }
    paths = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    if plot:
        plot_comparison(c, out_dir / "comparison.png")
        paths.append(out_dir / "comparison.png")
    return paths
