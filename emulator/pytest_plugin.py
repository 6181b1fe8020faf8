"""The vpump pytest plugin: virtual pumps as fixtures, scenario files as tests, HTML reports.

Registered through the ``pytest11`` entry point ``vpump``, so installing
vpump is enough. It provides:

* ``virtual_pump``: an in-process emulator with one pump (manual clock by
  default) as a :class:`PumpUnderTest`; options come from the overridable
  ``vpump_config`` fixture and the ``@pytest.mark.vpump(...)`` marker
  (``model``, ``serial``, ``reservoir``, ``concentration``, ``prescription``
  (a dose such as ``"100 mcg/day"`` of the drug filled, or a
  :class:`~protocol.messages.PrescriptionSpec` naming it), ``battery``,
  ``alarm_volume``, ``catheter`` (the TRUE catheter, by default the implant
  record's), ``implant`` (an :class:`~protocol.messages.ImplantFields`, a
  length such as ``"50 cm"``, or None for no record), ``start``, ``kind``
  (``"motor"``, ``"valve-discharge"`` or ``"valve-flow-activated"``),
  ``motor_stall``, ``memory_error``, ``low_battery_reset``, ``link``,
  ``clock``, ``speed``, ``fresh``, ``seed``, ``timeout``, ``retries``).
  :meth:`PumpUnderTest.low_battery_reset` injects that fault mid-test. With
  ``vpump_scope = session`` (ini) or
  ``--vpump-scope=session`` one emulator serves the whole session (per
  xdist worker) and is reset cheaply before each test; by default each test
  gets its own (under a millisecond to build). Whatever the emulator raised
  inside is re-raised at the test's teardown.
* ``pump_client``: a :class:`~protocol.client.PumpClient` already in a
  clinician session on that pump.
* ``virtual_pump.response()``: the patient model's response (share of the
  established level, progress through the last dose change, its onset and full
  effect on the pump clock), for asserting "onset reached by a time".
* ``vpump_leak_check``: fails a test that leaves threads, descriptors,
  in-process port names, pty symlinks or temp dirs behind; make it autouse
  with ``vpump_leak_check = true`` (ini) or an autouse fixture requesting it.
  A test that truly cannot clean up opts out with ``@pytest.mark.leaks_ok("why")``.
* Collection of ``*.scenario.yaml`` files as test items (``pytest
  examples/scenarios``; a parametrised file gives one item per case,
  ``FILE[case]``), with a failure report naming the step, expected and
  actual values and the last frames on the wire; tags as keywords (``-k``)
  and markers (``-m``); JUnit properties (tags, requirements, the title,
  the steps, the failed step) and a JUnit classname without
  ``.scenario.yaml``; and with pytest-html installed, each scenario's steps
  table and reservoir plot in the HTML report.
* A failing test on ``virtual_pump`` gets the last frames on its links,
  decoded, as a report section (and in the HTML report).
"""

from __future__ import annotations

import contextlib
import gc
import glob
import inspect
import itertools
import json
import math
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from html import escape
from pathlib import Path
from typing import Any, Literal

import pytest

from emulator import coverage as protocol_coverage
from emulator.capture import RingCapture
from emulator.clock import ClockMode, PumpClock
from emulator.decode import Decoder, FrameEvent, format_event
from emulator.emulator import Emulator, true_catheter_cm
from emulator.errors import EmulatorUsageError
from emulator.link_faults import LinkImpairment
from emulator.mri import VALVE_WORDS, MriExit
from emulator.presets import PRESETS, PumpSetup, implant_record
from emulator.quantities import dose
from emulator.response_reading import ResponseReading, read_response
from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFailed, ScenarioFileError, UnitError
from emulator.scenarios.executor import SilentLinkClock, run_scenario
from emulator.scenarios.loader import SUFFIX, did_you_mean, load_scenarios, parse_prescription
from emulator.scenarios.report import render_html
from emulator.scenarios.result import ScenarioResult
from emulator.scenarios.units import Kind, parse_iso_utc, parse_quantity, whole
from emulator.transports import inproc
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.messages import ImplantFields, PrescriptionSpec

__all__ = ["PumpUnderTest", "VirtualPumpConfig", "VpumpConfigError"]

_WEEK_S = 7 * 86_400
_SETTLE_S = 2.0
_names = itertools.count()
_plugin_names: set[str] = set()
"""Every in-process port name the plugin registered (the leak check looks them up)."""


class VpumpConfigError(EmulatorUsageError, ValueError):
    """A ``vpump`` marker or ``vpump_config`` option that is unknown or malformed."""


def _temp_prefix() -> str:
    """Temp dirs of this process only (other pytest runs may share the machine)."""
    return f"vpump-{_worker()}-{os.getpid()}-"


