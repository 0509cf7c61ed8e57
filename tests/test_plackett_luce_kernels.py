"""The compiled loops of the Plackett–Luce walk (``divrec_rl.kernels.running_argmax`` and
``taken_before``) return exactly what the torch expressions they replaced returned: the running
maximum's values, indices and gradient as ``torch.cummax`` (ties and NaN included), and the
taken-before mask as the broadcast slot comparison."""

from __future__ import annotations

import numpy as np
import torch as th
from hypothesis import given, settings
from hypothesis import strategies as st

from divrec_rl import kernels
from divrec_rl.agents.plackett_luce import _running_max, _taken_before


@st.composite
def similarity_blocks(draw: st.DrawFn) -> th.Tensor:
    """(B, m, C) float32 blocks drawn from a few values, so ties are common; some NaN."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 5)))
    values = st.sampled_from([-1.0, -0.5, 0.0, 0.25, 0.25, 1.0, float("nan")])
    flat = draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return th.tensor(flat, dtype=th.float32).reshape(shape)


@settings(max_examples=200, deadline=None)
@given(similarity_blocks())
def test_running_argmax_gives_cummax_indices_ties_and_nan_included(sim: th.Tensor) -> None:
    index = np.empty(sim.shape, dtype=np.int64)
    kernels.running_argmax(sim.numpy(), index)
    assert np.array_equal(index, th.cummax(sim, dim=1).indices.numpy())


@settings(max_examples=200, deadline=None)
@given(similarity_blocks())
def test_running_max_matches_cummax_in_value_and_gradient(sim: th.Tensor) -> None:
    ours = sim.clone().requires_grad_(True)
    reference = sim.clone().requires_grad_(True)
    out, expected = _running_max(ours), th.cummax(reference, dim=1).values
    assert th.equal(out.isnan(), expected.isnan())
    assert th.equal(out.nan_to_num(), expected.nan_to_num())
    weights = th.arange(out.numel(), dtype=th.float32).reshape(out.shape)
    (out.nan_to_num() * weights).sum().backward()
    (expected.nan_to_num() * weights).sum().backward()
    assert th.equal(ours.grad, reference.grad)


def test_running_max_on_a_hand_computed_case() -> None:
    # One user, three picks, two candidates; a tie at step 2 of candidate 0 moves the index.
    sim = th.tensor([[[0.5, -1.0], [0.25, 0.75], [0.5, 0.125]]], requires_grad=True)
    out = _running_max(sim)
    assert out.tolist() == [[[0.5, -1.0], [0.5, 0.75], [0.5, 0.75]]]
    out.sum().backward()
    # Candidate 0: the first pick holds the maximum at steps 0 and 1, the tying third at 2.
    assert sim.grad.tolist() == [[[2.0, 1.0], [0.0, 2.0], [1.0, 0.0]]]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 8), st.data())
def test_taken_before_marks_exactly_the_earlier_picks(batch: int, n: int, data) -> None:
    k = data.draw(st.integers(1, n))
    rows = [data.draw(st.permutations(range(n)))[:k] for _ in range(batch)]
    picks = th.tensor(rows, dtype=th.long)
    taken = _taken_before(picks, n)
    slot = th.full((batch, n), k, dtype=th.long).scatter_(1, picks, th.arange(k).expand(batch, k))
    assert taken.dtype == th.bool
    assert th.equal(taken, slot[:, None, :] < th.arange(k)[None, :, None])


def test_taken_before_reads_a_non_contiguous_slice_of_picks() -> None:
    # decode_slate hands over a column slice of a sort's indices.
    picks = th.tensor([[3, 0, 1, 2], [1, 2, 0, 3]])[:, :2]
    taken = _taken_before(picks, 4)
    assert taken[:, 0].any().item() is False
    assert taken[0, 1].tolist() == [False, False, False, True]
    assert taken[1, 1].tolist() == [False, True, False, False]
