"""Compiled loops (numba) for the parts of a step that are many tiny array calls in NumPy.

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
def top_k(scores: np.ndarray, k: int, out: np.ndarray) -> None:
    """Column indices of the ``k`` smallest keys ``j·10⁻¹² − scores[i, j]`` (float64) per row,
    ascending, equal keys by lower column, written into ``out`` ``(r, k)``, ``k`` ≤ columns.

    An insertion into a sorted buffer of ``k``: O(columns) per row while few columns beat the
    buffer's last key.  A NaN key sorts after every number (as in ``argsort``).
    """
    n_rows, n = scores.shape
    keys = np.empty(k)
    for i in range(n_rows):
        filled = 0
        for j in range(n):
            key = j * 1e-12 - np.float64(scores[i, j])
            if filled == k and not _before(key, keys[k - 1]):
                continue
            p = min(filled, k - 1)
            while p > 0 and _before(key, keys[p - 1]):
                keys[p] = keys[p - 1]
                out[i, p] = out[i, p - 1]
                p -= 1
            keys[p] = key
            out[i, p] = j
            if filled < k:
                filled += 1


@numba.njit(cache=True, inline="always")
def _before(a: float, b: float) -> bool:
    """``a`` sorts strictly before ``b``: smaller, or a number before a NaN."""
    return a < b or (b != b and a == a)