def _worker() -> str:
    """The pytest-xdist worker id (``gw0``...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VirtualPumpConfig:
    """How ``virtual_pump`` starts its pump. Override the ``vpump_config`` fixture to change
    the defaults for a directory, or use ``@pytest.mark.vpump(...)`` per test."""

    preset: str = "default"
    """The starting state the other fields modify (emulator.presets.PRESETS)."""
    model: int | None = None
    serial: str | None = None
    reservoir_nl: int | None = None
    concentration_ug_per_ml: int | None = None
    prescription: PrescriptionSpec | None = None
    """A dose of the drug filled (None: the preset's doses, of the drug filled)."""
    battery_permille: int | None = None
    alarm_volume_nl: int | None = None
    catheter_length_cm: int | None = None
    """The TRUE catheter, cm (None: the implant record's length)."""
    implant: ImplantFields | str | None = "preset"
    """The implant record: "preset" (the preset's), None (no record) or a record."""
    start_s: int = md.DEFAULT_START_S
    """Pump clock when the test starts (in session scope: the same weekday and time of day)."""
    kind: str = "motor"
    """How the pump meters drug: "motor", "valve-discharge" or "valve-flow-activated"."""
    motor_stall: bool = False
    low_battery_reset: bool = False
    """Start with the pump just reset on a low battery (minimum rate, critical alarm)."""
    memory_error: str | None = None
    """None, "critical" or "non-critical"."""
    link: LinkImpairment = field(default_factory=LinkImpairment)
    clock: str = "manual"
    """"manual" (time moves only by advance) or "running" (at ``speed``)."""
    speed: float = 1.0
    fresh: bool = False
    """A pump of its own for this test even in session scope."""
    seed: int = 0
    timeout_s: float = 1.0
    retries: int = 3

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise VpumpConfigError(f"preset {self.preset!r}: known presets are {sorted(PRESETS)}")
        if self.kind not in VALVE_WORDS:
            raise VpumpConfigError(f"kind {self.kind!r}: one of {', '.join(VALVE_WORDS)}")
        if self.clock not in ("manual", "running"):
            raise VpumpConfigError(f"clock {self.clock!r}: use 'manual' or 'running'")
        if self.memory_error not in (None, "critical", "non-critical"):
            raise VpumpConfigError(
                f"memory_error {self.memory_error!r}: use 'critical' or 'non-critical'"
            )
        if not (
            self.implant == "preset"
            or self.implant is None
            or isinstance(self.implant, ImplantFields)
        ):
            raise VpumpConfigError(
                f"implant must be an ImplantFields or None, got {self.implant!r}"
            )
        if not isinstance(self.link, LinkImpairment):
            raise VpumpConfigError(f"link must be a LinkImpairment, got {self.link!r}")

    def setup(self) -> PumpSetup:
        """The emulator's starting state for this configuration."""
        base = PRESETS[self.preset].with_identity(model=self.model, serial=self.serial)
        changes: dict[str, Any] = {}
        for name in ("reservoir_nl", "battery_permille"):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        if self.implant != "preset":
            changes["implant"] = self.implant
        changes["valve"] = VALVE_WORDS[self.kind]
        if self.concentration_ug_per_ml is not None or self.prescription is not None:
            base = base.with_drug(
                self.concentration_ug_per_ml or base.concentration_ug_per_ml, self.prescription
            )
        return replace(base, **changes)

    @property
    def true_catheter_cm(self) -> int:
        """The emulator's true catheter for this configuration."""
        return true_catheter_cm(self.setup(), self.catheter_length_cm)

    def with_options(self, **options: Any) -> VirtualPumpConfig:
        """This configuration with marker-style options applied (units written out)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise VpumpConfigError(
                f"unknown vpump option {unknown[0]!r}{did_you_mean(unknown[0], _OPTIONS)}; "
                f"known: {', '.join(_OPTIONS)}"
            )
        config = self
        # A prescription written as a dose needs the final concentration: it goes last.
        for key in sorted(options, key=lambda k: k == "prescription"):
            value = options[key]
            try:
                config = replace(config, **_option(key, value, config))
            except (UnitError, ValueError, TypeError) as exc:
                # The value is named in most messages already: say it once.
                shown = "" if repr(value) in str(exc) or len(repr(value)) > 40 else f"={value!r}"
                raise VpumpConfigError(f"vpump option {key}{shown}: {exc}") from None
        return config


_OPTIONS = [
    "preset",
    "model",
    "serial",
    "reservoir",
    "concentration",
    "prescription",
    "battery",
    "alarm_volume",
    "catheter",
    "implant",
    "start",
    "kind",
    "motor_stall",
    "low_battery_reset",
    "memory_error",
    "link",
    "clock",
    "speed",
    "fresh",
    "seed",
    "timeout",
    "retries",
]


def _option(key: str, value: Any, current: VirtualPumpConfig) -> dict[str, Any]:
    """One marker option as configuration fields (units parsed strictly)."""
    match key:
        case "reservoir":
            return {"reservoir_nl": whole(parse_quantity(value, Kind.VOLUME), value, "nL")}
        case "alarm_volume":
            return {"alarm_volume_nl": whole(parse_quantity(value, Kind.VOLUME), value, "nL")}
        case "concentration":
            conc = whole(parse_quantity(value, Kind.CONCENTRATION), value, "mcg/mL")
            return {"concentration_ug_per_ml": conc}
        case "battery":
            permille = parse_quantity(value, Kind.PERCENT) * 1000
            return {"battery_permille": whole(permille, value, "tenths of a percent")}
        case "catheter":
            return {"catheter_length_cm": whole(parse_quantity(value, Kind.LENGTH), value, "cm")}
        case "implant":
            if isinstance(value, str):
                cm = parse_quantity(value, Kind.LENGTH)
                return {"implant": implant_record(length_cm=whole(cm, value, "cm"))}
            return {"implant": value}
        case "start":
            return {"start_s": parse_iso_utc(value)}
        case "timeout":
            return {"timeout_s": float(parse_quantity(value, Kind.SHORT_DURATION))}
        case "prescription":
            return {"prescription": _prescription(value, current, key)}
        case "model":
            return {"model": int(str(value).split()[0])}
        case "link":
            return {"link": _link(value)}
        case _:
            # preset, serial, motor_stall, memory_error, clock, speed, fresh, seed, retries are
            # taken as they are (checked on construction); others are refused by the caller.
            return {key: value}


def _prescription(value: Any, current: VirtualPumpConfig, key: str) -> PrescriptionSpec:
    """A marker prescription: a dose (``"100 mcg/day"``) of the drug filled, a mapping as a
    scenario file writes one (``{"flex_weekly": {"monday": [...], ...}}``), or a spec."""
    if isinstance(value, PrescriptionSpec):
        return value
    if isinstance(value, str):
        value = {"simple": value}
    if not isinstance(value, Mapping):
        raise TypeError(
            "a prescription is a dose such as '100 mcg/day', a mapping as in a scenario file "
            "({'flex': [...]}, {'flex_weekly': {...}}) or a PrescriptionSpec"
        )
    concentration = current.concentration_ug_per_ml or current.setup().concentration_ug_per_ml
    try:
        written = parse_prescription(dict(value), "prescription")
    except ScenarioFileError as exc:
        raise ValueError("; ".join(p.message for p in exc.problems)) from None
    return md.prescription_spec(written, concentration)


def _link(value: Any) -> LinkImpairment:
    if isinstance(value, LinkImpairment):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("link takes a LinkImpairment or a mapping such as {'drop': '10 %'}")
    changes: dict[str, object] = {}
    for name, raw in value.items():
        if name in ("drop", "corrupt") and isinstance(raw, str):
            changes[name] = float(parse_quantity(raw, Kind.PERCENT))
        elif name == "delay" and isinstance(raw, str):
            changes["delay_ms"] = float(parse_quantity(raw, Kind.SHORT_DURATION) * 1000)
        else:
            changes[name] = raw
    return LinkImpairment().replace(**changes)


# --- the pump under test ---------------------------------------------------------------------


class PumpUnderTest:
    """What ``virtual_pump`` hands a test: the emulator, its URL, and helpers.

    ``emulator`` is the :class:`~emulator.emulator.Emulator` (controls: faults,
    ``set_link``, ``state``); ``url`` opens the pump from any
    :class:`~protocol.client.PumpClient`; ``capture`` holds the last chunks on the
    wire. Clients made with :meth:`client` are closed after the test.
    """

    def __init__(
        self,
        *,
        emulator: Emulator,
        url: str,
        config: VirtualPumpConfig,
        start_s: int,
        capture: RingCapture,
        tmp_dir: Path,
    ) -> None:
        self.emulator = emulator
        self.url = url
        self.config = config
        self.start_s = start_s
        """Pump clock at the start of this test, Unix seconds."""
        self.capture = capture
        self.keys = load_keys(DEMO_KEY_FILE)
        self._tmp_dir = tmp_dir
        self._clients: list[PumpClient] = []
        self._rng = random.Random(config.seed)

    def client(self, role: Role = Role.CLINICIAN, *, connect: bool = True) -> PumpClient:
        """A new client in a session of ``role`` (closed at teardown)."""
        holder: list[PumpClient] = []
        client = PumpClient(
            self.url,
            key=self.keys[role],
            role=role,
            timeout_s=self.config.timeout_s,
            retries=self.config.retries,
            random_bytes=random.Random(self._rng.getrandbits(64)).randbytes,
            # An in-process link: while it is cut, waiting for an answer costs no wall time.
            monotonic=SilentLinkClock(self.emulator.pumps[0].faults, lambda: holder[0].timeout_s),
        )
        holder.append(client)
        self._clients.append(client)
        if connect:
            client.connect()
        return client

    def advance(self, duration: int | str) -> int:
        """Move pump time forward (``"90d"``, ``"6h"`` or whole seconds); returns the clock."""
        if isinstance(duration, str):
            duration = whole(parse_quantity(duration, Kind.DURATION), duration, "seconds")
        return self.emulator.advance(duration)

    def prescription(self, daily_dose: str) -> PrescriptionSpec:
        """A simple prescription of ``daily_dose`` (``"150 mcg/day"``) of the drug the pump
        holds now, ready for ``pump_client.program(...)``; a flow (mL/day) is refused."""
        if not daily_dose.strip().endswith("mcg/day"):
            raise VpumpConfigError(
                f"{daily_dose!r}: a prescription is a daily dose of the drug in the pump, e.g. "
                "'150 mcg/day' (the pump computes the rate from the dose)"
            )
        concentration = int(self.emulator.state()["pump"]["concentration_ug_per_ml"])
        return PrescriptionSpec.simple(dose(daily_dose), concentration_ug_per_ml=concentration)

    @property
    def now_s(self) -> int:
        """The pump clock now."""
        return self.emulator.clock.now()

    def state(self) -> dict[str, Any]:
        """The full true state (``Emulator.state()``)."""
        return self.emulator.state()

    def low_battery_reset(self) -> None:
        """Inject the low battery reset: critical LOW_BATTERY_RESET alarm, the keep-open
        minimum rate until a prescription is programmed."""
        self.emulator.fault_low_battery_reset()

    def mri(
        self,
        duration: int | str | None = None,
        *,
        recovery_delay: int | str | tuple[int, int] = 0,
        telemetry_trap: bool | Literal["seeded"] = False,
        recovery_logged_at_second_interrogation: bool = False,
    ) -> dict[str, Any]:
        """An MRI exposure (pump time). With ``duration`` (``"45 min"``, ``"2h"`` or whole
        seconds): the pump enters the field now and leaves it that long after, on that
        second, while the test advances time; without it: the pump leaves the field now
        (after :meth:`mri_start`). ``recovery_delay``: ``"4h"``, seconds, or a range
        ``"2h..24h"`` / ``(lo_s, hi_s)`` drawn seeded and uniform; ``telemetry_trap``:
        True, False or ``"seeded"``. Returns the exposure's true state (with the drawn
        values)."""
        exit_ = MriExit(
            recovery_delay_s=_mri_delay(recovery_delay),
            telemetry_trap=telemetry_trap,
            recovery_logged_at_second_interrogation=recovery_logged_at_second_interrogation,
        )
        if duration is None:
            return self.emulator.mri_end(exit_)
        if isinstance(duration, str):
            duration = whole(parse_quantity(duration, Kind.DURATION), duration, "seconds")
        return self.emulator.mri(duration, exit_)

    def mri_start(self) -> dict[str, Any]:
        """The pump enters an MRI field now; :meth:`mri` (without a duration) ends it."""
        return self.emulator.mri_start()

    def mri_end(self, **options: Any) -> dict[str, Any]:
        """The pump leaves the field now (the options of :meth:`mri`)."""
        return self.mri(None, **options)

    def valve_reset(self) -> dict[str, Any]:
        """Reopen the pump's closed flow-activated valve (a ``kind="valve-flow-activated"``
        pump); returns ``{"closed_for_s": ...}``."""
        return self.emulator.valve_reset()

    def check(self) -> None:
        """Re-raise anything that failed inside the emulator so far."""
        self.emulator.check()

    def response(self) -> ResponseReading:
        """The patient model's response now: its ``share`` of the established level, its
        ``progress`` through the last dose change, and that change's onset and full effect
        on the pump clock (``onset_at_clock_s``, ``full_effect_at_clock_s``)."""
        return read_response(self.emulator.state())

    def serve_pty(self) -> str:
        """Also serve the pump on a pty; returns the symlink (in a per-test directory)."""
        link = self._tmp_dir / f"ttyPUMP-{_worker()}-{next(_names)}"
        self.emulator.serve_pty(0, link)
        if not self.emulator.server.running:
            self.emulator.start()
        return str(link)

    def decoded_frames(self, count: int = 12) -> list[str]:
        """The last ``count`` frames on this pump's links, decoded (as ``pump-emulator
        decode`` shows them); a failing test's report shows them."""
        decoder = Decoder(keys=self.keys)
        events = []
        for chunk in self.capture.chunks():
            events += decoder.feed(chunk)
        events += decoder.finish()
        texts = [format_event(e, show_hex=not isinstance(e, FrameEvent)) for e in events]
        return texts[-count:] if count > 0 else []

    def close_clients(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):  # the test may have broken the link on purpose
                client.close()
        self._clients.clear()


