"""``report.md`` of the user-model fidelity report, rendered from ``details.json``'s content
(:mod:`divrec_rl.bert.report` computes every number)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.bert.fidelity import COLD_RATINGS

_ROW_NOTES = {
    "hybrid": "the checkpoint's own recipe, item tower included (see Recipe above)",
    "text": "item_tower = text (no item-ID offsets)",
    "id": "item_tower = id (no text, encoder unused)",
    "frozen": "finetune_layers = 0 (encoder not fine-tuned)",
    "popularity": "log(1 + ratings before the period), Platt-scaled on validation",
    "mf": "BPR matrix factorisation, lr/epochs chosen on validation, Platt-scaled",
}


def mean_std_table(summary: dict[str, dict[str, Any]], keys: tuple[str, ...]) -> str:
    """Markdown table of ``{row: {"mean": {k: …}, "std": {k: …}}}`` as ``mean ± std``."""
    head = "| model | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n"
    body = "\n".join(
        f"| {name} | "
        + " | ".join(f"{vals['mean'][k]:.4f} ± {vals['std'][k]:.4f}" for k in keys)
        + " |"
        for name, vals in summary.items()
    )
    return head + body


def verdict(test: dict[str, dict[str, Any]], n_seeds: int) -> str:
    """For AUC and NDCG@10: is ``hybrid`` better than each other row by more than the pooled std
    ``sqrt((s₁² + s₂²) / 2)``?  (With one seed the std is 0 and only the sign is known.)"""
    if "hybrid" not in test:
        return "(no `hybrid` row in this report)"
    lines = []
    h = test["hybrid"]
    for other, vals in test.items():
        if other == "hybrid":
            continue
        parts = []
        for k in ("auc", "ndcg@10"):
            diff = h["mean"][k] - vals["mean"][k]
            pooled = float(np.sqrt((h["std"][k] ** 2 + vals["std"][k] ** 2) / 2))
            word = "better" if diff > 0 else "worse"
            sure = " (> pooled std)" if abs(diff) > pooled and n_seeds > 1 else ""
            parts.append(f"{k} {word} by {abs(diff):.4f}{sure}")
        lines.append(f"- hybrid vs `{other}`: " + ", ".join(parts))
    return "\n".join(lines)


#: The protocol's note on the AUC split by kind of negative.
AUC_SPLIT = (
    "`auc_unrated` keeps only the never-rated items as negatives, `auc_disliked` only the test "
    "ratings below 4 (does the model know which of the items a user watches they will like?); "
    f"`auc_cold` keeps only the rows of items with fewer than {COLD_RATINGS} ratings before the "
    "test period (where the text has to stand in for the ratings)."
)


def render_markdown(
    details: dict[str, Any],
    model_dir: Path,
    out_dir: Path,
    metrics: tuple[str, ...],
    consumption: tuple[str, ...],
    n_bins: int,
) -> str:
    """The report's markdown."""
    t, c, ds = details["train"], details["counts"], details["dataset"]
    seeds = details["seeds"]
    real = details["real_consumption"]
    walls = "; ".join(
        f"{row}: " + ", ".join(f"{w:.0f} s" for w in ws)
        for row, ws in details["wall_seconds"].items()
    )
    rows = "\n".join(f"- `{r}`: {_ROW_NOTES[r]}" for r in details["rows"])
    seeds_text = ", ".join(map(str, seeds))
    train_share = 1 - t["val_frac"] - t["test_frac"]
    fit = t.get("fit_period", "train")
    val_note = (
        "The two-tower models were fitted on train + validation, so their validation figures "
        "are in-sample (popularity and BPR are fitted on the training period here).\n\n"
        if fit == "train+val"
        else ""
    )
    return f"""# User-model fidelity report

Checkpoint `{model_dir}`, dataset `{ds.get("name")}` ({ds.get("n_users")} users, \
{ds.get("n_items")} items, {ds.get("n_ratings")} ratings); seeds {seeds_text} \
(mean ± population std over {len(seeds)} seed(s)). Recipe: {t["steps"]} steps \
({t["probe_steps"]} probe steps), top {t["finetune_layers"]} layers fine-tuned, item tower \
`{t.get("item_tower", "text")}`, d = {t["dim"]}. Training wall seconds per seed: {walls}. \
Regenerate with `divrec-rl user-model-report --model {model_dir} --out {out_dir} \
--seeds {",".join(map(str, seeds))} --rows {",".join(details["rows"])}`.

Rows:
{rows}

## Test period: engagement and full ranking

{mean_std_table(details["test"], metrics)}

{verdict(details["test"], len(seeds))}

![reliability](reliability.png) (first seed)

## Test period: consumption fidelity (lower = closer to the real users)

Real test users ({real["consumptions"]} consumptions, at most 20 per user): mean log \
popularity {real["mean_log_popularity"]:.3f}, repeat-genre rate \
{real["repeat_genre_rate"]:.3f}. Simulated: the same users and step counts under a \
logging-like policy (10 items drawn ∝ 1 + rating count among unconsumed items; the model \
picks one by softmax of its attraction logits; the two-tower state ρ updated per consumed \
item). `popularity` is the reference a user model should beat.

{mean_std_table(details["consumption"], consumption)}

## Protocol

- **Split.** Per-user temporal split: the oldest {train_share:.0%} train, the next \
{t["val_frac"]:.0%} validation, the newest {t["test_frac"]:.0%} test (at least \
{t["min_train"]} training ratings per user). Validation picks BPR's settings and fits the \
baselines' Platt scaling; the test period is used once, here.
- **History.** Everything before the test period: two-tower models read θ (normalised mean \
of the history item vectors) and ρ (EMA, decay {t.get("recency_decay", 0.85)}, of the last \
{t.get("recency_length", 0)} items) and were fitted on the `{fit}` period; popularity counts \
it; BPR is refitted on it.
- **Pointwise set (AUC, log-loss, ECE).** The {c["test_ratings"]} test ratings labelled \
`rating ≥ 4` plus {t["neg_ratio"]} never-rated items per rating (label 0, drawn per seed): \
{c["test_pairs"]} pairs, {c["test_positives"]} positive; ECE over {n_bins} bins. {AUC_SPLIT}
- **Full ranking (NDCG@10, HR@10, recall@20).** For each of the {c["test_rank_users"]} users \
with a positive test rating, *every* item outside their history is ranked; relevant = their \
positive test items; binary-relevance NDCG@10, HR@10 and recall@20 = hits in the top 20 / \
relevant items, averaged over users.

## Validation period (for reference)

{val_note}{mean_std_table(details["val"], metrics)}
"""
