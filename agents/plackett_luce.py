"""Plackett–Luce slate distribution for Stable-Baselines3: k sequential softmax draws without
replacement over the C candidates, with scores that may depend on the items already picked.

For candidate scores ``s_i`` (B, C), a temperature ``τ > 0`` per state and picks
``i_1, …, i_k`` (the ordered slate), step j draws ``i_j`` from the softmax of the logits

    ℓ_i^{(j)} = s_i^{(j)} / τ      over the candidates not yet picked,

where ``s_i^{(j)} = s_i`` without set-awareness, and with it (picked set P_j = {i_1..i_{j-1}})

    s_i^{(j)} = s_i + q_i · mean_{p ∈ P_j} v_p + g · max_{p ∈ P_j} z_i · z_p        (j > 1)

(``q``, ``v``, ``z`` per-candidate projections, ``g`` a per-state gain; see
:class:`SetContext`).  The log-probability of the ordered slate is exact:

    log π(i_1..i_k) = Σ_j [ ℓ_{i_j}^{(j)} − logsumexp_{i ∉ P_j} ℓ_i^{(j)} ].

**Entropy.** :meth:`PlackettLuceDistribution.entropy` returns the chain-rule sum of the per-step
softmax entropies along one prefix, ``Ĥ = Σ_j H(π(· | P_j))``.  Since
``H(slate) = E_{slate∼π} Σ_j H(π(· | P_j))`` exactly (chain rule), Ĥ along a prefix sampled from π
is an unbiased estimate of the slate entropy.  PPO calls it after :meth:`log_prob` of the
*stored* actions, so there the prefix comes from the behaviour policy that collected the rollout
(π_old) while the conditionals are the current policy's: an unbiased estimate under π_old's
prefixes, a surrogate for π's that PPO's clipping keeps close.  It is exact for uniform scores
(``log(C!/(C−k)!)`` whatever the prefix) and for k = 1 (the softmax entropy).

**Action encoding.** The env's action stays a ``Box(−1, 1)`` of C scores whose top-k is the
slate.  A slate is encoded as slot j (0-based) → ``1 − j/k`` and every other candidate → −1:
strictly decreasing in the slot, all above −1, so the env's top-k (ties → lower index) returns
exactly the ordered slate; :func:`decode_slate` inverts it (and reads any score vector's top-k,
e.g. a teacher's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch as th
from stable_baselines3.common.distributions import Distribution
from torch import nn

from divrec_rl import kernels

__all__ = [
    "TAKEN_LOGIT",
    "PlackettLuceDistribution",
    "SetContext",
    "decode_slate",
    "encode_slate",
    "slate_walk",
]


@dataclass
class SetContext:
    """Per-candidate projections that make later picks depend on earlier ones.

    ``query`` q: ``(B, C, e)``; ``features`` x: ``(B, C, f)`` and ``key`` the affine map V with
    ``v_p = V(x_p)`` — affine, so ``mean_p v_p = V(mean_p x_p)`` and only the picked items' mean
    is ever projected, never all C candidates; ``unit`` z: ``(B, C, z)`` (unit rows, so z_i·z_p is
    a cosine similarity); ``gain`` g: ``(B,)``, the state-dependent weight of the max-similarity
    term (negative = avoid items like those already picked).

    ``query`` may instead be ``None`` with ``query_weight`` W ``(e, f)`` given, for a query that
    is affine in the features, ``q_i = W x_i + b``: then ``q_i · m = x_i · (Wᵀ m) + b · m``, and
    the few mean keys m go back through W instead of all C candidates through it.  ``b · m`` is
    the same for every candidate of a step, so it cancels in the step's softmax and is left out
    (b has no effect on the distribution).
    """

    query: th.Tensor | None
    features: th.Tensor
    key: Callable[[th.Tensor], th.Tensor]
    unit: th.Tensor
    gain: th.Tensor
    query_weight: th.Tensor | None = None

    def query_scores(self, base: th.Tensor, keys: th.Tensor) -> th.Tensor:
        """``base + q_i · m`` ``(B, m, C)`` for keys m ``(B, m, e)`` and ``base`` broadcastable
        to ``(B, m, C)`` (up to a per-row constant when ``query`` is ``None``)."""
        if self.query is not None:
            return th.baddbmm(base, keys, self.query.transpose(1, 2))
        assert self.query_weight is not None, "SetContext: query or query_weight is needed"
        return th.baddbmm(base, keys @ self.query_weight, self.features.transpose(1, 2))


#: A walk's picks ``(B, k)``, log-probability ``(B,)`` and a function returning its chain-rule
#: entropy ``(B,)``, evaluated only when called.
Walk = tuple[th.Tensor, th.Tensor, Callable[[], th.Tensor]]

#: Logit of a candidate already picked.  ``exp(−1e9 − max)`` is exactly 0 in float32, so the
#: candidate gets probability 0 as with −∞ (the other log-probabilities are unchanged), while its
#: entropy term ``p·log p`` is ``0·(finite) = 0`` — where −∞ would give NaN and need a second mask.
#: It holds while every free candidate's logit score/τ lies above −1e9: ``--temperature-floor``
#: is at least 1e-3, so scores down to −1e6.
TAKEN_LOGIT = -1e9


def encode_slate(picks: th.Tensor, n: int) -> th.Tensor:
    """Env action ``(B, n)`` whose top-k is exactly the ordered slate ``picks`` ``(B, k)``:
    slot j → ``1 − j/k``, non-picked → −1."""
    batch, k = picks.shape
    actions = th.full((batch, n), -1.0, dtype=th.float32, device=picks.device)
    values = 1.0 - th.arange(k, dtype=th.float32, device=picks.device) / k
    return actions.scatter_(1, picks, values.expand(batch, k).contiguous())


def decode_slate(actions: th.Tensor, k: int) -> th.Tensor:
    """The ordered slate ``(B, k)`` of an action ``(B, n)``: its top-k, best first, ties → lower
    index (as the env's :func:`divrec_rl.slate.top_k_rows`)."""
    return th.sort(actions, dim=1, descending=True, stable=True).indices[:, :k]


def _gather_rows(values: th.Tensor, picks: th.Tensor) -> th.Tensor:
    """``values[b, picks[b, j]]`` ``(B, k, d)`` of ``values`` ``(B, C, d)``, as one
    ``index_select`` on the flattened rows: forwards and backwards several times cheaper on CPU
    than ``gather`` with a broadcast index (whose backward is a strided scatter-add)."""
    batch, n, dim = values.shape
    rows = picks + th.arange(batch, device=picks.device)[:, None] * n
    return values.reshape(batch * n, dim).index_select(0, rows.reshape(-1)).view(*picks.shape, dim)


def _step_logits(
    scores: th.Tensor, temperature: th.Tensor, context: SetContext, picks: th.Tensor
) -> th.Tensor:
    """Step logits ``(B, k, C)`` along ``picks``: ``(s_i + q_i · mean v + g · max z_i·z_p)/τ``
    over the picks before step j (no set term at step 0).  τ scales the small factors (mean v,
    g) rather than the (B, k, C) result, the base scores ride in the batched matmul
    (``baddbmm``) and the similarity term in one fused multiply-add (``addcmul``)."""
    k = picks.shape[1]
    inv_tau = 1.0 / temperature
    # The features need no gradient: plain indexing reads the k picked rows of the strided
    # candidate block, where a flattening gather would first copy all C of them.
    rows = th.arange(len(picks), device=picks.device)[:, None]
    picked = context.features[rows, picks]  # (B, k, f)
    steps = th.arange(k, device=picks.device, dtype=picked.dtype)
    # Exclusive running mean of the picked items: step j sees picks 0..j−1.
    mean_picked = (th.cumsum(picked, dim=1) - picked) / steps.clamp(min=1.0)[None, :, None]
    scale = (steps > 0)[None, :, None] * inv_tau[:, None, None]  # no set term at step 0
    mean_key = context.key(mean_picked) * scale
    base = (scores * inv_tau[:, None])[:, None, :]
    logits = context.query_scores(base, mean_key)
    sim = th.bmm(_gather_rows(context.unit, picks[:, :-1]), context.unit.transpose(1, 2))
    # Step 0 sees no picked item: a zero similarity term there.
    running = th.cat([th.zeros_like(sim[:, :1]), _running_max(sim)], dim=1)
    return th.addcmul(logits, (context.gain * inv_tau)[:, None, None], running)


def _running_max(sim: th.Tensor) -> th.Tensor:
    """``torch.cummax(sim, 1).values`` with the same gradient (to the element that holds each
    running maximum).  On the CPU the indices come from a compiled loop and the values from a
    ``gather``, several times faster than ``cummax`` on these small (B, k−1, C) blocks."""
    if sim.device.type != "cpu":
        return th.cummax(sim, dim=1).values
    index = th.empty(sim.shape, dtype=th.long)
    kernels.running_argmax(sim.detach().numpy(), index.numpy())
    return sim.gather(1, index)


def _taken_before(picks: th.Tensor, n: int) -> th.Tensor:
    """``(B, k, C)`` bool: candidate c was picked before step j (a compiled loop on the CPU;
    elsewhere each candidate's slot, k when never picked, compared with the step index)."""
    batch, k = picks.shape
    if picks.device.type == "cpu":
        taken = th.zeros((batch, k, n), dtype=th.bool)
        kernels.taken_before(picks.numpy(), taken.numpy())
        return taken
    slot = th.full((batch, n), k, dtype=th.long, device=picks.device)
    slot.scatter_(1, picks, th.arange(k, device=picks.device).expand(batch, k))
    return slot[:, None, :] < th.arange(k, device=picks.device)[None, :, None]


def _chain_terms(
    logits: th.Tensor, taken: th.Tensor, picks: th.Tensor
) -> tuple[th.Tensor, th.Tensor]:
    """Log-probability and chain-rule entropy ``(B,)`` of ``picks`` from step logits
    ``(B, k, C)``: per-step log-softmax over the candidates not yet ``taken``, summed.
    ``logits`` must be a fresh tensor of the caller's: it is masked in place."""
    logp = th.log_softmax(logits.masked_fill_(taken, TAKEN_LOGIT), dim=2)
    return _picked_log_prob(logp, picks), _chain_entropy(logp, taken)


def _picked_log_prob(logp: th.Tensor, picks: th.Tensor) -> th.Tensor:
    """``Σ_j logp[b, j, picks[b, j]]`` ``(B,)`` from per-step log-probabilities ``(B, k, C)``."""
    return logp.gather(2, picks[:, :, None]).squeeze(-1).sum(dim=1)


def _chain_entropy(logp: th.Tensor, taken: th.Tensor | None = None) -> th.Tensor:
    """``−Σ_j Σ_c p log p`` ``(B,)`` from per-step log-probabilities ``(B, k, C)`` (a taken
    candidate's TAKEN_LOGIT-based term is exactly 0).

    With the ``taken`` mask, taken entries enter as ``log p = 0`` (term ``1 · 0 = 0``, no
    gradient through the mask): the same sum, without ``exp`` of ≈ −1e9, which takes the
    vectorised exponential's slow path."""
    if taken is not None:
        logp = logp.masked_fill(taken, 0.0)
    return -(logp.exp() * logp).sum(dim=(1, 2))


def _teacher_forced(
    scores: th.Tensor,
    temperature: th.Tensor,
    context: SetContext | None,
    picks: th.Tensor,
) -> tuple[th.Tensor, th.Tensor]:
    """Log-probability and chain-rule entropy ``(B,)`` of the ordered slates ``picks``, all k
    steps at once (the picks are known, so no step waits for another)."""
    batch, k = picks.shape
    n = scores.shape[1]
    if context is not None and k > 1:
        logits = _step_logits(scores, temperature, context, picks)
    else:
        # Every step has the same logits; one copy per step, since the mask is written in.
        logits = (scores / temperature[:, None])[:, None, :].expand(batch, k, n).contiguous()
    return _chain_terms(logits, _taken_before(picks, n), picks)


@th.no_grad()
def _draw(
    scores: th.Tensor,
    temperature: th.Tensor,
    k: int,
    context: SetContext | None,
    greedy: bool,
) -> Walk:
    """Picks ``(B, k)``, sampled (Gumbel-max) or greedy, with their log-probability and a
    function that returns their chain-rule entropy (no gradient; computed only when asked for:
    a rollout never needs it, and its ``exp`` over ``(B, k, C)`` was ≈ 7 % of a draw).

    Without a set context the logits do not change between steps, and the top-k of
    Gumbel-perturbed logits is an exact Plackett–Luce sample, so one top-k does; with one, each
    step draws afresh.  The step loop does only what depends on the previous pick: the Gumbel
    noise of all k steps is drawn at once (the same stream as k draws of ``(B, C)``), the
    pairwise similarities ``z_i · z_p`` are one batched matmul up front, picked candidates get
    the logit TAKEN_LOGIT in place, and log-probability and entropy are summed after the loop.
    """
    logits = scores / temperature[:, None]
    if context is None:
        if not greedy:
            logits = logits + _gumbel(logits)
        picks = th.topk(logits, k, dim=1).indices
        log_prob, entropy = _teacher_forced(scores, temperature, None, picks)
        return picks, log_prob, lambda: entropy
    batch, n = scores.shape
    # Row b's candidate c sits at flat row b·n + c: one index_select per pick, several times
    # cheaper per call than advanced indexing on these small tensors.
    offsets = th.arange(batch, device=scores.device) * n
    features = context.features.reshape(batch * n, -1)
    noise = None if greedy else _gumbel(scores.new_empty(k, batch, n))
    similarity = th.bmm(context.unit, context.unit.transpose(1, 2)).reshape(batch * n, n)
    gain = (context.gain / temperature)[:, None]
    inv_tau = (1.0 / temperature)[:, None]
    feature_sum = context.features.new_zeros(batch, context.features.shape[-1])
    max_sim = scores.new_zeros(batch, n)
    chosen: list[th.Tensor] = []
    steps: list[th.Tensor] = []
    for j in range(k):
        step = logits
        if j > 0:
            key = context.key(feature_sum / j) * inv_tau  # (B, e): mean v of the picks, / τ
            step = context.query_scores(logits[:, None, :], key[:, None, :]).squeeze(1)
            step = step.addcmul_(gain, max_sim)
        logp = th.log_softmax(step, dim=1)
        pick = (logp if noise is None else logp + noise[j]).argmax(dim=1)
        steps.append(logp)
        chosen.append(pick)
        if j + 1 < k:
            logits.scatter_(1, pick[:, None], TAKEN_LOGIT)
            flat = pick + offsets
            feature_sum += features.index_select(0, flat)
            sim = similarity.index_select(0, flat)
            max_sim = sim if j == 0 else th.maximum(max_sim, sim)
    picks = th.stack(chosen, dim=1)
    logp = th.stack(steps, dim=1)  # (B, k, C), ≈ TAKEN_LOGIT where taken
    return picks, _picked_log_prob(logp, picks), partial(_chain_entropy, logp)


def _gumbel(like: th.Tensor) -> th.Tensor:
    return -th.log(-th.log(th.rand_like(like).clamp_(1e-20, 1.0)))


def slate_walk(
    scores: th.Tensor,
    temperature: th.Tensor,
    k: int,
    context: SetContext | None = None,
    picks: th.Tensor | None = None,
    greedy: bool = False,
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """``(picks (B, k), log-prob (B,), chain-rule entropy (B,))`` of ordered slates.

    With ``picks`` given they are evaluated (the log-probability of that ordered slate);
    otherwise the picks are sampled (Gumbel-max from torch's global generator) or, with
    ``greedy``, taken by sequential argmax, then evaluated.
    """
    picks, log_prob, entropy = _lazy_walk(scores, temperature, k, context, picks, greedy)
    return picks, log_prob, entropy()


def _lazy_walk(
    scores: th.Tensor,
    temperature: th.Tensor,
    k: int,
    context: SetContext | None,
    picks: th.Tensor | None,
    greedy: bool,
) -> Walk:
    """:func:`slate_walk` with the entropy as a function, evaluated only when called."""
    if picks is None:
        if not th.is_grad_enabled():
            return _draw(scores, temperature, k, context, greedy)  # a rollout: one pass
        picks = _draw(scores, temperature, k, context, greedy)[0]
    log_prob, entropy = _teacher_forced(scores, temperature, context, picks)
    return picks, log_prob, lambda: entropy


class PlackettLuceDistribution(Distribution):
    """SB3 :class:`~stable_baselines3.common.distributions.Distribution` of ordered slates of
    ``slate_size`` out of ``n_candidates``, as encoded actions (see the module docstring).

    Parameters
    ----------
    n_candidates:
        C, the width of the env's action.
    slate_size:
        k, the number of picks.
    """

    def __init__(self, n_candidates: int, slate_size: int) -> None:
        super().__init__()
        if not 1 <= slate_size <= n_candidates:
            raise ValueError(f"slate_size: must be in [1, {n_candidates}], got {slate_size}")
        self.n_candidates = n_candidates
        self.slate_size = slate_size
        self.scores: th.Tensor | None = None
        self.temperature: th.Tensor | None = None
        self.context: SetContext | None = None
        # The walk that produced the last sampled/evaluated actions: log_prob of those very
        # actions (SB3's forward asks right after sampling) reuses it instead of walking again;
        # its entropy is computed only if asked for (PPO's update does, a rollout does not).
        self._last: Walk | None = None

    def proba_distribution_net(self, *args: object, **kwargs: object) -> nn.Module:
        """Unused: :class:`~divrec_rl.agents.pl_policy.PlackettLucePolicy`'s network emits the
        scores, temperature and set context itself."""
        return nn.Identity()

    def proba_distribution(
        self,
        scores: th.Tensor,
        temperature: th.Tensor,
        context: SetContext | None = None,
    ) -> PlackettLuceDistribution:
        """Set the parameters: scores ``(B, C)``, temperature ``(B,)`` > 0, optional context."""
        self.scores, self.temperature, self.context = scores, temperature, context
        self._last = None
        return self

    def _walk(self, picks: th.Tensor | None = None, greedy: bool = False) -> Walk:
        assert self.scores is not None and self.temperature is not None
        return _lazy_walk(
            self.scores, self.temperature, self.slate_size, self.context, picks, greedy
        )

    def _actions_of(self, walk: Walk) -> th.Tensor:
        actions = encode_slate(walk[0], self.n_candidates)
        self._last = (actions, walk[1], walk[2])
        return actions

    def sample(self) -> th.Tensor:
        """Encoded actions of sampled slates ``(B, C)``."""
        return self._actions_of(self._walk())

    def mode(self) -> th.Tensor:
        """Encoded actions of the greedy slates (sequential argmax)."""
        return self._actions_of(self._walk(greedy=True))

    def log_prob(self, actions: th.Tensor) -> th.Tensor:
        """Exact log-probability ``(B,)`` of the ordered slates the actions encode."""
        if self._last is not None and actions is self._last[0]:
            return self._last[1]
        walk = self._walk(picks=decode_slate(actions, self.slate_size))
        self._last = (actions, walk[1], walk[2])
        return walk[1]

    def entropy(self) -> th.Tensor:
        """Chain-rule entropy estimate ``(B,)`` along the prefix of the last sampled or evaluated
        actions (a fresh sample when there is none; see the module docstring)."""
        if self._last is None:
            self.sample()
        assert self._last is not None
        return self._last[2]()

    def actions_from_params(
        self,
        scores: th.Tensor,
        temperature: th.Tensor,
        context: SetContext | None = None,
        deterministic: bool = False,
    ) -> th.Tensor:
        """Set the parameters and return (sampled or greedy) encoded actions."""
        self.proba_distribution(scores, temperature, context)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(
        self, scores: th.Tensor, temperature: th.Tensor, context: SetContext | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """Sampled encoded actions and their log-probabilities."""
        actions = self.actions_from_params(scores, temperature, context)
        return actions, self.log_prob(actions)
