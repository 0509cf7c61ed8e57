"""Reward mixing ``engagement + λ · ILD(slate)``: each diversity kind against a hand case, λ's
checks with their whole messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from divrec_rl.reward import (
    DIVERSITY_KINDS,
    MAX_DIVERSITY_WEIGHT,
    check_diversity_weight,
    mix_reward,
    slate_diversity,
)

# Two slates of k = 3.  Slate 0: unit vectors e1, e1, e2 → cosines (1, 0, 0), ILD 1 − 1/3;
# categories A, A, B → one of three pairs shares a category, category ILD 2/3.
# Slate 1: e1, −e1, e2 → cosines (−1, 0, 0), ILD 1 + 1/3; categories A, B, C → 1.
E1, E2 = [1.0, 0.0], [0.0, 1.0]
VECTORS = np.array([[E1, E1, E2], [E1, [-1.0, 0.0], E2]])
CATEGORIES = np.array(
    [
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ]
)


def test_diversity_kinds_by_hand() -> None:
    assert DIVERSITY_KINDS == ("ild_embedding", "ild_category")
    emb = slate_diversity("ild_embedding", VECTORS, CATEGORIES)
    np.testing.assert_allclose(emb, [2 / 3, 4 / 3])
    cat = slate_diversity("ild_category", VECTORS, CATEGORIES)
    np.testing.assert_allclose(cat, [2 / 3, 1.0])


def test_unknown_kind_names_the_field_and_the_kinds() -> None:
    with pytest.raises(ValueError) as err:
        slate_diversity("ild", VECTORS, CATEGORIES)
    assert str(err.value) == (
        "reward.diversity: must be one of ild_embedding, ild_category, got 'ild'"
    )


def test_mix_reward_is_engagement_plus_lambda_times_diversity() -> None:
    eng = np.array([0.5, 0.0, 1.0])
    div = np.array([0.25, 2.0, 0.0])
    assert mix_reward(eng, div, 0.0).tolist() == [0.5, 0.0, 1.0]
    assert mix_reward(eng, div, 2.0).tolist() == [1.0, 4.0, 1.0]


@pytest.mark.parametrize(
    ("value", "want"),
    [(None, None), (0, 0.0), (100, 100.0), (np.float32(0.25), 0.25), (np.int64(3), 3.0)],
)
def test_accepted_weights(value: object, want: float | None) -> None:
    got = check_diversity_weight(value)
    assert got == want and (got is None or type(got) is float)


ALLOWED = "diversity_weight: must be a number in [0, 100] or None, got "


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, TypeError),
        (np.bool_(False), TypeError),
        ("0.5", TypeError),
        ([0.5], TypeError),
        (-0.001, ValueError),
        (100.5, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
    ],
)
def test_refused_weights_name_the_argument(value: object, error: type[Exception]) -> None:
    assert MAX_DIVERSITY_WEIGHT == 100.0
    with pytest.raises(error) as err:
        check_diversity_weight(value)
    assert str(err.value) == ALLOWED + repr(value)
