"""Shared fixtures: small, fast scenarios."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}


@pytest.fixture
def small_overrides() -> dict:
    """A synthetic shop small enough for property tests."""
    return {k: dict(v) for k, v in SMALL.items()}


@pytest.fixture(autouse=True)
def _isolated_parts() -> Iterator[None]:
    """Parts a test registers (decorators, ``--import``ed plug-ins) are forgotten after it, so
    tests share no hidden registry state; registrations made at collection time stay."""
    from divrec_rl.parts import isolated_parts

    with isolated_parts():
        yield
