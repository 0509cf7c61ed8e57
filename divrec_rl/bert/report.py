"""The fidelity report of a trained user model: ``OUT/report.md``, ``OUT/metrics.json``,
``OUT/reliability.png`` and ``OUT/details.json``.

Four models are evaluated on the held-out test period with the protocol of
:mod:`divrec_rl.bert.fidelity`:

* ``finetuned`` -- the checkpoint, through its runtime tables (the simulator's arithmetic);
* ``frozen`` -- the same architecture and training with ``finetune_layers = 0`` (encoder not
  fine-tuned), trained here from the checkpoint's base encoder into ``OUT/frozen-model``;
* ``popularity`` -- training-period rating counts, Platt-scaled on validation;
* ``mf`` -- BPR matrix factorisation, Platt-scaled on validation.

Every number is computed by this run; seeds are recorded in ``details.json`` and the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.atomic import atomic_write, atomic_write_bytes
from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.baselines import PopularityModel, select_bpr
from divrec_rl.bert.checkpoint import UserModelTables
from divrec_rl.bert.fidelity import (
    N_BINS,
    EvalSplit,
    TablesScorer,
    evaluate,
    make_eval_split,
    reliability,
)
from divrec_rl.bert.prepare import dataset_fingerprint, prepare
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.data.interactions import InteractionData

MODELS = ("finetuned", "frozen", "popularity", "mf")
METRICS = ("auc", "logloss", "ece", "ndcg@10", "hr@10")


def _load_data(spec: str, fingerprint: str, where: Path) -> Any:
    from divrec_rl.data import load_dataset

    data = load_dataset(spec)
    if dataset_fingerprint(data) != fingerprint:
        raise ckpt.CheckpointError(
            f"{where}: the checkpoint was trained on another version of dataset {spec!r} "
            "(fingerprint mismatch); pass --dataset with the directory it was trained on"
        )
    return data


def plot_reliability(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path
) -> None:
    """Reliability diagram: observed positive rate against mean predicted probability per bin,
    one line per model, marker area ∝ bin count; the diagonal is perfect calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, hx) = plt.subplots(
        2, 1, figsize=(6.0, 7.0), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    for name, (conf, acc, count) in curves.items():
        used = count > 0
        size = 10 + 200 * count[used] / count.sum()
        (line,) = ax.plot(conf[used], acc[used], marker="", linewidth=1.5, label=name)
        ax.scatter(conf[used], acc[used], s=size, color=line.get_color(), alpha=0.7)
        hx.stairs(count / count.sum(), edges, color=line.get_color())
    ax.set_ylabel("observed engagement rate")
    ax.set_title("Reliability on the test period (15 equal-width bins)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    hx.set_yscale("log")
    hx.set_xlabel("predicted engagement probability")
    hx.set_ylabel("share of pairs")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)


def _table(rows: dict[str, dict[str, float]], keys: tuple[str, ...]) -> str:
    head = "| model | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n"
    body = "\n".join(
        f"| {name} | " + " | ".join(f"{vals[k]:.4f}" for k in keys) + " |"
        for name, vals in rows.items()
    )
    return head + body


def build_report(
    model: str | Path,
    out: str | Path,
    base_model: str | None = None,
    dataset: str | None = None,
    device: str = "auto",
    seed: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    threads: int = 1,
) -> dict[str, dict[str, float]]:
    """Evaluate the checkpoint in ``model`` and its baselines; write the report to ``out``.

    ``threads``: torch CPU threads for the frozen twin and BPR (see
    :func:`~divrec_rl.bert.train.finetune`).  Returns the ``metrics.json`` mapping
    ``{model: {auc, logloss, ece, ndcg@10, hr@10}}``.
    """
    from divrec_rl.bert.train import torch_threads

    with torch_threads(threads):
        return _build_report(model, out, base_model, dataset, device, seed, progress, log)


def _build_report(
    model: str | Path,
    out: str | Path,
    base_model: str | None,
    dataset: str | None,
    device: str,
    seed: int | None,
    progress: bool,
    log: Callable[[str], None] | None,
) -> dict[str, dict[str, float]]:
    say = log or (lambda s: None)
    t0 = time.perf_counter()
    model_dir = Path(model).expanduser()
    out_dir = Path(out).expanduser()
    cfg = ckpt.read_config(model_dir)
    tables = ckpt.load_tables(model_dir)
    train_cfg = TrainConfig.from_dict(cfg["train"])
    spec = dataset or cfg["dataset"].get("spec") or train_cfg.dataset
    data = _load_data(spec, cfg["dataset"]["fingerprint"], model_dir)
    seed = train_cfg.seed if seed is None else seed
    prep = prepare(
        data, train_cfg.val_frac, train_cfg.test_frac, train_cfg.min_train, train_cfg.min_history
    )
    val = make_eval_split(prep, "val", train_cfg.neg_ratio, seed)
    test = make_eval_split(prep, "test", train_cfg.neg_ratio, seed)
    out_dir.mkdir(parents=True, exist_ok=True)

    say("training the frozen-encoder twin")
    frozen_cfg = train_cfg.with_values(
        finetune_layers=0,
        base_model=base_model or cfg["encoder"]["source"],
        dataset=spec,
    )
    frozen_wall, frozen_tables = _frozen_twin(frozen_cfg, out_dir, device, progress, data)

    say("fitting popularity and BPR baselines")
    scorers, bpr_grid = _scorers(tables, frozen_tables, val, prep.n_users, prep.n_items, seed)

    metrics = {name: evaluate(scorers[name], test) for name in MODELS}
    val_metrics = {name: evaluate(scorers[name], val) for name in MODELS}
    curves = {
        name: reliability(test.labels, scorers[name].prob(test, test.users, test.items))
        for name in MODELS
    }
    rmse = {n: scorers[n].satisfaction_rmse(test) for n in ("finetuned", "frozen")}

    atomic_write_bytes(out_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    plot_reliability(curves, out_dir / "reliability.png")
    details = {
        "model": str(model_dir),
        "dataset": {**cfg["dataset"], "spec": spec},
        "seed": seed,
        "train": cfg["train"],
        "finetune_wall_seconds": cfg.get("wall_seconds"),
        "finetune_device": cfg.get("device"),
        "frozen_wall_seconds": frozen_wall,
        "bpr": asdict(scorers["mf"].config),
        "bpr_grid": bpr_grid,
        "platt": {
            "popularity": asdict(scorers["popularity"].platt),
            "mf": asdict(scorers["mf"].platt),
        },
        "test": metrics,
        "val": val_metrics,
        "rating_rmse_test": rmse,
        "counts": _counts(val, test),
        "report_seconds": time.perf_counter() - t0,
    }
    atomic_write_bytes(out_dir / "details.json", (json.dumps(details, indent=2) + "\n").encode())
    atomic_write_bytes(
        out_dir / "report.md", render_markdown(details, model_dir, out_dir).encode("utf-8")
    )
    say(f"report written to {out_dir / 'report.md'}")
    return metrics


def _scorers(
    tables: UserModelTables,
    frozen_tables: UserModelTables,
    val: EvalSplit,
    n_users: int,
    n_items: int,
    seed: int,
) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """The four compared models by name (popularity calibrated, BPR chosen on ``val``) and the
    BPR grid that was searched."""
    mf, bpr_grid = select_bpr(val, n_users, n_items, seed)
    scorers: dict[str, Any] = {
        "finetuned": TablesScorer(tables),
        "frozen": TablesScorer(frozen_tables),
        "popularity": PopularityModel(n_items),
        "mf": mf,
    }
    scorers["popularity"].calibrate(val)
    return scorers, bpr_grid


def _frozen_twin(
    frozen_cfg: TrainConfig, out_dir: Path, device: str, progress: bool, data: InteractionData
) -> tuple[float, UserModelTables]:
    """Train (or finish) the frozen-encoder twin in ``out_dir/frozen-model``; its wall seconds
    and runtime tables."""
    from divrec_rl.bert.train import finetune

    frozen_dir = out_dir / "frozen-model"
    run = finetune(
        frozen_cfg,
        frozen_dir,
        device=device,
        resume=(frozen_dir / ckpt.CONFIG_FILE).is_file(),
        progress=progress,
        data=data,
        threads=0,
    )
    return run.wall_seconds, ckpt.load_tables(frozen_dir)


def _counts(val: EvalSplit, test: EvalSplit) -> dict[str, int]:
    return {
        "val_pairs": len(val.labels),
        "val_positives": int(val.labels.sum()),
        "val_rank_users": len(val.rank_users),
        "test_pairs": len(test.labels),
        "test_positives": int(test.labels.sum()),
        "test_rank_users": len(test.rank_users),
        "test_ratings": len(test.ratings),
    }


def render_markdown(details: dict[str, Any], model_dir: Path, out_dir: Path) -> str:
    """``report.md`` from ``details.json``'s content."""
    t = details["train"]
    test, val = details["test"], details["val"]
    c = details["counts"]
    ds = details["dataset"]
    bpr = details["bpr"]
    wall = details.get("finetune_wall_seconds") or 0.0
    verdict = []
    for other in ("frozen", "popularity", "mf"):
        wins = [k for k in ("auc", "ndcg@10") if test["finetuned"][k] > test[other][k]]
        losses = [k for k in ("auc", "ndcg@10") if k not in wins]
        text = f"- vs `{other}`: fine-tuned is better on {', '.join(wins) or 'neither'}"
        verdict.append(text + (f", worse on {', '.join(losses)}" if losses else ""))
    grid = "; ".join(
        f"lr {g['lr']}, {g['epochs']} epochs → {g['val_ndcg@10']:.4f}" for g in details["bpr_grid"]
    )
    train_share = 1 - t["val_frac"] - t["test_frac"]
    return f"""# User-model fidelity report

Checkpoint `{model_dir}`, dataset `{ds.get("name")}` ({ds.get("n_users")} users, \
{ds.get("n_items")} items, {ds.get("n_ratings")} ratings). Fine-tuning took **{wall:.0f} s \
({wall / 60:.1f} min)** on `{details.get("finetune_device")}` for {t["steps"]} steps \
({t["probe_steps"]} probe steps on the frozen encoder, then the top {t["finetune_layers"]} \
layers and the token adapter), d = {t["dim"]}, {t["batch_items"]} items × \
{t["ratings_per_item"]} ratings per step, seed {t["seed"]}. The frozen twin trained in \
{details["frozen_wall_seconds"]:.0f} s. Regenerate with \
`divrec-rl user-model-report --model {model_dir} --out {out_dir}`.

## Test-period results

{_table(test, METRICS)}

{chr(10).join(verdict)}

Satisfaction head, RMSE of the predicted rating 1 + 4·σ(s) on the test ratings: fine-tuned \
{details["rating_rmse_test"]["finetuned"]:.3f}, frozen {details["rating_rmse_test"]["frozen"]:.3f}.

![reliability](reliability.png)

## Protocol

- **Split.** Per-user temporal split of the ratings (`temporal_split`): the oldest \
{train_share:.0%} train, the next {t["val_frac"]:.0%} validation, the newest \
{t["test_frac"]:.0%} test (at least {t["min_train"]} training ratings per user). Models are \
fitted on the training period; the validation period only picks the BPR settings and fits \
the Platt scaling of the baselines; the test period is used once, here.
- **History.** At test time a user's history is everything before the test period (train + \
validation ratings): the two-tower models read it as θ = normalised mean of the history's \
item vectors, popularity counts it, BPR is refitted on it.
- **Pointwise set (AUC, log-loss, ECE).** Every test rating labelled `rating ≥ 4` \
({c["test_ratings"]} ratings) plus {t["neg_ratio"]} items per rating drawn uniformly from the \
items the user never rated, labelled 0 (seed {details["seed"]}): {c["test_pairs"]} pairs, \
{c["test_positives"]} positive. ECE over {N_BINS} equal-width bins. The two-tower models \
output probabilities directly (trained for exactly this 1 : {t["neg_ratio"]} mixture); \
popularity and BPR scores are Platt-scaled on the validation period's pointwise set.
- **Ranking (NDCG@10, HR@10).** For each of the {c["test_rank_users"]} users with at least \
one positive test rating, every item outside their history is ranked; relevant = their \
positive test items; binary-relevance NDCG@10 and HR@10 averaged over users.
- **Baselines.** `frozen`: identical architecture, data, steps and seed with the encoder not \
fine-tuned (`finetune_layers = 0`), trained by this report into `frozen-model/`. \
`popularity`: log(1 + rating count) in the history period. `mf`: BPR matrix factorisation on \
ratings ≥ 4 with uniform unrated negatives, dim {bpr["dim"]}, reg {bpr["reg"]}, seed \
{bpr["seed"]}; lr and epochs chosen on validation NDCG@10 ({grid}): lr {bpr["lr"]}, \
{bpr["epochs"]} epochs.

## Validation-period results (for reference)

{_table(val, METRICS)}
"""
