"""Loading a scenario file: YAML with positions, the JSON Schema, strict units, typed steps.

:func:`load_scenario` reads a ``*.scenario.yaml`` file and returns a
:class:`~emulator.scenarios.model.Scenario`, or raises
:class:`~emulator.scenarios.errors.ScenarioFileError` listing every problem
with its file and line, before anything runs. Three passes, each naming
lines: the YAML itself, the checked-in JSON Schema
(``scenario.schema.json``, validated with ``jsonschema``), then the values
(units, enum names, event parameters, and the starting state, which is built
once as the firmware model would build it so that an impossible pump is
refused here rather than in the middle of a run). The values pass is
:mod:`~emulator.scenarios.builder`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

from emulator.scenarios import model as md
from emulator.scenarios.builder import setup_for
from emulator.scenarios.errors import Problem, ScenarioFileError, UnitError, unique_problems
from emulator.scenarios.source import Located, PathKey, load_yaml
from emulator.scenarios.step_builder import _ACTIONS, _Builder, did_you_mean, event_parameters
from emulator.scenarios.templates import expand_cases
from emulator.scenarios.units import (
    Kind,
    parse_quantity,
)
from protocol.resources import package_file

__all__ = [
    "SCHEMA_PATH",
    "SUFFIX",
    "did_you_mean",
    "event_parameters",
    "load_scenario",
    "load_scenarios",
    "parse_prescription",
    "parse_scenario",
    "parse_scenarios",
    "schema",
    "setup_for",
]

SCHEMA_PATH = package_file("emulator.scenarios", "scenario.schema.json")
"""The checked-in JSON Schema of scenario files (package data, found with importlib.resources)."""

SUFFIX = ".scenario.yaml"
"""Files with this ending are scenarios (the pytest plugin collects them)."""


@functools.cache
def schema() -> dict[str, Any]:
    """The scenario JSON Schema (loaded once)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    validator: jsonschema.protocols.Validator = cls(schema())
    return validator


def load_scenario(path: str | Path) -> md.Scenario:
    """Read and check a scenario file; raises :class:`ScenarioFileError` naming file and line.

    A parametrised file (``parameters:``) holds several scenarios: read it with
    :func:`load_scenarios`."""
    return _single(load_scenarios(path))


