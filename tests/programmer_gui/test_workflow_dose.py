"""The dose change end to end, typed and clicked through qtbot against the in-process demo pump:
a change with its review, a refused hard limit, soft warnings acknowledged one by one, and the
10x confirmation."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.dose import DoseController
from protocol.enums import Mode
from tests.programmer_gui.conftest import DemoWorld

WAIT_MS = 5_000


def dose_controller(programmer: Programmer) -> DoseController:
    controller = programmer.controllers["dose"]
    assert isinstance(controller, DoseController)
    return controller


def type_dose(qtbot: QtBot, controller: DoseController, text: str) -> None:
    edit = controller.page.dose_edit
    edit.clear()
    qtbot.keyClicks(edit, text)


def first_cell(table: QTableWidget, row: int) -> str:
    item = table.item(row, 0)
    assert item is not None
    return item.text()


def pump_prescription(world: DemoWorld) -> dict[str, object]:
    pump: dict[str, object] = world.emulator.state()["pump"]
    return pump


def test_a_dose_change_goes_through_the_review_and_is_confirmed(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld, qtmodeltester: ModelTester
) -> None:
    window, review = programmer.window, programmer.review
    dose = dose_controller(programmer)
    window.show_page("dose")
    type_dose(qtbot, dose, "480")
    assert dose.page.preview.value("rate") == "0.24 mL/day"
    assert "in 116 days" in dose.page.preview.value("alarm")
    assert dose.page.review_button.isEnabled()

    qtbot.mouseClick(dose.page.review_button, Qt.MouseButton.LeftButton)
    assert window.current_page() == "review"
    page = review.page
    qtmodeltester.check(page.table.model())
    assert page.dose.value("pending") == "480 mcg/day"
    assert page.dose.value("change") == "+20.9 %"
    labels = [first_cell(page.table, i) for i in range(page.table.rowCount())]
    assert "24-hour dose" in labels
    assert review.review is not None
    # +20.9 % is beyond the cerebral titration step, which applies with no origin recorded.
    assert set(review.review.warning_codes) == {
        "replaces_flex",
        "large_change",
        "titration_above_range",
    }
    assert not page.program_button.isEnabled()
    for check in page.warning_checks:
        check.setChecked(True)
    assert page.program_button.isEnabled()

    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.current_page() == "dose", timeout=WAIT_MS)
    assert "Programmed and confirmed" in dose.page.result.text
    # The entry now shows the pump's own dose: nothing to review (#14 item 12).
    assert dose.page.dose_edit.text() == "480"
    assert dose.page.message.text.startswith("This is the dose the pump runs now")
    assert not dose.page.review_button.isEnabled()
    latest = programmer.link.latest
    assert latest is not None
    assert latest.prescription is not None
    assert latest.prescription.mode is Mode.SIMPLE
    assert latest.prescription.dose_ng_per_day == 480_000
    assert demo_world.emulator.state()["pump"]["mode"] == "SIMPLE"
    actions = programmer.record.actions
    assert [a.after for a in actions] == ["480 mcg/day"]
    assert actions[-1].pump_clock_s == latest.pump_clock_s


def test_a_dose_outside_the_pumps_limits_is_refused(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    dose = dose_controller(programmer)
    programmer.window.show_page("dose")
    type_dose(qtbot, dose, "60")
    assert "below the pump's minimum rate" in dose.page.message.text
    assert not dose.page.review_button.isEnabled()
    qtbot.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    assert "below the pump's minimum rate" in dose.page.message.text
    assert programmer.window.current_page() == "dose"
    type_dose(qtbot, dose, ".5")
    assert "put a 0 before the decimal point" in dose.page.message.text
    assert demo_world.emulator.state()["pump"]["mode"] == "FLEX"


def test_soft_warnings_must_each_be_acknowledged(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    dose = dose_controller(programmer)
    programmer.window.show_page("dose")
    type_dose(qtbot, dose, "1200")
    qtbot.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    review = programmer.review
    assert review.review is not None
    assert {"high_dose", "large_change"} <= set(review.review.warning_codes)
    checks = review.page.warning_checks
    for check in checks[:-1]:
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
        assert not review.page.program_button.isEnabled()
    assert "Acknowledge 1 more warning" in review.page.program_hint.text()
    qtbot.mouseClick(checks[-1], Qt.MouseButton.LeftButton)
    assert review.page.program_button.isEnabled()
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: programmer.window.current_page() == "dose", timeout=WAIT_MS)
    latest = programmer.link.latest
    assert latest is not None and latest.prescription is not None
    assert latest.prescription.dose_ng_per_day == 1_200_000


def test_cancel_on_the_review_sends_nothing(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    dose = dose_controller(programmer)
    programmer.window.show_page("dose")
    type_dose(qtbot, dose, "400")
    qtbot.mouseClick(dose.page.review_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(programmer.review.page.cancel_button, Qt.MouseButton.LeftButton)
    assert programmer.window.current_page() == "dose"
    assert dose.page.dose_edit.text() == "400"
    assert demo_world.emulator.state()["pump"]["mode"] == "FLEX"
    assert programmer.record.actions == ()


def test_a_tenfold_value_needs_a_confirmation(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    dose = dose_controller(programmer)
    asked: list[str] = []
    answer = [False]

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return answer[0]

    dose.confirm = confirm
    programmer.window.show_page("dose")
    type_dose(qtbot, dose, "4000")
    assert "Check the decimal point" in dose.page.message.text
    qtbot.mouseClick(dose.page.review_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "4000 mcg/day" in asked[0]
    assert programmer.window.current_page() == "dose"  # "no" keeps the clinician here
    answer[0] = True
    qtbot.mouseClick(dose.page.review_button, Qt.MouseButton.LeftButton)
    assert programmer.window.current_page() == "review"
    assert programmer.review.review is not None
    assert programmer.review.review.warning_codes[0] == "magnitude"
