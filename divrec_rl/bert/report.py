"""The fidelity report of a trained user model: ``OUT/report.md``, ``OUT/metrics.json``,
``OUT/reliability.png`` and ``OUT/details.json``.

The rows of :mod:`divrec_rl.bert.ablations` (the checkpoint's recipe ``hybrid``, its ``text``,
``id`` and ``frozen`` ablations, ``popularity`` and BPR ``mf``) are evaluated for every seed on
the held-out test period with the protocol of :mod:`divrec_rl.bert.fidelity` (full-ranking
NDCG@10, HR@10, recall@20; AUC, log-loss, ECE) and with the consumption fidelity of
:mod:`divrec_rl.bert.consumption`; every figure is reported as mean ± std over the seeds.  A
seed sets the twin's training, BPR's initialisation and the sampled negatives.

Every number is computed by this run (twins already in ``OUT/twins`` are reused); seeds are
recorded in ``details.json`` and the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.atomic import atomic_write, atomic_write_bytes, make_directory
from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.ablations import (
    ROWS,
    TWO_TOWER_ROWS,
    aggregate,
    twin_tables,
    variant_config,
)
from divrec_rl.bert.baselines import PopularityModel, select_bpr
from divrec_rl.bert.consumption import (
    consumption_stats,
    real_log,
    simulate_log,
    stat_distances,
)
from divrec_rl.bert.fidelity import (
    N_BINS,
    EvalSplit,
    TablesScorer,
    evaluate,
    make_eval_split,
    reliability,
)
from divrec_rl.bert.prepare import PreparedData, prepare_for, same_dataset
from divrec_rl.bert.report_text import render_markdown
from divrec_rl.bert.settings import TrainConfig

METRICS = (
    "auc",
    "auc_unrated",
    "auc_disliked",
    "auc_cold",
    "logloss",
    "ece",
    "ndcg@10",
    "hr@10",
    "recall@20",
)
CONSUMPTION = ("genre_tv", "popularity_w1", "repeat_genre_abs")
#: Slate size of the logging-like policy and the most test consumptions compared per user.
LOG_SLATE = 10
LOG_STEPS = 20


def _load_data(spec: str, recorded: dict[str, Any], where: Path) -> Any:
    from divrec_rl.data import load_dataset

    data = load_dataset(spec)
    if not same_dataset(recorded, data):
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


def build_report(
    model: str | Path,
    out: str | Path,
    base_model: str | None = None,
    dataset: str | None = None,
    device: str = "auto",
    seeds: tuple[int, ...] = (0, 1, 2),
    rows: tuple[str, ...] = ROWS,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Evaluate the checkpoint in ``model``, its ablation twins and the baselines for every seed
    of ``seeds``; write the report to ``out``.

    ``rows``: which rows of :data:`~divrec_rl.bert.ablations.ROWS` (at least one).
    ``threads``: torch CPU threads for the twins and BPR (see
    :func:`~divrec_rl.bert.train.finetune`).  Returns the ``metrics.json`` mapping
    ``{"test": {row: {"mean", "std", "seeds"}}, "consumption": {row: {"mean", "std"}}}``.
    """
    from divrec_rl.training.device import resolve_device, torch_threads

    if not seeds:
        raise ValueError("seeds: give at least one seed")
    rows = tuple(r for r in ROWS if r in rows)
    if not rows:
        raise ValueError(f"rows: give at least one of {', '.join(ROWS)}")
    if Path(out).expanduser().exists() and not Path(out).expanduser().is_dir():
        raise ckpt.CheckpointError(f"--out '{out}': exists and is not a directory")
    resolve_device(device)  # an unusable --device fails here, before minutes of loading
    with torch_threads(threads):
        return _build_report(
            Path(model).expanduser(), Path(out).expanduser(), base_model, dataset, device,
            seeds, rows, progress, log or (lambda s: None),
        )  # fmt: skip


