"""Compiled loops (numba) for the parts of a step that are many tiny array calls in NumPy, and
two index computations of the Plackett–Luce policy's update (:func:`running_argmax`,
:func:`taken_before`) that torch runs as slow generic loops on the CPU.

A step of one user is a couple of hundred NumPy calls on arrays of one row, where a call's
overhead (≈ 0.3–1 µs) outweighs its arithmetic; these loops do the same arithmetic in one call.
Only work whose result cannot depend on how it is evaluated is compiled here: integer
arithmetic, comparisons, and single IEEE operations (``+``, ``*``, ``ceil``, float→int
truncation) in the order NumPy applies them — no transcendental function (NumPy's SIMD ``exp``
differs from libm's in the last bit) and no reduction (NumPy sums pairwise).  So a kernel
returns exactly what the NumPy code it replaced returned, and the golden trajectories hold.

Each row is computed on its own, so a user's result never depends on the batch.  Compiled on
first use and cached on disk (``cache=True``), so only a fresh checkout pays the compile time
(about a second per kernel).
"""

from __future__ import annotations

import numba
import numpy as np

# SplitMix64's constants (divrec_rl.rng): as uint64 scalars, numba keeps all arithmetic in
# wrapping uint64 (a Python int would promote a uint64 operand to float64).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_K_KEY = np.uint64(0xD1B54A32D192ED03)
_K_COUNTER = np.uint64(0xAEF17502108EF2D9)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / float(1 << 53)


@numba.njit(cache=True)
def splitmix_uniforms(
    keys: np.ndarray, counters: np.ndarray, stream_term: np.uint64, out: np.ndarray
) -> None:
    """The draws of :func:`divrec_rl.rng.uniforms`, written into ``out`` ``(len(keys), n)``:
    ``z = SplitMix64(K₁·key + K₂·counter + stream_term + (j+1)·γ)`` (wrapping uint64
    arithmetic, ``stream_term`` = K₃·stream), then the top 53 bits of ``z`` over 2⁵³."""
    n_rows, n = out.shape
    for i in range(n_rows):
        base = np.uint64(keys[i]) * _K_KEY + np.uint64(counters[i]) * _K_COUNTER + stream_term
        for j in range(n):
            z = base + np.uint64(j + 1) * _GOLDEN
            z ^= z >> _S30
            z *= _M1
            z ^= z >> _S27
            z *= _M2
            z ^= z >> _S31
            out[i, j] = np.float64(z >> _S11) * _TO_UNIT


