"""Choice models against hand-computed cases and a direct transcription of their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from divrec_rl.users.choice import (
    cascade_probabilities,
    mnl_probabilities,
    position_penalty,
    sample_choice,
)


def test_position_penalty_is_log2_of_one_plus_position() -> None:
    np.testing.assert_allclose(position_penalty(4, 2.0), [0.0, 2.0, 2.0 * math.log2(3), 4.0])
    assert position_penalty(3, 0.0).tolist() == [0.0, 0.0, 0.0]


def _mnl_reference(logits: list[float], outside: float, beta: float) -> list[float]:
    w = [math.exp(x - beta * math.log2(1 + pos)) for pos, x in enumerate(logits)]
    w.append(math.exp(outside))
    return [v / sum(w) for v in w]


@pytest.mark.parametrize("beta", [0.0, 0.7, 2.0])
def test_mnl_matches_its_formula(beta: float) -> None:
    logits = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, 3.0, 3.0]])
    got = mnl_probabilities(logits, -0.5, beta)
    assert got.shape == (2, 5)
    for row in range(2):
        np.testing.assert_allclose(got[row], _mnl_reference(list(logits[row]), -0.5, beta))


def test_mnl_hand_case() -> None:
    # logits ln 1, ln 2, outside ln 1, no position bias: 1/4, 2/4, 1/4.
    p = mnl_probabilities(np.log([[1.0, 2.0]]), 0.0)
    np.testing.assert_allclose(p, [[0.25, 0.5, 0.25]])
    # β = ln 2: the second slot's weight is 2 · e^{−ln 2 · log2 2} = 1.
    p = mnl_probabilities(np.log([[1.0, 2.0]]), 0.0, math.log(2.0))
    np.testing.assert_allclose(p, [[1 / 3] * 3])


def test_mnl_does_not_overflow() -> None:
    p = mnl_probabilities(np.array([[1000.0, 999.0]]), 0.0)
    np.testing.assert_allclose(p, [[1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1)), 0]])


def test_cascade_hand_case() -> None:
    # a = σ(l − l0) = (1/2, 1/4, 3/4) for logits (0, −ln 3, ln 3), l0 = 0; continue 0.5:
    # P1 = 1/2, P2 = 1/4 · (1/2·0.5) = 1/16, P3 = 3/4 · (1/2·0.5)(3/4·0.5) = 9/128.
    logits = np.array([[0.0, -math.log(3.0), math.log(3.0)]])
    p = cascade_probabilities(logits, 0.0, 0.5)
    want = [0.5, 1 / 16, 9 / 128]
    np.testing.assert_allclose(p, [[*want, 1 - sum(want)]])


def test_cascade_single_slot_and_certain_continuation() -> None:
    p = cascade_probabilities(np.array([[0.0]]), 0.0, 0.3)
    np.testing.assert_allclose(p, [[0.5, 0.5]])
    q = cascade_probabilities(np.array([[0.0, 0.0]]), 0.0, 1.0)
    np.testing.assert_allclose(q, [[0.5, 0.25, 0.25]])


def test_cascade_no_click_is_never_negative() -> None:
    p = cascade_probabilities(np.full((1, 3), 50.0), 0.0, 1.0)
    assert p[0, 3] == 0.0 and p.sum() == pytest.approx(1.0)
    # Found by search: here the click probabilities sum to 1 + 2⁻⁵² in floating point.
    logits = np.array([[7.21277849863586, 7.012989284233834, -0.5829424679640018,
                        9.496496153536828, 9.22833189221348, 10.89900749199901]])  # fmt: skip
    q = cascade_probabilities(logits, 0.0, 1.0)
    assert 1.0 - q[0, :6].sum() < 0.0 and q[0, 6] == 0.0


def test_sample_choice_is_the_inverse_cdf() -> None:
    probs = np.tile([0.2, 0.3, 0.5], (6, 1))
    u = np.array([0.0, 0.2, 0.20001, 0.49999, 0.50001, 0.99999])
    assert sample_choice(probs, u).tolist() == [0, 0, 1, 1, 2, 2]  # u = CDF_i picks i


def test_sample_choice_rounding_lands_on_no_click() -> None:
    probs = np.array([[0.3, 0.3, 0.3999999]])  # sums to just under 1
    assert sample_choice(probs, np.array([0.99999999])).tolist() == [2]


def _cascade_reference(logits: list[float], outside: float, cont: float) -> list[float]:
    out, reach = [], 1.0
    for x in logits:
        a = 1.0 / (1.0 + math.exp(-(x - outside)))
        out.append(reach * a)
        reach *= (1.0 - a) * cont
    return [*out, 1.0 - sum(out)]


def test_cascade_rows_are_independent_and_match_the_formula() -> None:
    logits = np.array([[0.3, -0.2, 1.0, 0.1], [2.0, -1.0, 0.0, 0.5], [-3.0, -3.0, 4.0, 0.0]])
    for outside in (0.0, 0.8, -1.5):
        got = cascade_probabilities(logits, outside, 0.7)
        for row in range(3):
            want = _cascade_reference(list(logits[row]), outside, 0.7)
            np.testing.assert_allclose(got[row], want, rtol=1e-12)
            alone = cascade_probabilities(logits[row : row + 1], outside, 0.7)
            np.testing.assert_array_equal(alone[0], got[row])


def test_mnl_rows_are_shifted_by_their_own_maximum() -> None:
    # Shifting by the batch maximum would underflow the second row to 0/0.
    p = mnl_probabilities(np.array([[1000.0, 999.0], [0.0, 0.0]]), 0.0)
    np.testing.assert_allclose(p[1], [1 / 3, 1 / 3, 1 / 3])
    assert np.isfinite(p).all()
