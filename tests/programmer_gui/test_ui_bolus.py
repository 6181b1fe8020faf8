"""The bolus page end to end: a refused therapeutic bolus, a priming bolus from the implant
record (with its mixing warning), a therapeutic bolus's progress, cancel. No bridge bolus."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from programmer_gui.controllers.bolus import install
from programmer_gui.link import PumpLink
from protocol.enums import BolusKind
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, type_into, ui


def test_priming_therapeutic_progress_and_cancel(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("bolus")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        page = controller.page
        kinds = [page.kind_combo.itemText(i) for i in range(page.kind_combo.count())]
        assert kinds == ["Therapeutic bolus", "Priming bolus"]
        # Therapeutic: too fast for the pump's maximum rate.
        type_into(qtbot, page.dose_edit, "2000")
        type_into(qtbot, page.duration_edit, "1")
        assert "needs at least" in page.message.text
        assert not page.review_button.isEnabled()
        # Priming: the catheter comes from the implant record (never typed, never assumed).
        page.kind_combo.setCurrentIndex(1)
        assert page.length_edit.isReadOnly()
        assert page.length_edit.text() == "110 cm, 0.0026 mL/cm (0.286 mL)"
        assert page.figures.value("volume").startswith("0.286 mL (572 mcg at 2000 mcg/mL)")
        assert page.figures.value("duration") == "17 min 10 s"
        assert "MIX" in page.explain.text()
        assert "mix at that rate" in page.message.text
        # Back to a therapeutic bolus that fits: review, program, progress, cancel.
        page.kind_combo.setCurrentIndex(0)
        page.dose_edit.clear()
        page.duration_edit.clear()
        type_into(qtbot, page.dose_edit, "50")
        type_into(qtbot, page.duration_edit, "60")
        assert page.figures.value("volume").startswith("0.025 mL (50 mcg at 2000 mcg/mL)")
        page.review_button.click()
        assert app.window.current_page() == "review"
        app.program(qtbot)
        assert app.window.current_page() == "bolus"
        demo_world.emulator.advance(1800)
        snapshot = app.refresh(qtbot)
        assert snapshot.status.bolus_kind is BolusKind.THERAPEUTIC
        assert snapshot.status.bolus_dose_ng == 50_000
        assert page.progress.value() == 50
        assert "left of 0.025 mL" in page.running_label.text()
        controller.confirm = lambda _title, _text: True
        with qtbot.waitSignal(link.snapshot, timeout=5000):
            page.cancel_button.click()
        qtbot.waitUntil(lambda: "cancelled" in page.message.text, timeout=5000)
        assert page.running_label.text() == "No bolus is running."
        assert [a.action for a in app.record.actions] == ["Therapeutic bolus", "Bolus cancelled"]
