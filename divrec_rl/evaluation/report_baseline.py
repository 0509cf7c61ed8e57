"""The baseline's parts of the evaluation report: its protocol lines (logs, click model, fits,
tuning) and its validation tuning table."""

from __future__ import annotations

from divrec_rl.evaluation.report_paired import fmt as _fmt
from divrec_rl.evaluation.results import EvaluationResult
from divrec_rl.evaluation.settings import BaselineSettings

__all__ = ["baseline_protocol", "fits_text", "other_fits", "tuning_table"]


def baseline_protocol(result: EvaluationResult) -> list[str]:
    """The protocol's lines on the baseline: logs, click model, fits and tuning ([] without)."""
    if result.baseline is None:
        return []
    b = result.baseline
    s = b.settings
    best = {m: b.best(m if m != "any" else None) for m in ("any", "mmr", "dpp")}
    return [
        f"- **Supervised baseline**: logging policy *noisy popularity* (candidates ranked by "
        f"standardised log-popularity + {s.logging_temperature:g}·Gumbel noise, i.e. a "
        f"Plackett–Luce sample) served {s.log_users} users of the `train` split (seed "
        f"{s.log_seed}): {int(b.log_stats['logged_steps'])} logged slates, "
        f"{int(b.log_stats['logged_clicks'])} clicks.  A click model (MNL with a no-click "
        "option over the logged slate) is trained on these logs only — user observation and "
        "candidate features, never the simulator's hidden state — with a diversity "
        "regulariser β·E[cos(i, j)] over its own choice distribution "
        f"(β ∈ {list(s.regularisers)}; the `supervised` agent, if evaluated, is the β = 0 "
        f"model without re-ranking; hidden width {s.hidden}, best of {s.epochs} epochs, "
        f"{fits_text(s)}), and served with MMR (λ ∈ "
        f"{[0.0, *s.mmr_tradeoffs]}) or DPP greedy MAP (λ ∈ {[0.0, *s.dpp_tradeoffs]}).",
        f"- **Tuning**: every (β, re-ranker, λ) served the same {s.val_users} users of the "
        f"`val` split (seed {s.val_seed}); the highest mean return (λ = "
        f"{result.objective_weight:g}) wins.  `baseline` = {best['any'].label()}; "
        f"`baseline-mmr` = {best['mmr'].label()}; `baseline-dpp` = {best['dpp'].label()}"
        f"{other_fits(result)}.  The eval users are never used for fitting or tuning.",
    ]


def tuning_table(result: EvaluationResult) -> list[str]:
    b = result.baseline
    if b is None:
        return []
    lines = [
        "| β | re-ranker | λ | return | engagement | ILD | session length | CTR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    best = b.best()
    for r in b.tuning:
        mark = " **(chosen)**" if r == best else ""
        lines.append(
            f"| {r.regulariser:g} | {r.method} | {r.tradeoff:g} | {_fmt(r.return_)}{mark} | "
            f"{_fmt(r.engagement)} | {_fmt(r.ild)} | {_fmt(r.session_length)} | {_fmt(r.ctr)} |"
        )
    lines += ["", "Click model fit (held-out 10% of the logged users):", ""]
    lines += ["| β | held-out NLL | held-out E[cos] of choice distribution |", "|---|---|---|"]
    for beta, stats in sorted(b.fit_stats.items()):
        lines.append(
            f"| {beta:g} | {stats['heldout_nll']:.4f} | "
            f"{stats['heldout_expected_similarity']:.4f} |"
        )
    return lines


def fits_text(s: BaselineSettings) -> str:
    """How many fits of the baseline there are and which evaluation seeds each plays."""
    if s.fits == 1:
        return f"fit seed {s.seed}: one fit per β, which plays every evaluation seed"
    return (
        f"fit seeds {s.seed}–{s.seed + s.fits - 1}: {s.fits} independent fits of the whole "
        f"baseline (click models and tuning), evaluation seed s played by fit number s mod "
        f"{s.fits} (`training_seed` in results.csv)"
    )


def other_fits(result: EvaluationResult) -> str:
    """``; fit seed 1: β=…, … (22.46); …`` — what each further fit chose on validation (the
    text and the tuning table describe the first)."""
    if len(result.baselines) < 2:
        return ""
    chosen = [f"fit seed {b.settings.seed}: {b.best().label()} ({b.best().return_:.2f})"
              for b in result.baselines]  # fmt: skip
    first = result.baselines[0].settings.seed
    return f" (fit seed {first}); each fit's own choice on validation: " + "; ".join(chosen)