def _mri_delay(value: int | str | tuple[int, int]) -> int | tuple[int, int]:
    """A recovery delay as :class:`MriExit` takes it: seconds, or a (shortest, longest)."""
    if isinstance(value, str):
        low, sep, high = value.partition("..")
        seconds = [
            whole(parse_quantity(t, Kind.DURATION), t, "seconds")
            for t in (low, high)[: 1 + bool(sep)]
        ]
        return (seconds[0], seconds[1]) if sep else seconds[0]
    return value


def _new_emulator(config: VirtualPumpConfig, setup: PumpSetup) -> Emulator:
    # Tests start at a fixed pump time, never the wall clock's.
    clock = PumpClock(start_pump_s=config.start_s)
    clock.set_manual()
    return Emulator(
        [setup],
        keys=load_keys(DEMO_KEY_FILE),
        clock=clock,
        catheter_length_cm=config.true_catheter_cm,
        seed=config.seed,
        random_bytes=random.Random(config.seed).randbytes,
    )


def _configure(emu: Emulator, config: VirtualPumpConfig, start_s: int) -> None:
    """Bring a (new or reused) emulator to ``config``: the pump rebuilt at ``start_s``."""
    if emu.clock.snapshot().mode is not ClockMode.MANUAL:
        emu.set_manual()
    now = emu.clock.now()
    if start_s > now:
        emu.clock.advance(start_s - now)
    p = emu.pumps[0]
    p.setup = config.setup()
    p.catheter_length_cm = config.true_catheter_cm
    # The clock moved without the old pump being integrated: it is replaced right here.
    emu.reset(0)
    with p.virtual.lock:
        if config.alarm_volume_nl is not None:
            p.pump.set_alarm_volume(start_s, config.alarm_volume_nl)
    emu.set_link(0, **_impairment_fields(config.link))
    if config.motor_stall:
        emu.fault_motor_stall(True)
    if config.memory_error is not None:
        emu.fault_memory_error(config.memory_error == "critical")
    if config.low_battery_reset:
        emu.fault_low_battery_reset()
    if config.clock == "running":
        emu.set_speed(config.speed)
        emu.resume()


