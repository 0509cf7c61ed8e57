"""Scenario parts backed by MovieLens and a trained user model.

* catalogue sources ``movielens-100k`` / ``movielens-1m``: the movies, their genres (normalised
  multi-hot), rating counts of the user model's fit period as popularity, the user model's item
  vectors as embeddings and its centred satisfaction bias as latent quality;
* population ``movielens``: :class:`~divrec_rl.bert.population.MovieLensPopulation`;
* response model ``bert``: :class:`~divrec_rl.bert.response.BertResponseModel`.

They are declared in :data:`divrec_rl.parts.BUILTIN_PARTS` and imported when a scenario names them.

Where things come from: the dataset is ``catalog.path`` (a directory in a layout
:func:`divrec_rl.data.load_dataset` reads) or, when null, the cached download of the source's
name; the user model is ``response.path`` or, when null, ``$DIVREC_MODELS/<source>`` (default
``~/.cache/divrec_rl/models/<source>``).  Nothing is downloaded or trained implicitly: a missing
dataset or checkpoint is a :class:`~divrec_rl.config.ScenarioError` naming the field, the place
looked at and the command that creates it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.catalog import Catalog
from divrec_rl.config import CatalogConfig, ResponseConfig, ScenarioConfig, ScenarioError

#: Catalogue sources this module provides (also the dataset names of :mod:`divrec_rl.data`).
MOVIELENS_SOURCES = ("movielens-100k", "movielens-1m")
#: Environment variable overriding the default model directory root.
MODELS_ENV_VAR = "DIVREC_MODELS"


def default_models_root() -> Path:
    """``$DIVREC_MODELS`` or ``~/.cache/divrec_rl/models``."""
    env = os.environ.get(MODELS_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "divrec_rl" / "models"


def model_dir(response: ResponseConfig, source: str) -> Path:
    """The checkpoint directory of a scenario: ``response.path`` or the default for ``source``."""
    if response.path:
        return Path(response.path).expanduser()
    return default_models_root() / source


@dataclass(frozen=True)
class MovieLensBundle:
    """Dataset, split and user-model tables of one (dataset, checkpoint) pair."""

    data: Any
    prep: Any
    tables: Any
    checkpoint: dict[str, Any]
    directory: Path


def _require_source(source: str, field: str) -> None:
    if source not in MOVIELENS_SOURCES:
        raise ScenarioError(
            f"field '{field}' needs catalog.source {' or '.join(MOVIELENS_SOURCES)}, got '{source}'"
        )


def _load_data(catalog: CatalogConfig, source: str) -> Any:
    from divrec_rl.data import DataError, dataset_dir, is_fetched, load_dataset

    if catalog.path:
        try:
            return load_dataset(Path(catalog.path).expanduser())
        except DataError as exc:
            raise ScenarioError(f"field 'catalog.path': {' '.join(str(exc).split())}") from None
    if not is_fetched(source):
        if dataset_dir(source).exists():  # there, but a file is missing or altered
            raise ScenarioError(
                f"field 'catalog.source': the cached dataset '{source}' in "
                f"{dataset_dir(source)} fails its checksums (damaged or modified); "
                f"re-download it with `divrec-rl data fetch {source} --force`"
            )
        raise ScenarioError(
            f"field 'catalog.source': dataset '{source}' is not downloaded (looked in "
            f"{dataset_dir(source)}); fetch it with `divrec-rl data fetch {source}`"
        )
    try:
        return load_dataset(source)
    except DataError as exc:
        raise ScenarioError(f"field 'catalog.source': {' '.join(str(exc).split())}") from None


@lru_cache(maxsize=4)
def _bundle(catalog_json: str, source: str, directory: str, stamp: int) -> MovieLensBundle:
    from divrec_rl.bert import checkpoint as ckpt
    from divrec_rl.bert.prepare import prepare_for, same_dataset
    from divrec_rl.bert.settings import TrainConfig

    d = Path(directory)
    try:
        cfg = ckpt.read_config(d)
        tables = ckpt.load_tables(d)
    except ckpt.CheckpointError as exc:
        raise ScenarioError(f"field 'response.path': {exc}") from None
    data = _load_data(CatalogConfig.model_validate_json(catalog_json), source)
    if not same_dataset(cfg["dataset"], data):
        recorded = cfg["dataset"]
        trained = (
            f"'{recorded.get('name')}' ({recorded.get('n_items')} items, "
            f"{recorded.get('n_users')} users)"
        )
        here = f"'{data.name}' ({data.n_items} items, {data.n_users} users)"
        what = (
            f"another version of {here}: the same name and sizes, other item texts or ratings"
            if trained == here
            else f"dataset {trained}, not on the catalogue's {here}"
        )
        raise ScenarioError(
            f"field 'response.path': the user model in {d} was trained on {what}; train one "
            f"with `divrec-rl finetune --dataset {source} --out DIR`"
        )
    prep = prepare_for(data, TrainConfig.from_dict(cfg["train"]))
    return MovieLensBundle(data, prep, tables, cfg, d)


def load_bundle(catalog: CatalogConfig, response: ResponseConfig) -> MovieLensBundle:
    """Dataset + checkpoint of a scenario, validated and cached (see the module docstring)."""
    source = catalog.source
    _require_source(source, "catalog.source")
    d = model_dir(response, source)
    config_file = d / "config.json"
    if not config_file.is_file():
        where = "response.path" if response.path else f"response.path (null: default {d})"
        raise ScenarioError(
            f"field '{where}': no user-model checkpoint in {d} (looked for {config_file}); "
            f"create it with `divrec-rl finetune --dataset {source} --out {d}`"
        )
    return _bundle(catalog.model_dump_json(), source, str(d), config_file.stat().st_mtime_ns)


def genre_weights(data: Any) -> np.ndarray:
    """``(M, C)`` float32 normalised multi-hot genres; genre-less items spread uniformly."""
    g = data.genre_matrix()
    if g.shape[1] == 0:
        return np.ones((g.shape[0], 1), dtype=np.float32)
    s = g.sum(axis=1, keepdims=True)
    return np.where(s > 0, g / np.maximum(s, 1.0), 1.0 / g.shape[1]).astype(np.float32)


def movielens_catalog(catalog: CatalogConfig, response: ResponseConfig) -> Catalog:
    """The ``movielens-*`` catalogue (see the module docstring)."""
    b = load_bundle(catalog, response)
    names = list(b.data.genres) or ["all"]
    quality = b.tables.sat_bias - b.tables.sat_bias.mean()
    return Catalog(
        item_ids=np.arange(b.data.n_items, dtype=np.int64),
        texts=b.data.items["text"].astype(str).tolist(),
        category_names=names,
        category_weights=genre_weights(b.data),
        popularity=b.prep.popularity.astype(np.float64),
        embeddings=np.ascontiguousarray(b.tables.item_vectors, dtype=np.float32).copy(),
        quality=quality.astype(np.float32),
    )


#: How the evaluation report describes the relevant (held-out) items; ``{frac}`` is the test share.
HELD_OUT_RELEVANCE = (
    "the user's real interactions of the temporal test period (the newest {frac} of each user's "
    "ratings, any rating value), which neither the user model nor the simulated user's start "
    "state saw"
)


def movielens_population(catalog: Catalog, config: ScenarioConfig) -> Any:
    """The ``movielens`` population of a scenario with a ``movielens-*`` catalogue.

    Its ``held_out`` (:class:`~divrec_rl.users.heldout.HeldOutItems`) holds each user's
    interactions of the temporal ``test`` period — the user model's own split, so items neither
    the user model nor the simulated user's start state has seen.  Every test-period rating counts
    as relevant, whatever its value (a rating means the user chose to watch the film; the offline
    metrics are about finding what users consume next).
    """
    from divrec_rl.bert.population import MovieLensPopulation
    from divrec_rl.users.heldout import HeldOutItems

    _require_source(config.catalog.source, "users.population")
    b = load_bundle(config.catalog, config.response)
    population = MovieLensPopulation(
        catalog, config.users, b.prep.hist_indptr, b.prep.hist_items, b.tables.user_features
    )
    frac = f"{b.checkpoint['train']['test_frac']:.0%}"
    population.held_out = HeldOutItems.from_frame(
        b.prep.test,
        b.data.n_users,
        catalog.n_items,
        HELD_OUT_RELEVANCE.format(frac=frac),
        {split: len(users) for split, users in population.splits.items()},
    )
    return population


def bert_response(catalog: Catalog, config: ScenarioConfig) -> Any:
    """The ``bert`` response model of a scenario with a ``movielens-*`` catalogue."""
    from divrec_rl.bert.response import BertResponseModel

    _require_source(config.catalog.source, "response.model")
    b = load_bundle(config.catalog, config.response)
    if not np.array_equal(catalog.embeddings, b.tables.item_vectors):
        raise ScenarioError(
            f"field 'response.path': the catalogue's item vectors are not those of {b.directory}"
        )
    if b.tables.uses_recency:
        _check_recency(config, b.checkpoint["train"], b.directory)
    return BertResponseModel(b.tables, catalog, checkpoint_inputs(b))


def checkpoint_inputs(bundle: MovieLensBundle) -> dict[str, str]:
    """The user-model checkpoint of a bundle by identity: its directory, the sha256 of its
    runtime tables (what the simulator reads) and its data set's fingerprint, as its
    ``config.json`` records them."""
    from divrec_rl.bert.checkpoint import TABLES_FILE

    files = bundle.checkpoint.get("files") or {}
    dataset = bundle.checkpoint.get("dataset") or {}
    inputs = {"user_model": str(bundle.directory)}
    if files.get(TABLES_FILE):
        inputs["user_model_tables_sha256"] = str(files[TABLES_FILE])
    if dataset.get("fingerprint"):
        inputs["dataset_fingerprint"] = str(dataset["fingerprint"])
    if dataset.get("ratings_fingerprint"):
        inputs["dataset_ratings_fingerprint"] = str(dataset["ratings_fingerprint"])
    return inputs


def _check_recency(config: ScenarioConfig, train: dict[str, Any], directory: Path) -> None:
    """The user model reads the observed history as its recency summary ρ, so the scenario's
    history EMA must be the one it was trained with."""
    pairs = (("history_decay", "recency_decay"), ("history_length", "recency_length"))
    for field, key in pairs:
        ours, theirs = getattr(config.users, field), train.get(key)
        if ours != theirs:
            raise ScenarioError(
                f"field 'users.{field}': the user model in {directory} reads the history EMA "
                f"it was trained with ({key} = {theirs}); set users.{field}: {theirs}"
            )
