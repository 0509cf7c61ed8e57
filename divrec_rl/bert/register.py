"""Registers the MovieLens catalogue sources, the ``movielens`` population and the ``bert``
response model.  Imported at the end of :mod:`divrec_rl.scenario`; cheap, because
:mod:`divrec_rl.bert.sources` imports the data layer and safetensors only when a scenario uses
them, and torch never."""

from __future__ import annotations

from divrec_rl.bert.sources import (
    MOVIELENS_SOURCES,
    bert_response,
    movielens_catalog,
    movielens_population,
)
from divrec_rl.scenario import CATALOG_SOURCES, POPULATIONS, RESPONSE_MODELS

for _name in MOVIELENS_SOURCES:
    CATALOG_SOURCES.register(_name, movielens_catalog)
POPULATIONS.register("movielens", movielens_population)
RESPONSE_MODELS.register("bert", bert_response)
