"""Stop and resume end to end: the reason needed, the warning acknowledged, the note kept."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from programmer_gui.controllers.stop import install
from programmer_gui.link import PumpLink
from protocol import messages as m
from protocol.enums import Mode, StopReason
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, type_into, ui


def test_stop_with_reason_then_resume(qtbot: QtBot, link: PumpLink, demo_world: DemoWorld) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("stop")  # a hidden page follows the pump only once shown
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
    latest = link.latest
    assert latest is not None and latest.status.mode is not Mode.STOPPED


def test_stopped_by_stop_pump_reads_stopped_not_halted(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    # One meaning of stopped: mode STOPPED with its reason, never "delivering".
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("stop")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        with qtbot.waitSignal(link.snapshot, timeout=5000):
            link.submit(lambda c: c.stop(StopReason.MRI), on_done=lambda _r: None)
        latest = link.latest
        assert latest is not None
        assert latest.status.mode is Mode.STOPPED
        assert latest.status.stop_reason is StopReason.MRI and not latest.status.delivering
        assert controller.page.state_label.text() == (
            "■ STOPPED (MRI scan): no drug is delivered until you resume"
        )


def test_a_stopped_prescription_is_changed_by_programming_not_resumed(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("stop")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        with qtbot.waitSignal(link.snapshot, timeout=5000):
            link.submit(
                lambda c: c.program(m.PrescriptionSpec.stopped(concentration_ug_per_ml=2000)),
                on_done=lambda _r: None,
            )
        page = controller.page
        assert "the prescription is Stopped" in page.state_label.text()
        assert not page.resume_button.isEnabled()  # Resume only undoes Stop pump
        assert not page.stop_button.isEnabled()  # nothing runs to stop
