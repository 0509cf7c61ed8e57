#!/usr/bin/env bash
# The fair PPO-vs-baseline experiment of docs/evaluation.md ("Results"), one scenario:
#   bash experiments/fair/run.sh SCENARIO [OUT_ROOT]
# SCENARIO names the files used (tune-SCENARIO.yaml, seeds-SCENARIO.yaml, results/SCENARIO), so a
# variant runs the same way: `run.sh movielens-100k-long` is the six-times-longer training budget.
# 1. tune PPO on validation users (experiments/fair/tune-SCENARIO.yaml: 30 configurations);
# 2. retrain the chosen configuration with training seeds 1-5 (the tuning used seed 0);
# 3. evaluate it with the tuned baseline, the myopic oracle, popularity and random on 5 × 1,000
#    held-out users, with the behaviour cross-check.
# The sensitivity scan (boredom and patience scaled by 0, 0.5, 0.75, 1, 1.5), after the run above:
#   bash experiments/fair/run.sh --sensitivity [OUT_ROOT] [SCENARIO]   (default synthetic-shop)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = "--sensitivity" ]; then
  root=${2:-.}
  scenario=${3:-synthetic-shop}
  ppo=(--ppo "1=$root/sweeps/seeds-$scenario")
  for f in 0 0.5 0.75 1.5; do
    spec="experiments/fair/sensitivity-$scenario-$f.yaml"
    python experiments/fair/retrain_chosen.py "$root/sweeps/tune-$scenario" "$spec" \
      --seeds 1,2,3 --strength "$f"
    divrec-rl sweep "$spec" --out "$root/sweeps/sens-$scenario-$f" --max-concurrent 2
    ppo+=(--ppo "$f=$root/sweeps/sens-$scenario-$f")
  done
  divrec-rl sensitivity --scenario "$scenario" "${ppo[@]}" --seeds 3 --users 1000 \
    --out "$root/results/sensitivity-$scenario"
  exit 0
fi
scenario=${1:?usage: run.sh SCENARIO [OUT_ROOT]}
root=${2:-.}
divrec-rl sweep "experiments/fair/tune-$scenario.yaml" --out "$root/sweeps/tune-$scenario" --max-concurrent 2
python experiments/fair/retrain_chosen.py "$root/sweeps/tune-$scenario" "experiments/fair/seeds-$scenario.yaml"
divrec-rl sweep "experiments/fair/seeds-$scenario.yaml" --out "$root/sweeps/seeds-$scenario" --max-concurrent 2
divrec-rl evaluate --agents "ppo=$root/sweeps/seeds-$scenario,baseline,greedy,popularity,random" \
  --seeds 5 --users 1000 --cross-behaviour quit-on-repetition --out "$root/results/$scenario"
