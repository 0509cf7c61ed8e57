"""Fine-tuning the two-tower user model (see :mod:`divrec_rl.bert.model` for the towers).

One step, ``B = batch_items × ratings_per_item`` training ratings ``(u, i, r)``
(:func:`draw_batch`: items ∝ their rating count, then ratings of each item, so every training
rating is equally likely and each encoded item serves several users):

* **history** -- θ_u is the normalised sum of the item vectors of the user's training ratings
  *before* this one (at least ``min_history``).  History items use a memory bank of pooled
  vectors (all refreshed every ``eval_every`` steps, and every step for the items the step
  encodes); history items encoded in this step use their fresh vectors, so the encoder learns
  from the user side as well as from the scored items;
* **items** -- the ``batch_items`` rated items and a pool of ``n_pool`` items drawn uniformly
  from the catalogue go through the fine-tuned top layers (gradient reaches the encoder);
  dropout is off (a few hundred steps over a small, fixed corpus);
* **engagement loss** -- binary cross-entropy on the label ``r ≥ 4`` of each rated item, plus for
  each rating the pool items the user has not rated as unobserved negatives, weighted
  ``neg_ratio / (valid pool size)``: the optimum is the engagement probability of an item drawn
  from "one rated item : ``neg_ratio`` unobserved items", exactly the fidelity report's
  pointwise set, so its log-loss and ECE are meaningful;
* **satisfaction loss** -- binary cross-entropy of the satisfaction logit against the soft label
  ``(r − 1) / 4`` (σ(s) is the expected normalised rating);
* total = engagement + ``sat_weight`` · satisfaction; AdamW, linear warm-up then constant.

The first ``probe_steps`` steps train only the projection, user tower and heads on the frozen
encoder (cheap: no transformer runs); then the top ``finetune_layers`` layers are unfrozen with
their own warm-up — "linear probe, then fine-tune" (Kumar et al., ICLR 2022), so fine-tuning
starts from a fitted head instead of distorting the pretrained features to fit a random one.

Every ``eval_every`` steps the cached pooled vectors are refreshed, the runtime tables are
computed, validation metrics go to TensorBoard (``val/loss`` = engagement log-loss, ``val/auc``,
``val/ndcg@10``, ``val/hr@10``, ``val/ece``, ``val/rating_rmse``) and a checkpoint is written.
Batches are seeded by ``(seed, step)`` and nothing else is random, so a resumed run replays the
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.checkpoint import CheckpointError, UserModelTables
from divrec_rl.bert.encoder import (
    ItemEncoder,
    encoder_from_config,
    load_encoder,
    refresh_pooled,
    tokenize,
)
from divrec_rl.bert.fidelity import EvalSplit, TablesScorer, evaluate, make_eval_split
from divrec_rl.bert.model import TwoTowerModel, runtime_tables
from divrec_rl.bert.prepare import POSITIVE_RATING, PreparedData, prepare
from divrec_rl.bert.settings import RESUMABLE_FIELDS, TrainConfig
from divrec_rl.data import InteractionData, load_dataset
from divrec_rl.training.device import resolve_device as resolve_training_device

ITEM_FEATURE_NAMES = ["log_popularity_z", "shrunk_mean_rating_z"]


def resolve_device(name: str) -> torch.device:
    """The torch device of ``--device`` (the one resolution, :mod:`divrec_rl.training.device`)."""
    return torch.device(resolve_training_device(name))


@dataclass
class FinetuneResult:
    """What a finished (or stopped) run produced."""

    out: Path
    step: int
    complete: bool
    wall_seconds: float
    validation: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class _Batch:
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    hist_rows: np.ndarray
    hist_items: np.ndarray
    pool: np.ndarray
    pool_valid: np.ndarray


def draw_batch(prep: PreparedData, cfg: TrainConfig, step: int) -> _Batch:
    """The examples and negative pool of ``step`` (a pure function of ``(seed, step)``).

    ``batch_items`` distinct items are drawn without replacement with probability ∝ their number
    of training examples (Gumbel top-k), then ``ratings_per_item`` of each item's examples
    uniformly with replacement: in expectation every training rating is equally likely, while
    each item the encoder runs on is reused for several users.
    """
    rng = np.random.default_rng([cfg.seed, step])
    counts = np.diff(prep.item_examples_indptr)
    with np.errstate(divide="ignore"):
        keys = np.log(counts) - np.log(-np.log(rng.random(len(counts))))
    n_items = min(cfg.batch_items, int((counts > 0).sum()))
    chosen = np.argpartition(-keys, n_items - 1)[:n_items]
    starts = prep.item_examples_indptr[chosen]
    picks = np.floor(rng.random((n_items, cfg.ratings_per_item)) * counts[chosen][:, None])
    j = prep.item_examples[(starts[:, None] + picks.astype(np.int64)).ravel()]
    users = prep.examples_user[j]
    pos = prep.examples_position[j]
    starts = prep.hist_indptr[users]
    offsets = np.arange(pos.sum()) - np.repeat(np.cumsum(pos) - pos, pos)
    hist_items = prep.hist_items[np.repeat(starts, pos) + offsets]
    pool = rng.integers(0, prep.n_items, cfg.n_pool)
    return _Batch(
        users=users,
        items=prep.examples_item[j],
        ratings=prep.examples_rating[j],
        hist_rows=np.repeat(np.arange(len(j)), pos),
        hist_items=hist_items,
        pool=pool,
        pool_valid=~prep.train_seen[users[:, None], pool[None, :]],
    )


class _Run:
    """Model, caches and optimiser of one fine-tuning run."""

    def __init__(
        self,
        cfg: TrainConfig,
        prep: PreparedData,
        ids: torch.Tensor,
        mask: torch.Tensor,
        model: TwoTowerModel,
        device: torch.device,
    ) -> None:
        self.cfg = cfg
        self.prep = prep
        self.model = model.to(device)
        self.device = device
        self.ids = ids
        self.mask = mask
        self._bank_update: tuple[torch.Tensor, torch.Tensor] | None = None
        self.cache = model.encoder.bottom(ids, mask)
        self.pooled = refresh_pooled(model.encoder, self.cache, mask, ids)
        self.z = torch.as_tensor(prep.item_features, device=device)
        self.x = torch.as_tensor(prep.user_features, device=device)
        groups = [{"params": model.head_parameters(), "lr": cfg.lr_heads}]
        enc = model.encoder.trainable_parameters()
        adapter = model.encoder.adapter_parameters()
        if enc:
            groups.append({"params": enc, "lr": cfg.lr_encoder})
        if adapter:
            groups.append({"params": adapter, "lr": cfg.lr_adapter, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        warm = max(cfg.warmup_steps, 1)
        probe = cfg.probe_steps
        schedules = [lambda s: min(1.0, (s + 1) / warm)]
        # The encoder's warm-up starts when the probe phase ends.
        schedules += [lambda s: 0.0 if s < probe else min(1.0, (s + 1 - probe) / warm)] * (
            len(groups) - 1
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedules)

    def refresh(self) -> None:
        self.pooled = refresh_pooled(self.model.encoder, self.cache, self.mask, self.ids)

    def loss(self, b: _Batch, probing: bool) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, model, dev = self.cfg, self.model, self.device
        fresh, inverse = np.unique(np.concatenate([b.items, b.pool]), return_inverse=True)
        fresh_t = torch.as_tensor(fresh)
        if probing:  # encoder frozen: the bank holds exact vectors, no need to run it
            pooled = self.pooled[fresh_t].to(dev)
            self._bank_update = None
        else:
            pooled = model.encoder.top(
                self.cache[fresh_t].to(dev), self.mask[fresh_t].to(dev), self.ids[fresh_t].to(dev)
            )
            self._bank_update = (fresh_t, pooled.detach().float().cpu())
        e = model.item_vectors(pooled)
        bias = model.item_biases(e, self.z[fresh_t.to(dev)])
        col_items = torch.as_tensor(inverse[: len(b.items)], device=dev)
        col_pool = torch.as_tensor(inverse[len(b.items) :], device=dev)

        # History vectors: the bank, except the items just encoded, which carry the encoder's
        # gradient into the user side too.
        e_hist = model.item_vectors(self.pooled.to(dev)).index_copy(0, fresh_t.to(dev), e)
        theta = torch.zeros((len(b.users), cfg.dim), device=dev)
        theta = theta.index_add(
            0,
            torch.as_tensor(b.hist_rows, device=dev),
            e_hist[torch.as_tensor(b.hist_items, device=dev)],
        )
        theta = functional.normalize(theta, dim=-1)
        u_attr, u_sat = model.user_vectors(theta, self.x[torch.as_tensor(b.users, device=dev)])

        attr_obs = (u_attr * e[col_items]).sum(-1) + bias[col_items, 0]
        sat_obs = (u_sat * e[col_items]).sum(-1) + bias[col_items, 1]
        attr_pool = u_attr @ e[col_pool].T + bias[col_pool, 0][None, :]
        y = torch.as_tensor(b.ratings >= POSITIVE_RATING, dtype=torch.float32, device=dev)
        valid = torch.as_tensor(b.pool_valid, dtype=torch.float32, device=dev)
        n_valid = valid.sum(dim=1).clamp(min=1.0)
        neg = functional.binary_cross_entropy_with_logits(
            attr_pool, torch.zeros_like(attr_pool), reduction="none"
        )
        obs = functional.binary_cross_entropy_with_logits(attr_obs, y, reduction="none")
        engagement = (obs + cfg.neg_ratio * (neg * valid).sum(1) / n_valid).mean() / (
            1 + cfg.neg_ratio
        )
        soft = torch.as_tensor((b.ratings - 1.0) / 4.0, dtype=torch.float32, device=dev)
        satisfaction = functional.binary_cross_entropy_with_logits(sat_obs, soft.clamp(0.0, 1.0))
        total = engagement + cfg.sat_weight * satisfaction
        return total, {
            "loss": total.item(),
            "engagement_loss": engagement.item(),
            "satisfaction_loss": satisfaction.item(),
        }

    def train_step(self, b: _Batch, probing: bool) -> dict[str, float]:
        """Forward, backward, optimiser step and memory-bank update; the loss parts."""
        loss, parts = self.loss(b, probing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        # Memory bank: the vectors just computed replace their stale copies, so history vectors
        # lag the encoder by a few steps only (full refresh every eval_every steps).
        if self._bank_update is not None:
            rows, pooled = self._bank_update
            self.pooled[rows] = pooled
        return parts

    def tables(self) -> dict[str, np.ndarray]:
        return runtime_tables(
            self.model, self.pooled, self.prep.item_features, self.prep.user_features
        )


def validation_metrics(tables: dict[str, np.ndarray], split: EvalSplit) -> dict[str, float]:
    """Fidelity metrics of the tables on ``split`` plus the satisfaction RMSE in rating units."""
    scorer = TablesScorer(UserModelTables(**tables))
    return {**evaluate(scorer, split), "rating_rmse": scorer.satisfaction_rmse(split)}


def _hparam_table(cfg: TrainConfig, extra: dict[str, Any]) -> str:
    rows = [*cfg.to_dict().items(), *extra.items()]
    return "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in rows)


def _compare_for_resume(saved: dict[str, Any], cfg: TrainConfig, where: Path) -> None:
    now = cfg.to_dict()
    for key, value in saved.items():
        if key in RESUMABLE_FIELDS:
            continue
        if now.get(key) != value:
            raise CheckpointError(
                f"{where}: cannot resume with {key}={now.get(key)!r}, the checkpoint was "
                f"trained with {key}={value!r} (only {', '.join(RESUMABLE_FIELDS)} may change)"
            )


def finetune(
    cfg: TrainConfig,
    out: str | Path,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    data: InteractionData | None = None,
    log: Callable[[str], None] | None = None,
    threads: int = 1,
) -> FinetuneResult:
    """Fine-tune (or resume) a user model on ``cfg.dataset`` and write the checkpoint to ``out``.

    ``data`` replaces loading ``cfg.dataset`` (tests).  ``threads``: torch CPU threads (0 = torch's
    default).  One thread is the default because on a small shared machine every multi-threaded
    op waits for a descheduled worker: measured on 2 busy cores, a step took 0.5 s with one
    thread and 5 s with two.  Raises :class:`ValueError` for bad settings and
    :class:`CheckpointError` for an unusable ``out`` directory.
    """
    with torch_threads(threads):
        return _finetune(cfg, Path(out).expanduser(), device, resume, progress, data, log)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (0 = unchanged), restoring the count."""
    if threads < 0:
        raise ValueError(f"threads: must be ≥ 0 (0 = torch's default), got {threads}")
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _finetune(
    cfg: TrainConfig,
    out: Path,
    device: str,
    resume: bool,
    progress: bool,
    data: InteractionData | None,
    log: Callable[[str], None] | None,
) -> FinetuneResult:
    from torch.utils.tensorboard import SummaryWriter
    from tqdm.auto import tqdm

    say = log or (lambda s: None)
    cfg.validate()
    dev = resolve_device(device)
    saved: dict[str, Any] | None = None
    if resume:
        saved = ckpt.read_config(out)
        _compare_for_resume(saved["train"], cfg, out / ckpt.CONFIG_FILE)
        if saved["complete"] and saved["step"] >= cfg.steps:
            say(f"{out}: already complete at step {saved['step']}; nothing to do")
            return FinetuneResult(
                out,
                saved["step"],
                True,
                float(saved.get("wall_seconds", 0.0)),
                dict(saved.get("validation", {})),
                list(saved.get("history", [])),
            )
    elif (out / ckpt.CONFIG_FILE).exists():
        raise CheckpointError(
            f"{out}: already holds a user-model checkpoint; pass --resume to continue it "
            "or choose another --out"
        )

    t0 = time.perf_counter()
    data = data if data is not None else load_dataset(cfg.dataset)
    prep = prepare(data, cfg.val_frac, cfg.test_frac, cfg.min_train, cfg.min_history)
    if len(prep.examples_user) == 0:
        raise ValueError(
            f"dataset {data.name}: no training rating has {cfg.min_history} earlier ratings; "
            "lower min_history"
        )
    if saved is not None and saved["dataset"]["fingerprint"] != prep.fingerprint:
        raise CheckpointError(
            f"{out}: the checkpoint was trained on another dataset "
            f"({saved['dataset'].get('name')}) than {data.name}"
        )

    torch.manual_seed(cfg.seed)
    if saved is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            str(out / ckpt.TOKENIZER_DIR), local_files_only=True
        )
        hf = encoder_from_config(saved["encoder"]["config"])
        source = saved["encoder"]["source"]
    else:
        tokenizer, hf, folder = load_encoder(cfg.base_model)
        source = str(folder)
    ids, mask = tokenize(tokenizer, prep.data.items["text"].tolist(), cfg.max_len)
    start = 0
    history: list[dict[str, float]] = []
    spent = 0.0
    state: dict[str, torch.Tensor] | None = None
    adapter_tokens = ids[mask.bool()] if cfg.lr_adapter > 0 else None
    if saved is not None:
        state = ckpt.load_state_dict(out, saved)
        adapter_tokens = state.get("encoder.adapter_tokens")
    encoder = ItemEncoder(hf, cfg.finetune_layers, adapter_tokens)
    model = TwoTowerModel(
        encoder,
        cfg.dim,
        prep.user_features.shape[1],
        prep.item_features.shape[1],
        cfg.feature_hidden,
    )
    if saved is not None and state is not None:
        _load_weights(model, state, out)
        start = int(saved["step"])
        history = list(saved.get("history", []))
        spent = float(saved.get("wall_seconds", 0.0))
    say(f"encoding {prep.n_items} item texts (frozen bottom of {encoder.n_layers} layers)")
    run = _Run(cfg, prep, ids, mask, model, dev)
    if saved is not None:
        opt_state = ckpt.load_optimizer_state(out, saved)
        try:
            run.optimizer.load_state_dict(opt_state["optimizer"])
            run.scheduler.load_state_dict(opt_state["scheduler"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"{out / ckpt.OPTIMIZER_FILE}: does not fit this model ({exc})"
            ) from None

    val_split = make_eval_split(prep, "val", cfg.neg_ratio, cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    if saved is None:
        tokenizer.save_pretrained(str(out / ckpt.TOKENIZER_DIR))
    writer = SummaryWriter(log_dir=str(out / "tb"))
    if start == 0:
        writer.add_text(
            "hyperparameters",
            _hparam_table(cfg, {"device": str(dev), "encoder": source, "out": str(out)}),
        )
    hf_config = json.loads(hf.config.to_json_string())
    base_config = {
        "train": cfg.to_dict(),
        "encoder": {
            "source": source,
            "model_type": hf_config.get("model_type", "bert"),
            "n_layers": encoder.n_layers,
            "hidden_size": encoder.hidden_size,
            "config": hf_config,
        },
        "dataset": {
            "name": data.name,
            "spec": cfg.dataset,
            "fingerprint": prep.fingerprint,
            "n_users": prep.n_users,
            "n_items": prep.n_items,
            "n_ratings": int(data.n_ratings),
            "n_train": len(prep.train),
            "n_val": len(prep.val),
            "n_test": len(prep.test),
        },
        "features": {"user": prep.feature_names, "item": ITEM_FEATURE_NAMES},
        "device": str(dev),
        "versions": _versions(),
    }

    def save(step: int, complete: bool, metrics: dict[str, float]) -> None:
        tables = run.tables()
        config = {
            **base_config,
            "step": step,
            "complete": complete,
            "validation": metrics,
            "history": history,
            "wall_seconds": spent + time.perf_counter() - t0,
        }
        ckpt.write_checkpoint(
            out,
            config,
            tables,
            model.state_dict(),
            {"optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict()},
        )

    bar = tqdm(total=cfg.steps, initial=start, desc="finetune", disable=not progress, unit="step")
    metrics: dict[str, float] = dict(saved.get("validation", {})) if saved else {}
    step = start
    last_log = time.perf_counter()
    try:
        model.eval()  # dropout off; gradients flow all the same
        for step in range(start, cfg.steps):
            probing = step < cfg.probe_steps or cfg.finetune_layers == 0
            parts = run.train_step(draw_batch(prep, cfg, step), probing)
            if step % 10 == 0:
                for key, value in parts.items():
                    writer.add_scalar(f"train/{key}", value, step + 1)
                now = time.perf_counter()
                writer.add_scalar("time/steps_per_s", 10.0 / max(now - last_log, 1e-9), step + 1)
                last_log = now
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.4f}", val_auc=f"{metrics.get('auc', 0):.3f}")
            done = step + 1
            if done % cfg.eval_every == 0 or done == cfg.steps:
                run.refresh()
                metrics = validation_metrics(run.tables(), val_split)
                for key, value in metrics.items():
                    name = "loss" if key == "logloss" else key
                    writer.add_scalar(f"val/{name}", value, done)
                history.append({"step": done, **metrics})
                save(done, done == cfg.steps, metrics)
        if start == cfg.steps:  # resumed with nothing left but an incomplete flag
            save(start, True, metrics)
    finally:
        bar.close()
        writer.close()
    wall = spent + time.perf_counter() - t0
    say(f"done: {cfg.steps} steps, {wall:.0f} s in total, val {json.dumps(metrics)}")
    return FinetuneResult(out, cfg.steps, True, wall, metrics, history)


def _versions() -> dict[str, str]:
    import transformers

    import divrec_rl

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "divrec_rl": divrec_rl.__version__,
    }


def _load_weights(model: TwoTowerModel, state: dict[str, Any], directory: Path) -> None:
    """Load a checkpoint's torch state into ``model``; a mismatch is one CheckpointError line."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{directory / ckpt.MODEL_FILE}: does not fit the model described by config.json "
            f"({first})"
        ) from None


def load_trained_model(directory: str | Path) -> tuple[TwoTowerModel, Any, dict[str, Any]]:
    """``(model, tokenizer, config)`` of a checkpoint, rebuilt offline from its own files."""
    from transformers import AutoTokenizer

    d = Path(directory)
    cfg = ckpt.read_config(d)
    train_cfg = TrainConfig.from_dict(cfg["train"])
    tokenizer = AutoTokenizer.from_pretrained(str(d / ckpt.TOKENIZER_DIR), local_files_only=True)
    state = ckpt.load_state_dict(d, cfg)
    encoder = ItemEncoder(
        encoder_from_config(cfg["encoder"]["config"]),
        train_cfg.finetune_layers,
        state.get("encoder.adapter_tokens"),
    )
    model = TwoTowerModel(
        encoder,
        train_cfg.dim,
        len(cfg["features"]["user"]),
        len(cfg["features"]["item"]),
        train_cfg.feature_hidden,
    )
    _load_weights(model, state, d)
    model.eval()
    return model, tokenizer, cfg
