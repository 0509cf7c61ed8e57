"""The two towers (torch).

Item tower (``item_tower``): ``hybrid`` (default) ``e_i = normalise(P·pool(text_i) + q_i)``, the
text vector of the encoder (frozen bottom, fine-tuned top, mean pool, linear ``P``) plus a learned
item-ID offset ``q_i`` that starts at zero and is weight-decayed, so an item with few
interactions keeps its text prior and a well-rated one moves where its ratings put it; ``text``
drops ``q``; ``id`` drops the text (``e_i = normalise(q_i)``, random start); ``hybrid-unit``
``e_i = normalise(normalise(P·pool(text_i)) + q_i)`` is ``hybrid`` with a unit text part, so the
text part cannot outgrow the offsets (``q`` zero at the start, as in ``hybrid``).  Item biases come
from ``[e_i, z_i]`` with ``z_i`` the item's training statistics.

User tower: two summaries of the history and static features ``x_u``

* ``θ_u = normalise(Σ_{j ∈ history} e_j)`` -- long-term taste, the simulator's hidden interest;
* ``ρ_u = Σ_{age a < L} (1−δ)·δ^a·e_(a)`` -- recency, ``e_(a)`` the item consumed ``a`` items ago:
  exactly the exponential moving average ``ρ ← δ·ρ + (1−δ)·e`` that the simulator keeps as the
  user's observed history (``state.history``, ``users.history_decay`` = δ), so a simulated user's
  state is updated in O(d) per consumed item and equals this batch formula;

    attraction   a_ui = (A θ_u + R_A ρ_u + g_A(x_u)) · e_i + b_A(e_i, z_i)
    satisfaction s_ui = (S θ_u + R_S ρ_u + g_S(x_u)) · e_i + b_S(e_i, z_i)

``A``, ``S``, ``R_A``, ``R_S`` are learned d×d matrices (``R`` start at zero: the model starts as
the mean-history model and learns how much recency to read), ``g`` a small MLP.  Both logits are
*linear in θ and ρ*, so after training every item-side quantity (``e``, ``Aᵀe``, ``R_Aᵀe``,
``Sᵀe``, ``R_Sᵀe``, biases) and every user-feature term is tabulated (:func:`runtime_tables`)
and a simulation step is a small product on cached vectors -- the transformer never runs per step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from divrec_rl.bert.encoder import ItemEncoder
from divrec_rl.bert.settings import HYBRID_TOWERS


class TwoTowerModel(nn.Module):
    """Fine-tuned text tower + history/feature user tower with attraction and satisfaction heads.

    Parameters
    ----------
    encoder:
        The :class:`ItemEncoder` (its top layers are the fine-tuned part).
    dim:
        Dimension d of item and user vectors.
    n_user_features:
        F, size of the static user feature vector.
    n_item_features:
        Size of the item statistics vector ``z``.
    feature_hidden:
        Hidden units of the user-feature MLP.
    """

    def __init__(
        self,
        encoder: ItemEncoder,
        dim: int,
        n_user_features: int,
        n_item_features: int,
        feature_hidden: int,
        n_items: int = 0,
        item_tower: str = "text",
        n_users: int = 0,
        user_id: bool = False,
        id_shrinkage: float = 0.0,
    ) -> None:
        super().__init__()
        if item_tower not in ("hybrid", "hybrid-unit", "text", "id"):
            raise ValueError(
                f"item_tower: must be hybrid, hybrid-unit, text or id, got {item_tower!r}"
            )
        if item_tower != "text" and n_items < 1:
            raise ValueError(f"n_items: item_tower {item_tower!r} needs n_items ≥ 1")
        self.encoder = encoder
        self.dim = dim
        self.item_tower = item_tower
        self.proj = nn.Linear(encoder.hidden_size, dim)
        self.item_id: nn.Embedding | None = None
        if item_tower != "text":
            self.item_id = nn.Embedding(n_items, dim)
            with torch.no_grad():
                if item_tower in HYBRID_TOWERS:
                    self.item_id.weight.zero_()  # the text vector is the prior
                else:
                    self.item_id.weight.normal_(0.0, dim**-0.5)
        # Per-item gate n_i / (n_i + κ) on the hybrid towers' ID offset (see offset_gates):
        # part of the state, so a checkpoint carries the counts it was trained with.
        self.offset_gate: torch.Tensor | None
        if id_shrinkage > 0 and item_tower in HYBRID_TOWERS:
            self.register_buffer("offset_gate", torch.ones(n_items))
        else:
            self.offset_gate = None
        self.theta_attr = nn.Linear(dim, dim, bias=False)
        self.theta_sat = nn.Linear(dim, dim, bias=False)
        self.recent_attr = nn.Linear(dim, dim, bias=False)
        self.recent_sat = nn.Linear(dim, dim, bias=False)
        with torch.no_grad():
            self.recent_attr.weight.zero_()
            self.recent_sat.weight.zero_()
        # θ and e are unit vectors: start from a scaled identity so the initial logit is a
        # cosine with a useful range.
        with torch.no_grad():
            self.theta_attr.weight.copy_(2.0 * torch.eye(dim))
            self.theta_sat.weight.copy_(1.0 * torch.eye(dim))
        self.user_mlp = nn.Sequential(
            nn.Linear(max(n_user_features, 1), feature_hidden),
            nn.GELU(),
            nn.Linear(feature_hidden, 2 * dim),
        )
        with torch.no_grad():
            self.user_mlp[-1].weight.mul_(0.1)
            self.user_mlp[-1].bias.zero_()
        self.item_bias = nn.Linear(dim + n_item_features, 2)
        self.n_user_features = n_user_features
        # Per-user ID offsets of the attraction and satisfaction feature terms, zero at the
        # start (the features are the prior, as the text vector is for items).
        self.user_id: nn.Embedding | None = None
        if user_id:
            if n_users < 1:
                raise ValueError("n_users: user_id offsets need n_users ≥ 1")
            self.user_id = nn.Embedding(n_users, 2 * dim)
            with torch.no_grad():
                self.user_id.weight.zero_()

    def head_parameters(self) -> list[nn.Parameter]:
        """Everything trained that is not the encoder."""
        enc = {id(p) for p in self.encoder.parameters()}
        return [p for p in self.parameters() if id(p) not in enc]

    def id_parameters(self) -> list[nn.Parameter]:
        """The item-ID and user-ID offset tables that this model has (possibly none)."""
        return [table.weight for table in (self.item_id, self.user_id) if table is not None]

    def item_vectors(
        self,
        pooled: torch.Tensor,
        items: torch.Tensor | None = None,
        keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Unit item vectors ``e`` ``(B, d)`` from pooled encoder outputs ``(B, H)`` of the
        items ``items (B,)`` (catalogue rows; ``None`` = all items in order).  ``keep`` ``(M,)``
        (training only, ``id_dropout``): 1 where an item's ID offset takes part, 0 where the
        item is scored from its text alone this step."""
        if self.item_id is None:
            return functional.normalize(self.proj(pooled), dim=-1)
        if items is None:
            items = torch.arange(pooled.shape[0], device=pooled.device)
        q = self.item_id(items)
        if self.offset_gate is not None:
            q = q * self.offset_gate[items, None]
        if keep is not None:
            q = q * keep[items, None]
        if self.item_tower == "id":
            v = q
        elif self.item_tower == "hybrid-unit":
            v = functional.normalize(self.proj(pooled), dim=-1) + q
        else:
            v = self.proj(pooled) + q
        return functional.normalize(v, dim=-1)

    def item_biases(self, e: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``(B, 2)``: attraction and satisfaction biases."""
        return self.item_bias(torch.cat([e, z], dim=-1))

    def feature_terms(
        self, x: torch.Tensor, users: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g_A(x) + p_A[u], g_S(x) + p_S[u])``, each ``(B, d)``: the feature MLP plus, with
        ``user_id`` offsets, user ``u``'s own (none for ``users = None``)."""
        if self.n_user_features == 0:
            x = torch.zeros((x.shape[0], 1), dtype=torch.float32, device=x.device)
        g = self.user_mlp(x)
        if self.user_id is not None and users is not None:
            g = g + self.user_id(users)
        return g[:, : self.dim], g[:, self.dim :]

    def user_vectors(
        self,
        theta: torch.Tensor,
        rho: torch.Tensor,
        x: torch.Tensor,
        users: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A θ + R_A ρ + g_A, S θ + R_S ρ + g_S)``, each ``(B, d)``, with the feature terms
        ``g`` of :meth:`feature_terms`."""
        g_attr, g_sat = self.feature_terms(x, users)
        attr = self.theta_attr(theta) + self.recent_attr(rho) + g_attr
        return attr, self.theta_sat(theta) + self.recent_sat(rho) + g_sat


@torch.no_grad()
def runtime_tables(
    model: TwoTowerModel,
    pooled: torch.Tensor,
    item_features: np.ndarray,
    user_features: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every quantity a simulation step needs, as float32 numpy arrays.

    ``item_vectors`` e ``(M, d)`` unit rows; ``item_attr`` = ``e Wᴀ`` (so ``θ·item_attr_i`` =
    ``(A θ)·e_i``) and ``item_sat`` = ``e Wꜱ``; ``item_attr_recent``/``item_sat_recent`` the
    same for ``R_A``/``R_S`` (read with ρ); ``attr_bias``/``sat_bias`` ``(M,)``;
    ``user_attr``/``user_sat`` ``(U + 1, d)`` the feature terms of every user (with their ID
    offsets, if any), the last row for the mean feature vector and no offset (users without a
    dataset row, ``user_index = -1``);
    ``user_features`` ``(U, F)``.
    """
    model.eval()
    device = next(model.parameters()).device
    e = model.item_vectors(pooled.to(device))  # all items, in catalogue order
    z = torch.as_tensor(item_features, dtype=torch.float32, device=device)
    bias = model.item_biases(e, z)
    x = torch.as_tensor(user_features, dtype=torch.float32, device=device)
    # Users 0..U−1 with their ID offsets, then the mean-feature row (no dataset row, no offset).
    per_user = model.feature_terms(x, torch.arange(len(x), device=device))
    mean_user = model.feature_terms(x.mean(dim=0, keepdim=True))
    g_attr, g_sat = (torch.cat(rows) for rows in zip(per_user, mean_user, strict=True))
    out = {
        "item_vectors": e,
        "item_attr": e @ model.theta_attr.weight,
        "item_sat": e @ model.theta_sat.weight,
        "item_attr_recent": e @ model.recent_attr.weight,
        "item_sat_recent": e @ model.recent_sat.weight,
        "attr_bias": bias[:, 0],
        "sat_bias": bias[:, 1],
        "user_attr": g_attr,
        "user_sat": g_sat,
    }
    tables = {k: v.detach().float().cpu().numpy().copy() for k, v in out.items()}
    tables["user_features"] = np.asarray(user_features, dtype=np.float32).copy()
    return tables


def offset_gates(counts: np.ndarray, shrinkage: float) -> torch.Tensor:
    """``n_i / (n_i + κ)`` ``(M,)`` for fit-period rating counts ``n_i`` and ``κ = shrinkage``
    > 0: the weight of item i's ID offset in a hybrid tower, so an item with few ratings keeps
    its text vector (n = 0 → 0; n = κ → ½; n ≫ κ → 1), whatever its offset learned from them."""
    n = torch.as_tensor(np.asarray(counts, dtype=np.float64))
    return (n / (n + shrinkage)).to(torch.float32)
