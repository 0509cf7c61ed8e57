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

from divrec_rl import kernels


def _u64(value: int) -> np.ndarray:
    """A 0-d uint64 array: as an operand it costs less per call than a NumPy or Python scalar."""
    return np.array(value, dtype=np.uint64)


_M1 = _u64(0xBF58476D1CE4E5B9)
_M2 = _u64(0x94D049BB133111EB)
_S30 = _u64(30)
_S27 = _u64(27)
_S31 = _u64(31)

# Stream identifiers: one per kind of draw, so adding a draw never shifts another one.
STREAM_INIT = 1
STREAM_HISTORY = 2
STREAM_CANDIDATES = 3
STREAM_CHOICE = 4
STREAM_RETURN = 5
STREAM_CUSTOM = 100  # first stream free for plug-in behaviours


_K_STREAM_INT = 0xDB4F0B9175AE2165
_MASK64 = (1 << 64) - 1


def _splitmix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser applied in place to a uint64 array (wrapping arithmetic intended)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def uniforms(keys: np.ndarray, counters: np.ndarray, stream: int, n: int) -> np.ndarray:
    """Uniform floats in [0, 1), shape ``(len(keys), n)``.

    ``z = SplitMix64(K₁·key + K₂·counter + K₃·stream + (j+1)·γ)`` for ``j < n`` (odd constants
    ``K``; γ the golden-ratio increment of SplitMix64); the top 53 bits of ``z`` give the float.
    Row ``u`` depends only on ``keys[u]``, ``counters[u]``, ``stream`` and ``j`` — never on other
    rows.  ``counters`` is usually the user's step number within the episode.  Hashed in one
    compiled loop (:func:`divrec_rl.kernels.splitmix_uniforms`): for one user's handful of
    draws, array calls would cost more than the arithmetic.
    """
    keys, counters = _as_integers(keys), _as_integers(counters)
    out = np.empty((len(keys), n))
    if out.size:
        stream_term = np.uint64((stream * _K_STREAM_INT) & _MASK64)
        kernels.splitmix_uniforms(keys, counters, stream_term, out)
    return out


def _as_integers(values: np.ndarray) -> np.ndarray:
    """``values`` as a signed or unsigned 64-bit array (read as uint64, wrapping)."""
    values = np.asarray(values)
    if values.dtype == np.int64 or values.dtype == np.uint64:
        return values
    return values.astype(np.uint64)


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
