"""Model, caches, optimiser and loss of one fine-tuning run of the two-tower user model.

The loss and the schedules are described in :mod:`divrec_rl.bert.train`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from divrec_rl.bert.batches import Batch
from divrec_rl.bert.checkpoint import UserModelTables
from divrec_rl.bert.encoder import refresh_pooled
from divrec_rl.bert.fidelity import EvalSplit, TablesScorer, evaluate
from divrec_rl.bert.model import TwoTowerModel, runtime_tables
from divrec_rl.bert.prepare import POSITIVE_RATING, PreparedData
from divrec_rl.bert.settings import TrainConfig

#: Extra seed word of the ID-dropout masks (apart from the batch draws' stream).
ID_DROPOUT_STREAM = 0xD0


class FinetuneRun:
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
        # Dropout off: a few hundred steps over a small, fixed corpus (gradients flow as usual).
        self.model = model.to(device).eval()
        self.device = device
        self.ids = ids
        self.mask = mask
        self._bank_update: tuple[torch.Tensor, torch.Tensor] | None = None
        self.cache = model.encoder.bottom(ids, mask)
        self.pooled = refresh_pooled(model.encoder, self.cache, mask, ids)
        self.z = torch.as_tensor(prep.item_features, device=device)
        # log of the expected times an item enters a step's encoded set: the rated items are
        # drawn ∝ their training examples (batch_items of them), the pool uniformly (n_pool).
        counts = np.diff(prep.item_examples_indptr).astype(np.float64)
        expected = cfg.batch_items * counts / counts.sum() + cfg.n_pool / prep.n_items
        self.log_q = torch.as_tensor(np.log(expected), dtype=torch.float32, device=device)
        self.x = torch.as_tensor(prep.user_features, device=device)
        # The ``keep`` mask of item_vectors that leaves every ID offset out (text_ranking_loss).
        self._no_offsets = torch.zeros(prep.n_items, device=device)
        # The ID offsets get their own group only with lr_id set: with lr_id = 0 (lr_heads) the
        # groups are the ones of checkpoints written before the field, so they resume.
        offsets = model.id_parameters() if cfg.lr_id > 0 else []
        split = {id(p) for p in offsets}
        heads = [p for p in model.head_parameters() if id(p) not in split]
        groups = [{"params": heads, "lr": cfg.lr_heads}]
        if offsets:
            groups.append({"params": offsets, "lr": cfg.lr_id})
        n_heads = len(groups)
        enc = model.encoder.trainable_parameters()
        adapter = model.encoder.adapter_parameters()
        if enc:
            groups.append({"params": enc, "lr": cfg.lr_encoder})
        if adapter:
            groups.append({"params": adapter, "lr": cfg.lr_adapter, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        warm = max(cfg.warmup_steps, 1)
        probe = cfg.probe_steps
        schedules = [lambda s: min(1.0, (s + 1) / warm)] * n_heads
        # The encoder's warm-up starts when the probe phase ends.
        schedules += [lambda s: 0.0 if s < probe else min(1.0, (s + 1 - probe) / warm)] * (
            len(groups) - n_heads
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedules)

    def refresh(self) -> None:
        self.pooled = refresh_pooled(self.model.encoder, self.cache, self.mask, self.ids)

    def loss(
        self,
        b: Batch,
        probing: bool,
        ranking: bool,
        keep: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its parts on batch ``b``.  ``probing``: the encoder is frozen this
        step (its vectors come from the exact bank); ``ranking``: the encoder softmax joins
        the loss (both from :func:`step_phase`); ``keep``: the step's ID-offset mask
        (:meth:`offset_keep`)."""
        cfg, model, dev = self.cfg, self.model, self.device
        fresh = np.unique(np.concatenate([b.items, b.pool]))
        fresh_t = torch.as_tensor(fresh)
        if probing:  # encoder frozen: the bank holds exact vectors, no need to run it
            pooled = self.pooled[fresh_t].to(dev)
            self._bank_update = None
        else:
            pooled = model.encoder.top(
                self.cache[fresh_t].to(dev), self.mask[fresh_t].to(dev), self.ids[fresh_t].to(dev)
            )
            self._bank_update = (fresh_t, pooled.detach().float().cpu())
        e = model.item_vectors(pooled, fresh_t.to(dev), keep)
        # Every item's vector from the memory bank (gradient to the projection and ID offsets
        # only); ``e_all`` swaps in the items just encoded, which carry the encoder's gradient
        # into the pointwise losses and the user side.  The softmax reads the bank alone: with
        # fresh vectors for the step's (popular) items against stale ones for the rest, its
        # gradient taught the encoder to lift whatever was encoded this step (measured on
        # ML-100k: validation AUC 0.875 → 0.827 within 250 fine-tuning steps).
        e_bank = model.item_vectors(self.pooled.to(dev), keep=keep)
        e_all = e_bank.index_copy(0, fresh_t.to(dev), e)
        bias_all = model.item_biases(e_all, self.z)
        theta, rho = self.user_states(b, e_all)
        users = torch.as_tensor(b.users, device=dev)
        u_attr, u_sat = model.user_vectors(theta, rho, self.x[users], users)
        items = torch.as_tensor(b.items, device=dev)
        pool = torch.as_tensor(b.pool, device=dev)
        attr_obs = (u_attr * e_all[items]).sum(-1) + bias_all[items, 0]
        sat_obs = (u_sat * e_all[items]).sum(-1) + bias_all[items, 1]
        attr_pool = u_attr @ e_all[pool].T + bias_all[pool, 0][None, :]
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
        bias_bank = bias_all if probing else model.item_biases(e_bank, self.z)
        softmax = self.softmax_loss(b, u_attr, e_bank, bias_bank[:, 0])
        soft = torch.as_tensor((b.ratings - 1.0) / 4.0, dtype=torch.float32, device=dev)
        satisfaction = functional.binary_cross_entropy_with_logits(sat_obs, soft.clamp(0.0, 1.0))
        total = engagement + cfg.softmax_weight * softmax + cfg.sat_weight * satisfaction
        extra: dict[str, float] = {}
        if ranking and cfg.encoder_softmax_weight > 0:
            sampled = self.sampled_softmax_loss(b, u_attr, e, bias_all[fresh_t.to(dev), 0], fresh)
            total = total + cfg.encoder_softmax_weight * sampled
            extra["encoder_softmax_loss"] = sampled.item()
        if cfg.text_softmax_weight > 0:
            text = self.text_ranking_loss(b, u_attr, pooled, fresh, ranking)
            total = total + cfg.text_softmax_weight * text
            extra["text_softmax_loss"] = text.item()
        if cfg.id_reg > 0:
            for offsets in model.id_parameters():
                total = total + cfg.id_reg * offsets.pow(2).sum(-1).mean()
        return total, {
            "loss": total.item(),
            "engagement_loss": engagement.item(),
            "softmax_loss": softmax.item(),
            "satisfaction_loss": satisfaction.item(),
            **extra,
        }

    def text_ranking_loss(
        self,
        b: Batch,
        u_attr: torch.Tensor,
        pooled_fresh: torch.Tensor,
        fresh: np.ndarray,
        ranking: bool,
    ) -> torch.Tensor:
        """The recipe's ranking losses with every item scored from its text vector alone (a
        hybrid tower's ID offsets left out; ``text_softmax_weight``):
        ``softmax_weight · L_full(e_text) + encoder_softmax_weight · L_enc(e_text)``, the
        encoder softmax only in ``ranking`` steps, as in the hybrid loss.  The user side is the
        hybrid one: a simulated user's state is built from hybrid vectors, and an item with
        few ratings is scored near its text vector against it."""
        cfg, model, dev = self.cfg, self.model, self.device
        no_offsets = self._no_offsets
        loss = torch.zeros((), device=dev)
        if cfg.softmax_weight > 0:
            e_bank = model.item_vectors(self.pooled.to(dev), keep=no_offsets)
            bias = model.item_biases(e_bank, self.z)[:, 0]
            loss = cfg.softmax_weight * self.softmax_loss(b, u_attr, e_bank, bias)
        if ranking and cfg.encoder_softmax_weight > 0:
            fresh_t = torch.as_tensor(fresh, device=dev)
            e = model.item_vectors(pooled_fresh, fresh_t, no_offsets)
            bias = model.item_biases(e, self.z[fresh_t])[:, 0]
            sampled = self.sampled_softmax_loss(b, u_attr, e, bias, fresh)
            loss = loss + cfg.encoder_softmax_weight * sampled
        return loss

    def offset_keep(self, step: int) -> torch.Tensor | None:
        """``(M,)`` 0/1 mask of the items whose ID offset takes part in step ``step``: each is
        left out with probability ``id_dropout`` (seeded by seed and step, so a resumed run
        draws the same masks), so the text part learns to score items on its own — the
        content-only training of DropoutNet (Volkovs et al., NeurIPS 2017).  ``None`` without
        ``id_dropout``."""
        if self.cfg.id_dropout == 0:
            return None
        rng = np.random.default_rng([self.cfg.seed, step, ID_DROPOUT_STREAM])
        drop = rng.random(self.prep.n_items) < self.cfg.id_dropout
        return torch.as_tensor(~drop, dtype=torch.float32, device=self.device)

    def user_states(self, b: Batch, e_all: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(θ, ρ)`` of the batch's ratings, each ``(B, d)``: θ = normalised sum of the history
        vectors, ρ = Σ_{age < L} (1−δ)·δ^age·e (the simulator's history EMA, see the model)."""
        cfg, dev = self.cfg, self.device
        rows = torch.as_tensor(b.hist_rows, device=dev)
        vecs = e_all[torch.as_tensor(b.hist_items, device=dev)]
        zeros = torch.zeros((len(b.users), cfg.dim), device=dev)
        theta = functional.normalize(zeros.index_add(0, rows, vecs), dim=-1)
        keep = b.hist_age < cfg.recency_length
        w = (1.0 - cfg.recency_decay) * cfg.recency_decay ** b.hist_age[keep].astype(np.float64)
        keep_t = torch.as_tensor(keep, device=dev)
        w_t = torch.as_tensor(w, dtype=torch.float32, device=dev)[:, None]
        rho = zeros.index_add(0, rows[keep_t], vecs[keep_t] * w_t)
        return theta, rho

    def softmax_loss(
        self, b: Batch, u_attr: torch.Tensor, e_all: torch.Tensor, bias: torch.Tensor
    ) -> torch.Tensor:
        """Full softmax over the catalogue for each positive rating: ``−log softmax(a_u·)_i``,
        the user's other liked training items masked out (they are not negatives), and with
        ``softmax_disliked = mask`` the ones rated below 4 as well (else they stay in the
        softmax as explicit negatives).  MovieLens catalogues are small (≤ 4k items), so no
        sampling and no logQ correction is needed."""
        pos = np.flatnonzero(b.ratings >= POSITIVE_RATING)
        if self.cfg.softmax_weight == 0 or len(pos) == 0:
            return torch.zeros((), device=self.device)
        dev = self.device
        pos_t = torch.as_tensor(pos, device=dev)
        logits = u_attr[pos_t] @ e_all.T + bias[None, :]
        excluded = _excluded_items(self.cfg, self.prep)[b.users[pos]]
        return _cross_entropy_without(logits, excluded, b.items[pos])

    def sampled_softmax_loss(
        self,
        b: Batch,
        u_attr: torch.Tensor,
        e_fresh: torch.Tensor,
        bias_fresh: torch.Tensor,
        fresh: np.ndarray,
    ) -> torch.Tensor:
        """Sampled softmax over the step's freshly encoded items ``fresh`` (sorted, unique) for
        each positive rating ``(u, i)``: ``−log softmax_j(a_uj − log q_j)`` at ``i``, ``j`` over
        ``fresh`` without the user's other fit-period items, ``q_j`` the expected number of
        times item ``j`` is encoded in a step (logQ correction, Yi et al., RecSys 2019).  Every
        logit comes from a vector computed this step, so — unlike the full softmax over the
        memory bank — its gradient reaches the encoder without favouring the encoded items."""
        pos = np.flatnonzero(b.ratings >= POSITIVE_RATING)
        if len(pos) == 0:
            return torch.zeros((), device=self.device)
        dev = self.device
        fresh_t = torch.as_tensor(fresh, device=dev)
        logits = u_attr[torch.as_tensor(pos, device=dev)] @ e_fresh.T
        logits = logits + (bias_fresh - self.log_q[fresh_t])[None, :]
        excluded = _excluded_items(self.cfg, self.prep)[b.users[pos]][:, fresh]
        return _cross_entropy_without(logits, excluded, np.searchsorted(fresh, b.items[pos]))

    def train_step(self, b: Batch, step: int) -> dict[str, float]:
        """Forward, backward, optimiser step and memory-bank update of step ``step`` (its
        phase from :func:`step_phase`); the loss parts."""
        loss, parts = self.loss(b, *step_phase(self.cfg, step), self.offset_keep(step))
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


def step_phase(cfg: TrainConfig, step: int) -> tuple[bool, bool]:
    """``(probing, ranking)`` of step ``step``: the encoder is frozen during the first
    ``probe_steps`` steps and throughout with ``finetune_layers = 0``; the encoder softmax
    joins after the probe phase when the encoder trains, and also when it is frozen with
    ``encoder_softmax_frozen`` — so a recipe and its frozen twin train on the same losses."""
    probing = step < cfg.probe_steps or cfg.finetune_layers == 0
    ranking = step >= cfg.probe_steps and (not probing or cfg.encoder_softmax_frozen)
    return probing, ranking


def _excluded_items(cfg: TrainConfig, prep: PreparedData) -> np.ndarray:
    """``(U, M)`` items a user's softmax leaves out: every fit-period item with
    ``softmax_disliked = mask``, else only the liked ones (the disliked stay as negatives)."""
    return prep.train_seen if cfg.softmax_disliked == "mask" else prep.train_liked


def _cross_entropy_without(
    logits: torch.Tensor, excluded: np.ndarray, target: np.ndarray
) -> torch.Tensor:
    """Mean over rows r of ``−log softmax(logits[r])[target[r]]``, the columns ``excluded[r]``
    other than the target masked out (``excluded``: a fresh boolean array, changed in place)."""
    excluded[np.arange(len(target)), target] = False
    dev = logits.device
    logits = logits.masked_fill(torch.as_tensor(excluded, device=dev), float("-inf"))
    return functional.cross_entropy(logits, torch.as_tensor(target, device=dev))


def validation_metrics(
    tables: dict[str, np.ndarray], split: EvalSplit, cfg: TrainConfig | None = None
) -> dict[str, float]:
    """Fidelity metrics of the tables on ``split`` plus the satisfaction RMSE in rating units
    (``cfg`` gives the recency decay and length, default settings when ``None``)."""
    cfg = cfg or TrainConfig()
    scorer = TablesScorer(UserModelTables(**tables), cfg.recency_decay, cfg.recency_length)
    return {**evaluate(scorer, split), "rating_rmse": scorer.satisfaction_rmse(split)}
