"""Interoperability with other recommendation simulators.

* :mod:`divrec_rl.interop.recsim_ng` — side-by-side statistics of RecSim NG's interest-evolution
  user and our ``interest-evolution`` scenario on the same configuration (RecSim NG runs in its
  own environment, ``scripts/recsim_ng/setup.sh``).
"""
