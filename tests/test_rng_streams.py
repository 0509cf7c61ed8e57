"""Per-user random streams against an independent reference: SplitMix64 written out in Python
integers from its published definition, known outputs, Box–Muller, and Gumbel-top-k's law."""

from __future__ import annotations

import math

import numpy as np
import pytest

from divrec_rl import rng

MASK = (1 << 64) - 1


GAMMA = 0x9E3779B97F4A7C15


def splitmix64_outputs(state: int, n: int) -> list[int]:
    """The first n outputs of SplitMix64 seeded with ``state`` (Steele, Lea and Flood 2014)."""
    out = []
    for _ in range(n):
        state = (state + GAMMA) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def reference_uniforms(key: int, counter: int, stream: int, n: int) -> list[float]:
    """``uniforms``' documented formula: SplitMix64 seeded with K₁·key + K₂·counter + K₃·stream,
    the top 53 bits of each output over 2⁵³."""
    base = (
        key * 0xD1B54A32D192ED03 + counter * 0xAEF17502108EF2D9 + stream * 0xDB4F0B9175AE2165
    ) & MASK
    return [(z >> 11) / 2.0**53 for z in splitmix64_outputs(base, n)]


def test_splitmix64_reference_reproduces_published_outputs() -> None:
    # The widely quoted first outputs of SplitMix64 seeded with 0.
    assert splitmix64_outputs(0, 3) == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_key_zero_counter_zero_stream_zero_is_splitmix64_of_zero() -> None:
    got = rng.uniforms(np.array([0], dtype=np.uint64), np.array([0]), 0, 3)
    assert got[0].tolist() == [(z >> 11) / 2.0**53 for z in splitmix64_outputs(0, 3)]


@pytest.mark.parametrize(
    ("n_keys", "n"),
    [(1, 1), (1, 4), (2, 2), (4, 1), (1, 5), (1, 37), (3, 2), (7, 9), (64, 3)],
    ids=lambda v: str(v),
)
def test_every_path_matches_the_reference(n_keys: int, n: int) -> None:
    # One user's few draws, one user's many, and batches of every shape.
    gen = np.random.default_rng(n_keys * 100 + n)
    keys = gen.integers(0, 2**63, n_keys, dtype=np.uint64)
    keys[0] = np.uint64(2**64 - 1)  # the top of the key range wraps like everything else
    counters = gen.integers(0, 10_000, n_keys)
    for stream in (rng.STREAM_INIT, rng.STREAM_CHOICE, rng.STREAM_CUSTOM + 7):
        got = rng.uniforms(keys, counters, stream, n)
        assert got.shape == (n_keys, n)
        want = [
            reference_uniforms(int(k), int(c), stream, n)
            for k, c in zip(keys, counters, strict=True)
        ]
        assert got.tolist() == want


def test_rows_are_independent_of_the_batch() -> None:
    keys = np.arange(10, dtype=np.uint64) * np.uint64(7919)
    counters = np.arange(10)
    batch = rng.uniforms(keys, counters, rng.STREAM_RETURN, 6)
    for u in range(10):
        alone = rng.uniforms(keys[u : u + 1], counters[u : u + 1], rng.STREAM_RETURN, 6)
        assert alone[0].tolist() == batch[u].tolist()
    assert (batch >= 0.0).all() and (batch < 1.0).all()


def test_streams_counters_and_keys_all_change_the_draws() -> None:
    keys, counters = np.array([5], dtype=np.uint64), np.array([3])
    base = rng.uniforms(keys, counters, 1, 8)
    assert not np.array_equal(base, rng.uniforms(keys, counters, 2, 8))
    assert not np.array_equal(base, rng.uniforms(keys, counters + 1, 1, 8))
    assert not np.array_equal(base, rng.uniforms(keys + np.uint64(1), counters, 1, 8))


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7])
def test_normals_are_box_muller_of_the_uniforms(n: int) -> None:
    keys = np.array([11, 12, 13], dtype=np.uint64)
    counters = np.array([0, 1, 2])
    half = (n + 1) // 2
    u = rng.uniforms(keys, counters, rng.STREAM_HISTORY, 2 * half)
    got = rng.normals(keys, counters, rng.STREAM_HISTORY, n)
    assert got.shape == (3, n)
    for row in range(3):
        want = []
        for j in range(half):
            radius = math.sqrt(-2.0 * math.log(1.0 - u[row, j]))
            want.append((radius, 2.0 * math.pi * u[row, half + j]))
        values = [r * math.cos(t) for r, t in want] + [r * math.sin(t) for r, t in want]
        np.testing.assert_allclose(got[row], values[:n], rtol=1e-12, atol=1e-15)


def test_normals_have_unit_variance() -> None:
    keys = np.arange(4000, dtype=np.uint64)
    z = rng.normals(keys, np.zeros(4000, dtype=np.int64), rng.STREAM_INIT, 5).ravel()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03  # 20 000 draws: sd of mean 0.007


