"""Checks of what a plug-in behaviour returns, before the simulator's compiled steps read it.

The simulator's bookkeeping runs in compiled loops that index by ``position`` and trust its
dtype: an out-of-range slot there reads past an array (a crash, or silently wrong state), a
float position fails deep inside numba.  The built-in behaviours keep the contract by
construction; a plug-in's outputs are checked every step (:func:`is_plugin`), each violation one
:class:`~divrec_rl.errors.ScenarioError` line naming the behaviour, the method, the output and
what is allowed.  The cost (a few array reductions a step) is paid only by plug-ins.

The contract of :meth:`UserBehaviour.respond` for N users and slates of k:

* ``position`` int64 ``(N,)``: the clicked slot in ``[0, k−1]``, or −1 (always −1 for a user
  who is no longer active);
* ``item`` int64 ``(N,)``: ``slates[i, position[i]]``, or −1 without a click;
* ``engagement`` float64 ``(N,)``: finite, in ``[0, 1]``, 0 without a click;
* ``probabilities`` ``(N, k+1)``.

``leaves`` and ``returns`` give bool ``(N,)``.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.errors import ScenarioError
from divrec_rl.users.behaviour import SlateResponse

__all__ = ["check_flags", "check_response", "is_plugin"]


def is_plugin(part: object) -> bool:
    """Whether ``part``'s class comes from outside the divrec_rl package."""
    module = type(part).__module__
    return not (module == "divrec_rl" or module.startswith("divrec_rl."))


def _array(value: object, shape: tuple[int, ...], dtype: type, where: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != dtype:
        got = (
            f"{value.dtype} of shape {value.shape}"
            if isinstance(value, np.ndarray)
            else type(value).__name__
        )
        allowed = f"an array of dtype {np.dtype(dtype)} and shape {shape}"
        raise ScenarioError(f"{where}: must be {allowed}, got {got}")
    return value


def check_response(
    name: str, response: object, slates: np.ndarray, active: np.ndarray
) -> SlateResponse:
    """``response`` if it keeps the :meth:`respond` contract (module docstring) for ``slates``
    ``(N, k)`` and the users ``active``; else a ScenarioError naming the first violation."""
    where = f"behaviour.model '{name}': respond()"
    if not isinstance(response, SlateResponse):
        raise ScenarioError(f"{where}: must return a SlateResponse, got {type(response).__name__}")
    n, k = slates.shape
    position = _array(response.position, (n,), np.int64, f"{where}.position")
    item = _array(response.item, (n,), np.int64, f"{where}.item")
    engagement = _array(response.engagement, (n,), np.float64, f"{where}.engagement")
    probabilities = response.probabilities
    if not isinstance(probabilities, np.ndarray) or probabilities.shape != (n, k + 1):
        got = getattr(probabilities, "shape", type(probabilities).__name__)
        raise ScenarioError(f"{where}.probabilities: must have shape {(n, k + 1)}, got {got}")
    if position.min(initial=-1) < -1 or position.max(initial=-1) > k - 1:
        bad = position[(position < -1) | (position > k - 1)][0]
        raise ScenarioError(
            f"{where}.position: must be a slot in [0, {k - 1}] or -1 (no click), got {bad}"
        )
    if np.any(position[~active] != -1):
        raise ScenarioError(f"{where}.position: must be -1 for a user who has left")
    clicked = position >= 0
    expected = np.where(clicked, slates[np.arange(n), np.maximum(position, 0)], -1)
    if not np.array_equal(item, expected):
        raise ScenarioError(
            f"{where}.item: must be the clicked slot's item (slates[i, position[i]]) or -1 "
            "without a click"
        )
    if not np.all(np.isfinite(engagement)) or engagement.min(initial=0.0) < 0.0:
        raise ScenarioError(f"{where}.engagement: must be finite and in [0, 1]")
    if engagement.max(initial=0.0) > 1.0 or np.any(engagement[~clicked] != 0.0):
        raise ScenarioError(f"{where}.engagement: must be in [0, 1], and 0 without a click")
    return response


def check_flags(name: str, method: str, flags: object, n: int) -> np.ndarray:
    """``flags`` if it is a bool array ``(n,)`` (what ``leaves``/``returns`` give); else a
    ScenarioError naming the behaviour and the method."""
    return _array(flags, (n,), np.bool_, f"behaviour.model '{name}': {method}()")
