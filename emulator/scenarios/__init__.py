"""Scenario files: dosing sessions written as short YAML stories, run against a virtual pump.

``load_scenario(path)`` checks a ``*.scenario.yaml`` file (YAML, the JSON
Schema ``scenario.schema.json``, strict units) and returns a typed
:class:`Scenario` (``load_scenarios(path)``: one per case of a parametrised
file); ``run_scenario(scenario)`` plays it against an in-process
emulator and returns a :class:`ScenarioResult` with a trace of every step.
The format is documented in ``docs/scenarios.md``.
"""

from __future__ import annotations

from emulator.scenarios.errors import (
    Problem,
    ScenarioError,
    ScenarioFailed,
    ScenarioFileError,
    UnitError,
)
from emulator.scenarios.executor import run_scenario
from emulator.scenarios.loader import (
    SCHEMA_PATH,
    SUFFIX,
    load_scenario,
    load_scenarios,
    parse_scenario,
    parse_scenarios,
)
from emulator.scenarios.model import Scenario
from emulator.scenarios.report import render_html
from emulator.scenarios.result import Check, ScenarioResult, StepResult, StepStatus

__all__ = [
    "SCHEMA_PATH",
    "SUFFIX",
    "Check",
    "Problem",
    "Scenario",
    "ScenarioError",
    "ScenarioFailed",
    "ScenarioFileError",
    "ScenarioResult",
    "StepResult",
    "StepStatus",
    "UnitError",
    "load_scenario",
    "load_scenarios",
    "parse_scenario",
    "parse_scenarios",
    "render_html",
    "run_scenario",
]
