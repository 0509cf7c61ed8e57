"""The agent face: ``act(observation, simulator) -> actions`` and a ``name``.

:class:`Agent` is declared with the rollout loop that drives it (:mod:`divrec_rl.rollout`, one
layer below the agents) and published here, beside the agents that implement it.  Agents read the
observation and the simulator's public views (``candidates``, ``candidate_feature_dim``,
``action_space``, ``catalog``, ``state.active``), never its slate builder.
"""

from __future__ import annotations

from divrec_rl.rollout import Agent

__all__ = ["Agent"]
