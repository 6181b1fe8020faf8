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
import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from emulator import coverage as protocol_coverage
from emulator.capture import RingCapture
from emulator.leak_check import leaks_after_settling, snapshot
from emulator.plugin_config import VirtualPumpConfig, VpumpConfigError
from emulator.plugin_pump import (
    PumpUnderTest,
    SessionPump,
    configure_emulator,
    new_emulator,
    plugin_names,
    temp_prefix,
    unique_number,
    worker,
)
from emulator.plugin_scenarios import (
    JunitClassnames,
    ScenarioFile,
    ScenarioItem,
    html_extras,
    junit_classname,
)
from emulator.scenarios.loader import SUFFIX
from emulator.scenarios.report import render_html
from protocol.client import PumpClient
from protocol.enums import Role

__all__ = [
    "PumpUnderTest",
    "ScenarioFile",
    "ScenarioItem",
    "VirtualPumpConfig",
    "VpumpConfigError",
    "junit_classname",
]

# The plugin's parts: emulator.plugin_config (the configuration and marker options),
# emulator.plugin_pump (the pump under test), emulator.plugin_scenarios (scenario files as
# items, JUnit, HTML) and emulator.leak_check (what the leak check inspects). This module holds
# the hooks and fixtures pytest finds through the ``pytest11`` entry point.

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
    config.pluginmanager.register(JunitClassnames(config), "vpump-junit-classnames")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return file
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call":
        return report
    if isinstance(item, ScenarioItem) and item.result is not None:
        html = html_extras(item.config)
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
            html = html_extras(item.config)
            if html is not None:
                extras = list(getattr(report, "extras", []))
                extras.append(html.html(f"<pre>{escape(text)}</pre>"))
                report.extras = extras  # type: ignore[attr-defined]
    return report


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
) -> Iterator[SessionPump | None]:
    """The session's emulator when ``vpump_scope = session`` (else None)."""
    if _scope(request.config) != "session":
        yield None
        return
    pool = SessionPump(tmp_path_factory.mktemp(f"vpump-{worker()}"))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def virtual_pump(
    request: pytest.FixtureRequest,
    vpump_config: VirtualPumpConfig,
    _vpump_session: SessionPump | None,
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
        configure_emulator(pool.emulator, config, start)
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
    emu = new_emulator(config, config.setup())
    tmp_dir = Path(tempfile.mkdtemp(prefix=temp_prefix()))
    try:
        configure_emulator(emu, config, config.start_s)
        capture = RingCapture(pump_clock=emu.clock.now)
        emu.pumps[0].capture_to(capture)
        name = f"vpump-{worker()}-{os.getpid()}-{unique_number()}"
        plugin_names.add(name)
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
    before = snapshot()
    yield
    found = leaks_after_settling(before)
    if found:
        pytest.fail("vpump: the test left behind: " + "; ".join(found), pytrace=False)


@pytest.fixture(autouse=True)
def _vpump_autouse_leak_check(request: pytest.FixtureRequest) -> None:
    """``vpump_leak_check = true`` in the ini file turns the leak check on for every test."""
    if request.config.getini("vpump_leak_check"):
        request.getfixturevalue("vpump_leak_check")
