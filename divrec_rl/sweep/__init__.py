"""Training sweeps on Ray Tune (``divrec-rl sweep``): many ordinary PPO runs, one directory.

* :mod:`divrec_rl.sweep.spec` — the sweep file (a typed model, validated before anything runs);
* :mod:`divrec_rl.sweep.layout` — the sweep directory (the only module that knows its layout);
* :mod:`divrec_rl.sweep.trial` — one trial: an ordinary run directory made by the training code,
  reporting ``val/*`` to Tune, resuming from its own checkpoints;
* :mod:`divrec_rl.sweep.results` — ``sweep.csv`` and ``summary.md`` (seed-level intervals, the
  chosen configuration);
* :mod:`divrec_rl.sweep.driver` — starting or joining Ray, running or resuming the Tuner.

Ray is an optional extra (``[ray]``); only :mod:`~divrec_rl.sweep.driver` and
:mod:`~divrec_rl.sweep.trial` import it, inside functions.
"""
