"""Input checks shared by the metrics: dtype, shape, finiteness and id range.

Each raises ``ValueError`` naming the argument and what is allowed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def float_array(x: ArrayLike, name: str, ndim: int | tuple[int, ...] | None = None) -> FloatArray:
    """Convert to float64 and check dimensionality and finiteness."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def int_ids(x: ArrayLike, name: str, upper: int | None = None) -> IntArray:
    """Convert to int64 ids, checking integer dtype and the range ``[0, upper)``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        # Floats silently truncated to ids are a classic source of wrong metrics: refuse them.
        raise ValueError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ValueError(f"{name} must be non-negative, found {lo}")
        if upper is not None and hi >= upper:
            raise ValueError(f"{name} must be < {upper}, found {hi}")
    return arr


def positive_int(x: int, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or int(x) < 1:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def rows_for_per_row(arr: NDArray, name: str, per_row: bool) -> NDArray:
    """Shape ids as ``(n_rows, m)``: one row when ``per_row`` is False, else require 2-D."""
    if per_row:
        if arr.ndim != 2:
            raise ValueError(f"per_row=True needs a 2-D {name} (n_rows, m), got shape {arr.shape}")
        return arr
    return arr.reshape(1, -1)
