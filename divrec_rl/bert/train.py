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
* **softmax losses** (ranking) -- for each positive rating, a full softmax over the catalogue
  read from the memory bank (``softmax_weight``; no gradient to the encoder) and, after the
  probe phase, a logQ-corrected sampled softmax over the step's freshly encoded items
  (``encoder_softmax_weight``; :meth:`FinetuneRun.sampled_softmax_loss`), the encoder's ranking
  signal — kept with a frozen encoder too (``encoder_softmax_frozen``), so that a frozen twin
  differs from its recipe only in the encoder's weights;
* **text-only ranking loss** (hybrid towers, ``text_softmax_weight`` α > 0) -- the same softmax
  losses again with every item scored from its text vector alone (ID offsets left out,
  :meth:`FinetuneRun.text_ranking_loss`), so the text part that rarely rated items lean on is
  trained to rank by itself;
* total = engagement + the softmax losses + α · the text-only ones + ``sat_weight`` ·
  satisfaction; AdamW, linear warm-up then constant.

The first ``probe_steps`` steps train only the projection, user tower and heads on the frozen
encoder (cheap: no transformer runs); then the top ``finetune_layers`` layers are unfrozen with
their own warm-up — "linear probe, then fine-tune" (Kumar et al., ICLR 2022), so fine-tuning
starts from a fitted head instead of distorting the pretrained features to fit a random one.

Every ``eval_every`` steps the cached pooled vectors are refreshed, the runtime tables are
computed, validation metrics go to TensorBoard (``val/loss`` = engagement log-loss, ``val/auc``,
``val/auc_unrated``, ``val/auc_disliked``, ``val/auc_cold``, ``val/ndcg@10``, ``val/hr@10``,
``val/ece``, ``val/rating_rmse``) and a checkpoint is written.
The training ratings are those of ``fit_period``: ``train`` holds the validation period out
(compare recipes on it); ``train+val`` refits on everything before the test period, and the
validation metrics are then in-sample.
Batches are seeded by ``(seed, step)`` and nothing else is random, so a resumed run replays the
uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from divrec_rl.atomic import make_directory
from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.batches import Batch, draw_batch
from divrec_rl.bert.checkpoint import CheckpointError
from divrec_rl.bert.encoder import (
    ItemEncoder,
    default_encoder_path,
    encoder_from_config,
    load_encoder,
    tokenize,
)
from divrec_rl.bert.fidelity import EvalSplit, make_eval_split
from divrec_rl.bert.model import TwoTowerModel, offset_gates
from divrec_rl.bert.prepare import PreparedData, prepare_for, ratings_fingerprint, same_dataset
from divrec_rl.bert.settings import RESUMABLE_FIELDS, TrainConfig
from divrec_rl.bert.trainer import FinetuneRun, validation_metrics
from divrec_rl.data import InteractionData, load_dataset
from divrec_rl.provenance import code_identity
from divrec_rl.training.device import resolve_device as resolve_training_device
from divrec_rl.training.device import torch_threads

if TYPE_CHECKING:  # transformers is imported lazily: it takes seconds
    from transformers import PreTrainedModel

__all__ = [
    "ITEM_FEATURE_NAMES",
    "Batch",
    "FinetuneResult",
    "FinetuneRun",
    "draw_batch",
    "finetune",
    "load_trained_model",
    "resolve_device",
    "torch_threads",
    "validation_metrics",
]

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


def _hparam_table(cfg: TrainConfig, extra: dict[str, Any]) -> str:
    rows = [*cfg.to_dict().items(), *extra.items()]
    return "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in rows)


def _encoder_folder(base_model: str | None) -> Path:
    """The folder a ``base_model`` setting loads (``None``: the default package's), resolved."""
    return (Path(base_model).expanduser() if base_model else default_encoder_path()).resolve()


def _compare_for_resume(saved: dict[str, Any], cfg: TrainConfig, where: Path) -> None:
    now = cfg.to_dict()
    # Read through from_dict: a field the checkpoint predates compares as its legacy value.
    for key, value in TrainConfig.from_dict(saved).to_dict().items():
        if key in RESUMABLE_FIELDS:
            continue
        same = now.get(key) == value
        # The same folder named two ways (unset = the default package's folder, which the
        # report passes by its path; a relative or linked path) is the same encoder.
        if not same and key == "base_model" and _encoder_folder(now[key]) == _encoder_folder(value):
            continue
        if not same:
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