def _impairment_fields(link: LinkImpairment) -> dict[str, object]:
    return {f.name: getattr(link, f.name) for f in fields(link)}


class _SessionPump:
    """The one emulator of a session (``vpump_scope = session``), reset before each test."""

    def __init__(self, tmp_dir: Path) -> None:
        base = VirtualPumpConfig()
        self.emulator = _new_emulator(base, base.setup())
        self.capture = RingCapture(pump_clock=self.emulator.clock.now)
        self.emulator.pumps[0].capture_to(self.capture)
        self.name = f"vpump-{_worker()}-session"
        _plugin_names.add(self.name)
        self.url = self.emulator.register_inproc(0, self.name)
        self.tmp_dir = tmp_dir
        self.emulator.start()

    def next_start(self, start_s: int) -> int:
        """The first second at or after now that has ``start_s``'s weekday and time of day."""
        now = self.emulator.clock.now()
        if now <= start_s:
            return start_s
        return start_s + math.ceil((now - start_s) / _WEEK_S) * _WEEK_S

    def close(self) -> None:
        self.emulator.close()


# --- hooks -----------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vpump", "virtual pump fixtures and scenario files")
    group.addoption(
        "--vpump-scope",
        choices=("test", "session"),
        default=None,
        help="one emulator per test (default) or one per session, reset before each test",
    )
    group.addoption(
        "--vpump-coverage",
        action="store_true",
        default=False,
        help="report which opcodes, NAK codes, alarms and faults the tests exercised "
        "(in the terminal summary and, with --html, the HTML report)",
    )
    parser.addini("vpump_scope", "virtual_pump scope: test (default) or session", default="test")
    parser.addini(
        "vpump_leak_check",
        "fail tests that leave threads, descriptors, port names or temp files behind",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("vpump_coverage", False):
        config.stash[_COVERAGE] = protocol_coverage.start()
    config.addinivalue_line(
        "markers",
        "vpump(**options): options of the virtual_pump fixture, units written out, e.g. "
        "reservoir='5 mL', concentration='1000 mcg/mL', prescription='100 mcg/day', "
        "battery='10 %', link={'drop': '10 %'}, fresh=True",
    )
    config.addinivalue_line(
        "markers", "leaks_ok(reason): skip the vpump leak check (threads, descriptors, links)"
    )
    config.pluginmanager.register(_JunitClassnames(config), "vpump-junit-classnames")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return file
    return None


class ScenarioFile(pytest.File):
    """A ``*.scenario.yaml`` file: one test item, or one per case of its ``parameters:``
    table (``name[case]``); a bad file becomes one failing item."""

    def collect(self) -> Iterator[pytest.Item]:
        name = self.path.name.removesuffix(SUFFIX)
        try:
            scenarios = load_scenarios(self.path)
        except ScenarioFileError as exc:
            bad: ScenarioItem = ScenarioItem.from_parent(self, name=name, load_error=exc)
            yield bad
            return
        for scenario in scenarios:
            label = f"{name}[{scenario.case}]" if scenario.case else name
            item: ScenarioItem = ScenarioItem.from_parent(self, name=label, scenario=scenario)
            yield item


_TAG_MARKERS = pytest.StashKey[set[str]]()


class ScenarioItem(pytest.Item):
    """One scenario run as a test. Its tags are keywords (``-k``) and markers (``-m``); its
    tags and requirements are JUnit properties."""

    def __init__(
        self,
        *,
        scenario: md.Scenario | None = None,
        load_error: ScenarioFileError | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.result: ScenarioResult | None = None
        self.scenario = scenario
        self.load_error = load_error
        self.title = self.name
        if scenario is None:
            return
        self.title = scenario.title
        self.extra_keyword_matches.update(scenario.tags)
        registered = self.config.stash.setdefault(_TAG_MARKERS, set())
        for tag in scenario.tags:
            if tag not in registered:  # registered, so --strict-markers accepts them
                registered.add(tag)
                self.config.addinivalue_line("markers", f"{tag}: a scenario tag")
            self.add_marker(tag)
        if scenario.tags:
            self.user_properties.append(("tags", ", ".join(scenario.tags)))
        self.user_properties += [("requirement", r) for r in scenario.requirements]

    def runtest(self) -> None:
        if self.scenario is None:
            assert self.load_error is not None
            raise self.load_error
        result = run_scenario(self.scenario)
        self.result = result
        self.user_properties.append(("scenario", result.title))
        self.user_properties.append(("steps", str(len(result.steps))))
        if not result.passed:
            failed = result.failed_step
            if failed is not None:
                self.user_properties.append(("failed_step", f"{failed.index}: {failed.name}"))
            raise ScenarioFailed(result.failure_report(), result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        error = excinfo.value
        if isinstance(error, ScenarioFileError):
            return "bad scenario file (nothing was run):\n" + "\n".join(
                f"  {p}" for p in error.problems
            )
        if isinstance(error, ScenarioFailed):
            return str(error)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.title}"


def junit_classname(nodeid: str, prefix: str | None = None) -> str | None:
    """The JUnit classname of a scenario item, as CI dashboards split it (package, then class):
    ``examples/scenarios/x.scenario.yaml::x[case]`` is ``examples.scenarios.x``; None for
    other items."""
    path, sep, _ = nodeid.partition("::")
    if not sep or not path.endswith(SUFFIX):
        return None
    dotted = path.removesuffix(SUFFIX).replace("/", ".").replace("\\", ".")
    return f"{prefix}.{dotted}" if prefix else dotted


class _JunitClassnames:
    """Gives scenario items a JUnit classname without the ``.scenario.yaml`` (whose dots CI
    dashboards read as packages). Set once the test case is open; pytest keeps a classname
    set that way (as it keeps ``record_xml_attribute``'s), with pytest-xdist too."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            return  # the case is written out then: it was named at setup
        from _pytest.junitxml import xml_key  # noqa: PLC0415 - only with --junitxml

        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        classname = junit_classname(report.nodeid, xml.prefix)
        reporter = xml.node_reporters.get((report.nodeid, getattr(report, "node", None)))
        if classname is not None and reporter is not None:
            reporter.attrs["classname"] = classname


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call":
        return report
    if isinstance(item, ScenarioItem) and item.result is not None:
        html = _html_extras(item.config)
        if html is not None:
            extras = list(getattr(report, "extras", []))
            extras.append(html.html(render_html(item.result)))
            report.extras = extras  # type: ignore[attr-defined]
    elif report.failed:
        pump = getattr(item, "funcargs", {}).get("virtual_pump")
        if isinstance(pump, PumpUnderTest):
            frames = pump.decoded_frames()
            text = "\n".join(frames) if frames else "no frames crossed the link"
            report.sections.append(("vpump: last frames on the wire, decoded", text))
            html = _html_extras(item.config)
            if html is not None:
                extras = list(getattr(report, "extras", []))
                extras.append(html.html(f"<pre>{escape(text)}</pre>"))
                report.extras = extras  # type: ignore[attr-defined]
    return report


def _html_extras(config: pytest.Config) -> Any:
    """pytest-html's ``extras`` module when the report is being written, else None."""
    if not config.pluginmanager.hasplugin("html") or not config.getoption("htmlpath", None):
        return None
    try:
        from pytest_html import extras  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    return extras


# --- protocol coverage (--vpump-coverage) ---------------------------------------------------

_COVERAGE = pytest.StashKey[protocol_coverage.ProtocolCoverage]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield
    found = item.config.stash.get(_COVERAGE, None)
    if found is not None:
        found.harvest()  # this test's pumps: their event logs, then they are let go


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    found = session.config.stash.get(_COVERAGE, None)
    if found is None:
        return
    protocol_coverage.stop(found)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller merges and reports
        workeroutput["vpump_coverage"] = json.dumps(found.to_json())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    found = node.config.stash.get(_COVERAGE, None)
    data = getattr(node, "workeroutput", {}).get("vpump_coverage")
    if found is not None and data:
        found.merge(json.loads(data))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(_COVERAGE, None)
    if found is None or getattr(config, "workeroutput", None) is not None:
        return
    terminalreporter.write_sep("-", "vpump protocol coverage")
    for line in found.report_text().splitlines()[1:]:
        terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    found = session.config.stash.get(_COVERAGE, None)
    if found is not None:
        postfix.append(found.report_html())


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def vpump_config() -> VirtualPumpConfig:
    """The defaults of ``virtual_pump`` (override this fixture to change them)."""
    return VirtualPumpConfig()


def _marker_place(request: pytest.FixtureRequest) -> str:
    """``file:line`` of the test's ``vpump(`` marker (else of the test), for its errors."""
    function = getattr(request.node, "function", None)
    try:
        path = Path(inspect.getsourcefile(function) or "")  # type: ignore[arg-type]
        lines, first = inspect.getsourcelines(function)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return str(request.node.nodeid)
    line = next((first + i for i, text in enumerate(lines) if "vpump(" in text), first)
    with contextlib.suppress(ValueError):
        path = path.relative_to(request.config.rootpath)
    return f"{path}:{line}"


def _scope(config: pytest.Config) -> str:
    option = config.getoption("vpump_scope", None)
    value = str(option or config.getini("vpump_scope"))
    if value not in ("test", "session"):
        raise VpumpConfigError(f"vpump_scope {value!r}: use test or session")
    return value


@pytest.fixture(scope="session")
def _vpump_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_SessionPump | None]:
    """The session's emulator when ``vpump_scope = session`` (else None)."""
    if _scope(request.config) != "session":
        yield None
        return
    pool = _SessionPump(tmp_path_factory.mktemp(f"vpump-{_worker()}"))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def virtual_pump(
    request: pytest.FixtureRequest,
    vpump_config: VirtualPumpConfig,
    _vpump_session: _SessionPump | None,
) -> Iterator[PumpUnderTest]:
    """A virtual pump for this test, reachable in process; see :class:`PumpUnderTest`."""
    config = vpump_config
    mistake = ""
    try:
        for marker in reversed(list(request.node.iter_markers("vpump"))):
            if marker.args:
                raise VpumpConfigError("the vpump marker takes keyword options only")
            config = config.with_options(**marker.kwargs)
    except VpumpConfigError as exc:
        mistake = str(exc)
    if mistake:
        # The test's own mistake: its line and the message, not the plugin's traceback.
        pytest.fail(f"{_marker_place(request)}: {mistake}", pytrace=False)
    if _vpump_session is not None and not config.fresh:
        pool = _vpump_session
        start = pool.next_start(config.start_s)
        pool.capture.clear()
        _configure(pool.emulator, config, start)
        for emulated in pool.emulator.pumps:  # one pump serves every test: read it after each
            protocol_coverage.attach(emulated)
        pump = PumpUnderTest(
            emulator=pool.emulator,
            url=pool.url,
            config=config,
            start_s=start,
            capture=pool.capture,
            tmp_dir=pool.tmp_dir,
        )
        try:
            yield pump
        finally:
            pump.close_clients()
        pool.emulator.check()
        return
    emu = _new_emulator(config, config.setup())
    tmp_dir = Path(tempfile.mkdtemp(prefix=_temp_prefix()))
    try:
        _configure(emu, config, config.start_s)
        capture = RingCapture(pump_clock=emu.clock.now)
        emu.pumps[0].capture_to(capture)
        name = f"vpump-{_worker()}-{os.getpid()}-{next(_names)}"
        _plugin_names.add(name)
        url = emu.register_inproc(0, name)
        pump = PumpUnderTest(
            emulator=emu,
            url=url,
            config=config,
            start_s=config.start_s,
            capture=capture,
            tmp_dir=tmp_dir,
        )
        try:
            yield pump
        finally:
            pump.close_clients()
        emu.check()
    finally:
        emu.close()
        shutil.rmtree(tmp_dir, ignore_errors=True)


@pytest.fixture
def pump_client(virtual_pump: PumpUnderTest) -> PumpClient:
    """A client already in a clinician session on ``virtual_pump`` (closed after the test)."""
    return virtual_pump.client(Role.CLINICIAN)


# --- the leak check --------------------------------------------------------------------------


_LINK_GLOB = "/tmp/ttyPUMP*"
_FD_DIR = "/proc/self/fd"


@dataclass(frozen=True)
class _Snapshot:
    threads: frozenset[threading.Thread]
    fds: frozenset[int]
    names: frozenset[str]
    links: frozenset[tuple[str, int]]
    temp_dirs: frozenset[str]


def _fds() -> frozenset[int]:
    """The open descriptors, less eventfds: none of ours makes one, and Qt's process-wide
    worker threads open theirs whenever Qt first needs them (on a loaded machine, during
    whichever test comes first), to keep them for the life of the process."""
    found = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(_FD_DIR):
            with contextlib.suppress(OSError, ValueError):
                os.fstat(int(name))
                if os.readlink(f"{_FD_DIR}/{name}") == "anon_inode:[eventfd]":
                    continue
                found.add(int(name))
    return frozenset(found)


def _links() -> frozenset[tuple[str, int]]:
    """The ``/tmp/ttyPUMP*`` symlinks, with their inode (a link replaced is a new one)."""
    found = set()
    for path in glob.glob(_LINK_GLOB):
        with contextlib.suppress(OSError):
            if os.path.islink(path):
                found.add((path, os.lstat(path).st_ino))
    return frozenset(found)


def _our_pty_slaves() -> set[str]:
    """``/dev/pts/N`` for every pty master this process holds."""
    slaves = set()
    for fd in _fds():
        try:
            if os.readlink(f"{_FD_DIR}/{fd}") not in ("/dev/ptmx", "/dev/pts/ptmx"):
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                for line in info:
                    if line.startswith("tty-index:"):
                        slaves.add(f"/dev/pts/{int(line.split(':', 1)[1])}")
        except (OSError, ValueError):
            continue
    return slaves


def _describe_fd(fd: int) -> str:
    try:
        return f"fd {fd} -> {os.readlink(f'{_FD_DIR}/{fd}')}"
    except OSError:
        return f"fd {fd}"


def _snapshot() -> _Snapshot:
    threads = frozenset(
        t
        for t in threading.enumerate()
        if t.is_alive() and not isinstance(t, threading._DummyThread)
    )
    names = frozenset(n for n in _plugin_names if inproc.lookup(n) is not None)
    temp = frozenset(glob.glob(os.path.join(tempfile.gettempdir(), _temp_prefix() + "*")))
    return _Snapshot(
        threads=threads,
        fds=_fds(),
        names=names,
        links=_links(),
        temp_dirs=temp,
    )


def _leaks(before: _Snapshot) -> list[str]:
    now = _snapshot()
    found = [f"thread {t.name!r}" for t in now.threads - before.threads]
    found += [_describe_fd(fd) for fd in sorted(now.fds - before.fds)]
    found += [f"in-process port {name!r}" for name in sorted(now.names - before.names)]
    new_links = now.links - before.links
    if new_links:
        # Another process's link (a parallel worker's) is not ours: a new link counts only
        # when it dangles or points at a pty whose master this process holds.
        ours = _our_pty_slaves()
        for path, _ in sorted(new_links):
            try:
                target = os.readlink(path)
            except OSError:
                continue  # gone meanwhile
            if not os.path.exists(path) or target in ours:
                found.append(f"symlink {path} -> {target}")
    found += [f"temp dir {path}" for path in sorted(now.temp_dirs - before.temp_dirs)]
    return found


@pytest.fixture
def vpump_leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves threads, descriptors, in-process port names, pty symlinks
    or vpump temp dirs behind. Request it from an autouse fixture (or set
    ``vpump_leak_check = true``) so it is set up before, and checked after, every other.
    Leftovers get ``VPUMP_LEAK_SETTLE_S`` seconds (default 2) to go away first. A test
    marked ``@pytest.mark.leaks_ok("why")`` is not checked."""
    if request.node.get_closest_marker("leaks_ok") is not None:
        yield
        return
    before = _snapshot()
    yield
    leaks = _leaks(before)
    if leaks:
        gc.collect()
        # Something new may need a moment to go away (a thread finishing its last lines).
        deadline = time.monotonic() + float(os.environ.get("VPUMP_LEAK_SETTLE_S", _SETTLE_S))
        while leaks and time.monotonic() < deadline:
            time.sleep(0.01)
            leaks = _leaks(before)
    if leaks:
        pytest.fail("vpump: the test left behind: " + "; ".join(leaks), pytrace=False)


@pytest.fixture(autouse=True)
def _vpump_autouse_leak_check(request: pytest.FixtureRequest) -> None:
    """``vpump_leak_check = true`` in the ini file turns the leak check on for every test."""
    if request.config.getini("vpump_leak_check"):
        request.getfixturevalue("vpump_leak_check")
