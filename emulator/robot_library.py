"""A Robot Framework keyword library for the virtual pump, in the scenario format's words.

::

    *** Settings ***
    Library    emulator.robot_library.VpumpLibrary

    *** Test Cases ***
    Low-reservoir alarm at day 85
        Start Pump    reservoir=20 mL    prescription={simple: 100 mcg/day}
        Set Alarm Volume    3 mL
        Advance    85d
        Alarms Should Be    [LOW_RESERVOIR]
        Clear Alarm    LOW_RESERVOIR    expect_error=CONDITION_PERSISTS

Every keyword is one step of a scenario file (docs/scenarios.md): its arguments
are the step's keys with the same units (``added=16.8 mL``,
``low_reservoir_date=now + 70d``, ``reservoir=3.2 mL ± 0.05 mL``), checked by
the same loader (a bad unit fails the keyword with the loader's message) and
played by the same executor (:class:`~emulator.scenarios.executor.ScenarioRunner`)
against an in-process pump on a manual clock. ``Expect`` takes any of the
assertions at once; each assertion also has a keyword of its own
(``Reservoir Should Be``, ``Bridge End Should Be`` ...). Programmer keywords
take ``expect_error=CODE`` (a NAK code, or ``TIMEOUT``) as in a file.

A failing keyword's message holds every check (expected and actual) and the
last frames that crossed the link, decoded; the frames are also written to
Robot's log (``log.html``) under the keyword. ``Serve Pump On Pty`` puts the
same pump on a pseudo-terminal for tools outside the test (pumpctl, a
third-party programmer); time still moves only with ``Advance``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library

from emulator.emulator import Emulator
from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.executor import ScenarioRunner
from emulator.scenarios.loader import SCHEMA_PATH, parse_scenario
from emulator.scenarios.result import FRAMES_IN_REPORT, StepResult, format_clock

__all__ = ["EXPECT_KEYS", "VpumpLibrary", "VpumpRobotError", "assertion_keyword_name"]

_HEADER_KEYS = ("seed", "timeout", "retries")
"""Start Pump options that are not keys of ``pump:`` (the file's top level / ``programmer:``)."""


class VpumpRobotError(AssertionError):
    """A keyword's step failed, or its arguments are not a valid step (the message says which)."""


@functools.cache
def _expect_keys() -> tuple[str, ...]:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return tuple(schema["$defs"]["expect"]["properties"])


EXPECT_KEYS: tuple[str, ...] = _expect_keys()
"""Every assertion ``expect`` knows (from the checked-in JSON Schema)."""


def _yaml_value(value: object) -> str:
    """A keyword argument as it would stand in a file: strings stay raw (``3.2 mL``,
    ``[LOW_RESERVOIR]``, ``{simple: 100 mcg/day}``) so the loader reads them as a file's."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = str(value)
    if "\n" in text:
        raise VpumpRobotError(f"a value must stay on one line: {text!r}")
    return text


def _mapping(options: Mapping[str, object], indent: str) -> str:
    return "".join(f"{indent}{key}: {_yaml_value(value)}\n" for key, value in options.items())


@library(scope="TEST", auto_keywords=False)
class VpumpLibrary:
    """Keywords for the vpump emulator; one pump per test (``Start Pump`` builds it)."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self) -> None:
        self.ROBOT_LIBRARY_LISTENER = self
        self._header = ""
        self._runner: ScenarioRunner | None = None
        self._world: AbstractContextManager[Emulator] | None = None
        self._emulator: Emulator | None = None
        self._steps = 0
        self._results: list[StepResult] = []

    # -- the pump --------------------------------------------------------------------------

    @keyword("Start Pump")
    def start_pump(self, **options: str) -> None:
        """Build the pump under test: the keys of a file's ``pump:`` (``model``, ``serial``,
        ``reservoir``, ``concentration``, ``prescription``, ``battery``, ``alarm_volume``,
        ``implant``, ``catheter``, ``start``) plus ``seed``, ``timeout`` and ``retries``.

        | Start Pump | reservoir=20 mL | concentration=500 mcg/mL |
        | ...        | prescription={simple: 100 mcg/day} |
        """
        self.stop_pump()
        header = {k: options.pop(k) for k in _HEADER_KEYS if k in options}
        text = "scenario: robot\n"
        if "seed" in header:
            text += f"seed: {_yaml_value(header['seed'])}\n"
        programmer = {k: header[k] for k in ("timeout", "retries") if k in header}
        if programmer:
            text += "programmer:\n" + _mapping(programmer, "  ")
        if options:
            text += "pump:\n" + _mapping(options, "  ")
        scenario = self._parse(text + "steps:\n  - interrogate:\n", "Start Pump")
        self._header = text
        runner = ScenarioRunner(dataclasses.replace(scenario, steps=()))
        world = runner._world()
        self._emulator = world.__enter__()
        self._runner, self._world = runner, world
        self._steps = 0
        self._results = []
        runner._sample(self._emulator)
        logger.info(f"pump started at {format_clock(scenario.pump.start_s, scenario.pump.start_s)}")

    @keyword("Stop Pump")
    def stop_pump(self) -> None:
        """Close the sessions and the pump (done by itself at the end of each test), and
        raise anything that failed inside the emulator."""
        world, emulator = self._world, self._emulator
        self._runner = self._world = self._emulator = None
        if world is None or emulator is None:
            return
        try:
            emulator.check()
        finally:
            world.__exit__(None, None, None)

    @keyword("Serve Pump On Pty")
    def serve_pump_on_pty(self) -> str:
        """Serve the pump on a new pseudo-terminal as well and return its path, for a tool
        outside the test (``pumpctl --port PATH``); time still moves only with ``Advance``."""
        emulator = self._require()[1]
        path = str(emulator.serve_pty(0, None).port)
        if not emulator.server.running:
            emulator.start()
        logger.info(f"the pump answers on {path}")
        return path

    @keyword("Serve Pump On TCP")
    def serve_pump_on_tcp(self) -> str:
        """Serve the pump on a loopback TCP port as well and return its URL
        (``socket://127.0.0.1:PORT``) for a tool outside the test."""
        emulator = self._require()[1]
        url = str(emulator.serve_tcp(0, "127.0.0.1", 0).url)
        if not emulator.server.running:
            emulator.start()
        logger.info(f"the pump answers at {url}")
        return url

    @keyword("Pump State")
    def pump_state(self) -> dict[str, Any]:
        """``Emulator.state()``: the pump, fluid path and patient as a dictionary (nL, ng, s)."""
        return self._require()[1].state()

    # -- the programmer and the world: one keyword per step ----------------------------------

    @keyword("Connect")
    def connect(self, expect_error: str | None = None) -> None:
        """A new clinician session on a new link."""
        self._step("connect", None, expect_error)

    @keyword("Disconnect")
    def disconnect(self) -> None:
        """The programmer walks away: its link closes without closing the session."""
        self._step("disconnect", None)

    @keyword("Interrogate")
    def interrogate(self, expect_error: str | None = None) -> None:
        """STATUS, READ_PRESCRIPTION, READ_ALARMS and the event log, as a clinician would."""
        self._step("interrogate", None, expect_error)

    @keyword("Program")
    def program(self, expect_error: str | None = None, **prescription: str) -> None:
        """Stage, verify and commit a prescription: ``simple=100 mcg/day``,
        ``flex=[{at: "00:00", dose: 350 mcg/day}, ...]``, ``minimum_rate=true`` or
        ``stopped=true``."""
        self._step("program", prescription, expect_error)

    @keyword("Stage")
    def stage(self, expect_error: str | None = None, **prescription: str) -> None:
        """Stage a prescription only (a session broken off before the commit)."""
        self._step("stage", prescription, expect_error)

    @keyword("Commit")
    def commit(self, expect_error: str | None = None) -> None:
        """Commit what the last ``Stage`` staged."""
        self._step("commit", None, expect_error)

    @keyword("Refill")
    def refill(self, expect_error: str | None = None, **refill: str) -> None:
        """The refill transaction: ``removed`` (a volume or ``expected``), ``added``,
        ``concentration``, ``prescription`` or ``same_dose``, ``bridge``, ``lot``,
        ``nonstandard``, ``expect`` (``{discrepancy: ..., flagged: ...}``)."""
        self._step("refill", refill, expect_error)

    @keyword("Set Implant")
    def set_implant(self, expect_error: str | None = None, **implant: str) -> None:
        """SET_IMPLANT: ``catheter=110 cm`` and the record's other keys."""
        self._step("implant", implant, expect_error)

    @keyword("Bolus")
    def bolus(self, expect_error: str | None = None, **bolus: str) -> None:
        """``kind=THERAPEUTIC dose=50 mcg duration=1h``, or ``kind=PRIMING`` (``volume``)."""
        self._step("bolus", bolus, expect_error)

    @keyword("Cancel Bolus")
    def cancel_bolus(self, expect_error: str | None = None) -> None:
        self._step("cancel_bolus", None, expect_error)

    @keyword("Cancel Bridge")
    def cancel_bridge(self, expect_error: str | None = None) -> None:
        self._step("cancel_bridge", None, expect_error)

    @keyword("Stop Infusion")
    def stop_infusion(self, reason: str, expect_error: str | None = None) -> None:
        """STOP with a reason: ``CLINICIAN_DECISION``, ``MRI``, ``CATHETER_REVISION`` ..."""
        self._step("stop", reason, expect_error)

    @keyword("Resume Infusion")
    def resume_infusion(self, expect_error: str | None = None) -> None:
        self._step("resume", None, expect_error)

    @keyword("Set Alarm Volume")
    def set_alarm_volume(self, volume: str, expect_error: str | None = None) -> None:
        self._step("set_alarm_volume", volume, expect_error)

    @keyword("Patient Settings")
    def patient_settings(self, expect_error: str | None = None, **settings: str) -> None:
        """``enabled``, ``dose``, ``duration``, ``lockout``, ``max_per_day``."""
        self._step("patient_settings", settings, expect_error)

    @keyword("Patient Dose")
    def patient_dose(self, expect_error: str | None = None) -> None:
        """The patient asks for a dose from their handset (a patient-role session)."""
        self._step("patient_dose", None, expect_error)

    @keyword("Silence Alarm")
    def silence_alarm(self, code: str, expect_error: str | None = None) -> None:
        self._step("silence_alarm", code, expect_error)

    @keyword("Clear Alarm")
    def clear_alarm(self, code: str, expect_error: str | None = None) -> None:
        self._step("clear_alarm", code, expect_error)

    @keyword("Advance")
    def advance(self, duration: str) -> None:
        """Move pump time forward: ``84d``, ``12h 30min``."""
        self._step("advance", duration)

    @keyword("Advance Until")
    def advance_until(self, time: str) -> None:
        """Move pump time to ``start + 85d``, ``now + 12h`` or a UTC time."""
        self._step("advance", {"until": time})

    @keyword("Fault")
    def fault(self, **faults: str) -> None:
        """``motor_stall=true/false``, ``memory_error=CRITICAL``, ``battery=5 %``,
        ``low_battery_reset=true``."""
        self._step("fault", faults)

    @keyword("MRI")
    def mri(self, **exposure: str) -> None:
        """``duration=45 min`` and optionally ``recovery_delay``, ``telemetry_trap``,
        ``recovery_logged_at_second_interrogation``."""
        self._step("mri", exposure)

    @keyword("MRI Start")
    def mri_start(self) -> None:
        self._step("mri_start", None)

    @keyword("MRI End")
    def mri_end(self, **exit_: str) -> None:
        self._step("mri_end", exit_ or None)

    @keyword("Set Link")
    def set_link(self, **link: str) -> None:
        """``drop=10 %``, ``corrupt=1 %``, ``delay=20 ms``, ``baud=9600``,
        ``disconnected=true``."""
        self._step("link", link)

    # -- assertions --------------------------------------------------------------------------

    @keyword("Expect")
    def expect(self, **checks: str) -> None:
        """Any assertions of a file's ``expect`` at once, each reported:

        | Expect | reservoir=3.2 mL | alarms=[] | low_reservoir_date=now + 74d |
        """
        if not checks:
            raise VpumpRobotError("Expect needs at least one assertion, e.g. reservoir=3.2 mL")
        self._step("expect", checks)

    # -- the machinery -----------------------------------------------------------------------

    def end_test(self, data: object, result: object) -> None:
        """Listener v3 (not a keyword): the pump of a test ends with it."""
        self.stop_pump()

    def _require(self) -> tuple[ScenarioRunner, Emulator]:
        if self._runner is None or self._emulator is None:
            raise VpumpRobotError("no pump: call Start Pump first")
        return self._runner, self._emulator

    def _parse(self, text: str, keyword_name: str) -> md.Scenario:
        try:
            return parse_scenario(text, keyword_name)
        except ScenarioFileError as exc:
            logger.info("as a scenario file:\n" + text)
            raise VpumpRobotError(str(exc)) from None

    def _step(
        self,
        verb: str,
        argument: dict[str, str] | str | None,
        expect_error: str | None = None,
    ) -> None:
        runner, emulator = self._require()
        body = f"  - {verb}:"
        if isinstance(argument, dict):
            body += "\n" + _mapping(dict(argument), "      ")
        elif argument is not None:
            body += f" {_yaml_value(argument)}\n"
        else:
            body += "\n"
        if expect_error is not None:
            body += f"    expect_error: {_yaml_value(expect_error)}\n"
        name = verb.replace("_", " ").title()
        scenario = self._parse(self._header + "steps:\n" + body, name)
        self._steps += 1
        step = dataclasses.replace(scenario.steps[0], index=self._steps)
        result = runner._run_step(emulator, step)
        self._results.append(result)
        start = scenario.pump.start_s
        logger.info(f"{step.name}: {result.status.value} at {format_clock(result.clock_s, start)}")
        for line in result.detail_lines(with_error=False):
            logger.info(line.removeprefix("  "))
        if result.frames:
            logger.debug("frames on the wire during this step:\n" + "\n".join(result.frames))
        if not result.passed:
            frames = list(_frames(self._results))[-FRAMES_IN_REPORT:]
            logger.info(
                f"last {len(frames)} frame(s) on the wire, up to this keyword, decoded:\n"
                + "\n".join(frames)
                if frames
                else "no frames crossed the link before this keyword failed"
            )
            raise VpumpRobotError(self._failure(result, start, frames))

    @staticmethod
    def _failure(result: StepResult, start_s: int, frames: list[str]) -> str:
        lines = [
            f"{result.name!r} {result.status.value} at {format_clock(result.clock_s, start_s)}"
        ]
        lines += result.detail_lines()
        if frames:  # their first lines here; decoded field by field in the log
            lines.append(f"last {len(frames)} frame(s) on the wire (decoded in the log):")
            lines += ["    " + f.splitlines()[0] for f in frames if f]
        return "\n".join(lines)


def _frames(results: list[StepResult]) -> Iterator[str]:
    for result in results:
        yield from result.frames


def assertion_keyword_name(key: str) -> str:
    """``bridge_end`` -> ``Bridge End Should Be`` (``ERI`` and ``MRI`` stay capitals)."""
    words = key.replace("_", " ").title().replace("Eri ", "ERI ").replace("Mri ", "MRI ")
    return f"{words} Should Be"


def _assertion_keyword(key: str) -> Callable[[VpumpLibrary, str], None]:
    def check(self: VpumpLibrary, expected: str) -> None:
        self._step("expect", {key: expected})

    name = assertion_keyword_name(key)
    check.__name__ = f"{key}_should_be"
    check.__doc__ = (
        f"Assert ``{key}`` as a file's ``expect`` does (docs/scenarios.md): "
        f"``{name}    <value with its unit>``."
    )
    # types=None: Robot converts nothing (the loader reads the text) and ignores the hints.
    named: Callable[[VpumpLibrary, str], None] = keyword(name, types=None)(check)
    return named


for _key in EXPECT_KEYS:
    setattr(VpumpLibrary, f"{_key}_should_be", _assertion_keyword(_key))
