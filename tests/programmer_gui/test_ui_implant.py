"""The implant record page and the Status page's implant and fault words, end to end, driven
as a clinician would: choose the catheter model, correct the trimmed length, review, write;
then a low battery reset injected from the educator's side, read in clinical words, and ended
by reprogramming."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.home import ALARM_MEANINGS, HomeController
from programmer_gui.controllers.implant import ImplantController
from programmer_gui.controllers.main_window import ALARM_NAMES
from programmer_gui.core.alarms import GUIDE, alarm_rows
from protocol import messages as m
from protocol.enums import AlarmCode, Mode, Origin
from tests.programmer_gui.conftest import DemoWorld

WAIT_MS = 5_000


def test_write_the_implant_record_through_its_review(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    implant = programmer.controllers["implant"]
    assert isinstance(implant, ImplantController)
    programmer.window.show_page("implant")
    page = implant.page
    # The pump's record is shown and loaded into the editor.
    assert page.current.value("Catheter") == "110 cm, 0.0026 mL/cm (0.286 mL)"
    assert page.current.value("Patient") == "DEMO-01"
    assert page.length_edit.text() == "110"
    assert not page.review_button.isEnabled()  # nothing changed yet
    # A small-bore catheter, trimmed to 92 cm, known to +/- 3 cm.
    page.model_combo.setCurrentIndex(page.model_combo.findData("IT-SB15"))
    page.model_combo.activated.emit(page.model_combo.currentIndex())
    assert page.length_edit.text() == "100"  # the model's usual length, offered
    page.length_edit.clear()
    qtbot.keyClicks(page.length_edit, "92")
    page.uncertainty_edit.clear()
    qtbot.keyClicks(page.uncertainty_edit, "3")
    qtbot.keyClicks(page.date_edit, "2025-11-03")
    assert page.volume_label.text() == "Catheter: 92 ± 3 cm, 0.0015 mL/cm (0.138 mL)"
    assert page.review_button.isEnabled()
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review
    assert review.review is not None and review.review.title == "Review: implant record"
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: programmer.window.current_page() == "implant", timeout=WAIT_MS)
    truth = demo_world.emulator.state()["pump"]["implant"]
    assert truth["catheter_model"] == "IT-SB15"
    assert (truth["catheter_length_mm"], truth["catheter_length_uncertainty_mm"]) == (920, 30)
    assert truth["origin"] in (int(Origin.CEREBRAL), "CEREBRAL", Origin.CEREBRAL)
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    programmer.window.show_page("home")  # a hidden page follows the pump once shown
    assert home.page.implant.value("catheter") == "92 ± 3 cm, 0.0015 mL/cm (0.138 mL)"
    assert home.page.implant.value("implanted") == "2025-11-03"


def test_a_low_battery_reset_in_clinical_words_until_reprogrammed(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    demo_world.emulator.fault_low_battery_reset()
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    latest = programmer.link.latest
    assert latest is not None
    assert latest.status.mode is Mode.MINIMUM_RATE
    assert AlarmCode.LOW_BATTERY_RESET in latest.alarm_codes
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    badges = [b.text for b in home.page.alarm_badges]
    assert any(
        "CRITICAL: Low battery reset: the pump runs only the keep-open minimum rate" in text
        for text in badges
    )
    assert home.page.therapy.value("mode") == "Minimum rate (keep-open flow only)"
    assert "Low battery reset: keep-open rate only until reprogrammed" in (
        programmer.window.critical_badge.text
    )
    row = next(r for r in alarm_rows(latest) if r.code is AlarmCode.LOW_BATTERY_RESET)
    assert row.title == "Low battery reset"
    assert "until it is reprogrammed" in row.meaning
    # Reprogramming ends it (the pump clears the alarm once a prescription is programmed).
    spec = m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.submit(lambda c: c.program(spec), on_done=lambda _r: None)
    latest = programmer.link.latest
    assert latest is not None and latest.status.mode is Mode.SIMPLE
    assert AlarmCode.LOW_BATTERY_RESET not in latest.status.alarms_active


def test_every_alarm_has_clinical_words_everywhere() -> None:
    for code in AlarmCode:
        assert code in GUIDE and code in ALARM_NAMES and code.name in ALARM_MEANINGS
