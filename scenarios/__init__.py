"""Built-in scenario files (``*.yaml``); installed as ``divrec_rl.scenarios``.

Each file is a scenario: fields of :class:`divrec_rl.config.ScenarioConfig`, optionally with
``base: NAME`` (start from another scenario) and ``factory: module:attr`` (start from a Python
factory).  The file name (without ``.yaml``) is the scenario's registered name.
"""
