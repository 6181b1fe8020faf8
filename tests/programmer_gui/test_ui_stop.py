"""Stop and resume end to end: the reason needed, the warning acknowledged, the note kept."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from programmer_gui.controllers.stop import install
from programmer_gui.link import PumpLink
from protocol.enums import StopReason
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, type_into, ui


def test_stop_with_reason_then_resume(qtbot: QtBot, link: PumpLink, demo_world: DemoWorld) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        connect(qtbot, link, demo_world.url)
        page = controller.page
        assert page.state_label.text().startswith("▶ Delivering")
        assert not page.resume_button.isEnabled()
        page.reason_combo.setCurrentIndex(page.reason_combo.findData(int(StopReason.OTHER)))
        page.stop_button.click()
        assert "Other" in page.message.text and app.review.review is None
        page.reason_combo.setCurrentIndex(page.reason_combo.findData(int(StopReason.MRI)))
        type_into(qtbot, page.note_edit, "MRI brain at 14:00")
        page.stop_button.click()
        review = app.review.review
        assert review is not None and review.warning_codes == ("withdrawal",)
        assert not app.review.page.program_button.isEnabled()  # warning not acknowledged
        app.program(qtbot)
        assert page.state_label.text().startswith("■ STOPPED")
        assert page.resume_button.isEnabled() and not page.stop_button.isEnabled()
        assert [(a.action, a.detail) for a in app.record.actions][-1] == (
            "Stop reason",
            "MRI scan: MRI brain at 14:00",
        )
        page.resume_button.click()
        app.program(qtbot)
        assert page.state_label.text().startswith("▶ Delivering")
