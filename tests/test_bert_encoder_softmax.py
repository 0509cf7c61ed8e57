"""``encoder_softmax_weight``: the sampled softmax over a step's freshly encoded items, the ranking
loss whose gradient reaches the fine-tuned encoder (checked against a hand-computed case), and
when a step uses it."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from divrec_rl.bert.batches import Batch, draw_batch
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_finetune_run
from divrec_rl.bert.trainer import FinetuneRun, step_phase
from divrec_rl.errors import TrainingError

# One user, five items.  Rated: item 0 (5 stars, the target), item 1 (2 stars), item 2 (4 stars);
# items 3 and 4 unrated.  The step encoded items {0, 2, 3, 4}; item 1 was not encoded.
SEEN = np.array([[True, True, True, False, False]])
LIKED = np.array([[True, False, True, False, False]])
FRESH = np.array([0, 2, 3, 4])
LOGITS = [0.5, 1.0, -1.0, 0.25]  # u·e_j for the fresh items, in FRESH's order
BIAS = [0.1, -0.2, 0.3, 0.0]
LOG_Q = [math.log(0.8), 0.0, math.log(0.05), math.log(0.5), math.log(0.2)]  # per item 0..4


def _loss(disliked: str) -> float:
    run = SimpleNamespace(
        cfg=TrainConfig(softmax_disliked=disliked),  # type: ignore[arg-type]
        prep=SimpleNamespace(train_seen=SEEN, train_liked=LIKED),
        device=torch.device("cpu"),
        log_q=torch.tensor(LOG_Q),
    )
    empty = np.zeros(0, dtype=np.int64)
    batch = Batch(
        users=np.array([0, 0]),
        items=np.array([0, 1]),  # the 2-star rating is not a softmax positive
        ratings=np.array([5.0, 2.0]),
        hist_rows=empty,
        hist_items=empty,
        hist_age=empty,
        pool=np.array([3, 4]),
        pool_valid=np.ones((2, 2), dtype=bool),
    )
    u = torch.tensor([LOGITS, LOGITS])
    loss = FinetuneRun.sampled_softmax_loss(
        run,  # type: ignore[arg-type]
        batch,
        u,
        torch.eye(4),
        torch.tensor(BIAS),
        FRESH,
    )
    return float(loss)


def _corrected(j: int) -> float:
    """Logit of FRESH[j] after the bias and the logQ correction."""
    return LOGITS[j] + BIAS[j] - LOG_Q[FRESH[j]]


def test_sampled_softmax_matches_a_hand_computed_case() -> None:
    # The other liked item (2, at position 1) is masked; the softmax runs over items {0, 3, 4}.
    want = -(_corrected(0) - math.log(sum(math.exp(_corrected(j)) for j in (0, 2, 3))))
    assert _loss("mask") == pytest.approx(want, rel=1e-6)
    # With disliked items as negatives only liked ones are masked: item 1 was not encoded,
    # so the set is the same here.
    assert _loss("negative") == pytest.approx(want, rel=1e-6)


def test_the_log_q_correction_is_the_expected_encoding_count(tiny: dict) -> None:
    run = tiny_finetune_run(tiny, encoder_softmax_weight=1.0)
    counts = np.diff(run.prep.item_examples_indptr).astype(np.float64)
    cfg = run.cfg
    want = cfg.batch_items * counts / counts.sum() + cfg.n_pool / run.prep.n_items
    np.testing.assert_allclose(run.log_q.numpy(), np.log(want), rtol=1e-6)
    # With one rated item and one pool item per step, drawing without replacement cannot bind,
    # so the formula is exact: compare with the frequencies of 4,000 drawn steps.
    one = tiny_finetune_run(tiny, encoder_softmax_weight=1.0, batch_items=1, n_pool=1)
    expected = np.exp(one.log_q.numpy().astype(np.float64))
    n_steps = 4000
    drawn = np.zeros(one.prep.n_items)
    for step in range(n_steps):
        b = draw_batch(one.prep, one.cfg, step)
        drawn += np.bincount(np.unique(b.items), minlength=one.prep.n_items)
        drawn += np.bincount(b.pool, minlength=one.prep.n_items)
    assert expected.sum() == pytest.approx(2.0)
    # Each count is a sum of two Bernoulli draws per step: 4 standard errors.
    se = np.sqrt(expected * (1 - np.minimum(expected, 1)) / n_steps + 1e-12)
    assert np.all(np.abs(drawn / n_steps - expected) < 4 * se + 1e-3)


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


def _encoder_grad_norm(run: FinetuneRun, probing: bool) -> tuple[float, dict[str, float]]:
    # While the encoder trains the encoder softmax joins; while it probes it does not.
    loss, parts = run.loss(draw_batch(run.prep, run.cfg, 0), probing, not probing)
    run.model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad for p in run.model.encoder.trainable_parameters() if p.grad is not None]
    return float(sum(g.norm() ** 2 for g in grads) ** 0.5), parts


def test_the_sampled_softmax_joins_fine_tuning_steps_only(tiny: dict) -> None:
    # With every other loss switched off, only the sampled softmax can reach the encoder.
    off = {"sat_weight": 0.0, "softmax_weight": 0.0, "neg_ratio": 1}
    run = tiny_finetune_run(tiny, encoder_softmax_weight=1.0, **off)
    norm, parts = _encoder_grad_norm(run, probing=False)
    assert "encoder_softmax_loss" in parts and parts["encoder_softmax_loss"] > 0
    assert norm > 0
    _, probe_parts = _encoder_grad_norm(run, probing=True)
    assert "encoder_softmax_loss" not in probe_parts
    base = tiny_finetune_run(tiny, encoder_softmax_weight=0.0, **off)
    _, base_parts = _encoder_grad_norm(base, probing=False)
    assert "encoder_softmax_loss" not in base_parts
    # The weight scales the term: the total moves by exactly weight × the sampled loss.
    double = tiny_finetune_run(tiny, encoder_softmax_weight=2.0, **off)
    _, two = _encoder_grad_norm(double, probing=False)
    assert two["loss"] - base_parts["loss"] == pytest.approx(
        2.0 * parts["encoder_softmax_loss"], rel=1e-4
    )


def test_the_weight_is_checked_and_old_configs_read_as_zero() -> None:
    with pytest.raises(TrainingError, match="encoder_softmax_weight"):
        TrainConfig(encoder_softmax_weight=-1.0)
    old = TrainConfig().to_dict()
    del old["encoder_softmax_weight"]
    assert TrainConfig.from_dict(old).encoder_softmax_weight == 0.0


@pytest.mark.parametrize(
    ("layers", "frozen_too", "step", "want"),
    [
        (1, True, 9, (True, False)),  # probe phase: encoder frozen, no encoder softmax
        (1, True, 10, (False, True)),  # fine-tuning: the encoder trains through it
        (1, False, 10, (False, True)),  # the frozen-only switch does not touch fine-tuning
        (0, True, 9, (True, False)),  # a frozen twin probes for the same steps ...
        (0, True, 10, (True, True)),  # ... then keeps the recipe's ranking loss
        (0, False, 10, (True, False)),  # configs written before the field: no such term
    ],
)
def test_the_step_phase_keeps_a_frozen_twin_on_the_recipes_losses(
    layers: int, frozen_too: bool, step: int, want: tuple[bool, bool]
) -> None:
    cfg = TrainConfig(
        finetune_layers=layers, encoder_softmax_frozen=frozen_too, probe_steps=10, steps=20
    )
    assert step_phase(cfg, step) == want


def test_a_frozen_twin_trains_on_the_encoder_softmax_without_moving_the_encoder(
    tiny: dict,
) -> None:
    run = tiny_finetune_run(tiny, encoder_softmax_weight=1.0, finetune_layers=0, probe_steps=0)
    assert run.model.encoder.trainable_parameters() == []
    before = run.pooled.clone()
    parts = run.train_step(draw_batch(run.prep, run.cfg, 0), 0)
    assert parts["encoder_softmax_loss"] > 0
    # The step's item vectors were read from the frozen bank, so the bank did not move.
    assert torch.equal(run.pooled, before)
    legacy = tiny_finetune_run(
        tiny,
        encoder_softmax_weight=1.0,
        finetune_layers=0,
        probe_steps=0,
        encoder_softmax_frozen=False,
    )
    legacy_parts = legacy.train_step(draw_batch(legacy.prep, legacy.cfg, 0), 0)
    assert "encoder_softmax_loss" not in legacy_parts


def test_configs_written_before_the_frozen_switch_read_it_as_off() -> None:
    old = TrainConfig().to_dict()
    del old["encoder_softmax_frozen"]
    assert TrainConfig.from_dict(old).encoder_softmax_frozen is False
    assert TrainConfig().encoder_softmax_frozen is True
