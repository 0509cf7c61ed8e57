"""Interoperability with other recommendation simulators.

* :mod:`divrec_rl.interop.recsim_ng` — side-by-side statistics of RecSim NG's interest-evolution
  user and our ``interest-evolution`` scenario on the same configuration (RecSim NG runs in its
  own environment, ``scripts/recsim_ng/setup.sh``); it runs both sides and re-exports the rest:
* :mod:`divrec_rl.interop.recsim_ng_scenario` — our scenario derived from a RecSim NG
  configuration, and the model differences it cannot match;
* :mod:`divrec_rl.interop.recsim_ng_stats` — the configuration schema and the statistics, numpy
  only (the RecSim NG runner loads it by path);
* :mod:`divrec_rl.interop.recsim_ng_report` — the comparison tables, plot and report files.
"""
