"""Small array helpers for the per-step hot path, where a call's overhead costs more than its
arithmetic (a single-user step is a couple of hundred calls on arrays of one row).

Two NumPy costs shape that path (measured with NumPy 2.4 on arrays of one row):

* a Python number as an operand costs ≈ 0.2–0.3 µs more per call than a 0-d array of the other
  operand's dtype (:func:`constant`), for the same result;
* a ufunc whose output is one of its inputs (``a += b``, ``out=a``) costs ≈ 0.5 µs more when
  the array has exactly one element — a per-user column of a single user — than computing a new
  array and copying it in (``a[...] = a + b``), for the same result.
"""

from __future__ import annotations

import numpy as np

_ARANGE = np.arange(1024)
_ARANGE.setflags(write=False)


def arange_cached(n: int) -> np.ndarray:
    """A read-only view equal to ``np.arange(n)`` (row indices are needed on every step).

    One shared array, grown by doubling, so memory stays O(largest n) whatever sizes are asked.
    """
    global _ARANGE
    if n > len(_ARANGE):
        grown = np.arange(max(n, 2 * len(_ARANGE)))
        grown.setflags(write=False)
        _ARANGE = grown
    return _ARANGE[:n]


def all_true(mask: np.ndarray) -> bool:
    """``mask.all()`` for an array, through ``count_nonzero`` (a third of the call overhead)."""
    return np.count_nonzero(mask) == mask.size


def any_true(mask: np.ndarray) -> bool:
    """``mask.any()`` for an array, through ``count_nonzero``."""
    return np.count_nonzero(mask) > 0


_ROW_STARTS: dict[tuple[int, int], np.ndarray] = {}


def row_starts(n: int, width: int) -> np.ndarray:
    """A read-only view equal to ``np.arange(n) * width``: the flat index of each row's first
    entry in an ``(n, width)`` array (to gather one entry per row with a single ``take``)."""
    starts = _ROW_STARTS.get((n, width))
    if starts is None:
        starts = np.arange(n) * width
        starts.setflags(write=False)
        if len(_ROW_STARTS) < 64:  # a few batch sizes and widths per process
            _ROW_STARTS[(n, width)] = starts
    return starts


def constant(value: float, dtype: type[np.generic] | np.dtype = np.float64) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``, an operand for the per-step path.

    Combined with an array of the same ``dtype`` it gives exactly what the Python number gives
    (NumPy casts a Python number to the array's dtype first) at less cost per call (module
    docstring); with an array of another dtype it promotes like an array, so use the array's
    own dtype.
    """
    out = np.array(value, dtype=dtype)
    out.setflags(write=False)
    return out
