"""The report's paired comparison of each PPO agent with the baseline, and number formatting.

Two tables per comparison: the user-level paired test (every (seed, user) pair a unit) and the
seed-level one (the evaluation seeds as units: a PPO agent trained with several seeds plays
seed s with the model of training seed s mod k, so this interval carries the spread between
trained models; :func:`~divrec_rl.evaluation.stats.seed_level_test`).  The verdict on the
return follows the seed-level interval when there are at least two seeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from divrec_rl.evaluation.results import Comparison, EvaluationResult

__all__ = ["fmt", "fmt_p", "paired_section"]


def fmt(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals (one decimal from 100 on; ``n/a`` if not finite)."""
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}" if abs(x) < 100 else f"{x:.1f}"


def fmt_p(p: float) -> str:
    """A p-value: four decimals, ``< 1e-4`` below that, ``n/a`` if undefined."""
    if not np.isfinite(p):
        return "n/a"
    return "< 1e-4" if p < 1e-4 else f"{p:.4f}"


def _user_level(comp: Comparison) -> list[str]:
    n = comp.tests[0].n_pairs
    lines = [
        f"**{comp.a} − {comp.b}**, paired over the same {n} (seed, user) pairs:",
        "",
        f"| metric | {comp.a} | {comp.b} | difference [95% CI] | {comp.a} better | "
        f"{comp.b} better | Wilcoxon p | paired t p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in comp.tests:
        lines.append(
            f"| {t.metric} | {fmt(t.mean_a)} | {fmt(t.mean_b)} | {fmt(t.mean_diff)} "
            f"[{fmt(t.ci_low)}, {fmt(t.ci_high)}] | {t.share_a_better:.1%} | "
            f"{t.share_b_better:.1%} | {fmt_p(t.wilcoxon_p)} | {fmt_p(t.ttest_p)} |"
        )
    return lines


def _seed_level(comp: Comparison) -> list[str]:
    if not comp.seed_tests or comp.seed_tests[0].n_seeds < 2:
        return []
    s = comp.seed_tests[0].n_seeds
    lines = [
        "",
        f"Seed level ({s} evaluation seeds as units; Student-t interval and "
        f"t-test of the {s} per-seed mean differences, {s - 1} degrees of freedom):",
        "",
        f"| metric | difference [95% CI] | per-seed differences | seeds {comp.a} better | t p |",
        "|---|---|---|---|---|",
    ]
    for t in comp.seed_tests:
        per_seed = ", ".join(fmt(d) for d in t.seed_diffs)
        lines.append(
            f"| {t.metric} | {fmt(t.mean_diff)} [{fmt(t.ci_low)}, {fmt(t.ci_high)}] | "
            f"{per_seed} | {t.seeds_a_better}/{t.n_seeds} | {fmt_p(t.ttest_p)} |"
        )
    return lines


def _verdict(comp: Comparison) -> str:
    seed_level = [t for t in comp.seed_tests if t.metric == "return" and t.n_seeds >= 2]
    ret = seed_level[0] if seed_level else next(t for t in comp.tests if t.metric == "return")
    which = "seed-level " if seed_level else ""
    if ret.ci_low > 0:
        return f"{comp.a} earns a higher return than {comp.b} (the {which}95% interval excludes 0)."
    if ret.ci_high < 0:
        return f"{comp.b} earns a higher return than {comp.a} (the {which}95% interval excludes 0)."
    return (
        f"No detectable difference in return between {comp.a} and {comp.b} "
        f"(the {which}95% interval contains 0)."
    )


def paired_section(result: EvaluationResult, key: str) -> list[str]:
    """Markdown lines of every paired comparison of ``result.paired[key]``."""
    comparisons = result.paired.get(key, [])
    if not comparisons:
        return [
            "No paired test: it needs a PPO agent and one of baseline / baseline-mmr / "
            "baseline-dpp / supervised among `--agents`.",
            "",
        ]
    lines: list[str] = []
    for comp in comparisons:
        lines += [*_user_level(comp), *_seed_level(comp), "", _verdict(comp), ""]
    return lines
