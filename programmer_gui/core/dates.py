"""Dates and forecasts on the pump's clock, from the pump's own maths.

Every date the programmer shows is a pump-clock second (Unix seconds, UTC),
and every forecast comes from :func:`protocol.forecast.dates_from_status`,
the very function the pump uses: given one STATUS with the pump's own
prescription and patient settings, the dates here are the STATUS's dates to
the second, by construction. A pending change is forecast by passing the
pending prescription or settings, or a STATUS changed with
:func:`dataclasses.replace` (a pending refill, a pending bolus).

"Now" is the pump's clock at the read (in a simulation the simulated time is
the only "now"); the programmer's own clock appears only where the two are
compared (the clock box on the Status page).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import tzinfo
from fractions import Fraction
from typing import TYPE_CHECKING

from protocol import messages as m
from protocol.enums import AlarmCode, BolusKind
from protocol.forecast import Dates, dates_from_status
from protocol.schedule import compile_schedule, daily_dose_ng, volume_for_dose
from protocol.timebase import DAYS_PER_WEEK, SECONDS_PER_DAY, weekday
from protocol.units import format_clock

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

__all__ = [
    "DAYS_PER_WEEK",
    "DEFAULT_REFILL_MARGIN_S",
    "SECONDS_PER_DAY",
    "WEEKDAY_NAMES",
    "ReservoirForecast",
    "daily_dose_ug",
    "daily_volume_nl",
    "forecast",
    "format_date",
    "format_in_days",
    "format_pump_date",
    "format_start_min",
    "status_with_bolus",
    "weekday_of",
]

DEFAULT_REFILL_MARGIN_S = 7 * SECONDS_PER_DAY
"""The refill-by date is this long before the low-reservoir alarm date: a week's slack
to book the visit, so the patient does not hear the alarm."""

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

NG_PER_UG = 1_000


def weekday_of(clock_s: int) -> int:
    """The pump's weekday at ``clock_s`` (Monday = 0 .. Sunday = 6, UTC), as flex uses it."""
    return weekday(clock_s)


def format_start_min(start_min: int) -> str:
    """A flex step start as ``HH:MM`` (pump clock)."""
    return f"{start_min // 60:02d}:{start_min % 60:02d}"


def daily_dose_ug(
    spec: m.PrescriptionSpec, day: int, *, minimum_mode_rate_nl_per_day: int
) -> Fraction:
    """The exact 24-hour dose of ``spec`` on weekday ``day``, in mcg (protocol.schedule)."""
    return (
        daily_dose_ng(spec, day, minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day)
        / NG_PER_UG
    )


def daily_volume_nl(
    spec: m.PrescriptionSpec,
    day: int,
    *,
    minimum_mode_rate_nl_per_day: int,
    concentration_ug_per_ml: int | None = None,
) -> Fraction:
    """The exact 24-hour volume of ``spec`` on weekday ``day`` at a concentration (default:
    the one the prescription names), as the pump's rate tables deliver it."""
    schedule = compile_schedule(
        spec,
        concentration_ug_per_ml=(
            spec.concentration_ug_per_ml
            if concentration_ug_per_ml is None
            else concentration_ug_per_ml
        ),
        minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day,
    )
    return schedule.daily_volume_nl(day)


@dataclass(frozen=True, kw_only=True)
class ReservoirForecast:
    """The dates of a plan (the pump's, or a pending one), as pump-clock seconds.

    None means not within the pump's forecast horizon (or never).
    """

    now_clock_s: int
    low_reservoir_alarm_at_s: int | None
    empty_at_s: int | None
    eri_at_s: int | None
    bridge_ends_at_s: int | None
    refill_by_s: int | None
    """The low-reservoir alarm date less the refill margin (never before now)."""

    @classmethod
    def of(
        cls, dates: Dates, *, now_clock_s: int, refill_margin_s: int = DEFAULT_REFILL_MARGIN_S
    ) -> ReservoirForecast:
        low = dates.low_reservoir_at_s
        return cls(
            now_clock_s=now_clock_s,
            low_reservoir_alarm_at_s=low,
            empty_at_s=dates.empty_at_s,
            eri_at_s=dates.eri_at_s,
            bridge_ends_at_s=dates.bridge_ends_at_s,
            refill_by_s=None if low is None else max(now_clock_s, low - refill_margin_s),
        )


