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
3. computes the same statistics with the same definitions for both (:func:`statistics`; the
   RecSim NG runner's own numbers are recomputed from its arrays and must agree,
   :func:`check_same_statistics`);
4. writes a report: ``report.md``, ``comparison.csv``, ``per_step.csv`` and ``comparison.png``.

Statistics, for U users and H steps with ``a_ut`` = user u was stepped at step t, ``c_ut`` =
clicked, ``e_ut`` ∈ [0, 1] the engagement of the click (0 without one), ``θ_u,t`` the interest
before step t (``θ_u,t+1`` after it):

* per step: ``active[t] = Σ_u a_ut``, ``click_rate[t] = Σ_u a_ut c_ut / active[t]``,
  ``engagement[t] = Σ_u a_ut e_ut / active[t]``,
  ``drift_cosine[t] = Σ_u a_ut cos(θ_u,0, θ_u,t+1) / active[t]`` (undefined, ``None``, once
  ``active[t] = 0``);
* summary: click rate ``Σ a c / Σ a``; engagement per step ``Σ a e / Σ a``; engagement per click;
  cumulative engagement per user ``mean_u Σ_t a e``; mean session length ``mean_u Σ_t a_ut``;
  retention at the horizon (share of users stepped H times); consumed-topic distribution
  ``p_c`` = share of clicks on topic c, its entropy ``−Σ p_c log2 p_c`` (bits, and divided by
  ``log2 T``) and largest share; per-user topic entropy averaged over users with a click;
  consumed quality ``mean over clicks of (q − mean q)/std q`` (catalogue moments); distinct
  topics per shown slate; final interest cosine ``mean_u cos(θ_u,0, θ_u,L_u)`` with ``L_u`` the
  user's session length.

Engagement of a click: RecSim NG's consumed fraction ``consumed_time / doc_length = σ(−q)``; ours
the satisfaction ``σ(satisfaction logit − boredom)``.  A topic is RecSim NG's ``doc_topic`` and
our item's primary category.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.agents.baselines import GreedyAttractionAgent, RandomAgent
from divrec_rl.atomic import atomic_write_bytes, atomic_write_text
from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioConfig, ScenarioError
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
    "check_same_statistics",
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

POLICIES = ("random", "greedy")
SCENARIO = "interest-evolution"
SETUP_SCRIPT = "scripts/recsim_ng/setup.sh"
PYTHON_ENV_VAR = "RECSIM_NG_PYTHON"
STATS_FILE = "recsim_ng_stats.json"
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "num_users": (1, 100_000),
    "num_topics": (1, available_categories()),
    "num_docs": (2, 1_000_000),
    "slate_size": (1, 1000),
    "horizon": (1, 100_000),
    "seed": (0, 2**31 - 1),
}


class RecSimNGError(RuntimeError):
    """The RecSim NG side is missing or failed; the message is one line for the user."""


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecSimNGConfig:
    """A RecSim NG interest-evolution configuration (the runner's fields) and the policies."""

    num_users: int = 200
    num_topics: int = 10
    num_docs: int = 200
    slate_size: int = 5
    horizon: int = 40
    seed: int = 0
    policies: tuple[str, ...] = POLICIES

    def to_json(self) -> dict[str, Any]:
        """The runner's JSON configuration."""
        data = asdict(self)
        data["policies"] = list(self.policies)
        return data


def _check_int(name: str, value: Any, where: str) -> int:
    low, high = _INT_BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        extra = " (our synthetic-shop catalogue has at most that many categories)"
        hint = extra if name == "num_topics" else ""
        raise ScenarioError(
            f"{where}field '{name}': must be an integer in [{low}, {high}]{hint}, got {value!r}"
        )
    return value


def _check_policies(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, list | tuple):
        names = [str(p).strip() for p in items if str(p).strip()]
        if names and all(p in POLICIES for p in names):
            return tuple(dict.fromkeys(names))
    raise ScenarioError(
        f"{where}field 'policies': must be a non-empty list of {', '.join(POLICIES)}, got {value!r}"
    )


