"""The refill end to end against the in-process demo pump, driven as a clinician would: 500 ->
2000 mcg/mL with the bridge (400 mcg/day before and after, the bridge's duration, the pump left
bridging, the countdown and its cancellation), the concentration never defaulted, a flagged
discrepancy, an overfill and a non-standard concentration refused."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.home import HomeController
from programmer_gui.controllers.refill import CHOOSE, RefillController
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind, Role
from tests.programmer_gui.conftest import DemoWorld
from tests.support import DEMO_KEYS

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


def at_500_mcg_per_ml(programmer: Programmer, demo_world: DemoWorld, qtbot: QtBot) -> None:
    """Before the session: an earlier refill left 20 mL of 500 mcg/mL running 400 mcg/day."""
    with PumpClient(demo_world.url, key=DEMO_KEYS[Role.CLINICIAN], timeout_s=1.0) as client:
        client.refill(
            removed_nl=client.status().reservoir_nl,
            added_nl=20_000_000,
            concentration_ug_per_ml=500,
            prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=500),
            bridge=False,
        )
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)


def test_refill_500_to_2000_with_the_bridge_keeps_400_mcg_per_day(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    at_500_mcg_per_ml(programmer, demo_world, qtbot)
    refill = refill_controller(programmer)
    page = refill.page
    assert page.before.value("concentration") == "500 mcg/mL"
    # The concentration is chosen, never defaulted.
    assert page.concentration_combo.currentData() == CHOOSE
    assert "0.286 mL" in page.catheter_label.text()  # from the implant record
    fill_in(qtbot, refill, removed="20", added="20", conc=2000)
    assert page.change_box.isVisibleTo(page)
    assert page.new_rate_label.text().startswith(
        "24-hour dose: 400 mcg/day before, 400 mcg/day after (the same mcg/day): "
        "0.2 mL/day of 2000 mcg/mL (was 0.8 mL/day)"
    )
    # 0.486 mL of the old drug at 0.8 mL/day: 52,488 s, 14 h 35 min to the minute (pump maths).
    assert page.bridge_label.text().startswith("Bridge: 14 h 35 min (0.61 days), ends ")
    assert "maximum rate" not in page.bridge_label.text()
    assert page.review_button.isEnabled()

    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review
    assert programmer.window.current_page() == "review"
    assert review.review is not None
    assert {"concentration_change", "bridge"} <= set(review.review.warning_codes)
    assert review.review.current_daily_dose_text == "400 mcg/day"
    assert review.review.pending_daily_dose_text == "400 mcg/day"
    assert review.page.dose.value("change") == "no change"
    rows = {r.label: (r.current, r.pending) for r in review.review.rows}
    assert rows["Concentration"] == ("500 mcg/mL", "2000 mcg/mL")
    assert rows["Bridge"] == ("\u2014", "runs 14 h 35 min (0.61 days)")
    for check in review.page.warning_checks:
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: programmer.window.current_page() == "refill", timeout=WAIT_MS)
    assert "Refill recorded and confirmed" in page.result.text
    assert "The bridge runs: ends" in page.result.text

    latest = programmer.link.latest
    assert latest is not None
    # Committing leaves the pump bridging: the new drug, its prescription, the old drug's rate.
    assert latest.concentration_ug_per_ml == 2000
    assert latest.bridging and latest.status.bridge_concentration_ug_per_ml == 500
    assert latest.status.bolus_kind is BolusKind.NONE  # the bridge is not a bolus
    assert latest.prescription == m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000)
    assert latest.status.current_rate_nl_per_day == 800_000
    assert latest.dose_ug_per_day == 400
    assert latest.status.bridge_ends_at_s == latest.status.clock_s + 52_488
    truth = demo_world.emulator.state()["pump"]
    assert truth["concentration_ug_per_ml"] == 2000 and truth["bridging"]
    assert page.removed_edit.text() == ""  # cleared for the next refill
    assert [a.action for a in programmer.record.actions] == ["Refill"]
    # The success stays only until the next refill is being typed (#14 item 9).
    assert page.result.isVisibleTo(page)
    qtbot.keyClicks(page.removed_edit, "1")
    assert not page.result.isVisibleTo(page)
    page.removed_edit.clear()

    # The Status page counts the bridge down and offers to cancel it (default: keep it).
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    programmer.window.show_page("home")
    assert home.page.bridge_badge.isVisibleTo(home.page)
    assert "BRIDGE running" in home.page.bridge_badge.text
    assert "ends in 14 h 35 min" in home.page.bridge_badge.text
    asked: list[str] = []

    def keep(_title: str, text: str) -> bool:
        asked.append(text)
        return False  # the default answer: keep the bridge

    home.confirm_cancel_bridge = keep
    qtbot.mouseClick(home.page.cancel_bridge_button, Qt.MouseButton.LeftButton)
    assert asked and not programmer.link.busy
    assert demo_world.emulator.state()["pump"]["bridging"]
    home.confirm_cancel_bridge = lambda _t, _text: True
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(home.page.cancel_bridge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not home.page.bridge_badge.isVisibleTo(home.page), timeout=WAIT_MS)
    latest = programmer.link.latest
    assert latest is not None and not latest.bridging
    assert latest.status.current_rate_nl_per_day == 200_000
    assert programmer.record.actions[-1].action == "Bridge cancelled"


def test_a_bridge_needs_the_concentration_chosen_and_says_so(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    refill = refill_controller(programmer)
    page = refill.page
    qtbot.keyClicks(page.removed_edit, "29.6")
    qtbot.keyClicks(page.added_edit, "35")
    assert not page.review_button.isEnabled()
    assert "choose the concentration" in page.message.text
    page.concentration_combo.setCurrentIndex(page.concentration_combo.findData(1000))
    assert page.review_button.isEnabled()
    # Declining the bridge is possible, with the warning.
    page.bridge_check.click()  # (below the fold of the scroll area)
    assert page.bridge_label.text().startswith("Bridge declined")
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review.review
    assert review is not None and "no_bridge" in review.warning_codes


def test_a_discrepancy_is_flagged_with_its_causes(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    refill = refill_controller(programmer)
    fill_in(qtbot, refill, removed="26.5", added="35", conc=2000)
    text = refill.page.discrepancy.text
    assert "over the 2 mL tolerance" in text
    assert "pocket fill" in text
    qtbot.mouseClick(refill.page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review.review
    assert review is not None
    assert "discrepancy" in review.warning_codes
    assert "bridge" not in review.warning_codes  # the concentration does not change


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
