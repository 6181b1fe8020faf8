"""The alarm tones aloud in the educator's window: the mute, the next repeat in pump time, the
skipped repeats, and a machine without a sound device (the window says so and keeps
working). Playback itself is proven against a real sound server in test_playback.py."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from emulator.emulator import Emulator
from programmer_gui import tone_player
from programmer_gui.controllers import sound
from programmer_gui.controllers.alarms import pump_tone_text
from programmer_gui.controllers.educator import EducatorController, open_educator_window
from programmer_gui.controllers.sound import SoundController
from programmer_gui.core.audio import format_pump_clock, next_repeat_at
from programmer_gui.demo.educator_backend import EmulatorEducatorBackend
from programmer_gui.tone_player import NO_DEVICE_TEXT, TonePlayer
from programmer_gui.views.educator import EducatorWindow
from programmer_gui.views.sound_panel import SoundPanel
from protocol.enums import AlarmClass
from protocol.tones import TonePattern, pattern_for
from tests.programmer_gui.pump_support import connected
from tests.support import T0


class RecordingPlayer(TonePlayer):
    """A machine with no sound device that remembers what it was asked to play."""

    instances: list[RecordingPlayer] = []

    def __init__(self, parent: object = None, **_kw: object) -> None:
        super().__init__(parent, outputs=list)  # type: ignore[arg-type]
        self.asked: list[TonePattern] = []
        RecordingPlayer.instances.append(self)

    def play(self, pattern: TonePattern) -> bool:
        self.asked.append(pattern)
        return super().play(pattern)


def click_box(qtbot: QtBot, panel: SoundPanel) -> None:
    """Click the mute's box (the check box spans the panel; its box is at the left)."""
    box = panel.mute
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


@pytest.fixture(scope="module", autouse=True)
def _qt_started(qapp: QApplication) -> None:
    """A tabbed window shown before the leak check's snapshot (Qt keeps its descriptors)."""
    first = QTabWidget()
    first.addTab(QWidget(), "warm-up")
    first.show()
    qapp.processEvents()
    first.close()
    first.deleteLater()
    qapp.processEvents()


