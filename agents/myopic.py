"""The myopic oracle: each step, the slate that maximises this step's expected reward under the
user's *current hidden state* (interest, fatigue), given the scenario's own choice model.

Per user, the behaviour gives each candidate ``i`` its boredom-adjusted click logit ``l_i`` and
its engagement if consumed ``r_i = σ(s_i − satisfaction_penalty·B_i)``
(:meth:`~divrec_rl.users.behaviour.StandardBehaviour.item_terms`); the objective of an ordered
slate ``S = (S_1..S_k)`` of distinct candidates is ``E[engagement | S] + λ·diversity(S)``.

**MNL, λ = 0 (exact, with or without position bias).**  With ``v_i = e^{l_i}``, ``v_0 = e^{l_0}``
(no click) and slot weights ``w_p = e^{−β·log2(1+p)}`` (``w_p = 1`` without position bias)::

    R(S) = Σ_p w_p v_{S_p} r_{S_p} / (v_0 + Σ_p w_p v_{S_p})

``R(S) ≥ θ`` iff ``Σ_p w_p v_{S_p}(r_{S_p} − θ) ≥ v_0·θ``, and for a fixed θ the left side is
maximised over ordered k-subsets by the k largest ``y_i = v_i(r_i − θ)`` in descending order
(rearrangement inequality: ``w`` is decreasing and positive).  Dinkelbach's iteration
``θ ← R(argmax_S Σ_p w_p y_{S_p})`` from ``θ = 0`` (Dinkelbach 1967, the parametric method of
cardinality-constrained MNL assortment, Rusmevichientong, Shen & Shmoys 2010) rises monotonically
to the optimum and stops when ``θ`` no longer rises, in a few iterations.

**Cascade, λ = 0 (exact).**  ``V(S) = Σ_p a_{S_p} r_{S_p} Π_{q<p} (1 − a_{S_q})·c`` with
``a_i = σ(l_i − l_0)`` and continue probability ``c``.  Swapping two adjacent items ``i, j`` leaves
the rest unchanged and helps iff ``x_j > x_i`` with ``x_i = a_i r_i / (1 − c(1 − a_i))``, so an
optimal slate is ordered by ``x`` descending; choosing its k items from the candidates sorted by
``x`` is the dynamic programme ``f(i, m) = max(f(i+1, m), a_i r_i + (1 − a_i)·c·f(i+1, m−1))``
(``f`` = best value of m items from candidates i.. in that order).

**λ > 0 (heuristic, not exact).**  Diversity couples the items.  Two starts — the exact λ = 0
slate and a greedy build on ``E + λ·ILD`` (:func:`greedy_start`) — are each improved by
best-improvement swaps (one slate item for one outside candidate, every set in its exactly optimal
order by the solvers above) until no swap helps or ``max_passes`` passes, and the better end is
kept; a test compares it with brute force on small cases.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from divrec_rl.agents.baselines import scores_to_actions
from divrec_rl.simulator import SlateSimulator
from divrec_rl.users.choice import position_penalty

__all__ = [
    "MyopicOracleAgent",
    "cascade_best_slates",
    "greedy_start",
    "mnl_best_slates",
    "swap_search",
    "swap_values",
]

_MAX_DINKELBACH = 200


def mnl_best_slates(
    click_logit: np.ndarray,
    value: np.ndarray,
    no_click_logit: float,
    k: int,
    position_bias: float = 0.0,
) -> np.ndarray:
    """Ordered k-slates ``(N, k)`` (candidate columns) maximising MNL expected engagement
    ``R(S)`` exactly (module docstring); ``click_logit``/``value`` ``(N, n)``, ``n ≥ k``."""
    n_users = click_logit.shape[0]
    shift = np.maximum(click_logit.max(axis=1, keepdims=True), no_click_logit)
    v = np.exp(click_logit - shift)
    v0 = np.exp(no_click_logit - shift[:, 0])
    w = np.exp(-position_penalty(k, position_bias))[None, :]
    theta = np.zeros(n_users)
    best = None
    for _ in range(_MAX_DINKELBACH):
        top = np.argsort(-(v * (value - theta[:, None])), axis=1, kind="stable")[:, :k]
        vs = w * np.take_along_axis(v, top, axis=1)
        revenue = np.add.reduce(vs * np.take_along_axis(value, top, axis=1), axis=1) / (
            v0 + np.add.reduce(vs, axis=1)
        )
        rising = revenue > theta * (1.0 + 1e-13) + 1e-300
        best = top if best is None else np.where(rising[:, None], top, best)
        if not rising.any():
            break
        theta = np.where(rising, revenue, theta)
    return best


def cascade_best_slates(
    click_logit: np.ndarray,
    value: np.ndarray,
    no_click_logit: float,
    k: int,
    continue_prob: float,
) -> np.ndarray:
    """Ordered k-slates ``(N, k)`` maximising cascade expected engagement ``V(S)`` exactly
    (module docstring: order by ``x``, then the dynamic programme over that order)."""
    n_users, n = click_logit.shape
    a = 1.0 / (1.0 + np.exp(-(click_logit - no_click_logit)))
    gain = a * value
    order = np.argsort(-(gain / (1.0 - continue_prob * (1.0 - a))), axis=1, kind="stable")
    a_o = np.take_along_axis(a, order, axis=1)
    g_o = np.take_along_axis(gain, order, axis=1)
    f = np.full((n_users, k + 1), -np.inf)
    f[:, 0] = 0.0
    takes = np.zeros((n, n_users, k + 1), dtype=bool)
    m = np.arange(1, k + 1)
    for i in range(n - 1, -1, -1):
        prev = np.where(np.isfinite(f[:, :-1]), f[:, :-1], 0.0)
        cand = g_o[:, i : i + 1] + (1.0 - a_o[:, i : i + 1]) * continue_prob * prev
        cand[:, m - 1 > n - 1 - i] = -np.inf  # not enough candidates after i for the rest
        better = cand > f[:, 1:]
        takes[i, :, 1:] = better
        f[:, 1:] = np.where(better, cand, f[:, 1:])
    picks = np.empty((n_users, k), dtype=np.int64)
    left = np.full(n_users, k)
    rows = np.arange(n_users)
    for i in range(n):
        take = takes[i, rows, left] & (left > 0)
        picks[rows[take], k - left[take]] = order[take, i]
        left -= take
    return picks


class MyopicOracleAgent:
    """ORACLE: each step the slate of candidates that maximises the expected immediate reward
    ``E[engagement] + λ·diversity`` under the user's current hidden state (interest and fatigue),
    computed from the simulator's own response model, behaviour and choice model (module
    docstring: exact for λ = 0 under MNL, MNL with position bias and cascade; a swap local search
    from the exact λ = 0 slate when λ > 0).  Myopic: it ignores what the slate does to fatigue,
    interest and patience later.  Not a deployable policy (it reads hidden state).

    With the ``query`` builder (no candidate set) the query is the hidden interest vector, which
    is not an exact myopic optimum.

    Parameters
    ----------
    diversity_weight:
        λ of the objective; ``None`` takes the simulator's reward λ.
    max_passes:
        Passes of the swap search when λ > 0.
    """

    name = "greedy"

    def __init__(self, diversity_weight: float | None = None, max_passes: int = 10) -> None:
        self.diversity_weight = diversity_weight
        self.max_passes = max_passes

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        candidates = simulator.candidates
        if candidates is None:
            return np.clip(simulator.state.interest, -1.0, 1.0).astype(np.float32)
        picks = self.slates(simulator)
        # Scores k, k−1, …, 1 on the slate and 0 elsewhere: the builder's top-k then shows exactly
        # these items in this order.
        scores = np.zeros(candidates.shape)
        np.put_along_axis(scores, picks, np.arange(picks.shape[1], 0, -1)[None, :], axis=1)
        return scores_to_actions(scores)

    def slates(self, simulator: SlateSimulator) -> np.ndarray:
        """Ordered slates ``(N, k)`` as columns of ``simulator.candidates``."""
        beh, st = simulator.behaviour, simulator.state
        if not callable(getattr(beh, "item_terms", None)):
            raise TypeError(
                f"greedy (myopic oracle): behaviour {type(beh).__name__} must provide "
                "item_terms(state, attraction, satisfaction_logit, category_weights) "
                "(subclass divrec_rl.users.behaviour.StandardBehaviour)"
            )
        cands = simulator.candidates
        attraction, satisfaction = simulator.response.scores(st, cands)
        cw = simulator.catalog.category_weights.take(cands, axis=0)
        click_logit, value = beh.item_terms(st, attraction, satisfaction, cw)
        choice = beh.config.choice
        k = simulator.k

        def best(l_: np.ndarray, r_: np.ndarray) -> np.ndarray:
            if choice.model == "cascade":
                return cascade_best_slates(
                    l_, r_, choice.no_click_logit, k, choice.cascade_continue
                )
            return mnl_best_slates(l_, r_, choice.no_click_logit, k, choice.position_bias)

        picks = best(click_logit, value)
        lam = simulator.diversity_weight if self.diversity_weight is None else self.diversity_weight
        if lam == 0:
            return picks
        if simulator.config.reward.diversity == "ild_category":
            features = cw.astype(np.float64)
        else:
            features = simulator.catalog.embeddings.take(cands, axis=0).astype(np.float64)
        gram = np.matmul(features, features.transpose(0, 2, 1))  # once per step, every pass
        plain_mnl = choice.model != "cascade" and choice.position_bias == 0

        def values(slates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return swap_values(
                slates,
                click_logit,
                value,
                gram,
                lam,
                choice.no_click_logit,
                None if plain_mnl else (beh.choice_probabilities, best),
            )

        # Two starts, the better local optimum per user: the exact λ = 0 slate and a greedy build
        # on E + λ·ILD (swaps alone get stuck when diversity dominates).
        starts = [picks, greedy_start(click_logit, value, gram, lam, choice.no_click_logit, k)]
        reorder = None if plain_mnl else best
        if reorder is not None:
            starts[1] = _reordered(starts[1], click_logit, value, best)
        ends = [
            swap_search(s, values, reorder, click_logit, value, self.max_passes) for s in starts
        ]
        better = values(ends[1])[1] > values(ends[0])[1]
        return np.where(better[:, None], ends[1], ends[0])


def greedy_start(
    click_logit: np.ndarray,
    value: np.ndarray,
    gram: np.ndarray,
    diversity_weight: float,
    no_click_logit: float,
    k: int,
) -> np.ndarray:
    """k-sets ``(N, k)`` built one item at a time, each the candidate that maximises
    ``Σ v r / (v_0 + Σ v) + λ·(1 − 2·P(S)/(k(k−1)))`` of the set so far (MNL without position
    bias; ``P`` the pair sum of feature dot products from ``gram`` ``(N, n, n)``, normalised as for
    the full slate)."""
    n_users, n = click_logit.shape
    shift = np.maximum(click_logit.max(axis=1, keepdims=True), no_click_logit)
    v = np.exp(click_logit - shift)
    num, den = np.zeros(n_users), np.exp(no_click_logit - shift[:, 0])
    pair_sum = np.zeros(n_users)
    chosen = np.zeros((n_users, n), dtype=bool)
    picks = np.empty((n_users, k), dtype=np.int64)
    rows = np.arange(n_users)
    dots = np.zeros((n_users, n))  # Σ_{t∈S} x_t·x_j
    for p in range(k):
        score = (num[:, None] + v * value) / (den[:, None] + v) + diversity_weight * (
            1.0 - 2.0 * (pair_sum[:, None] + dots) / max(k * (k - 1), 1)
        )
        score[chosen] = -np.inf
        j = score.argmax(axis=1)
        picks[:, p] = j
        chosen[rows, j] = True
        num += v[rows, j] * value[rows, j]
        den += v[rows, j]
        pair_sum += dots[rows, j]
        dots += gram[rows, j]
    return picks


def _reordered(
    slates: np.ndarray, click_logit: np.ndarray, value: np.ndarray, best: Callable
) -> np.ndarray:
    """``slates`` in their exactly optimal order (``best`` on the slate's own items)."""
    order = best(
        np.take_along_axis(click_logit, slates, axis=1), np.take_along_axis(value, slates, axis=1)
    )
    return np.take_along_axis(slates, order, axis=1)


def swap_search(
    start: np.ndarray,
    values: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    best: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
    click_logit: np.ndarray,
    value: np.ndarray,
    max_passes: int = 10,
) -> np.ndarray:
    """Best-improvement local search by single swaps from the ordered slates ``start`` ``(N, k)``.

    ``values(slates)`` returns the objective of every swap ``(N, k, n)`` (slot s replaced by
    candidate j; ``-inf`` where j is already shown) and of the slates themselves ``(N,)``.  Each
    pass applies each user's best swap if it improves; ``best`` (the exact λ = 0 solver, ``None``
    when the order does not matter) then puts the new set in its optimal order.
    """
    current = start.copy()
    n_users = current.shape[0]
    rows = np.arange(n_users)
    for _ in range(max_passes):
        swaps, now = values(current)
        flat = swaps.reshape(n_users, -1).argmax(axis=1)
        gain = swaps.reshape(n_users, -1)[rows, flat] > now + 1e-12 * np.maximum(1.0, abs(now))
        if not gain.any():
            break
        slot, cand = np.divmod(flat[gain], swaps.shape[2])
        current[np.flatnonzero(gain), slot] = cand
        if best is not None:
            current[gain] = _reordered(current[gain], click_logit[gain], value[gain], best)
    return current


def swap_values(
    slates: np.ndarray,
    click_logit: np.ndarray,
    value: np.ndarray,
    gram: np.ndarray,
    diversity_weight: float,
    no_click_logit: float,
    ordered: tuple[Callable[[np.ndarray], np.ndarray], Callable] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``E[engagement] + λ·ILD`` of every single swap of ``slates`` ``(N, k)`` → ``(N, k, n)``
    (``-inf`` where the candidate is already shown), and of ``slates`` themselves ``(N,)``.

    ILD by the pair-sum identity ``1 − (|Σ_S x|² − Σ_S |x|²)/(k(k−1))`` from the
    candidates' Gram matrix ``gram`` ``(N, n, n)`` of features ``x`` (unit item vectors for
    ``ild_embedding``, category weights for ``ild_category``), updated per swap.
    Engagement: MNL without position bias in O(1) per swap,
    ``(num − v_s r_s + v_j r_j)/(den − v_s + v_j)``; otherwise ``ordered =
    (choice_probabilities, best)`` scores each swapped set in its optimal order.
    """
    n_users, k = slates.shape
    n = click_logit.shape[1]
    rows = np.arange(n_users)[:, None]
    sq = np.diagonal(gram, axis1=1, axis2=2)
    tx = gram[rows, slates].sum(axis=1)  # (N, n): Σ_{t∈S} x_t·x_j
    tt = tx[rows, slates].sum(axis=1)  # |Σ_S x|²
    sq_sum = sq[rows, slates].sum(axis=1)
    pairs = max(k * (k - 1), 1)
    out_s = slates[:, :, None]  # the item leaving, per slot
    t_new = (
        tt[:, None, None]
        - 2.0 * tx[rows, slates][:, :, None]
        + sq[rows, slates][:, :, None]
        + 2.0 * (tx[:, None, :] - gram[rows[:, :, None], out_s, np.arange(n)[None, None, :]])
        + sq[:, None, :]
    )
    sq_new = sq_sum[:, None, None] - sq[rows, slates][:, :, None] + sq[:, None, :]
    div_swaps = 1.0 - (t_new - sq_new) / pairs if k > 1 else np.zeros((n_users, k, n))
    div_now = 1.0 - (tt - sq_sum) / pairs if k > 1 else np.zeros(n_users)
    if ordered is None:
        shift = np.maximum(click_logit.max(axis=1, keepdims=True), no_click_logit)
        v = np.exp(click_logit - shift)
        v0 = np.exp(no_click_logit - shift[:, 0])
        vr = v * value
        num = vr[rows, slates].sum(axis=1)
        den = v0 + v[rows, slates].sum(axis=1)
        eng_now = num / den
        eng_swaps = (num[:, None, None] - vr[rows, slates][:, :, None] + vr[:, None, :]) / (
            den[:, None, None] - v[rows, slates][:, :, None] + v[:, None, :]
        )
    else:
        eng_swaps, eng_now = _ordered_engagement(slates, click_logit, value, *ordered)
    swaps = eng_swaps + diversity_weight * div_swaps
    shown = np.zeros((n_users, n), dtype=bool)
    np.put_along_axis(shown, slates, True, axis=1)
    swaps[np.broadcast_to(shown[:, None, :], swaps.shape)] = -np.inf
    return swaps, eng_now + diversity_weight * div_now


def _ordered_engagement(
    slates: np.ndarray,
    click_logit: np.ndarray,
    value: np.ndarray,
    choice_probabilities: Callable[[np.ndarray], np.ndarray],
    best: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Expected engagement of every swapped set in its optimal order ``(N, k, n)`` and of the
    slates as ordered ``(N,)`` (position bias, cascade: the order matters)."""
    n_users, k = slates.shape
    n = click_logit.shape[1]
    sets = np.repeat(slates[:, None, None, :], n, axis=2).repeat(k, axis=1)  # (N, k, n, k)
    slot = np.arange(k)
    sets[:, slot, :, slot] = np.arange(n)[None, :]
    flat = sets.reshape(n_users, k * n * k)
    l_s = np.take_along_axis(click_logit, flat, axis=1).reshape(-1, k)
    r_s = np.take_along_axis(value, flat, axis=1).reshape(-1, k)
    order = best(l_s, r_s)
    l_s = np.take_along_axis(l_s, order, axis=1)
    r_s = np.take_along_axis(r_s, order, axis=1)
    eng = np.add.reduce(choice_probabilities(l_s)[:, :-1] * r_s, axis=1)
    l_now = np.take_along_axis(click_logit, slates, axis=1)
    r_now = np.take_along_axis(value, slates, axis=1)
    now = np.add.reduce(choice_probabilities(l_now)[:, :-1] * r_now, axis=1)
    return eng.reshape(n_users, k, n), now
