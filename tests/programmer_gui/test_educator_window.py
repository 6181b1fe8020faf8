"""The educator's window against a real emulator (demo preset, manual clock): pressing the
time and fault buttons changes the simulation and the window shows it; the lessons work."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from emulator.emulator import Emulator
from programmer_gui.controllers.educator import EducatorController, open_educator_window
from programmer_gui.core.educator import DAY_S, HOUR_S, SpeedSetting
from programmer_gui.demo.educator_backend import (
    EmulatorEducatorBackend,
    render_educator_screenshots,
)
from programmer_gui.views.educator import EducatorWindow
from programmer_gui.views.widgets import Severity
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, Role
from protocol.units import ml_to_nl
from tests.support import DEMO_KEYS, T0


class Opened:
    def __init__(self, emulator: Emulator, backend: EmulatorEducatorBackend, url: str) -> None:
        self.emulator = emulator
        self.backend = backend
        self.url = url
        self.window: EducatorWindow
        self.controller: EducatorController


@pytest.fixture(scope="module", autouse=True)
def _qt_started(qapp: QApplication) -> None:
    """Show a tabbed window before the leak check's snapshot: Qt keeps the event descriptors
    it opens for the first one (a QTabWidget's) for the life of the process."""
    first = QTabWidget()
    first.addTab(QWidget(), "warm-up")
    first.show()
    qapp.processEvents()
    first.close()
    first.deleteLater()
    qapp.processEvents()


@pytest.fixture
def opened(qtbot: QtBot) -> Iterator[Opened]:
    emulator = Emulator.single(
        preset="demo", manual_clock=True, start_pump_s=T0, random_bytes=random.Random(3).randbytes
    )
    backend = EmulatorEducatorBackend(emulator)
    url = emulator.register_inproc()
    emulator.start()
    try:
        world = Opened(emulator, backend, url)
        window = open_educator_window(backend, tz=UTC)
        qtbot.addWidget(window)
        controller = window.findChild(EducatorController)
        assert controller is not None
        world.window, world.controller = window, controller
        yield world
        window.close()
        emulator.check()
    finally:
        emulator.close()


def test_opens_as_its_own_window_showing_the_pump_time(opened: Opened) -> None:
    window = opened.window
    assert window.isWindow() and window.isVisible()
    assert "educator" in window.windowTitle()
    assert window.clock_label.text() == "2026-09-21 14:13"
    assert window.elapsed_label.text() == "day 0 since start (0 s)"
    assert window.pause_button.isChecked()
    assert window.battery_spin.value() == 70
    assert opened.controller.running
    assert window.truth_reservoir.text() == "30 mL"
    assert window.truth_tip.text() == "2000 mcg/mL"
    assert window.patient_badge.severity is Severity.OK
    assert window.tone_badge.text == "Silent: no alarm"


def test_a_parent_does_not_swallow_the_window(qtbot: QtBot, opened: Opened) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    child = open_educator_window(opened.backend, parent)
    qtbot.addWidget(child)
    assert child.isWindow() and child.parentWidget() is parent
    child.close()


def test_step_buttons_move_pump_time_and_fill_the_plot(qtbot: QtBot, opened: Opened) -> None:
    window, controller = opened.window, opened.controller
    qtbot.mouseClick(window.step_hour, Qt.MouseButton.LeftButton)
    assert opened.backend.pump_time_s() == T0 + HOUR_S
    assert window.clock_label.text() == "2026-09-21 15:13"
    assert len(controller.history) == 1 + 12  # the first sample, then every 5 min
    qtbot.mouseClick(window.step_day, Qt.MouseButton.LeftButton)
    assert opened.backend.pump_time_s() == T0 + HOUR_S + DAY_S
    assert window.elapsed_label.text() == "day 1 since start (1 d 1 h)"
    assert len(controller.history) == 1 + 12 + 48
    x, _ = window.plot.reservoir_curve.getData()
    # The plot keeps the day stepped through (and 6 h before it) in view.
    assert x is not None and len(x) == 61
    assert (x[0], x[-1]) == (0, pytest.approx(25 / 24))
    opened.controller.set_speed(SpeedSetting.stopped())
    x, _ = window.plot.reservoir_curve.getData()
    # Back to the speed's own window: 6 h, plus the sample before it (entering from the edge).
    assert x is not None and len(x) == 14
    assert x[0] == pytest.approx(37 / 48)


def test_speed_buttons_drive_the_emulator_clock(qtbot: QtBot, opened: Opened) -> None:
    window = opened.window
    qtbot.mouseClick(window.speed_buttons[1000], Qt.MouseButton.LeftButton)
    assert opened.backend.speed() == SpeedSetting.running(1000)
    assert window.speed_buttons[1000].isChecked()
    assert "16 min 40 s" in window.speed_label.text()
    qtbot.mouseClick(window.pause_button, Qt.MouseButton.LeftButton)
    assert opened.backend.speed() == SpeedSetting.stopped(1000)
    assert window.speed_label.text().startswith("Paused")


def test_the_timer_follows_a_running_clock(qtbot: QtBot, opened: Opened) -> None:
    opened.controller.set_speed(SpeedSetting.running(100_000))
    # At x100,000 pump time passes a day a second: wait for the window to show it.
    qtbot.waitUntil(lambda: opened.window.clock_label.text() != "2026-09-21 14:13", timeout=5000)
    qtbot.waitUntil(lambda: len(opened.controller.history) >= 2, timeout=5000)
    opened.controller.set_speed(SpeedSetting.stopped())


def test_fault_buttons_toggle_and_say_their_state(qtbot: QtBot, opened: Opened) -> None:
    window = opened.window
    qtbot.mouseClick(window.motor_stall, Qt.MouseButton.LeftButton)
    assert opened.backend.sample().faults.motor_stall
    assert window.motor_stall.isChecked()
    assert window.motor_stall.text().endswith(": ON")
    assert window.tone_badge.severity is Severity.CRITICAL
    assert "two tones, 3 s, repeating every 10 min" in window.tone_badge.text
    assert "motor stall (critical)" in window.tone_badge.text
    qtbot.mouseClick(window.motor_stall, Qt.MouseButton.LeftButton)
    assert not opened.backend.sample().faults.motor_stall
    assert window.motor_stall.text() == "&Motor stall: off"

    qtbot.mouseClick(window.link_noise, Qt.MouseButton.LeftButton)
    assert opened.backend.sample().faults.link_noise and window.link_noise.isChecked()
    qtbot.mouseClick(window.link_drop, Qt.MouseButton.LeftButton)
    assert opened.backend.sample().faults.link_dropped
    assert "ON" in window.link_drop.text()

    qtbot.mouseClick(window.memory_non_critical, Qt.MouseButton.LeftButton)
    assert opened.backend.sample().faults.memory_error_non_critical
    assert "non-critical ON" in window.memory_state.text()

    window.battery_spin.setValue(4)
    qtbot.mouseClick(window.battery_button, Qt.MouseButton.LeftButton)
    assert opened.backend.sample().faults.battery_permille == 40
    assert window.battery_state.text() == "now 4.0 %"
    assert not window.error.isVisible()

    qtbot.mouseClick(window.low_battery_reset, Qt.MouseButton.LeftButton)
    sample = opened.backend.sample()
    assert AlarmCode.LOW_BATTERY_RESET in sample.alarms_active
    assert sample.current_rate_nl_per_day == 6_000  # the keep-open minimum rate


def test_a_refused_control_is_shown_not_raised(qtbot: QtBot, opened: Opened) -> None:
    opened.controller.step(500 * DAY_S)
    assert window_error(opened) and "refused" in opened.window.error.text
    qtbot.mouseClick(opened.window.step_hour, Qt.MouseButton.LeftButton)
    assert not opened.window.error.isVisible()


def window_error(opened: Opened) -> bool:
    return not opened.window.error.isHidden()


def test_the_low_reservoir_lesson_jumps_to_the_alarm(qtbot: QtBot, opened: Opened) -> None:
    window = opened.window
    assert not window.jump_to_alarm.isVisibleTo(window)
    qtbot.mouseClick(window.scenario_buttons["low_reservoir"], Qt.MouseButton.LeftButton)
    assert window.jump_to_alarm.isVisibleTo(window)
    assert "forecasts it for 2027-02-09 16:30 (in 141.1 days)" in window.scenario_numbers.text()
    qtbot.mouseClick(window.jump_to_alarm, Qt.MouseButton.LeftButton)
    sample = opened.backend.sample()
    assert AlarmCode.LOW_RESERVOIR in sample.alarms_active
    assert window.tone_badge.severity is Severity.WARNING
    assert "SOUNDING: single tone, 1 s, repeating every 1 h" in window.tone_badge.text
    assert window.tone_strip.pattern == sample.tone
    assert "alarm is ON" in window.scenario_numbers.text()
    # Pressing it again has nothing to jump to: said, not raised.
    qtbot.mouseClick(window.jump_to_alarm, Qt.MouseButton.LeftButton)
    assert "already on" in window.error.text


def test_the_bridge_lesson_shows_the_three_cases_and_the_old_drug_in_the_path(
    qtbot: QtBot, opened: Opened
) -> None:
    window = opened.window
    qtbot.mouseClick(window.scenario_buttons["bridge"], Qt.MouseButton.LeftButton)
    assert "Why the bridge matters" in window.scenario_title.text()
    assert "maximum-rate push" in window.scenario_text.text()
    # The three cases, side by side, for 2000 -> 500 mcg/mL at the demo's dose.
    panel = window.bridge_cases
    titles = [t.text() for t in panel.titles]
    assert titles == [
        "\u26a0 No bridge",
        "\u2714 The bridge (what the pump does)",
        "\u26a0 Maximum-rate push (never done)",
    ]
    assert "OVERDOSE" in panel.summaries[0].text()  # a fall in concentration, no bridge
    assert "throughout" in panel.summaries[1].text()
    assert "never a push" in panel.summaries[2].text()
    assert "from 2000 to 500 mcg/mL" in panel.heading.text()
    with PumpClient(
        opened.url, key=DEMO_KEYS[Role.CLINICIAN], random_bytes=random.Random(1).randbytes
    ) as pump:
        status = pump.status()
        pump.refill(
            removed_nl=status.reservoir_nl,
            added_nl=ml_to_nl(20),
            concentration_ug_per_ml=500,
            prescription=pump.read_prescription().prescription.with_concentration(500),
            bridge=True,
        )
    qtbot.mouseClick(window.step_hour, Qt.MouseButton.LeftButton)
    assert window.truth_tip.text() == "2000 mcg/mL"
    assert "older drug (2000 mcg/mL" in window.scenario_numbers.text()
    assert [s.concentration_ug_per_ml for s in window.fluid_path.segments] == [2000, 500]
    _, tip = window.plot.tip_conc_curve.getData()
    _, reservoir = window.plot.reservoir_conc_curve.getData()
    assert tip is not None and reservoir is not None
    assert (tip[-1], reservoir[-1]) == (2000, 500)


def test_the_titration_lesson_marks_onset_and_full_effect_on_the_response(
    qtbot: QtBot, opened: Opened
) -> None:
    window = opened.window
    qtbot.mouseClick(window.scenario_buttons["titration"], Qt.MouseButton.LeftButton)
    assert window.scenario_title.text() == "Titrating a dose"
    assert "No dose change yet" in window.scenario_numbers.text()
    assert window.truth_tone.text() == "1.5 of 4"
    with PumpClient(
        opened.url, key=DEMO_KEYS[Role.CLINICIAN], random_bytes=random.Random(1).randbytes
    ) as pump:
        pump.program(m.PrescriptionSpec.simple(480 * 1000, concentration_ug_per_ml=2000))
    qtbot.mouseClick(window.step_day, Qt.MouseButton.LeftButton)
    # One change: its line, then onset (~5 h) and full effect (~24 h), none superseded.
    markers = [(line.label.format, line.value()) for line in window.plot.markers]
    assert [label for label, _ in markers] == [
        "397 \u2192 480 mcg/day (+21 %)",
        "onset",
        "full effect",
    ]
    change_x, onset_x, full_x = (x for _, x in markers)
    assert 4 / 24 < onset_x - change_x < 8 / 24
    assert 20 / 24 < full_x - change_x < 1
    # The response is drawn beside the level, and lags it.
    x, level = window.plot.level_curve.getData()
    _, response = window.plot.response_curve.getData()
    assert x is not None and level is not None and response is not None
    assert len(response) == len(level)
    first_hour = next(i for i, t in enumerate(x) if t >= change_x + 1 / 24)
    assert level[first_hour] > response[first_hour]
    text = window.scenario_numbers.text()
    assert text.startswith("Last change: 397 \u2192 480 mcg/day (+21 %)")
    assert "full effect (90 %)" in text
    assert float(window.truth_tone.text().split()[0]) < 1.5


def status_session(url: str) -> None:
    with PumpClient(
        url, key=DEMO_KEYS[Role.CLINICIAN], random_bytes=random.Random(2).randbytes
    ) as pump:
        pump.status()


def test_frames_reach_the_inspector_live_and_closing_leaves_the_wire(
    qtbot: QtBot, opened: Opened
) -> None:
    controller, model = opened.controller, opened.window.inspector.model
    status_session(opened.url)  # session open (4 frames), STATUS (2), close (2)
    qtbot.waitUntil(lambda: model.rowCount() == 8)
    assert [e.op_name for e in model.entries][4:6] == ["STATUS", "STATUS"]
    opened.window.close()
    assert not controller.running
    status_session(opened.url)
    qtbot.wait(50)  # nothing queued may arrive: the window left the wire
    assert model.rowCount() == 8
    opened.window.show()  # shown again: it catches up with what came meanwhile, once
    assert controller.running
    assert model.rowCount() == 16
    assert [e.number for e in model.entries] == list(range(1, 17))
    status_session(opened.url)
    qtbot.waitUntil(lambda: model.rowCount() == 24)
    assert {e.link for e in model.entries} == {"pump0#1", "pump0#2", "pump0#3"}


@pytest.mark.slow  # every educator screen rendered (make test runs it, make check not)
def test_the_screenshots_render(qapp: QApplication, tmp_path: Path) -> None:
    paths = render_educator_screenshots(tmp_path)
    assert [p.name for p in paths] == [
        "31-educator-bridge-lesson.png",
        "32-educator-bridge-cases.png",
        "33-educator-inspector.png",
        "34-educator-low-reservoir-alarm.png",
        "35-educator-motor-stall.png",
        "36-educator-titration-lesson.png",
        "37-educator-stacked-changes.png",
    ]
    for path in paths:
        image = QImage(str(path))
        assert image.width() >= 1600 and image.height() >= 1000


def test_an_mri_scan_stalls_the_rotor_and_delivery_resumes_when_it_ends(
    qtbot: QtBot, opened: Opened
) -> None:
    """#19: the educator's window starts an MRI exposure (a world event) with one click."""
    window = opened.window
    qtbot.mouseClick(window.mri_scan, Qt.MouseButton.LeftButton)
    during = opened.backend.sample()
    assert not during.delivering
    assert AlarmCode.MOTOR_STALL in during.alarms_active
    assert not window.error.isVisible()
    qtbot.mouseClick(window.step_hour, Qt.MouseButton.LeftButton)  # the 45 min scan ends
    after = opened.backend.sample()
    assert after.delivering  # no telemetry-mode trap: the rotor turns again by itself


def test_an_mri_scan_in_telemetry_mode_waits_for_an_interrogation(
    qtbot: QtBot, opened: Opened
) -> None:
    window = opened.window
    qtbot.mouseClick(window.mri_scan_trap, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.step_hour, Qt.MouseButton.LeftButton)  # the scan is over...
    assert not opened.backend.sample().delivering  # ...but the pump waits in telemetry mode
    with PumpClient(
        opened.url, key=DEMO_KEYS[Role.CLINICIAN], random_bytes=random.Random(1).randbytes
    ) as pump:
        pump.status()  # the post-scan interrogation ends telemetry mode
    qtbot.mouseClick(window.step_hour, Qt.MouseButton.LeftButton)
    assert opened.backend.sample().delivering
