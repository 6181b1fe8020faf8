"""Trends end to end: the log read on connection, polls added as the pump's clock moves, the
forecast line ending at the alarm date, units on every axis."""

from __future__ import annotations

import pyqtgraph as pg
from pytestqt.qtbot import QtBot

from programmer_gui.controllers.trends import install
from programmer_gui.core.trends import forecast_line
from programmer_gui.link import PumpLink
from protocol import messages as m
from protocol.enums import EventCode
from tests.programmer_gui.conftest import DemoWorld, ProgrammerClock
from tests.programmer_gui.pump_support import WAIT_MS, connect, ui

DAY_S = 86_400


def curves(plot: pg.PlotWidget) -> dict[str, tuple[list[float], list[float]]]:
    """Each named curve of ``plot`` as (x, y) lists."""
    found = {}
    for item in plot.listDataItems():
        xs, ys = item.getData()
        found[item.name()] = ([float(v) for v in xs], [float(v) for v in ys])
    return found


def test_log_polls_and_forecast(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld, programmer_clock: ProgrammerClock
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("trends")  # a hidden page is drawn only once shown
        page = controller.page
        assert page.figures.value("reservoir") == "—"
        first = connect(qtbot, link, demo_world.url)
        qtbot.waitUntil(lambda: controller.log_read, timeout=WAIT_MS)
        assert page.reservoir_plot.getAxis("left").labelText == "Reservoir (mL)"
        assert page.dose_plot.getAxis("left").labelText == "Dose (mcg/day)"
        assert page.figures.value("reservoir") == "30 mL"
        assert page.figures.value("dose") == "396.88 mcg/day"
        assert page.figures.value("alarm").endswith("(in 141 days)")
        assert "1 reading from the pump" in page.history_label.text()
        assert any(e.code is EventCode.POWER_ON for e in controller.entries)

        # Ten days on, a new reading: two polls, the log line from power-on to now.
        demo_world.emulator.advance(10 * DAY_S)
        programmer_clock.now_s += 10 * DAY_S
        last = app.refresh(qtbot)
        page.refresh_button.click()
        qtbot.waitUntil(lambda: "2 readings" in page.history_label.text(), timeout=WAIT_MS)
        reservoir = curves(page.reservoir_plot)
        polls_x, polls_y = reservoir["read from the pump"]
        assert polls_x == [first.status.clock_s, last.status.clock_s]
        assert polls_y[0] == 30.0 and 27.9 < polls_y[1] < 28.1  # ~0.2 mL/day for 10 days
        log_x, log_y = reservoir["from the event log"]
        assert log_x[0] == first.status.clock_s and log_y[0] == 30.0
        assert log_x[-1] == last.status.clock_s and log_y[-1] == polls_y[1]
        # The forecast runs from now to the alarm volume at the pump's alarm date, then empty.
        forecast = forecast_line(last)
        fx, fy = reservoir["forecast"]
        assert fx[0] == last.status.clock_s and fy[0] == polls_y[1]
        assert forecast.alarm_at_s is not None
        assert fx[1] == forecast.alarm_at_s  # pump time
        assert fy[1] == last.status.alarm_volume_nl / 1_000_000
        assert page.figures.value("alarm").endswith("(in 131 days)")
        dose_y = curves(page.dose_plot)["read from the pump"][1]
        assert [round(v, 2) for v in dose_y] == [396.88, 396.88]

        # A dose change shows in the log line as a step.
        def program(client: object) -> None:
            assert hasattr(client, "program")
            client.program(m.PrescriptionSpec.simple(500_000, concentration_ug_per_ml=2000))

        with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS):
            link.submit(program, on_done=lambda _r: None)
        page.refresh_button.click()
        qtbot.waitUntil(
            lambda: any(e.code is EventCode.PROGRAMMED for e in controller.entries),
            timeout=WAIT_MS,
        )
        dose_log = curves(page.dose_plot)["from the event log"][1]
        assert dose_log[-1] == 500.0 and round(dose_log[0], 2) == 396.88


def test_another_pump_starts_a_new_history(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("trends")  # a hidden page is drawn only once shown
        connect(qtbot, link, demo_world.url)
        qtbot.waitUntil(lambda: controller.log_read, timeout=WAIT_MS)
        assert controller.serial is not None and controller.polls
        controller.serial = "some other pump"  # as if the last session was with another pump
        connect(qtbot, link, demo_world.url)
        qtbot.waitUntil(lambda: controller.log_read, timeout=WAIT_MS)
        assert len(controller.polls) == 1


def test_a_hidden_trends_page_is_drawn_only_when_shown(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    """#14 item 13: polls while another page is shown do not redraw the charts."""
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        assert app.window.current_page() == "review"  # the trends page is hidden
        connect(qtbot, link, demo_world.url)
        qtbot.waitUntil(lambda: controller.log_read, timeout=WAIT_MS)
        app.refresh(qtbot)
        assert curves(controller.page.reservoir_plot) == {}  # nothing drawn while hidden
        assert controller.page.figures.value("reservoir") == "—"
        app.window.show_page("trends")
        assert set(curves(controller.page.reservoir_plot)) >= {"read from the pump", "forecast"}
        assert controller.page.figures.value("reservoir") == "30 mL"
