"""The bolus page end to end: a refused therapeutic bolus, a bridge bolus, its progress, cancel."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from programmer_gui.controllers.bolus import install
from programmer_gui.link import PumpLink
from protocol.enums import BolusKind
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, type_into, ui


def test_bridge_bolus_progress_and_cancel(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        connect(qtbot, link, demo_world.url)
        page = controller.page
        # Therapeutic: too fast for the pump's maximum rate.
        type_into(qtbot, page.dose_edit, "2000")
        type_into(qtbot, page.duration_edit, "1")
        assert "needs at least" in page.message.text
        assert not page.review_button.isEnabled()
        page.kind_combo.setCurrentIndex(1)  # bridge
        assert page.figures.value("volume").startswith("0.486 mL (972 mcg at 2000 mcg/mL)")
        assert page.figures.value("duration") == "29 min 10 s"
        assert "→" in page.figures.value("alarm")
        page.review_button.click()
        assert app.window.current_page() == "review"
        app.program(qtbot)
        assert app.window.current_page() == "bolus"
        demo_world.emulator.advance(875)
        snapshot = app.refresh(qtbot)
        assert snapshot.status.bolus_kind is BolusKind.BRIDGE
        assert page.progress.value() == 50
        assert "0.243 mL left of 0.486 mL" in page.running_label.text()
        controller.confirm = lambda _title, _text: True
        with qtbot.waitSignal(link.snapshot, timeout=5000):
            page.cancel_button.click()
        qtbot.waitUntil(lambda: "cancelled" in page.message.text, timeout=5000)
        assert page.running_label.text() == "No bolus is running."
        assert [a.action for a in app.record.actions] == ["Bridge bolus", "Bolus cancelled"]