class _Context:
    """What every seed of one report shares: the checkpoint, data and fixed settings."""

    def __init__(self, model_dir: Path, dataset: str | None, base_model: str | None) -> None:
        self.model_dir = model_dir
        self.cfg = ckpt.read_config(model_dir)
        self.tables = ckpt.load_tables(model_dir)
        self.train = TrainConfig.from_dict(self.cfg["train"])
        self.spec = dataset or self.cfg["dataset"].get("spec") or self.train.dataset
        self.data = _load_data(self.spec, self.cfg["dataset"], model_dir)
        self.prep: PreparedData = prepare_for(self.data, self.train)
        self.base_model = base_model or self.cfg["encoder"]["source"]


def _build_report(
    model_dir: Path,
    out_dir: Path,
    base_model: str | None,
    dataset: str | None,
    device: str,
    seeds: tuple[int, ...],
    rows: tuple[str, ...],
    progress: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    t0 = time.perf_counter()
    ctx = _Context(model_dir, dataset, base_model)
    if ctx.train.finetune_layers == 0 and "hybrid" in rows and "frozen" in rows:
        say("the checkpoint's encoder is frozen: row 'frozen' is row 'hybrid', left out")
        rows = tuple(r for r in rows if r != "frozen")
    make_directory(out_dir, f"--out '{out_dir}'", ckpt.CheckpointError)
    real = _real_consumption(ctx)
    test_m: dict[str, list[dict[str, float]]] = {r: [] for r in rows}
    val_m: dict[str, list[dict[str, float]]] = {r: [] for r in rows}
    cons: dict[str, list[dict[str, float]]] = {r: [] for r in rows}
    walls: dict[str, list[float]] = {r: [] for r in TWO_TOWER_ROWS if r in rows}
    bpr: list[dict[str, Any]] = []
    rmse: dict[str, list[float]] = {r: [] for r in walls}
    curves: dict[str, Any] = {}
    for seed in seeds:
        say(f"seed {seed}: models and baselines")
        val = make_eval_split(ctx.prep, "val", ctx.train.neg_ratio, seed)
        test = make_eval_split(ctx.prep, "test", ctx.train.neg_ratio, seed)
        scorers, seed_walls, bpr_info = _seed_scorers(
            ctx, rows, seed, val, out_dir, device, progress
        )
        bpr.append(bpr_info)
        for row, scorer in scorers.items():
            test_m[row].append(evaluate(scorer, test))
            val_m[row].append(evaluate(scorer, val))
            cons[row].append(_consumption(ctx, scorer, test, real, seed))
            if row in walls:
                walls[row].append(seed_walls[row])
                rmse[row].append(scorer.satisfaction_rmse(test))
            if seed == seeds[0]:
                curves[row] = reliability(test.labels, scorer.prob(test, test.users, test.items))
    metrics = {
        "test": {r: {**aggregate(test_m[r]), "seeds": list(seeds)} for r in rows},
        "consumption": {r: aggregate(cons[r]) for r in rows},
    }
    atomic_write_bytes(out_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    plot_reliability(curves, out_dir / "reliability.png")
    details = {
        "model": str(model_dir),
        "dataset": {**ctx.cfg["dataset"], "spec": ctx.spec},
        "seeds": list(seeds),
        "rows": list(rows),
        "train": ctx.cfg["train"],
        "finetune_device": ctx.cfg.get("device"),
        "wall_seconds": walls,
        "bpr": bpr,
        "test": metrics["test"],
        "test_per_seed": test_m,
        "val": {r: aggregate(val_m[r]) for r in rows},
        "consumption": metrics["consumption"],
        "consumption_per_seed": cons,
        "real_consumption": {
            "genre_share": np.asarray(real["genre_share"]).round(4).tolist(),
            "mean_log_popularity": float(np.mean(real["log_popularity"])),
            "repeat_genre_rate": real["repeat_genre_rate"],
            "consumptions": len(real["log_popularity"]),
        },
        "rating_rmse_test": {r: aggregate([{"rmse": v} for v in vs]) for r, vs in rmse.items()},
        "counts": _counts(val, test),
        "report_seconds": time.perf_counter() - t0,
    }
    atomic_write_bytes(out_dir / "details.json", (json.dumps(details, indent=2) + "\n").encode())
    text = render_markdown(details, model_dir, out_dir, METRICS, CONSUMPTION, N_BINS)
    atomic_write_bytes(out_dir / "report.md", text.encode("utf-8"))
    say(f"report written to {out_dir / 'report.md'}")
    return metrics


def _seed_scorers(
    ctx: _Context,
    rows: tuple[str, ...],
    seed: int,
    val: EvalSplit,
    out_dir: Path,
    device: str,
    progress: bool,
) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """The scorers of ``rows`` at ``seed`` (twins trained or reused; popularity calibrated, BPR
    chosen on ``val``), the twins' wall seconds and BPR's chosen settings and grid."""
    t = ctx.train
    scorers: dict[str, Any] = {}
    walls: dict[str, float] = {}
    for row in (r for r in rows if r in TWO_TOWER_ROWS):
        if row == "hybrid" and seed == t.seed:
            tables, walls[row] = ctx.tables, float(ctx.cfg.get("wall_seconds") or 0.0)
        else:
            cfg = variant_config(t, row, seed, base_model=ctx.base_model, dataset=ctx.spec)
            where = out_dir / "twins" / f"{row}-seed{seed}"
            walls[row], tables = twin_tables(cfg, where, device, progress, ctx.data)
        scorers[row] = TablesScorer(tables, t.recency_decay, t.recency_length)
    info: dict[str, Any] = {"seed": seed}
    if "popularity" in rows:
        scorers["popularity"] = PopularityModel(ctx.prep.n_items)
        scorers["popularity"].calibrate(val)
        info["platt_popularity"] = asdict(scorers["popularity"].platt)
    if "mf" in rows:
        scorers["mf"], grid = select_bpr(val, ctx.prep.n_users, ctx.prep.n_items, seed)
        info.update(config=asdict(scorers["mf"].config), grid=grid)
        info["platt_mf"] = asdict(scorers["mf"].platt)
    return scorers, walls, info


def _history_log_popularity(ctx: _Context) -> np.ndarray:
    """``log(1 + n_i)``, ``n_i`` the ratings before the test period (train + validation)."""
    items = np.concatenate(
        [ctx.prep.train["item_id"].to_numpy(), ctx.prep.val["item_id"].to_numpy()]
    )
    return np.log1p(np.bincount(items, minlength=ctx.prep.n_items).astype(np.float64))


def _genre_weights(ctx: _Context) -> np.ndarray:
    from divrec_rl.bert.sources import genre_weights

    return genre_weights(ctx.data)


def _real_consumption(ctx: _Context) -> dict[str, Any]:
    log = real_log(ctx.prep.test, LOG_STEPS)
    return consumption_stats(log, _genre_weights(ctx), _history_log_popularity(ctx))


def _consumption(
    ctx: _Context, scorer: Any, test: EvalSplit, real: dict[str, Any], seed: int
) -> dict[str, float]:
    """Distances between the real test consumptions and the model's simulated ones."""
    log = real_log(ctx.prep.test, LOG_STEPS)
    users, steps = np.unique(log.users, return_counts=True)
    count = np.expm1(_history_log_popularity(ctx))
    k = LOG_SLATE
    if isinstance(scorer, TablesScorer):
        theta, tables = scorer.theta(test), scorer.tables

        def logits(u: np.ndarray, slate: np.ndarray, rho: np.ndarray | None) -> np.ndarray:
            rep = np.repeat(u, k)
            r = None if rho is None else np.repeat(rho, k, axis=0)
            return tables.pair_logits(theta[rep], rep, slate.ravel(), r)[0].reshape(-1, k)

        rho0, vectors = scorer.rho(test)[users], tables.item_vectors
    else:

        def logits(u: np.ndarray, slate: np.ndarray, rho: np.ndarray | None) -> np.ndarray:
            s = scorer.scores(test, np.repeat(u, k), slate.ravel()).reshape(-1, k)
            return scorer.platt.a * s + scorer.platt.b

        rho0, vectors = None, None
    sim = simulate_log(
        logits, users, steps, test.history_seen, count, k, seed, rho0, vectors,
        scorer.recency_decay if isinstance(scorer, TablesScorer) else 0.85,
    )  # fmt: skip
    stats = consumption_stats(sim, _genre_weights(ctx), _history_log_popularity(ctx))
    return stat_distances(stats, real)


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
