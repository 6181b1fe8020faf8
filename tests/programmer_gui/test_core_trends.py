"""Trends: the reservoir and dose reconstructed from the log, polls, the forecast line."""

from __future__ import annotations

from fractions import Fraction

from programmer_gui.core.trends import (
    TrendPoint,
    add_poll,
    forecast_line,
    poll_point,
    reconstruct,
)
from protocol import messages as m
from protocol.enums import AlarmCode, EventCode, Mode
from tests.programmer_gui.pump_support import T0, connected

DAY = 86_400


def entry(index: int, day: float, code: EventCode, a: int = 0, b: int = 0) -> m.LogEntry:
    return m.LogEntry(index=index, clock_s=T0 + round(day * DAY), code=code, a=a, b=b)


def test_reconstruction_follows_programming_refills_boluses_and_stops() -> None:
    entries = [
        entry(0, 0, EventCode.POWER_ON, 20_000_000, 500),
        entry(1, 10, EventCode.PROGRAMMED, Mode.SIMPLE, 200_000),  # 200 mcg/day: 0.4 mL/day
        entry(2, 20, EventCode.BOLUS_ENDED, 1, 500_000),
        entry(3, 21, EventCode.STOPPED, 2),
        entry(4, 23, EventCode.RESUMED, Mode.SIMPLE),
        entry(5, 30, EventCode.REFILLED, 20_000_000, 1000),
        entry(6, 31, EventCode.DELIVERY_HALTED, AlarmCode.MOTOR_STALL),
        entry(7, 32, EventCode.ALARM_CLEARED, AlarmCode.MOTOR_STALL),
    ]
    now = TrendPoint(clock_s=T0 + 40 * DAY, reservoir_nl=16_000_000, dose_ug_per_day=Fraction(400))
    points = reconstruct(
        entries, now=now, daily_volume_nl_now=200_000, concentration_now_ug_per_ml=500
    )
    by_day = {round((p.clock_s - T0) / DAY): p for p in points[:-1]}
    assert by_day[0].reservoir_nl == 20_000_000
    assert by_day[10].reservoir_nl == 18_000_000  # 10 days at the present 0.2 mL/day
    assert by_day[20].reservoir_nl == 18_000_000 - 4_000_000 - 500_000  # 0.4 mL/day, a bolus
    assert by_day[21].dose_ug_per_day == 0  # stopped
    assert by_day[23].reservoir_nl == by_day[21].reservoir_nl  # nothing delivered while stopped
    # A refill at 1000 mcg/mL keeps the dose (a prescription is a dose of the drug in the
    # pump): 200 mcg/day, now 0.2 mL/day.
    assert by_day[30].reservoir_nl == 20_000_000 and by_day[30].dose_ug_per_day == 200
    assert by_day[31].reservoir_nl == 20_000_000 - 200_000
    assert by_day[31].dose_ug_per_day == 0 and by_day[32].reservoir_nl == by_day[31].reservoir_nl
    assert points[-1] == now
    assert reconstruct([], now=now, daily_volume_nl_now=1, concentration_now_ug_per_ml=1) == [now]


def test_polls_and_the_forecast_line_from_the_pump() -> None:
    with connected("default") as world:
        first = world.snapshot()
        world.advance_days(10)
        second = world.snapshot()
    points = add_poll(add_poll([], poll_point(second)), poll_point(first))
    assert [p.reservoir_nl for p in points] == [20_000_000, 18_000_000]
    assert points[0].dose_ug_per_day == 100
    assert len(add_poll(points, poll_point(second))) == 2
    line = forecast_line(second)
    assert line.alarm_at_s == T0 + 90 * DAY
    assert [v for _, v in line.points] == [18_000_000, 2_000_000, 1_000_000]
    assert [c for c, _ in line.points] == [T0 + 10 * DAY, T0 + 90 * DAY, T0 + 95 * DAY]
