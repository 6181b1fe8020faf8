"""The alarms page end to end: list, silence, a refused clear, alarm volume, the tone test."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from programmer_gui.controllers.alarms import install
from programmer_gui.link import PumpLink
from programmer_gui.views.widgets import missing_glyphs
from protocol.enums import AlarmClass, AlarmCode
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import cell, connect, type_into, ui

DAY = 86_400


def test_alarm_list_silence_refused_clear_and_volume(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        controller.confirm = lambda _title, _text: True
        snapshot = connect(qtbot, link, demo_world.url)
        page = controller.page
        assert page.table.rowCount() == 0 and not page.empty_label.isHidden()
        alarm_at = snapshot.status.low_reservoir_alarm_at_s
        assert alarm_at is not None
        demo_world.emulator.advance(alarm_at - snapshot.status.clock_s + DAY)
        app.refresh(qtbot)
        assert page.table.rowCount() == 1
        assert cell(page.table, 0, 0).endswith("Non-critical")
        assert cell(page.table, 0, 1) == "Low reservoir"
        assert controller.selected_code() is AlarmCode.LOW_RESERVOIR
        with qtbot.waitSignal(link.snapshot, timeout=5000):
            page.silence_button.click()
        qtbot.waitUntil(lambda: cell(page.table, 0, 3).endswith("Silenced"), timeout=5000)
        # The pump's own texts are shown with symbols the font has (no empty boxes).
        shown = [cell(page.table, 0, c) for c in range(page.table.columnCount())]
        assert not [text for text in shown if missing_glyphs(text)], shown
        page.clear_button.click()
        qtbot.waitUntil(lambda: "refused" in page.message.text, timeout=5000)
        assert "its condition is still present" in page.message.text
        assert [a.action for a in app.record.actions] == ["Alarm silenced"]
        # The lowest alarm volume the model takes: the alarm condition ends.
        type_into(qtbot, page.volume_edit, "1.5")
        assert "→" in page.volume_effect.text()
        page.volume_button.click()
        app.program(qtbot)
        assert app.refresh(qtbot).status.alarm_volume_nl == 1_500_000
        assert page.volume_now.text() == "1.5 mL"


def test_tone_test_lights_the_lamp_with_the_pattern(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        now = [0]
        controller.elapsed_ms = lambda: now[0]
        controller.play(AlarmClass.CRITICAL)
        page = controller.page
        assert "two alternating tones" in page.tone_text.text()
        assert page.lamp.text() == "● 880 Hz"
        now[0] = 600
        controller.tone_tick()
        assert page.lamp.text() == "● 587 Hz"
        now[0] = 3000
        controller.tone_tick()
        assert page.lamp.text() == "○ silent" and not controller.timer.isActive()
        now[0] = 0
        controller.play(AlarmClass.NON_CRITICAL)
        assert page.lamp.text() == "● 660 Hz" and controller.timer.isActive()
        now[0] = 1000
        qtbot.waitUntil(lambda: not controller.timer.isActive(), timeout=2000)
        assert page.audio_text.text()