def _finetune(
    cfg: TrainConfig,
    out: Path,
    device: str,
    resume: bool,
    progress: bool,
    data: InteractionData | None,
    log: Callable[[str], None] | None,
) -> FinetuneResult:
    say = log or (lambda s: None)
    cfg.validate()
    dev = resolve_device(device)
    saved = _saved_config(cfg, out, resume)
    if saved is not None and saved["complete"] and saved["step"] >= cfg.steps:
        say(f"{out}: already complete at step {saved['step']}; nothing to do")
        return FinetuneResult(
            out,
            saved["step"],
            True,
            float(saved.get("wall_seconds", 0.0)),
            dict(saved.get("validation", {})),
            list(saved.get("history", [])),
        )

    t0 = time.perf_counter()
    data = data if data is not None else load_dataset(cfg.dataset)
    prep = _prepare(cfg, data, out, saved)
    torch.manual_seed(cfg.seed)
    tokenizer, hf, source = _tokenizer_and_encoder(cfg, out, saved)
    ids, mask = tokenize(tokenizer, prep.data.items["text"].tolist(), cfg.max_len)
    model = _two_tower(cfg, prep, hf, ids, mask, out, saved)
    say(f"encoding {prep.n_items} item texts (frozen bottom of {model.encoder.n_layers} layers)")
    run = FinetuneRun(cfg, prep, ids, mask, model, dev)
    if saved is not None:
        _restore_optimizer(run, out, saved)

    val_split = make_eval_split(prep, "val", cfg.neg_ratio, cfg.seed)
    make_directory(out, f"--out '{out}'", CheckpointError)
    if saved is None:
        tokenizer.save_pretrained(str(out / ckpt.TOKENIZER_DIR))
    base_config = _run_config(cfg, data, prep, model.encoder, hf, source, dev)
    metrics, history, wall = _train_loop(run, out, saved, base_config, val_split, progress, t0)
    say(f"done: {cfg.steps} steps, {wall:.0f} s in total, val {json.dumps(metrics)}")
    return FinetuneResult(out, cfg.steps, True, wall, metrics, history)


def resumed_config(out: str | Path, given: dict[str, Any]) -> TrainConfig:
    """The configuration of ``finetune --resume``: the checkpoint's own settings with the fields
    ``given`` on the command line over them, so resuming needs no flag retyped (a given field
    that may not change is refused by :func:`finetune`, naming it)."""
    saved = TrainConfig.from_dict(ckpt.read_config(Path(out))["train"]).to_dict()
    return TrainConfig.from_dict({**saved, **given})


def _saved_config(cfg: TrainConfig, out: Path, resume: bool) -> dict[str, Any] | None:
    """The checkpoint's config when resuming (checked against ``cfg``); refuses to overwrite one
    otherwise."""
    if resume:
        saved = ckpt.read_config(out)
        _compare_for_resume(saved["train"], cfg, out / ckpt.CONFIG_FILE)
        return saved
    if out.exists() and not out.is_dir():  # before minutes of loading and encoding
        raise CheckpointError(f"--out '{out}': exists and is not a directory")
    if (out / ckpt.CONFIG_FILE).exists():
        raise CheckpointError(
            f"{out}: already holds a user-model checkpoint; pass --resume to continue it "
            "or choose another --out"
        )
    return None


def _prepare(
    cfg: TrainConfig, data: InteractionData, out: Path, saved: dict[str, Any] | None
) -> PreparedData:
    """Splits and examples of ``data``; a resumed run must see the very same dataset."""
    prep = prepare_for(data, cfg)
    if len(prep.examples_user) == 0:
        raise ValueError(
            f"dataset {data.name}: no {cfg.fit_period} rating has {cfg.min_history} earlier "
            "ratings; lower min_history"
        )
    if saved is not None and not same_dataset(saved["dataset"], data):
        raise CheckpointError(
            f"{out}: the checkpoint was trained on another dataset "
            f"({saved['dataset'].get('name')}) than {data.name}"
        )
    return prep


def _tokenizer_and_encoder(
    cfg: TrainConfig, out: Path, saved: dict[str, Any] | None
) -> tuple[Any, PreTrainedModel, str]:
    """``(tokenizer, transformer, source)``: the checkpoint's own copies when resuming (offline),
    else ``cfg.base_model``."""
    if saved is None:
        tokenizer, hf, folder = load_encoder(cfg.base_model)
        return tokenizer, hf, str(folder)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(out / ckpt.TOKENIZER_DIR), local_files_only=True)
    hf = encoder_from_config(saved["encoder"]["config"])
    return tokenizer, hf, saved["encoder"]["source"]


def _two_tower(
    cfg: TrainConfig,
    prep: PreparedData,
    hf: PreTrainedModel,
    ids: torch.Tensor,
    mask: torch.Tensor,
    out: Path,
    saved: dict[str, Any] | None,
) -> TwoTowerModel:
    """The two-tower model on ``hf``, with the checkpoint's weights when resuming."""
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
        prep.n_items,
        cfg.item_tower,
        prep.n_users,
        cfg.user_id,
        cfg.id_shrinkage,
    )
    if model.offset_gate is not None:
        model.offset_gate.copy_(offset_gates(prep.popularity, cfg.id_shrinkage))
    if state is not None:
        _load_weights(model, state, out)
    return model