@numba.njit(cache=True)
def sample_choices(probs: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    """Inverse-CDF sample of each row of ``probs`` ``(N, k+1)`` with its uniform ``u[i]``,
    written into ``out`` ``(N,)``: the number of the first k running sums below ``u[i]``
    (see :func:`divrec_rl.users.choice.sample_choice`)."""
    for i in range(probs.shape[0]):
        out[i] = _sample(probs, i, u[i])


@numba.njit(cache=True)
def choose(
    probs: np.ndarray,
    u: np.ndarray,
    active: np.ndarray,
    slates: np.ndarray,
    value: np.ndarray,
    position: np.ndarray,
    item: np.ndarray,
    engagement: np.ndarray,
) -> None:
    """Each row's choice (:func:`sample_choices`) and what it consumes: ``position`` (slot, −1
    for no click or an inactive user), ``item`` (``slates`` entry or −1) and ``engagement``
    (``value`` of the slot, 0 without a click), each ``(N,)``."""
    k = slates.shape[1]
    for i in range(probs.shape[0]):
        pos = _sample(probs, i, u[i])
        if pos < k and active[i]:
            position[i] = pos
            item[i] = slates[i, pos]
            engagement[i] = value[i, pos]
        else:
            position[i] = -1
            item[i] = -1
            engagement[i] = 0.0


@numba.njit(cache=True, inline="always")
def _sample(probs: np.ndarray, i: int, u: float) -> int:
    """How many of row ``i``'s first k running sums ``p₀ + … + p_j`` lie below ``u``: the
    sums in order, as ``np.add.accumulate`` adds them."""
    below = 0
    cdf = 0.0
    for j in range(probs.shape[1] - 1):
        cdf += probs[i, j]
        if cdf < u:
            below += 1
    return below


@numba.njit(cache=True)
def walk_candidates(
    shares: np.ndarray,
    u: np.ndarray,
    pool_size: np.ndarray,
    pool_offset: np.ndarray,
    pool_items: np.ndarray,
    stride_table: np.ndarray,
    stride_count: np.ndarray,
    out: np.ndarray,
) -> None:
    """Retrieval of ``out.shape[1]`` = n candidates per row (see
    :class:`~divrec_rl.slate.CandidateSlateBuilder`), written into ``out`` ``(r, n)``.

    ``shares`` ``(r, C)``: each row's retrieval share per category; ``u`` ``(r, 1 + 2C)``: the
    row's uniforms — ``u₀`` for systematic sampling, then a start and a stride draw per category.
    Category c gets the slots ``N_{c−1} ≤ j < N_c`` with ``N_c = min(n, ⌈n·P_c − u₀⌉)`` (``P``
    the cumulative shares, ``N_{C−1} = n``), and its r-th slot the pool item at
    ``(start_c + r·stride_c) mod |pool_c|``, ``start_c = ⌊u·|pool_c|⌋`` and ``stride_c`` the
    ``⌊u'·count_c⌋``-th stride coprime to ``|pool_c|``.
    """
    n_rows, n_cat = shares.shape
    n = out.shape[1]
    for i in range(n_rows):
        cumulative = 0.0
        first = 0
        for c in range(n_cat):
            cumulative += shares[i, c]
            if c == n_cat - 1:
                end = n
            else:
                bound = cumulative * n
                bound -= u[i, 0]
                end = min(np.int64(np.ceil(bound)), n)
            size = pool_size[c]
            start = np.int64(u[i, 1 + c] * size)
            stride = stride_table[c, np.int64(u[i, 1 + n_cat + c] * stride_count[c])]
            base = pool_offset[c]
            for j in range(first, end):
                out[i, j] = pool_items[base + (start + (j - first) * stride) % size]
            first = end


@numba.njit(cache=True)
def fold_slate(
    fatigue: np.ndarray,
    exposure: np.ndarray,
    interest: np.ndarray,
    active: np.ndarray,
    position: np.ndarray,
    shown: np.ndarray,
    item_vectors: np.ndarray,
    category_weights: np.ndarray,
    decay: np.float32,
    exposure_weight: np.float32,
    history_decay: np.float32,
    slot_share: np.float32,
    consume_weight: np.float32,
    drift_rate: np.float32,
) -> None:
    """The first half of :meth:`~divrec_rl.users.behaviour.StandardBehaviour.update`, in place,
    for active rows (float32 throughout): ``F ← decay·F + w_exp·shown``,
    ``exposure ← h·exposure + share·shown`` and, for a click at slot s,
    ``F ← F + w_cons·w_s`` and the drift ``θ ← θ + ρ·(e_s − θ)`` (not yet re-normalised)."""
    n_cat = fatigue.shape[1]
    for i in range(fatigue.shape[0]):
        if not active[i]:
            continue
        for c in range(n_cat):
            fatigue[i, c] = fatigue[i, c] * decay + exposure_weight * shown[i, c]
            exposure[i, c] = exposure[i, c] * history_decay + slot_share * shown[i, c]
        s = position[i]
        if s >= 0:
            for c in range(n_cat):
                fatigue[i, c] += consume_weight * category_weights[i, s, c]
            for j in range(interest.shape[1]):
                interest[i, j] += drift_rate * (item_vectors[i, s, j] - interest[i, j])


@numba.njit(cache=True)
def fold_consumed(
    interest: np.ndarray,
    history: np.ndarray,
    category_history: np.ndarray,
    patience: np.ndarray,
    active: np.ndarray,
    position: np.ndarray,
    engagement: np.ndarray,
    norm: np.ndarray,
    item_vectors: np.ndarray,
    category_weights: np.ndarray,
    history_weight: np.float32,
    refill: float,
    step_cost: float,
    no_click_cost: float,
    max_patience: float,
) -> None:
    """The second half of :meth:`~divrec_rl.users.behaviour.StandardBehaviour.update`, in place,
    for active rows: after a click at slot s, ``θ ← θ / norm`` and the histories
    ``h ← h + (1 − decay)·(e_s − h)`` (float32); then
    ``p ← max(min(p + refill·s − no_click_cost·[no click] − step_cost, p_max), 0)``."""
    for i in range(patience.shape[0]):
        if not active[i]:
            continue
        s = position[i]
        if s >= 0:
            for j in range(interest.shape[1]):
                interest[i, j] /= norm[i]
                history[i, j] += history_weight * (item_vectors[i, s, j] - history[i, j])
            for c in range(category_history.shape[1]):
                category_history[i, c] += history_weight * (
                    category_weights[i, s, c] - category_history[i, c]
                )
            change = refill * engagement[i] - step_cost
        else:
            change = refill * engagement[i] - no_click_cost - step_cost
        p = patience[i] + change
        p = p if p <= max_patience else max_patience
        patience[i] = p if p >= 0.0 else 0.0


@numba.njit(cache=True)
def in_box(values: np.ndarray, low: float, high: float) -> bool:
    """Whether every entry lies in ``[low, high]`` (a NaN lies in no interval)."""
    for x in values.flat:  # noqa: SIM110 (an explicit loop: numba compiles no all(generator))
        if not (low <= x <= high):
            return False
    return True


@numba.njit(cache=True)
def record_step(
    stepped: np.ndarray,
    position: np.ndarray,
    engagement: np.ndarray,
    last_click: np.ndarray,
    session_satisfaction: np.ndarray,
    counters: np.ndarray,
) -> None:
    """The simulator's bookkeeping of a step, in place, for the users ``stepped``: click flag,
    satisfaction sum, and in the counter block (columns session, t, session_step,
    session_clicks, no_click_streak, steps_since_click) one more step and session step, one
    more click, or one more step without a click (a click resets the two streaks)."""
    for i in range(stepped.shape[0]):
        if not stepped[i]:
            continue
        clicked = position[i] >= 0
        last_click[i] = 1.0 if clicked else 0.0
        session_satisfaction[i] += engagement[i]
        counters[i, 1] += 1
        counters[i, 2] += 1
        if clicked:
            counters[i, 3] += 1
            counters[i, 4] = 0
            counters[i, 5] = 0
        else:
            counters[i, 4] += 1
            counters[i, 5] += 1


@numba.njit(cache=True)
def observe_users(
    history: np.ndarray,
    category_history: np.ndarray,
    exposure: np.ndarray,
    counters: np.ndarray,
    last_click: np.ndarray,
    features: np.ndarray,
    max_steps: float,
    max_sessions: float,
    out: np.ndarray,
) -> None:
    """The ``user`` observation (:meth:`~divrec_rl.simulator.SlateSimulator.user_layout`) of
    every row into ``out`` (float32): the three observed EMAs, ``t/T`` and ``session/S`` and
    the four session counts ``/T`` (divided in float64, then rounded to float32), the click
    flag, the static features."""
    d, n_cat = history.shape[1], category_history.shape[1]
    o = d + 2 * n_cat
    for i in range(out.shape[0]):
        for j in range(d):
            out[i, j] = history[i, j]
        for c in range(n_cat):
            out[i, d + c] = category_history[i, c]
            out[i, d + n_cat + c] = exposure[i, c]
        out[i, o] = counters[i, 1] / max_steps
        out[i, o + 1] = counters[i, 0] / max_sessions
        out[i, o + 2] = last_click[i]
        for m in range(4):
            out[i, o + 3 + m] = counters[i, 2 + m] / max_steps
        for f in range(features.shape[1]):
            out[i, o + 7 + f] = features[i, f]


@numba.njit(cache=True)
def candidate_features(
    item_features: np.ndarray,
    candidates: np.ndarray,
    primary_category: np.ndarray,
    category_history: np.ndarray,
    exposure: np.ndarray,
    timed: np.ndarray,
    out: np.ndarray,
) -> None:
    """The ``candidates`` observation into ``out`` ``(N, n·(m + 2 + e))``: per candidate its
    ``m`` item columns (``item_features`` ``(M, m)``), then the user's history share and
    exposure share of its primary category, then (``e = 1`` when ``timed`` has columns, else
    ``e = 0``) the timed consumption average of that category."""
    m = item_features.shape[1]
    extra = 1 if timed.shape[1] > 0 else 0
    stride = m + 2 + extra
    for i in range(candidates.shape[0]):
        for j in range(candidates.shape[1]):
            item = candidates[i, j]
            base = j * stride
            for col in range(m):
                out[i, base + col] = item_features[item, col]
            c = primary_category[item]
            out[i, base + m] = category_history[i, c]
            out[i, base + m + 1] = exposure[i, c]
            if extra:
                out[i, base + m + 2] = timed[i, c]


@numba.njit(cache=True)
def running_argmax(values: np.ndarray, out: np.ndarray) -> None:
    """Index along axis 1 of the running maximum of ``values`` ``(B, m, C)``, into ``out``
    (same shape, int64): ``out[b, j, c] = argmax_{p ≤ j} values[b, p, c]``, ties and NaN as
    ``torch.cummax`` (a later element equal to the running maximum, or NaN, takes its place),
    so ``values.gather(1, out)`` is exactly ``torch.cummax(values, 1).values``."""
    for b in range(values.shape[0]):
        for c in range(values.shape[2]):
            best = values[b, 0, c]
            at = 0
            out[b, 0, c] = 0
            for j in range(1, values.shape[1]):
                x = values[b, j, c]
                if np.isnan(x) or (not np.isnan(best) and x >= best):
                    best = x
                    at = j
                out[b, j, c] = at


@numba.njit(cache=True)
def taken_before(picks: np.ndarray, out: np.ndarray) -> None:
    """``out[b, j, c]`` (bool ``(B, k, C)``, zero on entry) set where candidate c is one of
    the picks ``picks[b, :j]`` (``picks`` ``(B, k)``): what step j of a slate may no longer
    pick."""
    for b in range(picks.shape[0]):
        for j in range(1, picks.shape[1]):
            for p in range(j):
                out[b, j, picks[b, p]] = True