def load_scenarios(path: str | Path) -> list[md.Scenario]:
    """Read and check a scenario file: its scenarios, one per row of ``parameters:`` (one
    for a file without them). Raises :class:`ScenarioFileError` naming every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError(
            [Problem(source=source, line=0, column=0, message=f"cannot read: {exc}")]
        ) from None
    return parse_scenarios(text, source)


def parse_scenario(text: str, source: str = "<scenario>") -> md.Scenario:
    """Check and build a scenario from its YAML text (``source`` names it in messages)."""
    return _single(parse_scenarios(text, source))


def _single(scenarios: list[md.Scenario]) -> md.Scenario:
    if len(scenarios) != 1:
        first = scenarios[0]
        raise ScenarioFileError(
            [
                Problem(
                    source=first.source,
                    line=0,
                    column=0,
                    message=f"a parametrised file holds {len(scenarios)} scenarios "
                    f"({', '.join(s.case for s in scenarios)}): load it with load_scenarios",
                )
            ]
        )
    return scenarios[0]


def parse_scenarios(text: str, source: str = "<scenario>") -> list[md.Scenario]:
    """Check and build the scenarios of a YAML text: one per row of ``parameters:``, with
    ``repeat:`` steps unrolled. Every problem (of any case) is reported at once."""
    located = load_yaml(text, source)
    cases, problems = expand_cases(located)
    # A placeholder left unreplaced is named once: not again as the value it stands in.
    named = {(p.line, p.column) for p in problems}
    scenarios: list[md.Scenario] = []
    for case, expanded in cases:
        try:
            scenarios.append(_check_and_build(expanded, case))
        except ScenarioFileError as exc:
            problems += [p for p in exc.problems if (p.line, p.column) not in named]
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ScenarioFileError(unique_problems(problems))
    return scenarios


def _check_and_build(located: Located, case: str) -> md.Scenario:
    """The schema pass, then the values of every part the schema found sound: a bad unit in
    one step is reported together with an unknown key in another."""
    errors = list(_validator().iter_errors(located.data))
    problems = [p for error in errors for p in _schema_problems(located, error)]
    # An unknown key on a step already says why the step has no action.
    unknown = {p.line for p in problems if p.message.startswith("unknown key")}
    problems = [p for p in problems if not (p.line in unknown and "has no action" in p.message)]
    bad_paths: list[PathKey] = []
    for error in errors:
        path: PathKey = tuple(error.absolute_path)
        sub = error.schema if isinstance(error.schema, dict) else {}
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # Only the unknown keys are bad: the known ones beside them are still checked.
            known = sub.get("properties", {})
            bad_paths += [(*path, key) for key in error.instance if key not in known]
        else:
            bad_paths.append(path)
    builder = _Builder(located, bad_paths=bad_paths, case=case)
    scenario = None
    try:
        scenario = builder.build(schema_ok=not problems)
    except ScenarioFileError as exc:
        problems += exc.problems
    if problems or scenario is None:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ScenarioFileError(unique_problems(problems))
    return scenario


def parse_prescription(raw: object, source: str = "<prescription>") -> md.PrescriptionInput:
    """A prescription written as in a scenario file, as data (``{"simple": "100 mcg/day"}``,
    ``{"flex": [...]}``, ``{"flex_weekly": {"monday": [...], ...}}``): the pytest marker's
    ``prescription=``. Raises :class:`ScenarioFileError` with every problem."""
    data: Any = raw
    located = Located(source=source, data=data, positions={(): (0, 0)})
    sub = {"$ref": "#/$defs/prescription", "$defs": schema()["$defs"]}
    cls = jsonschema.validators.validator_for(schema())
    problems = [p for error in cls(sub).iter_errors(data) for p in _schema_problems(located, error)]
    if problems:
        raise ScenarioFileError(unique_problems(problems))
    builder = _Builder(located)
    result = builder.prescription((), data)  # checked by the schema
    if builder.problems:
        raise ScenarioFileError(builder.problems)
    return result


def _schema_problems(located: Located, error: jsonschema.ValidationError) -> list[Problem]:
    path: PathKey = tuple(error.absolute_path)
    sub = error.schema if isinstance(error.schema, dict) else {}
    hint = sub.get("x-hint")
    instance = error.instance
    match error.validator:
        case "additionalProperties" if isinstance(instance, dict):
            known = sorted(sub.get("properties", {}))
            extra = sorted(k for k in instance if k not in known) or ["?"]
            return [
                located.problem(
                    (*path, key),
                    f"unknown key {key!r} here{did_you_mean(key, known)}; "
                    f"known keys: {', '.join(known)}",
                    key=True,
                )
                for key in extra
            ]
        case "required" if isinstance(instance, dict):
            # One problem for all the keys missing here (the schema names each apart).
            missing = [k for k in sub.get("required", ()) if k not in instance]
            what = ", ".join(repr(k) for k in missing) or error.message
            return [located.problem(path, f"missing {what}" + (f" ({hint})" if hint else ""))]
        case "oneOf" if isinstance(instance, dict):
            present = [k for k in instance if k in _ACTIONS]
            if not present:
                return [located.problem(path, f"this step has no action: {hint}")]
            return [
                located.problem(
                    path,
                    f"this step has {len(present)} actions ({', '.join(present)}); one per step",
                )
            ]
        case "pattern" | "type" if "x-kind" in sub:
            # The unit parser says precisely what is wrong (a bare number, "ml" for "mL").
            try:
                parse_quantity(instance, Kind[sub["x-kind"]])
            except UnitError as exc:
                return [located.problem(path, str(exc))]
            return [located.problem(path, f"{instance!r} is not valid here: {hint}")]
        case "enum" if isinstance(sub.get("enum"), list):
            choices = [str(c) for c in sub["enum"]]
            near = did_you_mean(instance, choices)
            what = hint or f"one of {', '.join(choices)}"
            return [located.problem(path, f"{instance!r} is not valid here{near}: {what}")]
        case "minProperties" | "maxProperties" | "pattern" | "type" | "const" | "anyOf":
            if hint and isinstance(instance, dict):  # name its keys, never dump the mapping
                keys = ", ".join(instance) or "none"
                return [located.problem(path, f"{hint} (here: {keys})")]
            if hint and isinstance(instance, list):
                return [located.problem(path, f"a list is not valid here: {hint}")]
            if hint:
                return [located.problem(path, f"{instance!r} is not valid here: {hint}")]
    return [located.problem(path, error.message)]
