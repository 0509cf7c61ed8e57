"""Which scenario an evaluation runs on, and whether each PPO agent was trained on it.

Without ``--scenario`` it is the one the first PPO run was trained on; with one, an agent
trained on another scenario -- another name, or the same name with other settings (compared
field by field, :mod:`divrec_rl.config_fields`) -- is an error naming the difference, unless
``--allow-scenario-mismatch``, which turns it into a note of the report.
"""

from __future__ import annotations

from divrec_rl.agents.registry import PPORun
from divrec_rl.config import ScenarioConfig
from divrec_rl.config_fields import differing_fields, summarise_differences
from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.results import EvaluationConfig
from divrec_rl.resolve import DEFAULT_SCENARIO, resolve_scenario

__all__ = ["choose_scenario"]


def choose_scenario(
    config: EvaluationConfig, runs: dict[str, PPORun], notes: list[str]
) -> ScenarioConfig:
    """The scenario to evaluate on, every layer applied.

    Without ``config.scenario`` it is the one the first PPO run was trained on (read from its
    run directory, plug-ins imported).  A PPO run trained on another scenario than the one
    evaluated is an :class:`EvaluationError` naming both, unless
    ``config.allow_scenario_mismatch`` (then a note in the report).
    """
    trained = [
        (spec.label, runs[spec.path].scenario_config)  # type: ignore[index]
        for spec in config.agents
        if spec.kind == "ppo" and runs[spec.path].scenario_config is not None  # type: ignore[index]
    ]
    base: str | ScenarioConfig
    if config.scenario is not None:
        base = config.scenario
        name = resolve_scenario(base).name
    elif trained:
        base, name = trained[0][1], trained[0][1].name
        notes.append(f"Scenario `{name}`: the one `{trained[0][0]}` was trained on.")
    else:
        base = name = DEFAULT_SCENARIO
    evaluated = resolve_scenario(base, config.config_files, config.overrides)
    for label, scenario in trained:
        if scenario.name == name:
            changed = differing_fields(scenario, evaluated)
            if not changed:
                continue
            shown = summarise_differences(changed)
            if not config.allow_scenario_mismatch:
                raise EvaluationError(
                    f"agent '{label}' was trained on scenario '{name}' with other settings "
                    f"({shown}); leave out --scenario/--config/--set to evaluate on its own "
                    "settings, or pass --allow-scenario-mismatch"
                )
            notes.append(f"`{label}` was trained on `{name}` with other settings: {shown}.")
            continue
        if not config.allow_scenario_mismatch:
            raise EvaluationError(
                f"--scenario {name}: agent '{label}' was trained on scenario '{scenario.name}'; "
                f"leave --scenario out to evaluate on '{scenario.name}', or pass "
                "--allow-scenario-mismatch"
            )
        notes.append(f"`{label}` was trained on `{scenario.name}` and is evaluated on `{name}`.")
    return evaluated
