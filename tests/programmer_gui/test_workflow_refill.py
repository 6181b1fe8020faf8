"""The refill end to end against the in-process demo pump (30 mL of 2000 mcg/mL in a 40 mL
pump): a concentration change with the bridge bolus, a flagged discrepancy, an overfill and a
non-standard concentration refused."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.refill import RefillController
from protocol.enums import BolusKind
from tests.programmer_gui.conftest import DemoWorld

WAIT_MS = 5_000


def refill_controller(programmer: Programmer) -> RefillController:
    controller = programmer.controllers["refill"]
    assert isinstance(controller, RefillController)
    programmer.window.show_page("refill")
    return controller


def fill_in(
    qtbot: QtBot, controller: RefillController, *, removed: str, added: str, conc: int
) -> None:
    page = controller.page
    qtbot.keyClicks(page.removed_edit, removed)
    qtbot.keyClicks(page.added_edit, added)
    page.concentration_combo.setCurrentIndex(page.concentration_combo.findData(conc))


def test_refill_with_a_concentration_change_and_bridge_bolus(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    refill = refill_controller(programmer)
    page = refill.page
    assert page.before.value("expected") == "30.00 mL"
    assert page.concentration_combo.currentData() == 2000
    fill_in(qtbot, refill, removed="29.6", added="35", conc=1000)
    qtbot.keyClicks(page.catheter_edit, "110")
    assert "within the 2.00 mL tolerance" in page.discrepancy.text
    assert page.change_box.isVisibleTo(page)
    assert page.bridge_label.text().startswith("Bridge bolus: 0.486 mL over 29 min 10 s")
    assert "0.396875 mL/day" in page.new_rate_label.text()
    assert page.review_button.isEnabled()

    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review
    assert programmer.window.current_page() == "review"
    assert review.review is not None
    assert {"concentration_change", "bridge_bolus"} <= set(review.review.warning_codes)
    assert review.page.dose.value("change") == "no change"
    for check in review.page.warning_checks:
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: programmer.window.current_page() == "refill", timeout=WAIT_MS)
    assert "Refill recorded and confirmed" in page.result.text
    assert "New low-reservoir alarm date" in page.result.text

    latest = programmer.link.latest
    assert latest is not None
    assert latest.concentration_ug_per_ml == 1000
    assert latest.status.bolus_kind is BolusKind.BRIDGE  # the manual clock holds it running
    assert latest.prescription is not None
    rates = [step.rate_nl_per_day for step in latest.prescription.profiles[0]]
    assert rates == [350_000, 425_000, 350_000]  # same mcg/day at half the concentration
    truth = demo_world.emulator.state()["pump"]
    assert truth["concentration_ug_per_ml"] == 1000
    assert truth["total_removed_nl"] == 29_600_000
    assert page.removed_edit.text() == ""  # cleared for the next refill
    assert [a.action for a in programmer.record.actions] == ["Refill"]


def test_a_discrepancy_is_flagged_with_its_causes(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    refill = refill_controller(programmer)
    fill_in(qtbot, refill, removed="26.5", added="35", conc=2000)
    text = refill.page.discrepancy.text
    assert "over the 2.00 mL tolerance" in text
    assert "pocket fill" in text
    qtbot.mouseClick(refill.page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review.review
    assert review is not None
    assert "discrepancy" in review.warning_codes
    assert "bridge_bolus" not in review.warning_codes  # the concentration does not change


def test_an_overfill_and_an_unlisted_concentration_are_refused(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    refill = refill_controller(programmer)
    page = refill.page
    fill_in(qtbot, refill, removed="29.6", added="45", conc=2000)
    assert "would overfill the reservoir" in page.message.text
    assert not page.review_button.isEnabled()
    page.added_edit.clear()
    qtbot.keyClicks(page.added_edit, "35")
    assert page.review_button.isEnabled()
    page.concentration_combo.setCurrentIndex(page.concentration_combo.count() - 1)
    qtbot.keyClicks(page.other_edit, "1500")
    assert "not a commercial concentration" in page.message.text
    assert not page.review_button.isEnabled()
    qtbot.mouseClick(page.override_check, Qt.MouseButton.LeftButton)
    assert page.review_button.isEnabled()