@pytest.fixture
def educator(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[EducatorWindow]:
    RecordingPlayer.instances.clear()
    monkeypatch.setattr(sound, "TonePlayer", RecordingPlayer)
    emulator = Emulator.single(
        preset="demo", manual_clock=True, start_pump_s=T0, random_bytes=random.Random(3).randbytes
    )
    backend = EmulatorEducatorBackend(emulator)
    emulator.register_inproc()
    emulator.start()
    try:
        window = open_educator_window(backend, tz=UTC)
        qtbot.addWidget(window)
        yield window
        window.close()
        emulator.check()
    finally:
        emulator.close()


def test_no_sound_device_is_said_and_the_window_keeps_working(
    qtbot: QtBot, educator: EducatorWindow
) -> None:
    panel = educator.sound_panel
    assert panel.device_text.text() == NO_DEVICE_TEXT
    assert panel.next_text.text() == "No alarm tone due."
    qtbot.mouseClick(educator.motor_stall, Qt.MouseButton.LeftButton)
    # The stall's critical pattern is due at once; the next repeat 10 min of pump time later.
    assert panel.next_text.text() == (
        "Next repeat due at 2026-09-21 14:23:20 pump time (in 10 min)"
    )
    assert panel.skipped_text.text() == "Repeats: 1 played, none skipped."
    [player] = RecordingPlayer.instances
    assert player.asked == [pattern_for(40, AlarmClass.CRITICAL)] and not player.playing
    qtbot.mouseClick(educator.step_hour, Qt.MouseButton.LeftButton)
    assert educator.clock_label.text() == "2026-09-21 15:13"
    assert panel.next_text.text() == (
        "Next repeat due at 2026-09-21 15:23:20 pump time (in 10 min)"
    )
    # The hour jumped over six repeats: one played, five counted on screen.
    assert panel.skipped_text.text().startswith("Repeats: 2 played, 5 skipped")
    qtbot.mouseClick(educator.motor_stall, Qt.MouseButton.LeftButton)
    assert panel.next_text.text() == "No alarm tone due." and panel.skipped_text.text() == ""


def test_mute_silences_and_still_shows_the_next_repeat(
    qtbot: QtBot, educator: EducatorWindow
) -> None:
    panel = educator.sound_panel
    click_box(qtbot, panel)
    assert panel.mute.isChecked()
    qtbot.mouseClick(educator.motor_stall, Qt.MouseButton.LeftButton)
    [player] = RecordingPlayer.instances
    assert player.asked == []
    assert panel.next_text.text().endswith("(in 10 min) \u2014 muted")
    click_box(qtbot, panel)
    qtbot.mouseClick(educator.step_hour, Qt.MouseButton.LeftButton)
    assert player.asked == [pattern_for(40, AlarmClass.CRITICAL)]
    controller = educator.findChild(EducatorController)
    assert controller is not None and controller.sound.player is player


def test_faster_than_x60_skips_are_counted_on_screen(qtbot: QtBot) -> None:
    panel = SoundPanel()
    qtbot.addWidget(panel)
    wall = [0.0]
    controller = SoundController(panel, player=RecordingPlayer(), wall=lambda: wall[0])
    critical = pattern_for(20, AlarmClass.CRITICAL)
    # x3600 with a sample every 0.25 s: 900 s of pump time per sample.
    for i in range(41):
        wall[0] = i * 0.25
        controller.follow(critical, pump_s=T0 + i * 900, speed=3600)
    assert len(RecordingPlayer.instances[-1].asked) == 2  # at wall 0 s and 10 s
    assert panel.skipped_text.text().startswith("Repeats: 2 played, 59 skipped")


def test_the_player_without_a_device_plays_nothing(qtbot: QtBot) -> None:
    player = TonePlayer(outputs=list)
    assert not player.available and player.status_text == NO_DEVICE_TEXT
    assert player.play(pattern_for(20, AlarmClass.NON_CRITICAL)) is False
    assert tone_player.multimedia_available()


def test_pcm_conversion_to_the_devices_format() -> None:
    pcm = b"\x00\x80\xff\x7f"  # -32768, 32767
    assert tone_player.convert_pcm16(pcm, channels=2, sample_format="Int16") == (
        b"\x00\x80\x00\x80\xff\x7f\xff\x7f"
    )
    assert tone_player.convert_pcm16(pcm, channels=1, sample_format="UInt8") == b"\x00\xff"
    assert len(tone_player.convert_pcm16(pcm, channels=1, sample_format="Float")) == 8
    with pytest.raises(ValueError, match="unsupported"):
        tone_player.convert_pcm16(pcm, channels=1, sample_format="Unknown")


def test_the_alarm_page_names_the_pumps_next_repeat() -> None:
    with connected("default") as world:  # 20 mL, 0.2 mL/day: the 2 mL alarm on day 90
        assert pump_tone_text(world.snapshot()) == "The pump is sounding no alarm tone."
        world.advance_days(91)
        snapshot = world.snapshot()
        [alarm] = snapshot.alarms
        text = pump_tone_text(snapshot)
        assert text.startswith(
            "Sounding on the pump: Low reservoir, a single tone (660 Hz) for 1.0 s, repeating "
            "every 1 h. Next repeat due at "
        )
        due = next_repeat_at(
            raised_at_s=alarm.raised_at_s, repeat_s=3600, now_s=snapshot.pump_clock_s
        )
        assert 0 <= due - snapshot.pump_clock_s < 3600
        assert format_pump_clock(due) in text
        world.client.silence_alarm(alarm.code)
        assert pump_tone_text(world.snapshot()) == "The pump is sounding no alarm tone."


def test_the_alarm_test_plays_once_unless_muted(qtbot: QtBot) -> None:
    panel = SoundPanel()
    qtbot.addWidget(panel)
    panel.show()
    player = RecordingPlayer()
    controller = SoundController(panel, player=player)
    critical = pattern_for(40, AlarmClass.CRITICAL)
    assert controller.play_once(critical) is False  # asked, but no device to hear it on
    assert player.asked == [critical]
    assert panel.device_text.text() == NO_DEVICE_TEXT
    click_box(qtbot, panel)
    assert controller.play_once(critical) is False
    assert player.asked == [critical]  # muted: not even asked
    assert panel.device_text.text() == f"{NO_DEVICE_TEXT} (muted)"