def forecast(
    snapshot: PumpSnapshot,
    *,
    prescription: m.PrescriptionSpec | None = None,
    patient: m.PatientSettingsFields | None = None,
    status: m.StatusResponse | None = None,
    refill_margin_s: int = DEFAULT_REFILL_MARGIN_S,
) -> ReservoirForecast:
    """The pump's dates from the snapshot, or those of a pending change.

    Defaults are the snapshot's: its STATUS, its prescription and its patient
    settings (disabled when the session cannot read them). With all defaults
    the dates equal the STATUS's own (the pump uses the same function).
    """
    st = snapshot.status if status is None else status
    spec = snapshot.require_prescription() if prescription is None else prescription
    if patient is None:
        patient = snapshot.patient_settings or m.PatientSettingsFields(
            enabled=False, dose_ng=0, duration_s=0, lockout_s=0, max_per_24h=0
        )
    dates = dates_from_status(st, prescription=spec, patient=patient, info=snapshot.device)
    return ReservoirForecast.of(dates, now_clock_s=st.clock_s, refill_margin_s=refill_margin_s)


def status_with_bolus(
    status: m.StatusResponse,
    *,
    kind: BolusKind,
    dose_ng: int,
    volume_nl: int,
    duration_s: int,
) -> m.StatusResponse:
    """The STATUS as it would read the second a bolus starts (for its forecast).

    A therapeutic bolus's volume is its dose at the concentration in force (the
    old drug during a bridge), as the pump computes it.
    """
    rate_conc = (
        status.bridge_concentration_ug_per_ml
        if status.bridge_remaining_nl > 0 and status.bridge_concentration_ug_per_ml > 0
        else status.concentration_ug_per_ml
    )
    if kind is BolusKind.THERAPEUTIC:
        volume_nl = volume_for_dose(dose_ng, rate_conc)
    return dataclasses.replace(
        status,
        bolus_kind=kind,
        bolus_dose_ng=dose_ng,
        bolus_volume_nl=volume_nl,
        bolus_duration_s=duration_s,
        bolus_started_at_s=status.clock_s,
        bolus_remaining_nl=volume_nl,
        bolus_ends_at_s=status.clock_s + duration_s,
    )


HALTING_WORDS: dict[AlarmCode, str] = {
    AlarmCode.EMPTY_RESERVOIR: "the reservoir is empty",
    AlarmCode.EOS: "the battery is at end of service",
    AlarmCode.MOTOR_STALL: "the motor has stalled",
    AlarmCode.MEMORY_CRITICAL: "a critical memory error",
    AlarmCode.LOW_BATTERY_RESET: "a low battery reset",
}
"""A fault that halts delivery, in a clinician's words."""


# --- showing dates -----------------------------------------------------------------------


def format_in_days(at_s: float, *, now_s: float) -> str:
    """``at_s`` from ``now_s`` in words: "in 90 days", "in less than a day", "now", "2 days ago"."""
    delta = at_s - now_s
    if delta <= 0:
        days_ago = math.floor(-delta / SECONDS_PER_DAY)
        if days_ago == 0:
            return "now"
        return f"{days_ago} day{'s' if days_ago != 1 else ''} ago"
    days = math.floor(delta / SECONDS_PER_DAY)
    if days == 0:
        return "in less than a day"
    return f"in {days} day{'s' if days != 1 else ''}"


def format_date(at_s: float, *, now_s: float, tz: tzinfo | None = None) -> str:
    """A date as ``YYYY-MM-DD HH:MM (in N days)``; ``tz`` None is the local zone."""
    return f"{format_clock(at_s, tz, seconds=False)} ({format_in_days(at_s, now_s=now_s)})"


def format_pump_date(
    snapshot: PumpSnapshot, clock_s: int | None, *, tz: tzinfo | None = None
) -> str:
    """A pump-clock time as a date, "in N days" from the pump's clock at the read.

    The date is the pump's (never moved by the programmer's clock): the one the
    event log, the flex steps and the pump's alarms use. None: "not within 10 years".
    """
    if clock_s is None:
        return "not within 10 years"
    return format_date(clock_s, now_s=snapshot.pump_clock_s, tz=tz)
