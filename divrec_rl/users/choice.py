"""Choice models: given click logits of the k slate items, the probability of each outcome.

Both return an ``(N, k + 1)`` array whose last column is "no click"; rows sum to 1.
"""

from __future__ import annotations

import numpy as np

from divrec_rl import kernels


def position_penalty(k: int, position_bias: float) -> np.ndarray:
    """Logit penalty ``β·log2(1 + position)`` for positions 0..k-1 (top slot: 0)."""
    return position_bias * np.log2(1.0 + np.arange(k, dtype=np.float64))


def mnl_probabilities(
    logits: np.ndarray, no_click_logit: float, position_bias: float = 0.0
) -> np.ndarray:
    """Multinomial logit with an outside option.

    ``P(i) = exp(l_i − β·log2(1+pos_i)) / (exp(l_0) + Σ_j exp(l_j − β·log2(1+pos_j)))`` and
    ``P(no click) = exp(l_0) / (…)`` (McFadden 1974; RecSim's MultinomialLogitChoiceModel).
    Computed with the max-shift so large logits do not overflow.
    """
    n, k = logits.shape
    util = np.empty((n, k + 1), dtype=np.float64)
    util[:, :k] = logits
    if position_bias:
        util[:, :k] -= position_penalty(k, position_bias)
    util[:, k] = no_click_logit
    # ufunc reductions directly: the ndarray methods add a Python-level call per step.
    # (axis, dtype, out, keepdims) by position: keyword parsing costs more than one user's row.
    util -= np.maximum.reduce(util, 1, None, None, True)
    np.exp(util, out=util)
    util /= np.add.reduce(util, 1, None, None, True)
    return util


def cascade_probabilities(
    logits: np.ndarray, no_click_logit: float, continue_prob: float
) -> np.ndarray:
    """Cascade model (Craswell et al., WSDM 2008) with abandonment.

    The user examines slots top-down.  At an examined slot ``j`` they click with
    ``a_j = σ(l_j − l_0)``; if they skip, they examine the next slot with probability
    ``continue_prob``.  Hence ``P(click j) = a_j · Π_{i<j} (1 − a_i)·continue_prob`` and
    ``P(no click) = 1 − Σ_j P(click j)``.
    """
    n, k = logits.shape
    attract = 1.0 / (1.0 + np.exp(-(logits - no_click_logit)))
    survive = np.ones((n, k), dtype=np.float64)
    if k > 1:
        survive[:, 1:] = np.cumprod((1.0 - attract[:, :-1]) * continue_prob, axis=1)
    out = np.empty((n, k + 1), dtype=np.float64)
    out[:, :k] = attract * survive
    out[:, k] = np.clip(1.0 - out[:, :k].sum(axis=1), 0.0, 1.0)
    return out


def sample_choice(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sample per row: index in ``0..k`` (``k`` = no click), uniforms ``u (N,)``."""
    # The CDF is non-decreasing, so {j : CDF_j < u} is a prefix and its size the sample.  Rows
    # sum to 1 only up to rounding: counting over the first k columns alone keeps a u above the
    # last CDF value on "no click" (index k), with no clamp.  One compiled pass per row.
    out = np.empty(len(probs), dtype=np.int64)
    kernels.sample_choices(probs, np.asarray(u, dtype=np.float64), out)
    return out
