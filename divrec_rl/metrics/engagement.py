"""Engagement metrics: cumulative engagement, session ids and lengths, click-through rate."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from divrec_rl.metrics.inputs import (
    FloatArray,
    IntArray,
    float_array,
    int_ids,
    positive_int,
)


def cumulative_engagement(
    engagement: ArrayLike, user_ids: ArrayLike, n_users: int | None = None
) -> FloatArray:
    """Total engagement per user (or per session): the undiscounted return of RL recommenders.

    ``E_u = Σ_t engagement_t · [user_t = u]``

    Args:
        engagement: ``(n_steps,)`` engagement per step (e.g. watch time in seconds, or clicks), or
            ``(n_steps, k)`` engagement per slot, summed over the slate.
        user_ids: ``(n_steps,)`` non-negative integer group id of each step — a user id, or a
            session id from :func:`session_ids_from_dones` for per-session returns.
        n_users: length of the output; defaults to ``max(user_ids) + 1``. Users without steps
            get 0.

    Returns:
        ``(n_users,)`` float array, in the units of ``engagement``.

    Reference: the cumulative engagement / return objective of Ie et al., "SlateQ: A Tractable
    Decomposition for Reinforcement Learning with Recommendation Sets", IJCAI 2019.
    """
    eng = float_array(engagement, "engagement", ndim=(1, 2))
    if eng.ndim == 2:
        eng = eng.sum(axis=1)
    ids = int_ids(user_ids, "user_ids")
    if ids.ndim != 1 or ids.shape[0] != eng.shape[0]:
        raise ValueError(
            f"user_ids must have shape ({eng.shape[0]},) to match engagement, got {ids.shape}"
        )
    minlength = 0
    if n_users is not None:
        minlength = positive_int(n_users, "n_users")
        if ids.size and int(ids.max()) >= minlength:
            raise ValueError(f"user_ids must be < n_users={minlength}, found {int(ids.max())}")
    return np.bincount(ids, weights=eng, minlength=minlength).astype(np.float64)


def session_ids_from_dones(dones: ArrayLike) -> IntArray:
    """Session id of every step of a flat rollout, from its episode-end flags.

    ``id_t = Σ_{s<t} done_s`` — a step belongs to the session that started after the last
    ``done`` before it (``done`` = terminated or truncated).

    Args:
        dones: ``(n_steps,)`` boolean (or 0/1) episode-end flags.

    Returns:
        ``(n_steps,)`` int64 session ids starting at 0.
    """
    d = np.asarray(dones)
    if d.ndim != 1:
        raise ValueError(f"dones must be 1-D (n_steps,), got shape {d.shape}")
    if d.dtype.kind not in "biu" or (d.size and not np.isin(d, (0, 1)).all()):
        raise ValueError("dones must be boolean or 0/1 flags")
    d = d.astype(np.int64)
    return np.concatenate([[0], np.cumsum(d[:-1])]).astype(np.int64) if d.size else d


def session_length(session_ids: ArrayLike, n_sessions: int | None = None) -> IntArray:
    """Number of slates served in each session before the user left (or was truncated).

    ``L_s = Σ_t [session_t = s]``, in steps (slates).

    Args:
        session_ids: ``(n_steps,)`` non-negative session id per step (see
            :func:`session_ids_from_dones`).
        n_sessions: output length; defaults to ``max(session_ids) + 1``.

    Returns:
        ``(n_sessions,)`` int64 lengths.

    Reference: the interaction-length ("Length") metric used for simulated users that may quit,
    e.g. Gao et al., "Alleviating Matthew Effect of Offline Reinforcement Learning in
    Interactive Recommendation", SIGIR 2023.
    """
    ids = int_ids(session_ids, "session_ids")
    if ids.ndim != 1:
        raise ValueError(f"session_ids must be 1-D (n_steps,), got shape {ids.shape}")
    minlength = 0
    if n_sessions is not None:
        minlength = positive_int(n_sessions, "n_sessions")
        if ids.size and int(ids.max()) >= minlength:
            raise ValueError(
                f"session_ids must be < n_sessions={minlength}, found {int(ids.max())}"
            )
    return np.bincount(ids, minlength=minlength).astype(np.int64)


def ctr(clicked: ArrayLike, per: Literal["slate", "item"] = "slate") -> float:
    """Click-through rate.

    * ``per="slate"``: ``CTR = #clicks / #slates shown`` (clicks per slate impression; for a
      single-choice user model this is the fraction of slates that got a click).
    * ``per="item"``: ``CTR = #clicks / (#slates · k)`` (clicks per item impression).

    Args:
        clicked: ``(n_slates,)`` one flag per slate (clicked anything?) or ``(n_slates, k)`` one
            flag per slot; boolean or 0/1.
        per: denominator, see above; ``"item"`` needs the 2-D form.

    Returns:
        CTR as a float (≥ 0; ≤ 1 for ``per="item"`` or a 1-D input).

    Reference: Richardson, Dominowska and Ragno, "Predicting Clicks: Estimating the
    Click-Through Rate for New Ads", WWW 2007.
    """
    c = np.asarray(clicked)
    if c.ndim not in (1, 2):
        raise ValueError(f"clicked must be 1-D (n_slates,) or 2-D (n_slates, k), got {c.shape}")
    if c.shape[0] == 0:
        raise ValueError("clicked is empty: CTR of zero slates is undefined")
    if c.dtype.kind not in "biuf" or not np.isin(c, (0, 1)).all():
        raise ValueError("clicked must be boolean or 0/1 flags")
    total = float(c.sum())
    if per == "slate":
        return total / c.shape[0]
    if per == "item":
        if c.ndim != 2:
            raise ValueError("per='item' needs clicked of shape (n_slates, k)")
        return total / c.size
    raise ValueError(f"per must be 'slate' or 'item', got {per!r}")
