"""The RecSim NG comparison and its report: ``report.md``, ``comparison.csv``,
``per_step.csv``, ``divrec_rl_stats.json`` and ``comparison.png``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.atomic import atomic_write_bytes, atomic_write_text
from divrec_rl.config import ScenarioConfig
from divrec_rl.interop.recsim_ng_scenario import model_differences
from divrec_rl.interop.recsim_ng_stats import RecSimNGConfig

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
            "- The greedy policy moves these statistics in the same direction in both models: "
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
        "= a uniformly random slate; `greedy` = RecSim NG's greedy, the top-k items by the user's "
        "true click logit, boredom-blind (RecSim NG: affinity −‖θ − f‖; ours: "
        "`AttractionRankerAgent`, not the project's myopic oracle). "
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