def _restore_optimizer(run: FinetuneRun, out: Path, saved: dict[str, Any]) -> None:
    """Optimiser and scheduler state of the checkpoint; a mismatch is one CheckpointError line."""
    opt_state = ckpt.load_optimizer_state(out, saved)
    try:
        run.optimizer.load_state_dict(opt_state["optimizer"])
        run.scheduler.load_state_dict(opt_state["scheduler"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{out / ckpt.OPTIMIZER_FILE}: does not fit this model ({exc})"
        ) from None


def _run_config(
    cfg: TrainConfig,
    data: InteractionData,
    prep: PreparedData,
    encoder: ItemEncoder,
    hf: PreTrainedModel,
    source: str,
    dev: torch.device,
) -> dict[str, Any]:
    """The step-independent part of the checkpoint's ``config.json``."""
    hf_config = json.loads(hf.config.to_json_string())
    return {
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
            "ratings_fingerprint": ratings_fingerprint(data),
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
        "code": code_identity().as_dict(),
    }


def _save(
    run: FinetuneRun, out: Path, base_config: dict[str, Any], progress: dict[str, Any]
) -> None:
    """Write the checkpoint: ``base_config`` plus ``progress`` (step, complete, validation,
    history, wall_seconds), the runtime tables, the weights and the optimiser state."""
    ckpt.write_checkpoint(
        out,
        {**base_config, **progress},
        run.tables(),
        run.model.state_dict(),
        {"optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict()},
    )


def _train_loop(
    run: FinetuneRun,
    out: Path,
    saved: dict[str, Any] | None,
    base_config: dict[str, Any],
    val_split: EvalSplit,
    progress: bool,
    t0: float,
) -> tuple[dict[str, float], list[dict[str, float]], float]:
    """Steps from the checkpoint's (or 0) to ``cfg.steps``, validating and checkpointing every
    ``eval_every`` steps; returns ``(validation metrics, history, total wall seconds)``."""
    from torch.utils.tensorboard import SummaryWriter
    from tqdm.auto import tqdm

    cfg = run.cfg
    start = int(saved["step"]) if saved is not None else 0
    history: list[dict[str, float]] = list(saved.get("history", [])) if saved else []
    spent = float(saved.get("wall_seconds", 0.0)) if saved else 0.0
    metrics: dict[str, float] = dict(saved.get("validation", {})) if saved else {}

    def save(step: int, complete: bool) -> None:
        done = {"step": step, "complete": complete, "validation": metrics, "history": history}
        _save(run, out, base_config, {**done, "wall_seconds": spent + time.perf_counter() - t0})

    writer = SummaryWriter(log_dir=str(out / "tb"))
    if start == 0:
        extra = {"device": base_config["device"], "encoder": base_config["encoder"]["source"]}
        writer.add_text("hyperparameters", _hparam_table(cfg, {**extra, "out": str(out)}))
    bar = tqdm(total=cfg.steps, initial=start, desc="finetune", disable=not progress, unit="step")
    last_log = time.perf_counter()
    try:
        for step in range(start, cfg.steps):
            parts = run.train_step(draw_batch(run.prep, cfg, step), step)
            if step % 10 == 0:
                for key, value in parts.items():
                    writer.add_scalar(f"train/{key}", value, step + 1)
                now = time.perf_counter()
                writer.add_scalar("time/steps_per_s", 10.0 / max(now - last_log, 1e-9), step + 1)
                last_log = now
            bar.update(1)
            # "–" until the first validation: a 0.000 there would read as a measured AUC.
            auc = f"{metrics['auc']:.3f}" if "auc" in metrics else "–"
            bar.set_postfix(loss=f"{parts['loss']:.4f}", val_auc=auc)
            done = step + 1
            if done % cfg.eval_every == 0 or done == cfg.steps:
                run.refresh()
                metrics = validation_metrics(run.tables(), val_split, cfg)
                for key, value in metrics.items():
                    writer.add_scalar(f"val/{'loss' if key == 'logloss' else key}", value, done)
                history.append({"step": done, **metrics})
                save(done, done == cfg.steps)
        if start == cfg.steps:  # resumed with nothing left but an incomplete flag
            save(start, True)
    finally:
        bar.close()
        writer.close()
    return metrics, history, spent + time.perf_counter() - t0


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
    state = ckpt.load_state_dict(d, cfg)  # refuses a version-1 checkpoint in one line
    train_cfg = TrainConfig.from_dict(cfg["train"])
    tokenizer = AutoTokenizer.from_pretrained(str(d / ckpt.TOKENIZER_DIR), local_files_only=True)
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
        int(cfg["dataset"]["n_items"]),
        train_cfg.item_tower,
        int(cfg["dataset"]["n_users"]),
        train_cfg.user_id,
        train_cfg.id_shrinkage,
    )
    _load_weights(model, state, d)
    model.eval()
    return model, tokenizer, cfg