def parse_config(raw: Mapping[str, Any], source: str = "") -> RecSimNGConfig:
    """Validate a mapping of configuration fields (missing ones take the defaults).

    Raises :class:`ScenarioError` naming the field.  Besides each field's range, our catalogue
    must hold every category twice and the candidate set (``num_docs − num_topics`` items) a
    slate: ``num_docs ≥ max(2·num_topics, num_topics + slate_size)``.
    """
    where = f"{source}: " if source else ""
    allowed = list(RecSimNGConfig.__dataclass_fields__)
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ScenarioError(f"{where}unknown field '{unknown[0]}' (allowed: {', '.join(allowed)})")
    values: dict[str, Any] = {
        k: _check_int(k, v, where) for k, v in raw.items() if k in _INT_BOUNDS
    }
    if "policies" in raw:
        values["policies"] = _check_policies(raw["policies"], where)
    cfg = RecSimNGConfig(**values)
    need = max(2 * cfg.num_topics, cfg.num_topics + cfg.slate_size)
    if cfg.num_docs < need:
        raise ScenarioError(
            f"{where}field 'num_docs': must be ≥ max(2·num_topics, num_topics + slate_size) "
            f"= {need} so that our catalogue holds every category and a slate, got {cfg.num_docs}"
        )
    return cfg


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RecSimNGConfig:
    """Read a JSON configuration file, apply ``overrides`` (e.g. ``--users``), validate."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a JSON object of configuration fields")
    return parse_config({**raw, **(overrides or {})}, str(path))


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


@dataclass
class StepLog:
    """One run as dense ``(U, H)`` arrays (U users, H = horizon steps).

    ``active`` (the user was stepped), ``clicked``, ``topic`` (consumed topic or −1),
    ``engagement`` ∈ [0, 1] (0 without a click), ``quality_z`` (standardised quality of the
    consumed item, NaN without a click), ``slate_topics`` ``(U, H, k)``, ``interest``
    ``(U, H+1, d)`` (before step 0, then after each step; frozen once the user left).
    """

    active: np.ndarray
    clicked: np.ndarray
    topic: np.ndarray
    engagement: np.ndarray
    quality_z: np.ndarray
    slate_topics: np.ndarray
    interest: np.ndarray

    FIELDS = ("active", "clicked", "topic", "engagement", "quality_z", "slate_topics", "interest")

    def validate(self) -> StepLog:
        """Check the shapes agree; returns ``self``."""
        u, h = self.active.shape
        for name in self.FIELDS[1:5]:
            if getattr(self, name).shape != (u, h):
                raise ValueError(f"step log.{name}: expected shape {(u, h)}")
        if self.slate_topics.shape[:2] != (u, h):
            raise ValueError(f"step log.slate_topics: expected shape {(u, h)} + (k,)")
        if self.interest.ndim != 3 or self.interest.shape[:2] != (u, h + 1):
            raise ValueError(f"step log.interest: expected shape {(u, h + 1)} + (d,)")
        return self

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
# statistics (the runner computes the same; check_same_statistics compares)
# ------------------------------------------------------------------------------------------


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a·b / (‖a‖‖b‖)`` along the last axis; 0 where either vector is zero."""
    num = (a * b).sum(axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def entropy_bits(counts: np.ndarray) -> float:
    """``H = −Σ p_c log2 p_c`` with ``p = counts / Σ counts``; 0 for no counts."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def distinct_per_row(values: np.ndarray) -> np.ndarray:
    """Number of distinct values in each row of a 2-D integer array."""
    if values.shape[0] == 0:
        return np.zeros(0)
    srt = np.sort(values, axis=1)
    return 1 + (srt[:, 1:] != srt[:, :-1]).sum(axis=1)


def mean_over_active(active: np.ndarray, x: np.ndarray) -> list[float | None]:
    """``Σ_u a_ut x_ut / Σ_u a_ut`` for each step t; ``None`` where no user is active."""
    total = np.where(active, x, 0.0).sum(axis=0)
    n = active.sum(axis=0)
    return [float(v) / int(k) if k else None for v, k in zip(total, n, strict=True)]


def per_step_statistics(log: StepLog) -> dict[str, list[Any]]:
    """``active``, ``click_rate``, ``engagement`` and ``drift_cosine`` per step (see module);
    the rates are ``None`` at steps where nobody is active any more."""
    a = log.active
    cos = cosine_rows(log.interest[:, :1, :], log.interest[:, 1:, :])
    return {
        "active": a.sum(axis=0).astype(int).tolist(),
        "click_rate": mean_over_active(a, (log.clicked & a).astype(np.float64)),
        "engagement": mean_over_active(a, log.engagement),
        "drift_cosine": mean_over_active(a, cos),
    }


def _topic_summary(log: StepLog, n_topics: int) -> tuple[dict[str, float], np.ndarray]:
    clicked = log.clicked & log.active
    counts = np.bincount(log.topic[clicked], minlength=n_topics).astype(np.float64)
    per_user = [
        entropy_bits(np.bincount(log.topic[u][clicked[u]], minlength=n_topics))
        for u in np.flatnonzero(clicked.any(axis=1))
    ]
    h = entropy_bits(counts)
    total = counts.sum()
    summary = {
        "topic_entropy_bits": h,
        "topic_entropy_normalised": h / math.log2(n_topics) if n_topics > 1 else 0.0,
        "user_topic_entropy_bits": float(np.mean(per_user)) if per_user else 0.0,
        "top_topic_share": float(counts.max() / total) if total else 0.0,
    }
    return summary, counts / max(total, 1.0)


def summary_statistics(log: StepLog, n_topics: int) -> tuple[dict[str, float], np.ndarray]:
    """The summary statistics of the module docstring and the consumed-topic distribution."""
    a = log.active
    clicked = log.clicked & a
    shown = max(int(a.sum()), 1)
    n_clicks = int(clicked.sum())
    eng = np.where(a, log.engagement, 0.0)
    session = a.sum(axis=1)
    final = log.interest[np.arange(len(session)), session, :]
    topics, distribution = _topic_summary(log, n_topics)
    distinct = distinct_per_row(log.slate_topics[a])
    summary = {
        "click_rate": float(clicked.sum() / shown),
        "engagement_per_step": float(eng.sum()) / shown,
        "engagement_per_click": float(log.engagement[clicked].mean()) if n_clicks else 0.0,
        "cumulative_engagement_per_user": float(eng.sum(axis=1).mean()),
        "session_length_mean": float(session.mean()),
        "retention_at_horizon": float((session == a.shape[1]).mean()),
        **topics,
        "consumed_quality_z": float(log.quality_z[clicked].mean()) if n_clicks else 0.0,
        "distinct_topics_per_slate": float(distinct.mean()) if distinct.size else 0.0,
        "interest_cosine_final": float(cosine_rows(log.interest[:, 0, :], final).mean()),
        "clicks": n_clicks,
    }
    return summary, distribution


def statistics(log: StepLog, n_topics: int) -> dict[str, Any]:
    """``{"per_step": …, "summary": …, "topic_distribution": […]}`` of one run."""
    summary, distribution = summary_statistics(log, n_topics)
    return {
        "per_step": per_step_statistics(log),
        "summary": summary,
        "topic_distribution": distribution.tolist(),
    }


def _same_numbers(a: Any, b: Any) -> bool:
    """Equal to 1e-9 (``None`` = NaN = undefined, equal to itself)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=0.0, atol=1e-9, equal_nan=True))


def check_same_statistics(reported: Mapping[str, Any], recomputed: Mapping[str, Any]) -> None:
    """Raise :class:`RecSimNGError` unless the runner's numbers equal ours on its own arrays
    (|Δ| ≤ 1e-9 for every summary value and per-step entry): the definitions are the same."""
    bad: list[str] = []
    for section in ("summary", "per_step"):
        for key, mine in recomputed[section].items():
            theirs = reported.get(section, {}).get(key)
            if theirs is None or not _same_numbers(theirs, mine):
                bad.append(f"{section}.{key}")
    if bad:
        raise RecSimNGError(
            "the RecSim NG runner's statistics differ from ours on its own arrays: "
            + ", ".join(bad)
        )


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
        check_same_statistics(report["policies"][policy], recsim[policy])
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
        + "); statistics of both are computed by `divrec_rl.interop.recsim_ng.statistics` "
        "(the runner's own numbers are checked to be identical).",
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
