"""#14 item 7: a keyboard-only path through every workflow. F6 reaches the page list, the
arrows choose a page, Alt+letters reach each field and button, typing fills them, and the
review is acknowledged (Alt+1, Alt+2 ...) and programmed (Alt+P) without the mouse. Each
test ends by checking what the pump itself now holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QWidget
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.eventlog import EventLogController
from programmer_gui.controllers.flex import FlexController
from programmer_gui.controllers.patient import PatientController
from programmer_gui.controllers.report import ReportController
from programmer_gui.link import LinkState
from programmer_gui.views.main_window import NAV_SHORTCUT
from protocol.enums import BolusKind, Mode
from tests.programmer_gui.conftest import DemoWorld

WAIT_MS = 5_000
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


class Keyboard:
    """The person at the keyboard: keys only, to whatever has the focus."""

    def __init__(self, qtbot: QtBot, programmer: Programmer) -> None:
        self.qtbot = qtbot
        self.programmer = programmer
        self.window = programmer.window
        self.window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is self.window, timeout=WAIT_MS)

    @property
    def focus(self) -> QWidget:
        return QApplication.focusWidget() or self.window

    def key(
        self, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    ) -> None:
        QTest.keyClick(self.focus, key, modifier)

    def alt(self, letter: str) -> None:
        self.key(Qt.Key(ord(letter.upper())), Qt.KeyboardModifier.AltModifier)

    def type(self, text: str) -> None:
        QTest.keyClicks(self.focus, text)

    def field(self, letter: str, text: str) -> None:
        """Alt+letter to a field, select what is there, type ``text``."""
        self.alt(letter)
        self.key(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        self.type(text)

    def go(self, title: str) -> None:
        """F6 to the page list, then the arrows to the page titled ``title``."""
        QTest.keySequence(self.focus, QKeySequence(NAV_SHORTCUT))
        nav = self.window.nav
        assert self.focus is nav
        self.key(Qt.Key.Key_Home)
        for _ in range(nav.count()):
            item = nav.currentItem()
            if item is not None and item.text() == title:
                break
            self.key(Qt.Key.Key_Down)
        item = nav.currentItem()
        assert item is not None and item.text() == title
        current = self.window.current_page()
        assert current is not None
        assert self.window.pages[current].title == title

    def choose(self, letter: str, wanted: Callable[[QComboBox], bool]) -> None:
        """Alt+letter to a combo box, then Down until the entry ``wanted`` is chosen."""
        self.alt(letter)
        combo = self.focus
        assert isinstance(combo, QComboBox)
        self.key(Qt.Key.Key_Home)
        for _ in range(combo.count()):
            if wanted(combo):
                return
            self.key(Qt.Key.Key_Down)
        assert wanted(combo), combo.currentText()

    def press(self, letter: str) -> None:
        """Alt+letter on a button (Qt animates the click: it lands a moment later)."""
        before = self.window.current_page()
        self.alt(letter)
        self.qtbot.wait(150)  # Qt's animated click: 100 ms
        assert self.window.current_page() in (before, "review")

    def review(self, letter: str) -> None:
        """Alt+letter on a "Review ..." button: the review page opens."""
        self.alt(letter)
        self.qtbot.waitUntil(lambda: self.window.current_page() == "review", timeout=WAIT_MS)

    def acknowledge_and_program(self) -> None:
        """On the review: Alt+1, Alt+2 ... for each warning, then Alt+P; waits for the pump."""
        assert self.window.current_page() == "review"
        review = self.programmer.review
        for i, check in enumerate(review.page.warning_checks):
            self.alt(str(i + 1))
            self.qtbot.waitUntil(check.isChecked, timeout=WAIT_MS)
        assert review.page.program_button.isEnabled(), review.page.program_hint.text()
        with self.qtbot.waitSignal(self.programmer.link.snapshot, timeout=WAIT_MS):
            self.alt("p")
        self.qtbot.waitUntil(lambda: review.review is None, timeout=WAIT_MS)


def _pump(world: DemoWorld) -> dict[str, object]:
    pump = world.emulator.state()["pump"]
    assert isinstance(pump, dict)
    return pump


def test_stop_and_resume_by_keyboard(qtbot: QtBot, programmer: Programmer) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Stop / resume")
    keys.field("n", "MRI at 14:00")
    keys.review("s")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and latest.stopped
    keys.review("e")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and not latest.stopped


def test_a_bolus_by_keyboard(qtbot: QtBot, programmer: Programmer) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Boluses")
    keys.choose("k", lambda combo: combo.currentText().startswith("Therapeutic"))
    keys.field("d", "50")
    keys.field("u", "60")
    keys.review("r")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and latest.status.bolus_kind is BolusKind.THERAPEUTIC


def test_patient_doses_by_keyboard(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Patient doses")
    keys.alt("d")  # the check box: its mnemonic ticks it (a moment later)
    patient = programmer.controllers["patient"]
    assert isinstance(patient, PatientController)
    qtbot.waitUntil(patient.page.enabled_check.isChecked, timeout=WAIT_MS)
    for letter, text in (("a", "25"), ("v", "10"), ("l", "180"), ("m", "4")):
        keys.field(letter, text)
    keys.review("r")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and latest.patient_settings is not None
    assert latest.patient_settings.enabled and latest.patient_settings.max_per_24h == 4


def test_the_implant_record_by_keyboard(qtbot: QtBot, programmer: Programmer) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Implant record")
    keys.field("u", "5")
    keys.review("v")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and latest.implant is not None
    assert latest.implant.implant.catheter_length_uncertainty_mm == 50


def test_a_flex_step_by_keyboard(qtbot: QtBot, programmer: Programmer) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Flex dosing")
    keys.alt("s")  # to the steps table
    flex = programmer.controllers["flex"]
    assert isinstance(flex, FlexController)
    assert keys.focus is flex.page.table
    keys.key(Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)  # the first cell
    keys.key(Qt.Key.Key_Down)  # the day-time step
    keys.key(Qt.Key.Key_Right)
    keys.key(Qt.Key.Key_Right)  # its dose
    keys.key(Qt.Key.Key_F2)
    keys.key(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    keys.type("450")
    keys.key(Qt.Key.Key_Return)
    keys.review("r")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and latest.mode is Mode.FLEX
    doses = [step.dose_ng_per_day for step in latest.require_prescription().profiles[0]]
    assert 450_000 in doses


def test_a_refill_by_keyboard(qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Refill")
    keys.field("r", "29.8")
    keys.field("a", "35")
    keys.choose("o", lambda combo: combo.currentData() == 2000)
    keys.field("l", "L2026-12")
    keys.review("v")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None
    assert latest.status.reservoir_nl == 35_000_000


def test_the_alarm_volume_by_keyboard(qtbot: QtBot, programmer: Programmer) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Alarms")
    keys.field("o", "3")
    keys.review("v")
    keys.acknowledge_and_program()
    latest = programmer.link.latest
    assert latest is not None and latest.status.alarm_volume_nl == 3_000_000


def test_the_log_trends_and_report_by_keyboard(
    qtbot: QtBot, programmer: Programmer, tmp_path: Path
) -> None:
    keys = Keyboard(qtbot, programmer)
    log = programmer.controllers["eventlog"]
    assert isinstance(log, EventLogController)
    keys.go("Event log")
    count = len(log.entries)
    keys.press("r")
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)
    assert len(log.entries) >= count
    keys.field("c", "refill")
    shown = log.page.shown_rows()
    assert all("refill" in f"{row.event} {row.details}".lower() for row in shown)
    keys.go("Trends")
    keys.press("r")
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)
    report = programmer.controllers["report"]
    assert isinstance(report, ReportController)
    target = tmp_path / "report.pdf"
    report.choose_path = lambda: str(target)  # the save dialog is Qt's own (keyboard too)
    keys.go("Session report")
    keys.alt("s")
    qtbot.waitUntil(target.exists, timeout=WAIT_MS)
    assert target.read_bytes().startswith(b"%PDF")


def test_disconnect_and_connect_by_keyboard(qtbot: QtBot, programmer: Programmer) -> None:
    keys = Keyboard(qtbot, programmer)
    keys.go("Connect")
    keys.alt("o")
    qtbot.waitUntil(lambda: programmer.link.state is LinkState.DISCONNECTED, timeout=WAIT_MS)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        keys.alt("c")
    assert programmer.link.state is LinkState.CONNECTED
    keys.go("Status")
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        keys.alt("i")
