"""Trends, without Qt: the reservoir volume and the daily dose over time, and the forecast.

Two sources, shown apart because they are not equally sure:

- **Polled**: every interrogation gives the pump's own reservoir estimate
  and 24-hour dose at its clock: exact points.
- **From the event log**: a reconstruction between power-on (or the oldest
  entry kept) and now. The log records refills (volume added), programming
  (the 24-hour volume), boluses (volume delivered), stops and halts, but not
  the volume removed at a refill: a refill is taken to start from an emptied
  reservoir (the standard technique), and before the first PROGRAMMED entry
  the therapy is taken to be the present one. The line is an estimate and
  is drawn as one.

The forecast runs from the latest poll to the low-reservoir alarm and to
empty, at the pump's own forecast dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from protocol import messages as m
from protocol.enums import AlarmCode, EventCode
from protocol.schedule import rate_for_dose
from protocol.timebase import SECONDS_PER_DAY
from protocol.units import NL_PER_ML

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

_HALTING: Final = frozenset(
    {AlarmCode.EMPTY_RESERVOIR, AlarmCode.EOS, AlarmCode.MOTOR_STALL, AlarmCode.MEMORY_CRITICAL}
)


@dataclass(frozen=True, kw_only=True)
class TrendPoint:
    """One point: pump clock (s), reservoir (nL) and the 24-hour dose then (mcg/day)."""

    clock_s: int
    reservoir_nl: int
    dose_ug_per_day: Fraction


def poll_point(snapshot: PumpSnapshot) -> TrendPoint:
    """The point one interrogation gives."""
    return TrendPoint(
        clock_s=snapshot.status.clock_s,
        reservoir_nl=snapshot.status.reservoir_nl,
        dose_ug_per_day=snapshot.dose_ug_per_day if snapshot.status.delivering else Fraction(0),
    )


def add_poll(points: Sequence[TrendPoint], point: TrendPoint) -> list[TrendPoint]:
    """``points`` with ``point`` added in clock order (a repeat of the same second replaces)."""
    kept = [p for p in points if p.clock_s != point.clock_s]
    kept.append(point)
    kept.sort(key=lambda p: p.clock_s)
    return kept


def reconstruct(
    entries: Sequence[m.LogEntry],
    *,
    now: TrendPoint,
    daily_volume_nl_now: int,
    concentration_now_ug_per_ml: int,
) -> list[TrendPoint]:
    """The reservoir and daily dose from the log, one point per event plus ``now``.

    Between entries the reservoir falls at the 24-hour volume last programmed
    while delivery runs; boluses subtract what they delivered when they end.
    """
    ordered = sorted(entries, key=lambda e: (e.clock_s, e.index))
    if not ordered:
        return [now]
    conc = concentration_now_ug_per_ml
    # PROGRAMMED logs the 24-hour DOSE (ng); the volume follows at the drug in the pump.
    dose_ng = Fraction(daily_volume_nl_now * conc, 1000)
    daily = daily_volume_nl_now
    reservoir: Fraction | None = None
    stopped = False
    halted: set[AlarmCode] = set()
    clock = ordered[0].clock_s
    points: list[TrendPoint] = []

    def dose() -> Fraction:
        if stopped or halted:
            return Fraction(0)
        return dose_ng / 1000

    def emit(at: int) -> None:
        if reservoir is not None:
            points.append(
                TrendPoint(
                    clock_s=at, reservoir_nl=max(round(reservoir), 0), dose_ug_per_day=dose()
                )
            )

    for entry in ordered:
        if entry.clock_s > now.clock_s:
            break
        if reservoir is not None and not stopped and not halted:
            reservoir -= Fraction(daily * (entry.clock_s - clock), SECONDS_PER_DAY)
            reservoir = max(reservoir, Fraction(0))
        clock = entry.clock_s
        code = entry.code
        if code is EventCode.POWER_ON or code is EventCode.REFILLED:
            reservoir, conc = Fraction(entry.a), entry.b
            if conc > 0:
                daily = rate_for_dose(round(dose_ng), conc)
        elif code is EventCode.PROGRAMMED:
            dose_ng = Fraction(entry.b)
            if conc > 0:
                daily = rate_for_dose(entry.b, conc)
        elif code in (EventCode.BOLUS_ENDED, EventCode.BOLUS_CANCELLED) and reservoir is not None:
            reservoir = max(reservoir - entry.b, Fraction(0))
        elif code is EventCode.STOPPED:
            stopped = True
        elif code is EventCode.RESUMED:
            stopped = False
        elif code is EventCode.DELIVERY_HALTED:
            halted.add(_alarm(entry.a))
        elif code is EventCode.ALARM_CLEARED:
            halted.discard(_alarm(entry.a))
        emit(clock)
    points.append(now)
    return points


def _alarm(value: int) -> AlarmCode:
    try:
        return AlarmCode(value)
    except ValueError:
        return AlarmCode.MEMORY_CRITICAL  # an unknown halting code: treat as halting


@dataclass(frozen=True, kw_only=True)
class ForecastLine:
    """The reservoir forecast from now: (clock s, reservoir nL) to the alarm and to empty."""

    points: tuple[tuple[int, int], ...]
    alarm_at_s: int | None
    empty_at_s: int | None


def forecast_line(snapshot: PumpSnapshot) -> ForecastLine:
    """From the latest reading to the pump's alarm and empty dates (straight between them)."""
    status = snapshot.status
    points = [(status.clock_s, status.reservoir_nl)]
    low, empty = status.low_reservoir_alarm_at_s, status.empty_at_s
    if low is not None and low > status.clock_s:
        points.append((low, status.alarm_volume_nl))
    if empty is not None and empty > points[-1][0]:
        points.append((empty, snapshot.device.empty_threshold_nl))
    return ForecastLine(points=tuple(points), alarm_at_s=low, empty_at_s=empty)


def ml(nl: int) -> float:
    """nL as mL for a chart axis."""
    return nl / NL_PER_ML
