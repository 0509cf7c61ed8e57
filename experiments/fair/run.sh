#!/usr/bin/env bash
# The fair PPO-vs-baseline experiment of docs/evaluation.md ("Results"), one scenario:
#   bash experiments/fair/run.sh SCENARIO [OUT_ROOT]
# SCENARIO names the files used (tune-SCENARIO.yaml, seeds-SCENARIO.yaml, results/SCENARIO), so a
# variant runs the same way: `run.sh movielens-100k-long` is the six-times-longer training budget.
# `run.sh movielens-100k-confirmed` chooses by the mean over three seeds of the tuning's best three
# (tune-movielens-100k-confirmed.yaml's `confirm` stage; docs/sweeps.md).  A scenario of your own:
# copy tune-synthetic-shop-confirmed.yaml to tune-NAME.yaml, set its `scenario:` (a file path is
# relative to the repository root), then `BASELINE_FITS=5 bash experiments/fair/run.sh NAME`.
# 1. tune PPO on validation users (experiments/fair/tune-SCENARIO.yaml: 30 configurations);
# 2. retrain the chosen configuration with training seeds 1-5 (the tuning used seed 0);
# 3. evaluate it with the tuned baseline, the myopic oracle, popularity and random on 5 × 1,000
#    held-out users, with the behaviour cross-check.
# BASELINE_FITS=5 fits and tunes the baseline five times, fit s playing evaluation seed s
# (`evaluate --baseline-fits`; docs/evaluation.md, "The baseline's fit seed"): the fairer
# comparison, and the one to use for new results. The default, 1, is what the published tables used.
# The sensitivity scan (boredom and patience scaled by 0, 0.5, 0.75, 1, 1.5), after the run above:
#   bash experiments/fair/run.sh --sensitivity [OUT_ROOT] [SCENARIO]   (default synthetic-shop)
# PPO is the configuration chosen at factor 1 (not re-tuned per factor), retrained at each other
# factor with seeds 1-3; factor 1 reuses sweeps/seeds-SCENARIO.  A variant with a committed
# stage-2 file of its own at factor 1 (sensitivity-VARIANT-1.yaml: movielens-100k-long,
# synthetic-shop-long) is retrained at every factor, and SEEDS=1,2,3,4 sets the training seeds
# (evaluation seeds 0..n-1, one per training seed); BASELINE_FITS=K fits the baseline K times at every
# factor, as for the main run.  The stage-2 files are regenerated from sweeps/tune-VARIANT when
# that directory exists, else from the committed experiments/fair/seeds-VARIANT.yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = "--sensitivity" ]; then
  root=${2:-.}
  variant=${3:-synthetic-shop}
  seeds=${SEEDS:-1,2,3}
  n_seeds=$(( $(tr -cd , <<<"$seeds" | wc -c) + 1 ))
  if [ ! -f "experiments/fair/seeds-$variant.yaml" ]; then
    echo "error: no experiments/fair/seeds-$variant.yaml: run the experiment first" \
      "(bash experiments/fair/run.sh $variant $root)" >&2
    exit 2
  fi
  chosen="$root/sweeps/tune-$variant"
  [ -d "$chosen" ] || chosen="experiments/fair/seeds-$variant.yaml"
  scenario=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["scenario"])' \
    "experiments/fair/seeds-$variant.yaml")
  factors=(0 0.5 0.75 1.5)
  ppo=()
  if [ -f "experiments/fair/sensitivity-$variant-1.yaml" ]; then
    factors=(0 0.5 0.75 1 1.5)
  else
    if [ ! -d "$root/sweeps/seeds-$variant" ]; then
      # checked before hours of retraining at the other factors
      echo "error: no $root/sweeps/seeds-$variant (the PPO runs at factor 1): run the" \
        "experiment first (bash experiments/fair/run.sh $variant $root)" >&2
      exit 2
    fi
    ppo=(--ppo "1=$root/sweeps/seeds-$variant")
  fi
  for f in "${factors[@]}"; do
    spec="experiments/fair/sensitivity-$variant-$f.yaml"
    python experiments/fair/retrain_chosen.py "$chosen" "$spec" --seeds "$seeds" --strength "$f"
    divrec-rl sweep "$spec" --out "$root/sweeps/sens-$variant-$f" --max-concurrent 2
    ppo+=(--ppo "$f=$root/sweeps/sens-$variant-$f")
  done
  divrec-rl sensitivity --scenario "$scenario" "${ppo[@]}" --seeds "$n_seeds" --users 1000 \
    --baseline-fits "${BASELINE_FITS:-1}" --out "$root/results/sensitivity-$variant"
  exit 0
fi
scenario=${1:?usage: run.sh SCENARIO [OUT_ROOT]}
root=${2:-.}
if [ ! -f "experiments/fair/tune-$scenario.yaml" ]; then
  echo "error: no experiments/fair/tune-$scenario.yaml; for a scenario of your own copy" \
    "tune-synthetic-shop-confirmed.yaml to it and set its scenario: (docs/evaluation.md," \
    "\"The same experiment on your own scenario\")" >&2
  exit 2
fi
divrec-rl sweep "experiments/fair/tune-$scenario.yaml" --out "$root/sweeps/tune-$scenario" --max-concurrent 2
python experiments/fair/retrain_chosen.py "$root/sweeps/tune-$scenario" "experiments/fair/seeds-$scenario.yaml"
divrec-rl sweep "experiments/fair/seeds-$scenario.yaml" --out "$root/sweeps/seeds-$scenario" --max-concurrent 2
divrec-rl evaluate --agents "ppo=$root/sweeps/seeds-$scenario,baseline,greedy,popularity,random" \
  --seeds 5 --users 1000 --cross-behaviour quit-on-repetition --baseline-fits "${BASELINE_FITS:-1}" \
  --out "$root/results/$scenario"
