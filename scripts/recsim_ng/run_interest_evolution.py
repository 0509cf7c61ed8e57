"""Run RecSim NG's interest-evolution user under a fixed policy and write per-step statistics.

Runs inside the separate ``.venv-recsim`` environment (``scripts/recsim_ng/setup.sh``), which
has neither divrec_rl's dependencies nor numpy 2, so it never imports the ``divrec_rl`` package.
It loads one file of it by path, ``divrec_rl/interop/recsim_ng_stats.py`` (standard library and
numpy only): the configuration schema and the statistics, the same code the comparison in
``divrec_rl.interop.recsim_ng`` uses.  It also works on its own::

    .venv-recsim/bin/python scripts/recsim_ng/run_interest_evolution.py --out DIR \\
        [--config FILE.json] [--num-users N] [--num-topics T] [--num-docs D] [--slate-size K] \\
        [--horizon H] [--seed S] [--policies random,greedy]

The simulation is RecSim NG's own ``recs_story`` network with its own entities, as assembled by
``recsys_partially_observable_rl.simulation_config`` (which hard-codes ``slate_size=2`` and a
learned collaborative-filtering recommender; here the slate size is configurable and the
recommender is a fixed policy):

* user — ``InterestEvolutionUser`` (interest ``θ ∈ R^T`` drawn from N(0, I); affinity
  ``−‖θ − f_d‖``; multinomial-logit choice over ``affinity + 2`` with a no-click logit 0;
  consumed time ``σ(−q_d)·length_d``; after a click ``θ ← squash(θ + 0.1·q_d·(f_d − θ))``).
  The only change is :class:`ObservedInterestUser`, which *observes* its interest so the greedy
  oracle policy can read it; the dynamics are untouched.
* corpus — ``StaticCorpus`` over ``CorpusWithTopicAndQuality`` (uniform topics; quality
  ``N(μ_topic, 0.1)`` with 70 % "trashy" topics ``μ ∈ [−1, 0]``; features ``N(onehot, 0.7)``;
  length 2).
* metrics — ``ConsumedTimeAsRewardMetrics``.
* policies — ``random``: a uniformly random slate of distinct documents (the top-k of i.i.d.
  uniform keys, stateless and seeded by (seed, step): RecSim NG's own
  ``IteratedMultinomialLogitChoiceModel`` draws the same distribution but seeds itself statefully,
  and under graph compilation a few steps came out different from run to run); ``greedy``: the
  myopic oracle, the top-k documents by the user's true affinity ``−‖θ − f_d‖`` (the click logit
  up to a constant).

Outputs (written atomically: a temporary file, then a rename), in ``--out``:

* ``recsim_ng_stats.json`` — the configuration, versions and, per policy, the statistics of
  ``recsim_ng_stats.statistics`` (their definitions are in that module);
* ``recsim_ng_raw_<policy>.npz`` — the per-(user, step) arrays the statistics are computed from
  (``active``, ``clicked``, ``topic``, ``engagement``, ``quality_z``, ``slate_topics``,
  ``interest``, and a few more for inspection).

Here the engagement of a click is the consumed fraction ``consumed_time / doc_length = σ(−q)``
∈ [0, 1], a topic is ``doc_topic``, quality is standardised with the corpus's mean and standard
deviation, and every user is stepped for the whole horizon (RecSim NG users never leave).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "divrec_rl" / "interop" / "recsim_ng_stats.py"


def load_shared(path: Path = SHARED) -> ModuleType:
    """``divrec_rl/interop/recsim_ng_stats.py`` as the module ``recsim_ng_stats``, loaded by path
    so that the ``divrec_rl`` package (and its dependencies) is never imported here."""
    spec = importlib.util.spec_from_file_location("recsim_ng_stats", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


shared = load_shared()


# ------------------------------------------------------------------------------------------
# RecSim NG network
# ------------------------------------------------------------------------------------------


def build_network(cfg: dict[str, Any], policy: str) -> tuple[Any, Any]:
    """RecSim NG's ``recs_story`` with the interest-evolution user, corpus and metrics, plus a
    fixed-policy recommender; returns ``(tf_runtime, network variables)``."""
    import edward2 as ed
    import tensorflow as tf
    from gym import spaces
    from recsim_ng.applications.recsys_partially_observable_rl import corpus as corpus_lib
    from recsim_ng.applications.recsys_partially_observable_rl import metrics as metrics_lib
    from recsim_ng.applications.recsys_partially_observable_rl import user as user_lib
    from recsim_ng.core import network as network_lib
    from recsim_ng.core import value
    from recsim_ng.entities.recommendation import recommender as recommender_lib
    from recsim_ng.lib.tensorflow import field_spec, runtime
    from recsim_ng.stories import recommendation_simulation as story

    Value, ValueSpec, Space = value.Value, value.ValueSpec, field_spec.Space
    n_users, n_docs, k = cfg["num_users"], cfg["num_docs"], cfg["slate_size"]

    class ObservedInterestUser(user_lib.InterestEvolutionUser):
        """``InterestEvolutionUser`` whose observation is its interest (dynamics unchanged)."""

        def observation(self, user_state: Any) -> Any:
            return Value(interest=tf.identity(user_state.get("interest.state")))

        def specs(self) -> Any:
            obs = ValueSpec(interest=user_lib.tensor_space(shape=(n_users, self._num_topics)))
            return super().specs().union(obs.prefixed_with("observation"))

    class FixedPolicyRecommender(recommender_lib.BaseRecommender):
        """``random``: uniform slate without replacement; ``greedy``: top-k true affinity."""

        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__(config, name="Recommender")

        def initial_state(self) -> Any:
            return Value(step=ed.Deterministic(loc=tf.zeros(n_users)))

        def next_state(self, previous_state: Any, user_response: Any, slate_docs: Any) -> Any:
            del user_response, slate_docs
            return Value(step=ed.Deterministic(loc=previous_state.get("step") + 1.0))

        def slate_docs(self, previous_state: Any, user_obs: Any, available_docs: Any) -> Any:
            idx = slate_indices(cfg, policy, previous_state, user_obs, available_docs)
            slate = available_docs.map(lambda field: tf.gather(field, idx))
            return slate.union(Value(doc_index=idx))

        def specs(self) -> Any:
            box = lambda shape: Space(spaces.Box(-np.inf, np.inf, shape=shape))  # noqa: E731
            slate = ValueSpec(
                doc_index=box((n_users, k)),
                doc_id=box((n_users, k)),
                doc_topic=box((n_users, k)),
                doc_quality=box((n_users, k)),
                doc_features=box((n_users, k, cfg["num_topics"])),
                doc_length=box((n_users, k)),
            )
            state = ValueSpec(step=box((n_users,)))
            return state.prefixed_with("state").union(slate.prefixed_with("slate"))

    config = {
        "num_users": n_users,
        "num_topics": cfg["num_topics"],
        "num_docs": n_docs,
        "slate_size": k,
        "history_length": 1,
    }
    corpus_state = corpus_lib.CorpusWithTopicAndQuality(config).initial_state()
    variables = story.recs_story(
        config,
        ObservedInterestUser,
        lambda c: corpus_lib.StaticCorpus(c, corpus_state),
        FixedPolicyRecommender,
        metrics_lib.ConsumedTimeAsRewardMetrics,
    )
    network = network_lib.Network(variables=variables)
    return runtime.TFRuntime(network=network, graph_compile=True), variables


def slate_indices(
    cfg: dict[str, Any], policy: str, previous_state: Any, user_obs: Any, available_docs: Any
) -> Any:
    """Document indices ``(num_users, slate_size)`` (int32) of the fixed policy's slates.

    ``random``: uniform without replacement, the top-k of i.i.d. uniform keys; ``greedy``: the
    top-k documents by the user's true affinity ``−‖θ − f_d‖``.
    """
    import tensorflow as tf

    n_users, n_docs, k = cfg["num_users"], cfg["num_docs"], cfg["slate_size"]
    if policy == "random":
        # Stateless keys seeded by (seed, step), because RecSim NG's
        # IteratedMultinomialLogitChoiceModel seeds itself statefully and is not reproducible
        # from run to run.
        step = tf.cast(previous_state.get("step")[0], tf.int32)
        seed = tf.stack([tf.constant(cfg["seed"], tf.int32), step])
        keys = tf.random.stateless_uniform((n_users, n_docs), seed=seed)
        idx = tf.math.top_k(keys, k=k).indices
    else:
        theta = user_obs.get("interest")[:, None, :]
        feats = available_docs.get("doc_features")[None, :, :]
        affinity = -tf.norm(theta - feats, axis=-1)
        idx = tf.math.top_k(affinity, k=k).indices
    return tf.cast(idx, tf.int32)


def simulate(cfg: dict[str, Any], policy: str) -> dict[str, np.ndarray]:
    """One run of ``horizon`` steps; the per-(user, step) arrays of the statistics."""
    import tensorflow as tf

    tf.random.set_seed(cfg["seed"])
    tf_runtime, _ = build_network(cfg, policy)
    h = cfg["horizon"]
    traj = tf_runtime.trajectory(length=h + 1)  # states 0..H: H responses and the final interest
    slate = traj["slate docs"]
    response = traj["user response"]
    docs = traj["available docs"]
    choice = response.get("choice").numpy()[:h].T  # (U, H), k = no click
    k = cfg["slate_size"]
    clicked = choice < k
    pick = np.minimum(choice, k - 1)
    slate_topics = np.transpose(slate.get("doc_topic").numpy()[:h], (1, 0, 2))
    slate_quality = np.transpose(slate.get("doc_quality").numpy()[:h], (1, 0, 2))
    slate_length = np.transpose(slate.get("doc_length").numpy()[:h], (1, 0, 2))
    rows = np.arange(choice.shape[0])[:, None]
    cols = np.arange(h)[None, :]
    consumed = response.get("consumed_time").numpy()[:h].T.astype(np.float64)
    length = slate_length[rows, cols, pick].astype(np.float64)
    quality = slate_quality[rows, cols, pick].astype(np.float64)
    all_quality = docs.get("doc_quality").numpy()[0].astype(np.float64)
    q_mean, q_std = float(all_quality.mean()), float(all_quality.std()) or 1.0
    interest = np.transpose(traj["user state"].get("interest.state").numpy(), (1, 0, 2))
    return {
        "active": np.ones_like(clicked),
        "clicked": clicked,
        "topic": np.where(clicked, slate_topics[rows, cols, pick], -1).astype(np.int64),
        "engagement": np.where(clicked, consumed / np.where(length > 0, length, 1.0), 0.0),
        "consumed_time": np.where(clicked, consumed, 0.0),
        "quality_z": np.where(clicked, (quality - q_mean) / q_std, np.nan),
        "slate_topics": slate_topics.astype(np.int64),
        "slate_items": np.transpose(slate.get("doc_index").numpy()[:h], (1, 0, 2)).astype(np.int64),
        "interest": interest.astype(np.float64),
        "catalog_quality": all_quality.astype(np.float64),
        "catalog_topic": docs.get("doc_topic").numpy()[0].astype(np.int64),
    }


# ------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``numpy.savez_compressed`` through :func:`atomic_write_bytes`."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def versions() -> dict[str, str]:
    """Versions of the packages the run depended on."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in (
        "recsim-ng",
        "tensorflow-cpu",
        "tensorflow",
        "tensorflow-probability",
        "edward2",
        "numpy",
        "scipy",
        "jax",
        "gym",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run(cfg: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Simulate every policy, write the raw arrays and the statistics; return the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "simulator": "recsim-ng interest-evolution",
        "config": cfg,
        "user_model": {
            "entity": "recsys_partially_observable_rl.user.InterestEvolutionUser",
            "affinity": "negative_euclidean, choice logits affinity + 2",
            "no_click_logit": 0.0,
            "interest_step_size": 0.1,
            "max_user_affinity": 10.0,
            "time_budget": None,
        },
        "versions": versions(),
        "policies": {},
    }
    for policy in cfg["policies"]:
        start = time.perf_counter()
        raw = simulate(cfg, policy)
        log = shared.StepLog(**{f: raw[f] for f in shared.StepLog.FIELDS}).validate()
        stats = shared.statistics(log, cfg["num_topics"])
        stats["seconds"] = round(time.perf_counter() - start, 2)
        stats["consumed_time_per_step"] = float(raw["consumed_time"].mean())
        report["policies"][policy] = stats
        atomic_write_npz(out_dir / f"recsim_ng_raw_{policy}.npz", raw)
    text = json.dumps(report, indent=1, allow_nan=False)
    atomic_write_bytes(out_dir / "recsim_ng_stats.json", text.encode("utf-8"))
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags; every configuration flag overrides the ``--config`` file."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="Output directory.")
    p.add_argument("--config", help="JSON file of configuration fields.")
    for name in shared.INT_BOUNDS:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None)
    p.add_argument("--policies", default=None, help="Comma-separated: random,greedy.")
    return p.parse_args(argv)


def cpu_only() -> None:
    """Hide every accelerator from TensorFlow and JAX (set before they are imported)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad configuration → one ``error:`` line and exit code 2."""
    cpu_only()
    args = parse_args(argv)
    names = (*shared.INT_BOUNDS, "policies")
    flags = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    try:
        if args.config:
            cfg = shared.load_config(args.config, flags).to_json()
        else:
            cfg = shared.parse_config(flags).to_json()
    except shared.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run(cfg, Path(args.out))
    for policy, stats in report["policies"].items():
        s = stats["summary"]
        print(
            f"{policy}: click rate {s['click_rate']:.3f}, engagement/click "
            f"{s['engagement_per_click']:.3f}, topic entropy {s['topic_entropy_bits']:.2f} bits, "
            f"final interest cosine {s['interest_cosine_final']:.3f} ({stats['seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
