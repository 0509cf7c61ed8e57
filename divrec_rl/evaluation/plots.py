"""The report's figures: frontier, session lengths, Lorenz curves, the cross-simulator bars and
the sensitivity scan.

Each function writes one PNG and returns its path.  Figures are plain
:class:`matplotlib.figure.Figure` objects (no pyplot state, no GUI backend), so plotting works
headless and never leaks figures.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from divrec_rl import metrics
from divrec_rl.agents.registry import display_name
from divrec_rl.atomic import atomic_write

__all__ = [
    "agent_colours",
    "cross_sim_plot",
    "frontier_plot",
    "lorenz_plot",
    "sensitivity_plot",
    "session_plot",
]

_DPI = 120


def agent_colours(labels: list[str]) -> dict[str, str]:
    """A fixed colour per agent label, the same in every figure."""
    palette = matplotlib.colormaps["tab10"].colors
    return {label: matplotlib.colors.to_hex(palette[i % 10]) for i, label in enumerate(labels)}


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _finish(
    fig: Figure,
    ax: Axes,
    path: Path,
    title: str,
    grid: str = "both",
    legend: str | None = None,
) -> Path:
    """The common finish of every plot: title, light grid on ``grid`` axes, optional legend at
    ``legend`` ("best", "upper left", …), then a tight layout saved to ``path``."""
    ax.set_title(title, fontsize=10)
    ax.grid(axis=grid, alpha=0.3)
    if legend is not None and ax.get_legend_handles_labels()[0]:  # no empty legend warning
        ax.legend(fontsize=8, loc=legend)
    fig.tight_layout()
    # Through a temporary file: a run killed while saving leaves no truncated PNG.
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=_DPI, format="png"))
    return path


def frontier_plot(
    points: list,
    colours: dict[str, str],
    path: Path,
    title: str,
    names: dict[str, str] | None = None,
) -> Path:
    """Engagement (y) against mean slate ILD (x): baselines swept over their re-ranking trade-off,
    PPO runs over λ, and every evaluated agent as a marker labelled ``names[label]`` (its display
    name; ``colours`` are keyed by it)."""
    names = names or {}
    fig, ax = _figure(7.5, 5.5)
    styles = {"baseline-mmr": ("o-", "#1f77b4"), "baseline-dpp": ("s-", "#9467bd")}
    for family, (style, colour) in styles.items():
        pts = [p for p in points if p.family == family]
        if not pts:
            continue
        ax.plot(
            [p.ild for p in pts],
            [p.engagement for p in pts],
            style,
            color=colour,
            alpha=0.6,
            ms=4,
            label=f"{family} (sweep of λ)",
        )
        for p in pts:
            ax.annotate(
                p.parameter,
                (p.ild, p.engagement),
                fontsize=7,
                color=colour,
                xytext=(3, 3),
                textcoords="offset points",
            )
    sweep = sorted((p for p in points if p.family == "ppo-sweep"), key=lambda p: p.ild)
    if sweep:
        ax.plot(
            [p.ild for p in sweep],
            [p.engagement for p in sweep],
            "^--",
            color="#d62728",
            alpha=0.7,
            ms=6,
            label="PPO (runs over reward λ)",
        )
        for p in sweep:
            ax.annotate(
                f"λ={p.parameter}",
                (p.ild, p.engagement),
                fontsize=7,
                color="#d62728",
                xytext=(3, -10),
                textcoords="offset points",
            )
    for p in (p for p in points if p.family == "agent"):
        ax.scatter(
            [p.ild],
            [p.engagement],
            s=90,
            marker="*",
            color=colours.get(names.get(p.label, p.label), "k"),
            edgecolor="k",
            linewidth=0.6,
            zorder=5,
        )
        ax.annotate(
            names.get(p.label, p.label),
            (p.ild, p.engagement),
            fontsize=8,
            weight="bold",
            xytext=(5, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("mean intra-list diversity of slates (ILD, cosine)")
    ax.set_ylabel("mean cumulative engagement per user")
    return _finish(fig, ax, path, title, legend="best")


def session_plot(
    lengths: dict[str, np.ndarray], colours: dict[str, str], path: Path, max_steps: int, title: str
) -> Path:
    """Distribution of episode lengths (slates per user) per agent: violins with the mean."""
    labels = list(lengths)
    fig, ax = _figure(max(6.0, 1.2 * len(labels) + 2), 4.5)
    data = [np.asarray(lengths[label], dtype=float) for label in labels]
    parts = ax.violinplot(data, showmeans=True, showextrema=True, widths=0.8)
    for body, label in zip(parts["bodies"], labels, strict=True):
        body.set_facecolor(colours[label])
        body.set_alpha(0.55)
    ax.set_xticks(np.arange(1, len(labels) + 1), labels, rotation=20)
    ax.set_ylabel("slates per user (episode length)")
    ax.set_ylim(0, max_steps + 1)
    ax.axhline(max_steps, color="grey", lw=0.8, ls=":")
    return _finish(fig, ax, path, title, grid="y")


def lorenz_plot(
    exposure: dict[str, np.ndarray], colours: dict[str, str], path: Path, title: str
) -> Path:
    """Lorenz curves of item exposure (share of impressions held by the least-shown items)."""
    fig, ax = _figure(6.0, 5.5)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="equal exposure")
    for label, counts in exposure.items():
        x = np.sort(np.asarray(counts, dtype=float))
        total = x.sum()
        if total == 0:
            continue
        cum = np.concatenate([[0.0], np.cumsum(x) / total])
        share = np.linspace(0.0, 1.0, len(cum))
        gini = metrics.gini_exposure(x)
        ax.plot(share, cum, color=colours[label], lw=1.6, label=f"{label} (Gini {gini:.2f})")
    ax.set_xlabel("share of catalogue items (least exposed first)")
    ax.set_ylabel("share of impressions")
    return _finish(fig, ax, path, title, legend="upper left")


def cross_sim_plot(
    primary: dict[str, tuple[float, float, float]],
    cross: dict[str, tuple[float, float, float]],
    names: tuple[str, str],
    path: Path,
    metric: str,
) -> Path:
    """Grouped bars of one metric per agent under both user models, with 95% intervals."""
    labels = list(primary)
    x = np.arange(len(labels))
    fig, ax = _figure(max(6.0, 1.2 * len(labels) + 2), 4.5)
    for offset, values, name, colour in (
        (-0.2, primary, names[0], "#4c72b0"),
        (0.2, cross, names[1], "#dd8452"),
    ):
        means = np.array([values[lab][0] for lab in labels])
        err = np.array(
            [[values[lab][0] - values[lab][1], values[lab][2] - values[lab][0]] for lab in labels]
        ).T
        ax.bar(x + offset, means, 0.4, yerr=err, capsize=3, color=colour, label=name)
    ax.set_xticks(x, labels, rotation=20)
    ax.set_ylabel(metric)
    title = f"{metric} per agent under two user models (95% bootstrap CI)"
    return _finish(fig, ax, path, title, grid="y", legend="best")


def sensitivity_plot(points: list, reference: str, path: Path, title: str) -> Path:
    """Left: each agent's mean return (95% CI bars) against the boredom/patience strength factor;
    right: each agent − ``reference`` (paired 95% CI bars), with the zero line."""
    fig = Figure(figsize=(11.0, 4.5))
    left, right = fig.subplots(1, 2)
    agents = list(dict.fromkeys(p.agent for p in points))
    colours = agent_colours(agents)
    for agent in agents:
        pts = sorted((p for p in points if p.agent == agent), key=lambda p: p.factor)
        name = display_name(agent, pts[0].kind)
        x = np.array([p.factor for p in pts])
        y = np.array([p.return_mean for p in pts])
        err = np.array([[p.return_mean - p.return_low, p.return_high - p.return_mean] for p in pts])
        left.errorbar(x, y, yerr=err.T, fmt="o-", color=colours[agent], label=name, capsize=3)
        diffs = [p for p in pts if p.diff_mean is not None]
        if diffs:
            d = np.array([p.diff_mean for p in diffs])
            derr = np.array([[p.diff_mean - p.diff_low, p.diff_high - p.diff_mean] for p in diffs])
            right.errorbar(
                [p.factor for p in diffs],
                d,
                yerr=derr.T,
                fmt="o-",
                color=colours[agent],
                label=f"{name} − {reference}",
                capsize=3,
            )
    right.axhline(0.0, color="black", linewidth=0.8)
    left.set_xlabel("strength factor (× the scenario's boredom / patience)")
    right.set_xlabel("strength factor")
    left.set_ylabel("mean return per user")
    right.set_ylabel(f"paired difference against {reference}")
    right.grid(alpha=0.3)
    if right.get_legend_handles_labels()[0]:  # a scan of the reference alone has no differences
        right.legend(fontsize=8)
    return _finish(fig, left, path, title, legend="best")
