"""The RecSim NG comparison's configuration schema and statistics: one definition for both sides.

This module imports only the standard library and numpy (1.26 or 2.x), because two environments
use it: :mod:`divrec_rl.interop.recsim_ng` imports it as usual, and the RecSim NG runner
``scripts/recsim_ng/run_interest_evolution.py`` (in ``.venv-recsim``, which has neither
divrec_rl's dependencies nor numpy 2) loads this file by path without importing ``divrec_rl``.
Nothing from ``divrec_rl`` may be imported here.

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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "INT_BOUNDS",
    "POLICIES",
    "ConfigError",
    "RecSimNGConfig",
    "StepLog",
    "cosine_rows",
    "distinct_per_row",
    "entropy_bits",
    "load_config",
    "mean_over_active",
    "parse_config",
    "per_step_statistics",
    "statistics",
    "summary_statistics",
]

POLICIES = ("random", "greedy")
# Bounds of the integer fields; ``num_topics`` is capped lower when the configuration has to fit
# a catalogue (``parse_config(..., max_topics=...)``).
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "num_users": (1, 100_000),
    "num_topics": (1, 1000),
    "num_docs": (2, 1_000_000),
    "slate_size": (1, 1000),
    "horizon": (1, 100_000),
    "seed": (0, 2**31 - 1),
}


class ConfigError(ValueError):
    """Bad configuration; the message (one line) names the field."""


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


def _check_int(name: str, value: Any, where: str, max_topics: int | None) -> int:
    low, high = INT_BOUNDS[name]
    hint = ""
    if name == "num_topics" and max_topics is not None:
        high = max_topics
        hint = " (our synthetic-shop catalogue has at most that many categories)"
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"{where}field '{name}': must be an integer in [{low}, {high}]{hint}, got {value!r}"
        )
    return value


def _check_policies(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, (list, tuple)):  # not list | tuple: the runner may be Python 3.9
        names = [str(p).strip() for p in items if str(p).strip()]
        if names and all(p in POLICIES for p in names):
            return tuple(dict.fromkeys(names))
    raise ConfigError(
        f"{where}field 'policies': must be a non-empty list of {', '.join(POLICIES)}, got {value!r}"
    )


def parse_config(
    raw: Mapping[str, Any], source: str = "", max_topics: int | None = None
) -> RecSimNGConfig:
    """Validate a mapping of configuration fields (missing ones take the defaults).

    Raises :class:`ConfigError` naming the field (prefixed with ``source``).  RecSim NG itself
    needs ``slate_size ≤ num_docs``.  With ``max_topics`` (the comparison with our catalogue of at
    most that many categories) ``num_topics ≤ max_topics``, and our catalogue must hold every
    category twice and the candidate set (``num_docs − num_topics`` items) a slate:
    ``num_docs ≥ max(2·num_topics, num_topics + slate_size)``.
    """
    where = f"{source}: " if source else ""
    allowed = list(RecSimNGConfig.__dataclass_fields__)
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}unknown field '{unknown[0]}' (allowed: {', '.join(allowed)})")
    values: dict[str, Any] = {
        k: _check_int(k, v, where, max_topics) for k, v in raw.items() if k in INT_BOUNDS
    }
    if "policies" in raw:
        values["policies"] = _check_policies(raw["policies"], where)
    cfg = RecSimNGConfig(**values)
    if max_topics is not None:
        need = max(2 * cfg.num_topics, cfg.num_topics + cfg.slate_size)
        if cfg.num_docs < need:
            raise ConfigError(
                f"{where}field 'num_docs': must be ≥ max(2·num_topics, num_topics + slate_size) "
                f"= {need} so that our catalogue holds every category and a slate, "
                f"got {cfg.num_docs}"
            )
    elif cfg.slate_size > cfg.num_docs:
        raise ConfigError(
            f"{where}field 'slate_size': must be ≤ num_docs ({cfg.num_docs}), got {cfg.slate_size}"
        )
    return cfg


def load_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None, max_topics: int | None = None
) -> RecSimNGConfig:
    """Read a JSON configuration file, apply ``overrides`` (e.g. ``--users``), validate."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object of configuration fields")
    return parse_config({**raw, **(overrides or {})}, str(path), max_topics)


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


# ------------------------------------------------------------------------------------------
# statistics
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
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: one topic gives 0.0, not −0.0


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
    # Not zip(strict=True), which the runner's Python 3.9 lacks: both have one entry per step.
    return [float(v) / int(k) if k else None for v, k in zip(total, n)]  # noqa: B905


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
