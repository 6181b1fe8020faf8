"""Schedules and reservoir forecasts, worked out from what the wire carries.

The programmer must show the low-reservoir alarm date of a prescription
*before* it is sent, so it cannot ask the pump: it integrates the pending
prescription itself, with the pump's own semantics (``firmware_model``
cannot be imported here, so they are restated):

- flex steps follow the pump's real-time clock (Unix seconds, UTC): the
  time of day is the UTC time of day, weekday 0 is Monday, and a weekly
  prescription's profile ``n`` runs on weekday ``n``;
- a bolus replaces the basal rate while it runs and the basal schedule
  resumes after it, so a bridge bolus delays the new basal, it does not add
  to it; a bolus of ``V`` nL over ``D`` s has delivered ``floor(V*dt/D)``;
- the basal volume delivered is ``floor(integral of rate dt / 86400)``
  (rates in nL/day), so the first second a volume is reached is an exact
  integer ceiling;
- with patient doses enabled the patient is assumed to take every dose the
  moment the rule (lockout, maximum per 24 h) allows it.

Two things the programmer cannot see: the sub-nanolitre remainder of the
pump's basal integral (at most 1 nL, so the answers agree to within the
second or so that 1 nL takes) and the patient doses granted in the last
24 h (the forecast assumes none, so the first dose is taken at once).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import TYPE_CHECKING

from protocol import messages as m
from protocol.enums import AlarmCode, Mode

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

SECONDS_PER_MINUTE = 60
SECONDS_PER_DAY = 86_400
DAYS_PER_WEEK = 7
SECONDS_PER_WEEK = SECONDS_PER_DAY * DAYS_PER_WEEK
MINUTES_PER_DAY = 1_440
MONDAY_EPOCH_CLOCK_S = 4 * SECONDS_PER_DAY
"""1970-01-05 00:00 UTC, the first Monday after the Unix epoch (a Thursday)."""

DEFAULT_HORIZON_S = 3_650 * SECONDS_PER_DAY
"""Forecasts further ahead than this are None (the pump's horizon: 10 years)."""

DEFAULT_REFILL_MARGIN_S = 7 * SECONDS_PER_DAY
"""The refill-by date is this long before the low-reservoir alarm date: a week's slack
to book the visit, so the patient does not hear the alarm."""

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

HALTING_ALARMS = frozenset(
    {AlarmCode.EMPTY_RESERVOIR, AlarmCode.EOS, AlarmCode.MOTOR_STALL, AlarmCode.MEMORY_CRITICAL}
)
"""Alarms under which the pump does not deliver (the critical ones)."""


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def week_offset_s(clock_s: int) -> int:
    """Seconds since the most recent Monday 00:00 UTC at or before pump clock ``clock_s``."""
    return (clock_s - MONDAY_EPOCH_CLOCK_S) % SECONDS_PER_WEEK


def weekday_of(clock_s: int) -> int:
    """The pump's weekday at ``clock_s`` (Monday = 0 .. Sunday = 6, UTC), as flex uses it."""
    return week_offset_s(clock_s) // SECONDS_PER_DAY


def minute_of_day(clock_s: int) -> int:
    """Minutes after the pump's (UTC) midnight at ``clock_s``."""
    return clock_s % SECONDS_PER_DAY // SECONDS_PER_MINUTE


def format_start_min(start_min: int) -> str:
    """A flex step start as ``HH:MM`` (pump clock)."""
    return f"{start_min // 60:02d}:{start_min % 60:02d}"


def constant_rate_nl_per_day(
    spec: m.PrescriptionSpec, *, minimum_mode_rate_nl_per_day: int
) -> int | None:
    """The one rate of a non-flex prescription (0 when stopped); None for FLEX."""
    if spec.mode is Mode.SIMPLE:
        assert spec.rate_nl_per_day is not None  # PrescriptionSpec guarantees it
        return spec.rate_nl_per_day
    if spec.mode is Mode.MINIMUM_RATE:
        return minimum_mode_rate_nl_per_day
    if spec.mode is Mode.STOPPED:
        return 0
    return None


def step_ends_min(steps: Sequence[m.FlexStep]) -> tuple[int, ...]:
    """The end minute of each step: the next step's start, 1440 for the last."""
    return (*(step.start_min for step in steps[1:]), MINUTES_PER_DAY)


def daily_volume_nl(
    spec: m.PrescriptionSpec, weekday: int, *, minimum_mode_rate_nl_per_day: int
) -> Fraction:
    """Exact volume ``spec`` delivers over ``weekday`` (00:00 to 24:00 pump clock), in nL.

    A flex day is the time-weighted sum of its steps.
    """
    if not 0 <= weekday < DAYS_PER_WEEK:
        raise ValueError(f"weekday must be 0..6, got {weekday}")
    rate = constant_rate_nl_per_day(spec, minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day)
    if rate is not None:
        return Fraction(rate)
    steps = spec.profile_for_weekday(weekday)
    integral = sum(
        step.rate_nl_per_day * (end - step.start_min)
        for step, end in zip(steps, step_ends_min(steps), strict=True)
    )
    return Fraction(integral, MINUTES_PER_DAY)


@dataclass(frozen=True)
class RateTable:
    """A prescription compiled to a weekly table of (start offset in the week, rate)."""

    starts_s: tuple[int, ...]
    rates_nl_per_day: tuple[int, ...]

    @classmethod
    def of(cls, spec: m.PrescriptionSpec, *, minimum_mode_rate_nl_per_day: int) -> RateTable:
        """The table of ``spec``; adjacent equal rates are merged."""
        rate = constant_rate_nl_per_day(
            spec, minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day
        )
        if rate is not None:
            return cls((0,), (rate,))
        starts: list[int] = []
        rates: list[int] = []
        for day in range(DAYS_PER_WEEK):
            for step in spec.profile_for_weekday(day):
                if rates and rates[-1] == step.rate_nl_per_day:
                    continue
                starts.append(day * SECONDS_PER_DAY + step.start_min * SECONDS_PER_MINUTE)
                rates.append(step.rate_nl_per_day)
        return cls(tuple(starts), tuple(rates))

    @property
    def week_integral(self) -> int:
        """Sum of rate x seconds over a week, in nL*s/day (divide by 86400 for nL)."""
        ends = (*self.starts_s[1:], SECONDS_PER_WEEK)
        return sum(
            rate * (end - start)
            for start, end, rate in zip(self.starts_s, ends, self.rates_nl_per_day, strict=True)
        )

    def segment_at(self, clock_s: int) -> tuple[int, int | None]:
        """The rate at pump clock ``clock_s`` and how many seconds it lasts (None: forever)."""
        if len(self.starts_s) == 1:
            return self.rates_nl_per_day[0], None
        offset = week_offset_s(clock_s)
        i = bisect_right(self.starts_s, offset) - 1
        nxt = self.starts_s[i + 1] if i + 1 < len(self.starts_s) else SECONDS_PER_WEEK
        return self.rates_nl_per_day[i], nxt - offset

    def rate_at(self, clock_s: int) -> int:
        """The basal rate (nL/day) at pump clock ``clock_s``."""
        return self.segment_at(clock_s)[0]


@dataclass(frozen=True, kw_only=True)
class PlannedBolus:
    """A bolus delivered before the basal schedule resumes (a running one, a bridge)."""

    volume_nl: int
    duration_s: int

    def __post_init__(self) -> None:
        if self.volume_nl < 0 or self.duration_s < 1:
            raise ValueError(
                f"a bolus needs volume_nl >= 0 and duration_s >= 1, "
                f"got {self.volume_nl} nL over {self.duration_s} s"
            )


@dataclass(frozen=True, kw_only=True)
class DeliveryPlan:
    """What the pump will deliver from ``start_clock_s`` if nobody intervenes."""

    start_clock_s: int
    prescription: m.PrescriptionSpec
    minimum_mode_rate_nl_per_day: int
    boluses_first: tuple[PlannedBolus, ...] = ()
    """Run back to back from the start, replacing the basal rate meanwhile."""
    patient_doses: m.PatientSettingsFields | None = None
    """Patient-activated doses taken as soon as allowed (ignored unless enabled)."""
    delivering: bool = True
    """False: the pump is stopped or halted, nothing moves."""


def _next_patient_dose_s(settings: m.PatientSettingsFields, grants: list[int], x: int) -> int:
    earliest = x
    if grants:
        earliest = max(earliest, grants[-1] + settings.lockout_s)
    n = settings.max_per_24h
    if len(grants) >= n:
        earliest = max(earliest, grants[-n] + SECONDS_PER_DAY)
    return earliest


def first_reach_clock_s(
    plan: DeliveryPlan, need_nl: int, *, horizon_s: int = DEFAULT_HORIZON_S
) -> int | None:
    """The first pump-clock second by which the plan has delivered ``need_nl``.

    ``plan.start_clock_s`` when ``need_nl <= 0``; None when it is not reached
    within ``horizon_s`` (or nothing is delivered).
    """
    start = plan.start_clock_s
    if need_nl <= 0:
        return start
    if not plan.delivering:
        return None
    limit = start + horizon_s

    def within(x: int | None) -> int | None:
        return x if x is not None and x <= limit else None

    x = start
    bvol = 0
    for bolus in plan.boluses_first:
        if bolus.volume_nl == 0:
            x += bolus.duration_s
            continue
        remaining = need_nl - bvol
        if remaining <= bolus.volume_nl:
            return within(x + _ceil_div(remaining * bolus.duration_s, bolus.volume_nl))
        bvol += bolus.volume_nl
        x += bolus.duration_s
    table = RateTable.of(
        plan.prescription, minimum_mode_rate_nl_per_day=plan.minimum_mode_rate_nl_per_day
    )
    doses = plan.patient_doses
    if doses is None or not doses.enabled or plan.prescription.mode is Mode.STOPPED:
        return within(_basal_reach(table, x, (need_nl - bvol) * SECONDS_PER_DAY))
    return _reach_with_doses(table, doses, x=x, need_nl=need_nl, bvol=bvol, limit=limit)


def _basal_reach(table: RateTable, x: int, need_integral: int) -> int | None:
    """First second from ``x`` at which the basal integral reaches ``need_integral``."""
    if need_integral <= 0:
        return x
    week = table.week_integral
    if week == 0:
        return None
    # Skip whole weeks: the integral over any week-long window is the same.
    weeks = (need_integral - 1) // week
    x += weeks * SECONDS_PER_WEEK
    need_integral -= weeks * week
    while True:
        rate, until = table.segment_at(x)
        if rate > 0:
            dt = _ceil_div(need_integral, rate)
            if until is None or dt <= until:
                return x + dt
        assert until is not None  # a constant zero rate has a zero week integral
        need_integral -= rate * until
        x += until


def _reach_with_doses(
    table: RateTable,
    doses: m.PatientSettingsFields,
    *,
    x: int,
    need_nl: int,
    bvol: int,
    limit: int,
) -> int | None:
    """Event by event with a patient taking every dose allowed (no earlier grants known)."""
    grants: list[int] = []
    integ = 0
    while x <= limit:
        next_dose = _next_patient_dose_s(doses, grants, x)
        if next_dose == x:
            remaining = need_nl - bvol - integ // SECONDS_PER_DAY
            if remaining <= doses.volume_nl:
                end = x + _ceil_div(remaining * doses.duration_s, doses.volume_nl)
                return end if end <= limit else None
            grants = [*grants[-(doses.max_per_24h - 1) :], x] if doses.max_per_24h > 1 else [x]
            bvol += doses.volume_nl
            x += doses.duration_s
            continue
        rate, until = table.segment_at(x)
        end = next_dose if until is None else min(next_dose, x + until)
        need_integral = (need_nl - bvol) * SECONDS_PER_DAY - integ
        if rate > 0:
            dt = _ceil_div(need_integral, rate)
            if x + dt <= end:
                return x + dt if x + dt <= limit else None
        integ += rate * (end - x)
        x = end
    return None


@dataclass(frozen=True, kw_only=True)
class ReservoirForecast:
    """When the reservoir reaches its alarm volume and empty threshold, and when to refill.

    Times are the pump's clock (Unix seconds); None means not within the horizon.
    """

    now_clock_s: int
    reservoir_nl: int
    alarm_volume_nl: int
    empty_threshold_nl: int
    low_reservoir_alarm_at_s: int | None
    empty_at_s: int | None
    refill_by_s: int | None
    """The low-reservoir alarm date less the refill margin (never before now)."""

    def days_until(self, at_s: int | None) -> Fraction | None:
        """Days from now to pump clock ``at_s`` (None stays None)."""
        return None if at_s is None else Fraction(at_s - self.now_clock_s, SECONDS_PER_DAY)


def forecast_plan(
    plan: DeliveryPlan,
    *,
    reservoir_nl: int,
    alarm_volume_nl: int,
    empty_threshold_nl: int,
    horizon_s: int = DEFAULT_HORIZON_S,
    refill_margin_s: int = DEFAULT_REFILL_MARGIN_S,
) -> ReservoirForecast:
    """The alarm, empty and refill-by dates of ``plan`` from ``reservoir_nl``."""
    low = first_reach_clock_s(plan, reservoir_nl - alarm_volume_nl, horizon_s=horizon_s)
    empty = first_reach_clock_s(plan, reservoir_nl - empty_threshold_nl, horizon_s=horizon_s)
    refill_by = None if low is None else max(plan.start_clock_s, low - refill_margin_s)
    return ReservoirForecast(
        now_clock_s=plan.start_clock_s,
        reservoir_nl=reservoir_nl,
        alarm_volume_nl=alarm_volume_nl,
        empty_threshold_nl=empty_threshold_nl,
        low_reservoir_alarm_at_s=low,
        empty_at_s=empty,
        refill_by_s=refill_by,
    )


def running_bolus(snapshot: PumpSnapshot) -> PlannedBolus | None:
    """The rest of the bolus the pump is running, as a plan sees it (None: none running)."""
    status = snapshot.status
    if status.bolus_ends_at_s is None or status.bolus_remaining_nl <= 0:
        return None
    duration = max(status.bolus_ends_at_s - status.clock_s, 1)
    return PlannedBolus(volume_nl=status.bolus_remaining_nl, duration_s=duration)


def forecast_pending(
    snapshot: PumpSnapshot,
    prescription: m.PrescriptionSpec,
    *,
    reservoir_nl: int | None = None,
    boluses_first: Sequence[PlannedBolus] | None = None,
    delivering: bool | None = None,
    horizon_s: int = DEFAULT_HORIZON_S,
    refill_margin_s: int = DEFAULT_REFILL_MARGIN_S,
) -> ReservoirForecast:
    """The forecast if ``prescription`` were programmed now, from the snapshot's state.

    Defaults come from the snapshot: its reservoir, alarm volume, clock,
    running bolus (which the new basal waits for), patient-dose settings and
    whether the pump delivers. A refill passes the volume after it, the
    bridge bolus and ``delivering`` (a refill ends an empty-reservoir halt).
    """
    status = snapshot.status
    if boluses_first is None:
        bolus = running_bolus(snapshot)
        boluses_first = () if bolus is None else (bolus,)
    plan = DeliveryPlan(
        start_clock_s=status.clock_s,
        prescription=prescription,
        minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
        boluses_first=tuple(boluses_first),
        patient_doses=snapshot.patient_settings,
        delivering=status.delivering if delivering is None else delivering,
    )
    return forecast_plan(
        plan,
        reservoir_nl=status.reservoir_nl if reservoir_nl is None else reservoir_nl,
        alarm_volume_nl=status.alarm_volume_nl,
        empty_threshold_nl=snapshot.device.empty_threshold_nl,
        horizon_s=horizon_s,
        refill_margin_s=refill_margin_s,
    )


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


def format_date(wall_s: float, *, now_wall_s: float, tz: tzinfo | None = None) -> str:
    """A date as local ``YYYY-MM-DD HH:MM (in N days)``; ``tz`` None is the local zone."""
    moment = datetime.fromtimestamp(wall_s, tz=tz)
    if tz is None:
        moment = moment.astimezone()
    return f"{moment:%Y-%m-%d %H:%M} ({format_in_days(wall_s, now_s=now_wall_s)})"


def format_pump_date(
    snapshot: PumpSnapshot, clock_s: int | None, *, tz: tzinfo | None = None
) -> str:
    """A pump-clock time as the programmer's local date, "in N days" from the snapshot.

    The pump's clock may be off; the date shown is when it happens in real
    time (pump time less the clock offset). None: "not within 10 years".
    """
    if clock_s is None:
        return "not within 10 years"
    return format_date(snapshot.wall_s_at(clock_s), now_wall_s=snapshot.read_at_wall_s, tz=tz)
