"""Counter-based random numbers, one independent stream per simulated user.

Why not one ``numpy.random.Generator`` for the batch?  Then a user's draws would depend on which
other users share the batch, and the batched core could not reproduce N single-user envs.  Why not
one Generator per user?  Then every step would need a Python loop over users.

Instead every draw is a pure function of ``(user key, step counter, stream, index)``: a linear
combination of the four is hashed by the SplitMix64 finaliser (Steele, Lea & Flood, "Fast
splittable pseudorandom number generators", OOPSLA 2014) to 64 bits, whose top 53 bits become a
float in [0, 1).  Hashing is
vectorised over users, so a batch of N users costs a handful of array operations, and user ``u``
sees exactly the same numbers whether simulated alone or in a batch.
"""

from __future__ import annotations

import numpy as np


def _u64(value: int) -> np.ndarray:
    """A 0-d uint64 array: as an operand it costs less per call than a NumPy or Python scalar."""
    return np.array(value, dtype=np.uint64)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = _u64(0xBF58476D1CE4E5B9)
_M2 = _u64(0x94D049BB133111EB)
_S30 = _u64(30)
_S27 = _u64(27)
_S31 = _u64(31)
_S11 = _u64(11)
_TO_UNIT = 1.0 / float(1 << 53)
_TO_UNIT_0D = np.array(_TO_UNIT)

# Stream identifiers: one per kind of draw, so adding a draw never shifts another one.
STREAM_INIT = 1
STREAM_HISTORY = 2
STREAM_CANDIDATES = 3
STREAM_CHOICE = 4
STREAM_RETURN = 5
STREAM_CUSTOM = 100  # first stream free for plug-in behaviours


_K_KEY = _u64(0xD1B54A32D192ED03)
_K_COUNTER = _u64(0xAEF17502108EF2D9)
_K_STREAM_INT = 0xDB4F0B9175AE2165
_MASK64 = (1 << 64) - 1
_OFFSETS: dict[int, np.ndarray] = {}


def _splitmix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser applied in place to a uint64 array (wrapping arithmetic intended)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def _offsets(n: int) -> np.ndarray:
    off = _OFFSETS.get(n)
    if off is None:
        off = _OFFSETS.setdefault(n, np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)
    return off


def uniforms(keys: np.ndarray, counters: np.ndarray, stream: int, n: int) -> np.ndarray:
    """Uniform floats in [0, 1), shape ``(len(keys), n)``.

    ``z = SplitMix64(K₁·key + K₂·counter + K₃·stream + (j+1)·γ)`` for ``j < n`` (odd constants
    ``K``; γ the golden-ratio increment of SplitMix64); the top 53 bits of ``z`` give the float.
    Row ``u`` depends only on ``keys[u]``, ``counters[u]``, ``stream`` and ``j`` — never on other
    rows.  ``counters`` is usually the user's step number within the episode.
    """
    if len(keys) * n <= _SCALAR_PATH_MAX:
        return _uniforms_scalar(keys, counters, stream, n)
    if len(keys) == 1:  # one user: the base in Python integers (same bits, fewer array calls)
        base = _base_int(int(keys[0]), int(counters[0]), stream)
        z = _offsets(n)[None, :] + _u64(base)
    else:
        base = np.asarray(keys, dtype=np.uint64) * _K_KEY
        base += np.asarray(counters).astype(np.uint64) * _K_COUNTER
        base += _u64((stream * _K_STREAM_INT) & _MASK64)
        z = base[:, None] + _offsets(n)
    _splitmix(z)
    z >>= _S11
    return z * _TO_UNIT_0D  # uint64 × float64 → float64, exact for 53-bit integers


_SCALAR_PATH_MAX = 4
_GOLDEN_INT = 0x9E3779B97F4A7C15
_K_KEY_INT = 0xD1B54A32D192ED03
_K_COUNTER_INT = 0xAEF17502108EF2D9
_M1_INT = 0xBF58476D1CE4E5B9
_M2_INT = 0x94D049BB133111EB


def _base_int(key: int, counter: int, stream: int) -> int:
    """``K₁·key + K₂·counter + K₃·stream mod 2⁶⁴`` in Python integers."""
    return (key * _K_KEY_INT + counter * _K_COUNTER_INT + stream * _K_STREAM_INT) & _MASK64


def _uniforms_scalar(keys: np.ndarray, counters: np.ndarray, stream: int, n: int) -> np.ndarray:
    """:func:`uniforms` for a handful of draws, in Python integers (same bits, less overhead:
    array calls on one element cost more than the arithmetic)."""
    rows = []
    for key, counter in zip(np.asarray(keys).tolist(), np.asarray(counters).tolist(), strict=True):
        base = _base_int(key, counter, stream)
        rows.append([_unit_int(base + (j + 1) * _GOLDEN_INT) for j in range(n)])
    return np.array(rows, dtype=np.float64).reshape(len(rows), n)


def _unit_int(z: int) -> float:
    """SplitMix64's finaliser of ``z mod 2⁶⁴`` in Python integers, top 53 bits as a float."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * _M1_INT) & _MASK64
    z = ((z ^ (z >> 27)) * _M2_INT) & _MASK64
    z ^= z >> 31
    return (z >> 11) * _TO_UNIT


_K_SALT = np.uint64(0x8CB92BA72F3D8DD7)


def salted_keys(keys: np.ndarray, salt: int) -> np.ndarray:
    """Keys of a separate family of streams: ``SplitMix64(key ⊕ salt·K)``, ``salt`` ≥ 0.

    Salt 0 returns the keys unchanged (a copy); any other salt gives keys that, passed to
    :func:`uniforms`, share no draw with the unsalted ones — the hash spreads ``key ⊕ salt·K``
    over all 64 bits, so two salts of the same key differ as two unrelated keys do.  Row ``u``
    depends on ``keys[u]`` only.
    """
    out = np.array(keys, dtype=np.uint64, copy=True)
    if salt:
        out ^= np.uint64((salt * int(_K_SALT)) & _MASK64)
        _splitmix(out)
    return out


def normals(keys: np.ndarray, counters: np.ndarray, stream: int, n: int) -> np.ndarray:
    """Standard normal draws, shape ``(len(keys), n)``, by the Box–Muller transform."""
    half = (n + 1) // 2
    u = uniforms(keys, counters, stream, 2 * half)
    r = np.sqrt(-2.0 * np.log1p(-u[:, :half]))  # 1 - u in (0, 1], so the log is finite
    theta = 2.0 * np.pi * u[:, half:]
    return np.concatenate([r * np.cos(theta), r * np.sin(theta)], axis=1)[:, :n]


def gumbel_top_k(logits: np.ndarray, k: int, u: np.ndarray) -> np.ndarray:
    """Sample ``k`` distinct columns per row without replacement, P ∝ softmax(logits).

    Gumbel-top-k (Kool, van Hoof & Welling, ICML 2019): ``argtop_k(logits + G)`` with
    ``G = -log(-log u)``.  ``u`` holds uniforms of shape ``(N, n)``; ``logits`` broadcasts to it.
    """
    g = logits - np.log(-np.log(np.clip(u, 1e-300, 1.0 - 1e-16)))
    if k >= g.shape[1]:  # a full ranking: no partition needed
        return np.argsort(-g, axis=1, kind="stable")
    idx = np.argpartition(-g, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(g, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)
