"""The policy bodies shared by the PPO slate policies: the observation reader
(:class:`SlateFeaturesExtractor`) and the candidate scorer / critic (:class:`SlateNetwork`), whose
sizes depend on neither the catalogue nor the candidate count."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["SlateFeatures", "SlateFeaturesExtractor", "SlateNetwork", "candidate_linear"]


@dataclass(frozen=True)
class SlateFeatures:
    """What the policy networks read: the ``user`` block ``(B, U)`` and, with the ``candidates``
    builder, the ``candidates`` block ``(B, n·f)`` (``None`` for the ``query`` builder) -- the
    observation's own tensors, not copied."""

    user: th.Tensor
    candidates: th.Tensor | None


class SlateFeaturesExtractor(BaseFeaturesExtractor):
    """Hands the observation entries ``user`` and (if present) ``candidates`` to
    :class:`SlateNetwork` as :class:`SlateFeatures`; no layer here depends on sizes.

    The two blocks stay separate tensors: concatenating them into one vector for the network to
    split again copied every minibatch's ≈ 1,500 floats per row once, and left the candidate
    block a strided view that each linear layer over it copied again to a contiguous one."""

    def __init__(self, observation_space: spaces.Dict) -> None:
        keys = [k for k in ("user", "candidates") if k in observation_space.spaces]
        dim = sum(int(np.prod(observation_space[k].shape)) for k in keys)
        super().__init__(observation_space, features_dim=dim)

    def forward(self, observations: dict[str, th.Tensor]) -> SlateFeatures:  # type: ignore[override]
        candidates = observations.get("candidates")
        return SlateFeatures(
            observations["user"].flatten(1),
            None if candidates is None else candidates.flatten(1),
        )


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in pairwise(sizes):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers)


def candidate_linear(cands: th.Tensor, weight: th.Tensor, bias: th.Tensor) -> th.Tensor:
    """``x_i Wᵀ + b`` for every candidate of a block ``(B, n, f)``: ``(B, n, out)``.

    The product, then the bias added to it -- what ``nn.functional.linear`` does with a strided
    3-D input.  Given a contiguous block it would fuse the two (``addmm``), whose bias gradient
    sums the rows in another order (it differed in the last bits here), and the policy's
    training runs would no longer repeat those of earlier commits bit for bit."""
    return cands.matmul(weight.t()).add_(bias)


class SlateNetwork(nn.Module):
    """Actor and critic bodies used as the policy's ``mlp_extractor``.

    Parameters
    ----------
    user_dim:
        Length U of the ``user`` observation.
    candidate_dim:
        Features f per candidate (``candidates`` builder), or ``None`` for the ``query`` builder.
    action_dim:
        Query dimension d (``query`` builder); with candidates it is only the size the policy was
        built for (``latent_dim_pi``) — the actor scores however many candidates it is given.
    hidden_size:
        Width h of every hidden layer.
    """

    def __init__(
        self, user_dim: int, candidate_dim: int | None, action_dim: int, hidden_size: int = 64
    ) -> None:
        super().__init__()
        h = hidden_size
        self.candidate_dim = candidate_dim
        self.latent_dim_pi = action_dim
        self.latent_dim_vf = h
        self.pi_user = _mlp([user_dim, h, h], nn.ReLU)
        if candidate_dim is None:
            self.query_head = nn.Linear(h, action_dim)
            self.vf_body = _mlp([user_dim, h, h], nn.ReLU)
            return
        # Score of candidate i with features x_i for a user embedding u (f = candidate_dim):
        #   s_i = q(u)·x_i + w·relu(W x_i + B u + C mean_j x_j) + b
        # a bilinear "query" term (how well the item matches the user) plus a one-hidden-layer
        # MLP whose biases depend on the user and on the candidate set.  The user and set parts
        # are computed once per user, so the per-candidate cost is O(f·h).
        self.score_query = nn.Linear(h, candidate_dim)
        self.score_candidate = nn.Linear(candidate_dim, h)
        self.score_user = nn.Linear(h, h, bias=False)
        self.score_context = nn.Linear(candidate_dim, h, bias=False)
        self.score_head = nn.Linear(h, 1)
        self.vf_body = _mlp([user_dim + candidate_dim, h, h], nn.ReLU)

    def output_layers(self) -> list[nn.Module]:
        """Layers that produce the action mean (initialised with a small gain)."""
        if self.candidate_dim is None:
            return [self.query_head]
        return [self.score_head, self.score_query]

    def _split(self, features: SlateFeatures) -> tuple[th.Tensor, th.Tensor]:
        """The user block ``(B, U)`` and the candidate block ``(B, n, f)`` (views, no copy)."""
        flat = features.candidates
        assert flat is not None, "SlateNetwork: the candidates builder's features are needed"
        return features.user, flat.reshape(len(flat), -1, self.candidate_dim)

    def forward_actor(self, features: SlateFeatures) -> th.Tensor:
        """Mean action: one score per candidate ``(B, n)``, or the query vector ``(B, d)``."""
        if self.candidate_dim is None:
            return self.query_head(self.pi_user(features.user))
        user, cands = self._split(features)
        return self.actor(user, cands, cands.mean(dim=1))

    def actor(self, user: th.Tensor, cands: th.Tensor, mean: th.Tensor) -> th.Tensor:
        """The actor's output for the user block, the candidates and their mean ``(B, f)``."""
        return self.score_candidates(self.pi_user(user), cands, mean)

    def score_candidates(self, u: th.Tensor, cands: th.Tensor, mean: th.Tensor) -> th.Tensor:
        """Scores ``(B, n)`` of candidates ``(B, n, f)`` with mean ``(B, f)`` for user
        embeddings ``u`` ``(B, h)``."""
        # The (B, n, h) block is the largest tensor of an update: the user/set bias and the
        # ReLU act on the linear layer's output in place (neither needs its input for the
        # gradient), sparing two allocations of that size; the arithmetic is unchanged.
        hidden = candidate_linear(cands, self.score_candidate.weight, self.score_candidate.bias)
        hidden.add_((self.score_user(u) + self.score_context(mean))[:, None, :]).relu_()
        query = (self.score_query(u)[:, None, :] * cands).sum(dim=-1)
        return self.score_head(hidden).squeeze(-1) + query

    def critic(self, user: th.Tensor, mean: th.Tensor) -> th.Tensor:
        """Value features ``(B, h)`` from the user block and the mean candidate ``(B, f)``."""
        return self.vf_body(th.cat([user, mean], dim=1))

    def forward_critic(self, features: SlateFeatures) -> th.Tensor:
        """Value features ``(B, h)`` from the user and the mean candidate features."""
        if self.candidate_dim is None:
            return self.vf_body(features.user)
        user, cands = self._split(features)
        return self.critic(user, cands.mean(dim=1))

    def forward(self, features: SlateFeatures) -> tuple[th.Tensor, th.Tensor]:
        """Actor and critic outputs, with one split and one candidate mean for both."""
        if self.candidate_dim is None:
            return self.forward_actor(features), self.forward_critic(features)
        user, cands = self._split(features)
        mean = cands.mean(dim=1)
        return self.actor(user, cands, mean), self.critic(user, mean)
