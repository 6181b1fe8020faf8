"""Fixtures of the programmer's Qt tests: an in-process demo pump on a manual clock, a
programmer clock the test controls, and a PumpLink with short timeouts closed afterwards."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QGroupBox
from pytestqt.qtbot import QtBot

from emulator.emulator import Emulator
from programmer_gui.app import Programmer, build
from programmer_gui.controllers.titration import TitrationWatch
from programmer_gui.link import PumpLink
from tests.support import T0

FAST_TIMEOUT_S = 0.25
"""Per-attempt timeout of the tests' links, so a dead link fails in about half a second."""
FAST_RETRIES = 1


class ProgrammerClock:
    """The programmer's wall clock (Unix s), moved by the test; starts at the pump's T0."""

    def __init__(self, now_s: float = float(T0)) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


@dataclass
class DemoWorld:
    """The demo preset's pump (manual clock at T0) served at ``url``."""

    emulator: Emulator
    url: str


@pytest.fixture(scope="module", autouse=True)
def _gc_frozen_before_the_module() -> None:
    """Freeze what is alive as a module starts (the tests/conftest.py freeze after collection
    does the same for the modules and the collected tests): the per-test collection below
    then walks only what this module's tests make, not what every test before them left
    alive (hypothesis's caches, the emulator tests' survivors: about 50 ms a test)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _gc_on_the_test_thread() -> Iterator[None]:
    """No automatic garbage collection during a GUI test, and what a test left is collected
    here, on the GUI thread, before the next one. Otherwise a collection triggered on the
    link's worker thread can destroy a dropped widget there and deadlock with the GUI
    thread (the programmer guards itself the same way: programmer_gui/gc_guard.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()


UNANSWERED_DIALOG_MS = 3_000


@pytest.fixture(autouse=True)
def _no_unanswered_dialog(qapp: QApplication) -> Iterator[None]:
    """A modal dialog no test answers would block the test forever (pytest-timeout cannot
    interrupt Qt's nested event loop): it is rejected after a while and the test fails."""
    left_open: list[str] = []
    seen: dict[int, float] = {}

    def check() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QDialog):
            return
        first = seen.setdefault(id(box), time.monotonic())
        if (time.monotonic() - first) * 1000 > UNANSWERED_DIALOG_MS:
            left_open.append(box.windowTitle())
            box.reject()

    timer = QTimer()
    timer.setInterval(200)
    timer.timeout.connect(check)
    timer.start()
    yield
    timer.stop()
    assert not left_open, f"dialogs nobody answered: {left_open}"


@pytest.fixture(scope="session", autouse=True)
def _qt_warmed_up(qapp: QApplication) -> None:
    """Show a group box once before any test: the first one shown makes Qt start two
    process-wide worker threads (with an eventfd each) that live as long as the application,
    which the repo's per-test leak check would otherwise pin on whichever test came first."""
    before = _eventfds()
    box = QGroupBox("warm-up")
    box.show()
    for _ in range(5):
        qapp.processEvents()
    # On a loaded machine the threads start late: wait (3 s at most) until their eventfds
    # have appeared and stayed put for a moment, so no test is blamed for them.
    deadline = time.monotonic() + 3.0
    seen, stable_since = _eventfds(), time.monotonic()
    while time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.02)
        now = _eventfds()
        if now != seen:
            seen, stable_since = now, time.monotonic()
        elif now > before and time.monotonic() - stable_since > 0.3:
            break
    box.close()
    box.deleteLater()
    qapp.processEvents()


def _eventfds() -> int:
    """How many eventfds this process holds (Qt's worker threads have one each)."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[eventfd]"
        except OSError:
            continue
    return count


@pytest.fixture
def demo_world() -> Iterator[DemoWorld]:
    emulator = Emulator.single(
        preset="demo",
        manual_clock=True,
        start_pump_s=T0,
        random_bytes=random.Random(11).randbytes,
    )
    url = emulator.register_inproc()
    emulator.start()
    try:
        yield DemoWorld(emulator=emulator, url=url)
        emulator.check()
    finally:
        emulator.close()


@pytest.fixture
def programmer_clock() -> ProgrammerClock:
    return ProgrammerClock()


@pytest.fixture
def link(qtbot: QtBot, programmer_clock: ProgrammerClock) -> Iterator[PumpLink]:
    pump_link = PumpLink(
        timeout_s=FAST_TIMEOUT_S,
        retries=FAST_RETRIES,
        poll_interval_s=None,
        wall=programmer_clock,
    )
    try:
        yield pump_link
    finally:
        pump_link.close()


def wait_for_titration_history(qtbot: QtBot, programmer: Programmer) -> None:
    """Until the titration watch has read the pump's event log up to its latest
    prescription (so a review's titration warnings do not depend on timing)."""
    watch = programmer.controllers["titration"]
    assert isinstance(watch, TitrationWatch)
    qtbot.waitUntil(lambda: watch.up_to_date, timeout=5_000)


def _built_programmer(
    qtbot: QtBot, demo_world: DemoWorld, programmer_clock: ProgrammerClock, *, answer_yes: bool
) -> Iterator[Programmer]:
    built = build(
        timeout_s=FAST_TIMEOUT_S,
        retries=FAST_RETRIES,
        poll_interval_s=None,
        wall=programmer_clock,
    )
    qtbot.addWidget(built.window)
    if answer_yes:
        for controller in (*built.controllers.values(), built.review):
            if hasattr(controller, "confirm"):
                controller.confirm = lambda _title, _text: True
    try:
        built.window.show()
        with qtbot.waitSignal(built.link.snapshot, timeout=5_000):
            built.connect.page.url_edit.setText(demo_world.url)
            built.connect.connect_pump()
        wait_for_titration_history(qtbot, built)
        yield built
    finally:
        built.link.close()


@pytest.fixture
def fresh(qtbot: QtBot, programmer_clock: ProgrammerClock) -> Iterator[Programmer]:
    """The programmer as it starts, before any pump is connected."""
    programmer = build(
        timeout_s=FAST_TIMEOUT_S, retries=FAST_RETRIES, poll_interval_s=None, wall=programmer_clock
    )
    qtbot.addWidget(programmer.window)
    try:
        programmer.window.show()
        yield programmer
    finally:
        programmer.link.close()


@pytest.fixture
def programmer(
    qtbot: QtBot, demo_world: DemoWorld, programmer_clock: ProgrammerClock
) -> Iterator[Programmer]:
    """The whole programmer (every installer), connected to the demo pump as a clinician,
    with the first snapshot in; its confirmation dialogs answer yes unless a test says no."""
    yield from _built_programmer(qtbot, demo_world, programmer_clock, answer_yes=True)


@pytest.fixture
def programmer_with_dialogs(
    qtbot: QtBot, demo_world: DemoWorld, programmer_clock: ProgrammerClock
) -> Iterator[Programmer]:
    """As ``programmer``, but every confirmation is the real modal dialog."""
    yield from _built_programmer(qtbot, demo_world, programmer_clock, answer_yes=False)