def test_gumbel_top_k_is_argtop_k_of_perturbed_logits() -> None:
    logits = np.array([[0.0, 1.0, 2.0, 0.5, -1.0]])
    u = np.array([[0.9, 0.2, 0.5, 0.99, 0.7]])
    g = logits - np.log(-np.log(u))
    order = np.argsort(-g[0]).tolist()
    assert rng.gumbel_top_k(logits, 5, u)[0].tolist() == order
    assert rng.gumbel_top_k(logits, 9, u)[0].tolist() == order
    for k in (1, 2, 4):
        assert rng.gumbel_top_k(logits, k, u)[0].tolist() == order[:k]


def test_gumbel_top_k_survives_uniforms_of_zero_and_one() -> None:
    logits = np.zeros((1, 3))
    u = np.array([[0.0, 1.0, 0.5]])
    picks = rng.gumbel_top_k(logits, 3, u)[0].tolist()
    assert picks == [1, 2, 0]  # u = 1 is the largest Gumbel, u = 0 the smallest


def test_gumbel_top_k_first_pick_follows_the_softmax() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    u = np.random.default_rng(0).random((40_000, 4))
    first = rng.gumbel_top_k(logits, 2, u)[:, 0]
    freq = np.bincount(first, minlength=4) / len(first)
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.15, 0.05], atol=0.01)  # sd ≤ 0.0025


def test_counter_layout_and_dtype_give_the_same_draws() -> None:
    """Counters as a strided column (the simulator's counter block), uint64 or a list: the same
    draws as the reference, and the same again on a second call (the compiled loop)."""
    keys = np.array([0, 5, 2**63 + 7], dtype=np.uint64)
    block = np.zeros((3, 6), dtype=np.int64)
    block[:, 1] = [0, 4, 2**40]
    pairs = zip(keys, block[:, 1], strict=True)
    want = [reference_uniforms(int(k), int(c), 9, 6) for k, c in pairs]
    for counters in (block[:, 1], block[:, 1].astype(np.uint64), block[:, 1].tolist()):
        assert rng.uniforms(keys, counters, 9, 6).tolist() == want
        assert rng.uniforms(keys, counters, 9, 6).tolist() == want


def test_signed_integer_keys_and_counters_are_the_same_stream() -> None:
    keys = np.array([0, 1, 2**62, 12345], dtype=np.int64)
    counters = np.array([0, 3, 7, 2**40], dtype=np.int64)
    got = rng.uniforms(keys, counters, rng.STREAM_CANDIDATES, 5)
    want = [
        reference_uniforms(int(k), int(c), rng.STREAM_CANDIDATES, 5)
        for k, c in zip(keys, counters, strict=True)
    ]
    assert got.tolist() == want


def test_gumbel_top_k_clamps_uniforms_of_exactly_zero_and_one() -> None:
    # Clamped, u = 1 and u = 0 give large finite Gumbels, so logits still order ties among them;
    # unclamped they would be ±inf and ties would fall to the lower index.
    logits = np.array([[0.0, 5.0, 1.0, 3.0]])
    u = np.array([[1.0, 1.0, 0.0, 0.0]])
    assert rng.gumbel_top_k(logits, 4, u)[0].tolist() == [1, 0, 3, 2]
    assert rng.gumbel_top_k(logits, 3, u)[0].tolist() == [1, 0, 3]


def test_gumbel_top_k_partial_equals_the_head_of_the_full_ranking() -> None:
    gen = np.random.default_rng(8)
    logits = gen.normal(size=(20, 50))
    u = gen.random((20, 50))
    full = rng.gumbel_top_k(logits, 50, u)
    for k in (1, 2, 3, 10, 49):
        np.testing.assert_array_equal(rng.gumbel_top_k(logits, k, u), full[:, :k])


def reference_finaliser(z: int) -> int:
    """SplitMix64's output function (mix only, no state increment), on Python integers."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


@pytest.mark.parametrize("salt", [1, 2, 7, 2**40 + 3])
def test_salted_keys_follow_their_formula(salt: int) -> None:
    keys = np.array([0, 1, 12345, 2**63 + 17, MASK], dtype=np.uint64)
    salted = rng.salted_keys(keys, salt)
    assert salted.dtype == np.uint64 and salted.shape == keys.shape
    expected = [reference_finaliser(int(k) ^ ((salt * 0x8CB92BA72F3D8DD7) & MASK)) for k in keys]
    assert salted.tolist() == expected
    assert keys.tolist() == [0, 1, 12345, 2**63 + 17, MASK]  # the input is not changed


def test_salt_zero_is_a_copy_of_the_keys() -> None:
    keys = np.array([3, 4, 5], dtype=np.uint64)
    same = rng.salted_keys(keys, 0)
    assert same.tolist() == [3, 4, 5] and same.dtype == np.uint64
    same[0] = 99
    assert keys[0] == 3
    from_list = rng.salted_keys([3, 4, 5], 2)  # any sequence of keys
    assert from_list.tolist() == rng.salted_keys(keys, 2).tolist()
