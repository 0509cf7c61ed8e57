"""The Plackett–Luce slate policy: SB3 ``ActorCriticPolicy`` whose action distribution is
:class:`~divrec_rl.agents.plackett_luce.PlackettLuceDistribution`.

Network (h = hidden width, f = features per candidate, u = MLP embedding of the user features):

* base scores ``s_i`` — the shared candidate scorer of :class:`~divrec_rl.agents.ppo.SlateNetwork`
  (``q(u)·x_i + w·relu(W x_i + B u + C mean_j x_j) + b``);
* temperature ``τ(u) = τ_min + softplus(a·u + c)``, with ``c`` set so that τ starts at
  ``temperature_init`` (and ``a`` small, so τ starts nearly state-independent but can learn not
  to be);
* set-awareness (optional): ``q_i = Q x_i``, ``v_i = V x_i``, ``z_i = normalise(Z x_i)`` and a
  gain ``g(u)`` (see :class:`~divrec_rl.agents.plackett_luce.SetContext`) — picks after the first
  see the mean of the picked items' ``v`` and their largest similarity to a picked item;
* prior (optional): a frozen scorer ``p(user, x_i)`` (e.g. the supervised click model of
  :mod:`divrec_rl.agents.supervised`).  The step logits are then ``(p_i + r_i^{(j)})/τ`` where
  the learned residual ``r`` (base scores and set terms) starts at exactly zero: the initial
  policy is the prior's softmax ranking at temperature τ.

Every layer acts per candidate or per user, so the policy's size depends on neither the
catalogue nor C.  The critic is :class:`SlateNetwork`'s (user features and mean candidate).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from divrec_rl.agents.plackett_luce import PlackettLuceDistribution, SetContext
from divrec_rl.agents.slate_network import (
    SlateFeaturesExtractor,
    SlateNetwork,
    candidate_linear,
)
from divrec_rl.agents.supervised import ClickModel

__all__ = ["PLParams", "PlackettLuceNetwork", "PlackettLucePolicy", "build_prior"]

#: Width of the set-awareness projections q, v (e) and z.
SET_DIM = 16


class PLParams(NamedTuple):
    """What the actor emits: base scores ``(B, C)``, temperature ``(B,)``, set context."""

    scores: th.Tensor
    temperature: th.Tensor
    context: SetContext | None


def build_prior(spec: dict[str, Any] | None) -> nn.Module | None:
    """The prior scorer a policy's ``prior`` spec describes (weights are loaded separately).

    ``{"kind": "click-model", "user_dim": U, "item_dim": f, "hidden": h}`` →
    :class:`~divrec_rl.agents.supervised.ClickModel` (its click logits are the prior scores).
    """
    if spec is None:
        return None
    if spec.get("kind") != "click-model":
        raise ValueError(f"prior: unknown kind {spec.get('kind')!r} (allowed: click-model)")
    return ClickModel(int(spec["user_dim"]), int(spec["item_dim"]), int(spec["hidden"]))


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class PlackettLuceNetwork(SlateNetwork):
    """Actor (:class:`PLParams`) and critic bodies of :class:`PlackettLucePolicy`.

    Parameters
    ----------
    user_dim, candidate_dim, action_dim, hidden_size:
        As :class:`SlateNetwork` (``candidate_dim`` is required).
    set_aware:
        Condition later picks on the items already picked.
    temperature_floor, temperature_init:
        τ_min > 0 and τ at initialisation (> τ_min).
    prior:
        A frozen scorer ``prior(user, candidates) → (scores, …)`` or ``None``.
    """

    def __init__(
        self,
        user_dim: int,
        candidate_dim: int,
        action_dim: int,
        hidden_size: int = 64,
        set_aware: bool = True,
        temperature_floor: float = 0.05,
        temperature_init: float = 1.0,
        prior: nn.Module | None = None,
    ) -> None:
        super().__init__(user_dim, candidate_dim, action_dim, hidden_size)
        if not 0.0 < temperature_floor < temperature_init:
            raise ValueError(
                "temperature_floor, temperature_init: need 0 < floor < init, got "
                f"{temperature_floor}, {temperature_init}"
            )
        h = hidden_size
        self.temperature_floor = temperature_floor
        self.temperature_bias = _inverse_softplus(temperature_init - temperature_floor)
        self.temperature_head = nn.Linear(h, 1)
        self.set_aware = set_aware
        if set_aware:
            # q and z of every candidate in one layer; v only ever maps the picked items' mean.
            self.set_project = nn.Linear(candidate_dim, 2 * SET_DIM)
            self.set_key = nn.Linear(candidate_dim, SET_DIM)
            self.set_gain = nn.Linear(h, 1)
        self.prior = prior
        if prior is not None:
            prior.requires_grad_(False)

    def learned_modules(self) -> list[nn.Module]:
        """Every submodule except the frozen prior (what initialisation may touch)."""
        return [m for name, m in self.named_children() if name != "prior"]

    def output_layers(self) -> list[nn.Module]:
        """Layers of the learned residual and the temperature gain (small or zero init)."""
        out = [*super().output_layers(), self.temperature_head]
        if self.set_aware:
            out += [self.set_project, self.set_gain]
        return out

    def reset_outputs(self) -> None:
        """Start the residual at exactly zero (with a prior) and τ at ``temperature_init``."""
        if self.prior is not None:
            # The set term q·mean v + g·max z·z vanishes with q = 0 and g = 0; v and z keep
            # their random start (z = 0 would have no direction to normalise).
            zeroed = [*super().output_layers()] + ([self.set_gain] if self.set_aware else [])
            for layer in zeroed:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
            if self.set_aware:
                with th.no_grad():
                    self.set_project.weight[:SET_DIM].zero_()
                    self.set_project.bias[:SET_DIM].zero_()
        nn.init.constant_(self.temperature_head.bias, self.temperature_bias)

    def actor(self, user: th.Tensor, cands: th.Tensor, mean: th.Tensor) -> PLParams:  # type: ignore[override]
        """Scores, temperature and set context for the user block, the candidates ``(B, C, f)``
        and their mean."""
        u = self.pi_user(user)
        scores = self.score_candidates(u, cands, mean)
        if self.prior is not None:
            prior_scores = self.prior(user, cands)[0]
            scores = scores + prior_scores
        temperature = self.temperature_floor + nn.functional.softplus(
            self.temperature_head(u).squeeze(-1)
        )
        context = None
        if self.set_aware:
            # Only z is projected for every candidate; q = Q x + b stays implicit (SetContext
            # applies Qᵀ to the few mean keys instead, and b cancels in each step's softmax).
            weight, bias = self.set_project.weight, self.set_project.bias
            unit = candidate_linear(cands, weight[SET_DIM:], bias[SET_DIM:])
            context = SetContext(
                query=None,
                features=cands,
                key=self.set_key,
                unit=nn.functional.normalize(unit, dim=-1),
                gain=self.set_gain(u).squeeze(-1),
                query_weight=weight[:SET_DIM],
            )
        return PLParams(scores, temperature, context)


class PlackettLucePolicy(ActorCriticPolicy):
    """SB3 actor-critic policy over ordered slates (see the module docstring).

    Parameters beyond :class:`~stable_baselines3.common.policies.ActorCriticPolicy`'s:

    candidate_dim:
        Features per candidate (``SlateBuilder.feature_dim``).
    slate_size:
        k, the slate length of the env.
    hidden_size:
        Width of the hidden layers.
    set_aware, temperature_floor, temperature_init:
        See :class:`PlackettLuceNetwork`.
    prior:
        Spec of a frozen prior scorer (:func:`build_prior`), or ``None``.  Its weights are part
        of the policy's state (saved and loaded with the model).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        candidate_dim: int,
        slate_size: int,
        hidden_size: int = 64,
        set_aware: bool = True,
        temperature_floor: float = 0.05,
        temperature_init: float = 1.0,
        prior: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.candidate_dim = candidate_dim
        self.slate_size = slate_size
        self.hidden_size = hidden_size
        self.set_aware = set_aware
        self.temperature_floor = temperature_floor
        self.temperature_init = temperature_init
        self.prior = prior
        kwargs.setdefault("features_extractor_class", SlateFeaturesExtractor)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            candidate_dim=self.candidate_dim,
            slate_size=self.slate_size,
            hidden_size=self.hidden_size,
            set_aware=self.set_aware,
            temperature_floor=self.temperature_floor,
            temperature_init=self.temperature_init,
            prior=self.prior,
        )
        return data

    def _build(self, lr_schedule: Schedule) -> None:
        user_space = self.observation_space["user"]  # type: ignore[index]
        n_candidates = int(np.prod(self.action_space.shape))  # type: ignore[arg-type]
        self.mlp_extractor = PlackettLuceNetwork(
            int(np.prod(user_space.shape)),
            self.candidate_dim,
            n_candidates,
            self.hidden_size,
            self.set_aware,
            self.temperature_floor,
            self.temperature_init,
            build_prior(self.prior),
        )
        self.action_dist = PlackettLuceDistribution(n_candidates, self.slate_size)
        self.action_net = nn.Identity()
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        if self.ortho_init:
            for module in self.mlp_extractor.learned_modules():
                module.apply(partial(self.init_weights, gain=np.sqrt(2)))
            for layer in self.mlp_extractor.output_layers():
                layer.apply(partial(self.init_weights, gain=0.01))
            self.value_net.apply(partial(self.init_weights, gain=1.0))
        self.mlp_extractor.reset_outputs()
        trainable = [p for p in self.parameters() if p.requires_grad]
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            trainable, lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_action_dist_from_latent(self, latent_pi: PLParams) -> PlackettLuceDistribution:  # type: ignore[override]
        return self.action_dist.proba_distribution(*latent_pi)  # type: ignore[attr-defined]
