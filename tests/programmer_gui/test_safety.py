"""Issue #14, safety: every confirmation defaults to the safe choice (Enter changes nothing),
the alarm strip never moves the page, a new critical alarm takes the alarm selection, acting on
an alarm names it, a pending review is never left silently, Cancel says what it does while the
pump is being programmed, and a started bolus reads as a success.

The dialogs here are the real modal ones: a timer presses Enter on each, as a clinician
would by reflex, and the test proves nothing reached the pump."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.alarms import AlarmsController
from programmer_gui.controllers.bolus import BolusController
from programmer_gui.controllers.dose import DoseController
from programmer_gui.controllers.home import HomeController
from programmer_gui.controllers.refill import RefillController
from programmer_gui.views.widgets import ask_confirmation
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, BolusKind, Mode, Role
from tests.programmer_gui.conftest import DemoWorld, ProgrammerClock
from tests.support import DEMO_KEYS, T0

WAIT_MS = 5_000


@dataclass
class Asked:
    """One dialog answered with Enter: its title, text, default button and whether Enter
    closed it (a dialog Enter cannot close is rejected after a while and fails the test)."""

    title: str
    text: str
    default: str
    closed_by_enter: bool = True


@dataclass
class EnterPresser:
    """Presses Enter on the next modal message box, on the widget that has its focus."""

    asked: list[Asked] = field(default_factory=list)

    def arm(self) -> None:
        QTimer.singleShot(0, self._poll)

    def _poll(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, self._poll)
            return
        default = box.defaultButton()
        self.asked.append(
            Asked(
                title=box.windowTitle(),
                text=box.text(),
                default="" if default is None else default.text(),
            )
        )
        target: QWidget = box.focusWidget() or box
        QTest.keyClick(target, Qt.Key.Key_Return)
        if box.isVisible():  # Enter did not answer: fail the test rather than hang it
            self.asked[-1].closed_by_enter = False
            box.reject()


@pytest.fixture
def enter() -> Iterator[EnterPresser]:
    yield EnterPresser()


def press_with_enter_on_dialog(qtbot: QtBot, enter: EnterPresser, button: QPushButton) -> Asked:
    """Click ``button`` (which opens a confirmation) and answer the dialog with Enter."""
    before = len(enter.asked)
    enter.arm()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(enter.asked) > before, timeout=WAIT_MS)
    asked = enter.asked[-1]
    assert asked.closed_by_enter, asked
    return asked


def refresh(qtbot: QtBot, programmer: Programmer) -> None:
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)


def settle(qtbot: QtBot, programmer: Programmer) -> None:
    """Let anything that was (wrongly) submitted reach the pump and come back."""
    qtbot.wait(100)
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)


def click_nav(qtbot: QtBot, programmer: Programmer, key: str) -> None:
    item = programmer.window.pages[key].item
    assert item is not None
    nav = programmer.window.nav
    centre = nav.visualItemRect(item).center()
    qtbot.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(centre))


def with_pump(demo_world: DemoWorld) -> PumpClient:
    return PumpClient(demo_world.url, key=DEMO_KEYS[Role.CLINICIAN], timeout_s=1.0)


# -- the dialog itself ---------------------------------------------------------------------------


def test_the_confirmation_dialog_defaults_to_the_safe_answer(
    qtbot: QtBot, enter: EnterPresser
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    enter.arm()
    assert not ask_confirmation(parent, "Any", "Go ahead?", yes_text="&Go ahead", no_text="&Back")
    assert enter.asked[-1].default == "&Back"


# -- Enter on every safety confirmation of the programmer ---------------------------------------


def test_enter_on_the_decimal_check_and_the_program_confirmation_changes_nothing(
    qtbot: QtBot, programmer_with_dialogs: Programmer, demo_world: DemoWorld, enter: EnterPresser
) -> None:
    programmer = programmer_with_dialogs
    window, review = programmer.window, programmer.review
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    window.show_page("dose")
    qtbot.keyClicks(dose.page.dose_edit, "4000")
    asked = press_with_enter_on_dialog(qtbot, enter, dose.page.review_button)
    assert asked.title == "Check the decimal point" and "4000 mcg/day" in asked.text
    assert asked.default.startswith("&No")
    assert window.current_page() == "dose" and review.review is None

    dose.page.dose_edit.clear()
    qtbot.keyClicks(dose.page.dose_edit, "420")
    qtbot.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    assert window.current_page() == "review"
    for check in review.page.warning_checks:
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    asked = press_with_enter_on_dialog(qtbot, enter, review.page.program_button)
    assert asked.title == "Program the pump" and asked.default.startswith("&Go back")
    settle(qtbot, programmer)
    assert demo_world.emulator.state()["pump"]["mode"] == "FLEX"
    assert programmer.record.actions == ()
    assert window.current_page() == "review" and review.review is not None

    # Leaving the pending review for another page asks; Enter stays on the review.
    count = len(enter.asked)
    enter.arm()
    click_nav(qtbot, programmer, "home")
    qtbot.waitUntil(lambda: len(enter.asked) > count, timeout=WAIT_MS)
    assert enter.asked[-1].title == "Leave the review"
    assert enter.asked[-1].default == "&Stay on the review"
    assert window.current_page() == "review" and review.review is not None
    assert window.nav.currentItem() is window.pages["dose"].item


def test_enter_on_the_refill_decimal_check_changes_nothing(
    qtbot: QtBot, programmer_with_dialogs: Programmer, enter: EnterPresser
) -> None:
    programmer = programmer_with_dialogs
    refill = programmer.controllers["refill"]
    assert isinstance(refill, RefillController)
    programmer.window.show_page("refill")
    page = refill.page
    qtbot.keyClicks(page.removed_edit, "30")
    qtbot.keyClicks(page.added_edit, "20")
    page.concentration_combo.setCurrentIndex(page.concentration_combo.findData(1000))
    page.new_dose_radio.setChecked(True)
    qtbot.keyClicks(page.dose_edit, "4000")
    asked = press_with_enter_on_dialog(qtbot, enter, page.review_button)
    assert asked.title == "Check the decimal point" and asked.default.startswith("&No")
    assert programmer.window.current_page() == "refill" and programmer.review.review is None


def test_enter_on_alarm_silence_and_clear_changes_nothing_and_names_the_alarm(
    qtbot: QtBot, programmer_with_dialogs: Programmer, demo_world: DemoWorld, enter: EnterPresser
) -> None:
    programmer = programmer_with_dialogs
    demo_world.emulator.fault_motor_stall(True)
    refresh(qtbot, programmer)
    alarms = programmer.controllers["alarms"]
    assert isinstance(alarms, AlarmsController)
    programmer.window.show_page("alarms")
    assert alarms.selected_code() is AlarmCode.MOTOR_STALL
    asked = press_with_enter_on_dialog(qtbot, enter, alarms.page.silence_button)
    # The window title names the action without the button's mnemonic marker.
    assert asked.title == "Silence \u201cMotor stall\u201d" and "critical alarm" in asked.text
    assert asked.default == "&Go back (do nothing)"
    asked = press_with_enter_on_dialog(qtbot, enter, alarms.page.clear_button)
    assert asked.title == "Clear \u201cMotor stall\u201d"
    assert "\u201cMotor stall\u201d" in asked.text
    settle(qtbot, programmer)
    refresh(qtbot, programmer)
    latest = programmer.link.latest
    assert latest is not None
    assert [(a.code, a.silenced) for a in latest.alarms] == [(AlarmCode.MOTOR_STALL, False)]
    assert alarms.page.message.text == ""
    assert programmer.record.actions == ()


def test_enter_on_cancel_bolus_keeps_it_running(
    qtbot: QtBot, programmer_with_dialogs: Programmer, demo_world: DemoWorld, enter: EnterPresser
) -> None:
    programmer = programmer_with_dialogs
    with with_pump(demo_world) as client:
        client.start_bolus(dose_ng=50_000, duration_s=3_600)
    refresh(qtbot, programmer)
    bolus = programmer.controllers["bolus"]
    assert isinstance(bolus, BolusController)
    programmer.window.show_page("bolus")
    asked = press_with_enter_on_dialog(qtbot, enter, bolus.page.cancel_button)
    assert asked.default == "&Keep the bolus running"
    settle(qtbot, programmer)
    refresh(qtbot, programmer)
    latest = programmer.link.latest
    assert latest is not None and latest.status.bolus_kind is BolusKind.THERAPEUTIC


def test_enter_on_set_clock_and_cancel_bridge_changes_nothing(
    qtbot: QtBot,
    programmer_with_dialogs: Programmer,
    demo_world: DemoWorld,
    programmer_clock: ProgrammerClock,
    enter: EnterPresser,
) -> None:
    programmer = programmer_with_dialogs
    with with_pump(demo_world) as client:
        client.refill(
            removed_nl=client.status().reservoir_nl,
            added_nl=20_000_000,
            concentration_ug_per_ml=1000,
            prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=1000),
            bridge=True,
        )
    programmer.link.simulated_override = False
    programmer_clock.now_s = T0 + 600
    refresh(qtbot, programmer)
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    programmer.window.show_page("home")
    latest = programmer.link.latest
    assert latest is not None and latest.bridging
    clock_before = latest.status.clock_s

    asked = press_with_enter_on_dialog(qtbot, enter, home.page.set_clock_button)
    assert asked.default == "&Keep the pump clock"
    asked = press_with_enter_on_dialog(qtbot, enter, home.page.cancel_bridge_button)
    assert asked.default == "&Keep the bridge"
    settle(qtbot, programmer)
    refresh(qtbot, programmer)
    latest = programmer.link.latest
    assert latest is not None and latest.bridging
    assert abs(latest.status.clock_s - clock_before) < 60  # not moved to T0 + 600
    assert programmer.record.actions == ()


# -- the alarm strip and the alarm selection -----------------------------------------------------


def test_alarms_and_a_lost_link_never_move_the_page(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    window = programmer.window
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)
    QApplication.processEvents()

    def geometry() -> tuple[object, ...]:
        QApplication.processEvents()
        nav, stack = window.nav, window.stack
        return (
            nav.mapTo(window, QPoint(0, 0)),
            nav.size(),
            stack.mapTo(window, QPoint(0, 0)),
            stack.size(),
        )

    before = geometry()
    demo_world.emulator.fault_motor_stall(True)
    demo_world.emulator.fault_memory_error(False)
    refresh(qtbot, programmer)
    assert window.critical_badge.isVisibleTo(window)
    assert window.noncritical_badge.isVisibleTo(window)
    assert geometry() == before
    window.show_link_lost("Link to the pump lost.")
    assert geometry() == before
    window.show_link_lost(None)
    window.set_alarms(None, None)
    assert geometry() == before


def test_a_new_critical_alarm_takes_the_selection_from_a_noncritical_row(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    alarms = programmer.controllers["alarms"]
    assert isinstance(alarms, AlarmsController)
    programmer.window.show_page("alarms")
    demo_world.emulator.fault_memory_error(False)
    refresh(qtbot, programmer)
    assert alarms.selected_code() is AlarmCode.MEMORY_NON_CRITICAL
    demo_world.emulator.fault_motor_stall(True)
    refresh(qtbot, programmer)
    assert alarms.selected_code() is AlarmCode.MOTOR_STALL
    # A deliberate choice of the non-critical row afterwards is kept across polls.
    alarms.page.table.selectRow(1)
    refresh(qtbot, programmer)
    assert alarms.selected_code() is AlarmCode.MEMORY_NON_CRITICAL


def test_a_refused_clear_names_the_alarm_in_clinical_words(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    demo_world.emulator.fault_motor_stall(True)
    refresh(qtbot, programmer)
    alarms = programmer.controllers["alarms"]
    assert isinstance(alarms, AlarmsController)
    asked: list[str] = []

    def confirm(title: str, text: str) -> bool:
        asked.append(title + text)
        return True

    alarms.confirm = confirm
    programmer.window.show_page("alarms")
    qtbot.mouseClick(alarms.page.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: alarms.page.message.text != "", timeout=WAIT_MS)
    text = alarms.page.message.text
    assert "\u201cMotor stall\u201d" in asked[0]
    assert text.startswith("The pump refused to clear \u201cMotor stall\u201d")
    assert "MOTOR_STALL" not in text and "_" not in text


# -- the review: leaving it, and Cancel while programming ----------------------------------------


def test_leaving_a_pending_review_can_discard_it_and_says_so(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    window, review = programmer.window, programmer.review
    window.show_page("dose")
    qtbot.keyClicks(dose.page.dose_edit, "420")
    qtbot.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    assert window.current_page() == "review"
    asked: list[str] = []
    answers = [False, True, True]

    def confirm_leave(_title: str, text: str) -> bool:
        asked.append(text)
        return answers.pop(0)

    review.confirm_leave = confirm_leave
    click_nav(qtbot, programmer, "alarms")
    assert window.current_page() == "review" and review.review is not None
    assert "has not been sent" in asked[0] and "Alarms" in asked[0]
    click_nav(qtbot, programmer, "alarms")
    assert window.current_page() == "alarms" and review.review is None
    assert demo_world.emulator.state()["pump"]["mode"] == "FLEX"
    assert [a.action for a in programmer.record.actions] == ["Review discarded"]
    # The page the review came from is reachable from the navigation too.
    qtbot.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    assert window.current_page() == "review"
    click_nav(qtbot, programmer, "dose")
    assert window.current_page() == "dose"


def test_while_programming_cancel_is_off_and_the_page_says_why(
    qtbot: QtBot, programmer: Programmer
) -> None:
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    window, review = programmer.window, programmer.review
    window.show_page("dose")
    qtbot.keyClicks(dose.page.dose_edit, "420")
    qtbot.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    for check in review.page.warning_checks:
        check.setChecked(True)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
        cancel_enabled, hint, result = (
            review.page.cancel_button.isEnabled(),
            review.page.program_hint.text(),
            review.page.result.text,
        )
        # Leaving by the navigation is refused while the pump has not answered.
        click_nav(qtbot, programmer, "home")
        stayed = window.current_page()
    assert not cancel_enabled
    assert "wait for the pump's answer" in hint
    assert "cannot be called back" in result
    assert stayed == "review"
    qtbot.waitUntil(lambda: window.current_page() == "dose", timeout=WAIT_MS)
    latest = programmer.link.latest
    assert latest is not None and latest.prescription is not None
    assert latest.prescription.mode is Mode.SIMPLE


# -- a started bolus is a success ----------------------------------------------------------------


def test_a_started_bolus_shows_success_and_the_running_bolus(
    qtbot: QtBot, programmer: Programmer
) -> None:
    bolus = programmer.controllers["bolus"]
    assert isinstance(bolus, BolusController)
    programmer.window.show_page("bolus")
    page = bolus.page
    qtbot.keyClicks(page.dose_edit, "50")
    qtbot.keyClicks(page.duration_edit, "60")
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review
    for check in review.page.warning_checks:
        check.setChecked(True)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: programmer.window.current_page() == "bolus", timeout=WAIT_MS)
    assert page.message.severity.value == "ok"
    assert page.message.text.startswith("Started and confirmed by the pump: a therapeutic bolus")
    assert "Refused" not in page.message.text
    assert page.progress.isVisibleTo(page)
    assert page.running_label.text() != "No bolus is running."
    assert page.cancel_button.isEnabled()
    refresh(qtbot, programmer)  # a later poll keeps the success
    assert page.message.severity.value == "ok"
