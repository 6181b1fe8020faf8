"""The dosing schedule, shared by the pump and the programmer so their numbers agree.

A prescription is a dose of the drug the pump holds (ng/day on the wire, shown
as mcg/day; 1 mcg = 1000 ng). The pump runs it as volume rates at a
concentration, and this module is the one place that turns one into the
other, integrates the result exactly in integer nanolitres, and places
boluses and patient doses in time. The pump (``firmware_model``) moves its
reservoir with these functions; the programmer forecasts with the very same
ones (:mod:`protocol.forecast`), so a date computed on either side from the
same state is the same second, by construction.

The rules, each defined once here:

- **Dose to rate**: ``rate_nl_per_day = round(dose_ng_per_day * 1000 /
  concentration_ug_per_ml)``, to the nearest nanolitre per day, halves up
  (:func:`rate_for_dose`). A bolus or patient dose of ``D`` ng is
  ``round(D * 1000 / concentration)`` nL (:func:`volume_for_dose`).
- **Flex steps follow the pump clock** (Unix seconds, UTC): the time of day is
  the UTC time of day and weekday 0 is Monday.
- **Basal delivery**: at ``r`` nL/day the volume commanded over ``dt`` s is
  ``(a + r*dt) // 86400 - a // 86400`` where ``a`` is the remainder the pump
  carries (nL*s/day units, below 86400), so nothing is ever rounded away.
- **Bolus durations**: a priming bolus runs at the maximum rate, rounded up to whole
  seconds (:func:`priming_duration_s`); every other bolus runs below it
  (:func:`shortest_bolus_s`).
- **Boluses** replace the basal rate while they run; a bolus of ``V`` nL over
  ``D`` s has delivered ``V*e // D`` nL after ``e`` s.
- **Patient doses** follow the request rule (lockout since the last grant,
  at most ``max_per_24h`` in any trailing 24 h); a forecast assumes each is
  taken the first second the rule allows (:func:`next_patient_dose_t`).
- **The bridge** after a refill that changes the concentration: rates, boluses
  and patient doses are computed at the OLD concentration until the volume
  delivered since the refill reaches the dead volume (tubing plus catheter),
  then at the new one (:func:`bridge_volume_nl` says which dead volume).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import field
from fractions import Fraction

from protocol.enums import BolusKind, Mode
from protocol.frozen import frozen
from protocol.messages import PrescriptionSpec
from protocol.timebase import (
    DAYS_PER_WEEK,
    MINUTES_PER_DAY,
    MONDAY_EPOCH_CLOCK_S,
    SECONDS_PER_DAY,
    SECONDS_PER_MINUTE,
    SECONDS_PER_WEEK,
    ceil_div,
    week_offset_s,
)

NG_PER_UG = 1_000
"""Nanograms per microgram: doses travel in ng so a mcg/day dose keeps three decimals."""
NL_PER_ML = 1_000_000
MM_PER_CM = 10


# --------------------------------------------------------------------------- units


def rate_for_dose(dose_ng_per_day: int, concentration_ug_per_ml: int) -> int:
    """The volume rate (nL/day) that delivers ``dose_ng_per_day`` at a concentration.

    Exactly ``dose_ng_per_day * 1000 / concentration_ug_per_ml`` nL/day, rounded to
    the nearest whole nL/day (halves up): 100 mcg/day (100,000 ng/day) of
    500 mcg/mL is 200,000 nL/day (0.2 mL/day).
    """
    if concentration_ug_per_ml <= 0:
        raise ValueError(f"concentration must be > 0 mcg/mL, got {concentration_ug_per_ml}")
    return (2 * dose_ng_per_day * NG_PER_UG + concentration_ug_per_ml) // (
        2 * concentration_ug_per_ml
    )


def volume_for_dose(dose_ng: int, concentration_ug_per_ml: int) -> int:
    """The volume (nL) that holds ``dose_ng`` at a concentration (nearest nL, halves up)."""
    return rate_for_dose(dose_ng, concentration_ug_per_ml)


def dose_for_volume(volume_nl: int, concentration_ug_per_ml: int) -> Fraction:
    """The exact dose (ng) in ``volume_nl`` at a concentration: ``volume * conc / 1000``."""
    return Fraction(volume_nl * concentration_ug_per_ml, NG_PER_UG)


def priming_duration_s(volume_nl: int, max_rate_nl_per_day: int) -> int:
    """Whole seconds a priming bolus of ``volume_nl`` runs: at the maximum rate, rounded up
    (``ceil(volume * 86400 / max_rate)``). Priming is the only bolus that runs there."""
    return -(-volume_nl * SECONDS_PER_DAY // max_rate_nl_per_day)


def shortest_bolus_s(volume_nl: int, max_rate_nl_per_day: int) -> int:
    """The shortest whole-second duration of any other bolus (therapeutic, patient dose)
    of ``volume_nl``: the first that runs BELOW the maximum rate, ``floor(volume * 86400 /
    max_rate) + 1``, since priming is the only bolus that runs at it (domain.md). It equals
    :func:`priming_duration_s` unless the volume takes a whole number of seconds at the
    maximum rate (50 uL at 24 mL/day: 180 s), where it is one second more."""
    return volume_nl * SECONDS_PER_DAY // max_rate_nl_per_day + 1


# --------------------------------------------------------------------------- integration


def linear_floor_volume(a: int, b: int, c: int, dt: int) -> int:
    """Volume commanded over ``dt`` seconds by a segment ``(a, b, c)``: ``(a+b*dt)//c - a//c``.

    Basal at ``r`` nL/day: ``a`` = the remainder, ``b = r``, ``c = 86400``. A bolus of
    ``V`` nL over ``D`` s, ``e`` s after it started: ``a = V*e``, ``b = V``, ``c = D``.
    """
    return (a + b * dt) // c - a // c


def first_reach(*, q: int, p: int, a: int, b: int, c: int, need: int, max_dt: int) -> int | None:
    """Smallest ``dt`` in ``[0, max_dt]`` with ``q*dt + p*volume(dt) >= need``, or None.

    ``volume(dt)`` is :func:`linear_floor_volume`; ``q`` is a drain per second and
    ``p`` a drain per nanolitre (``q = 0, p = 1`` asks for a volume). The left side
    never decreases with ``dt``, so the answer is exact: a closed-form ceiling
    division when ``q == 0``, a bisection otherwise.
    """
    if need <= 0:
        return 0
    k0 = a // c
    if q * max_dt + p * ((a + b * max_dt) // c - k0) < need:
        return None
    if q == 0:
        # p * ((a + b*dt)//c - k0) >= need  <=>  a + b*dt >= (k0 + ceil(need/p)) * c
        target = (k0 + ceil_div(need, p)) * c - a
        return max(0, ceil_div(target, b))
    lo, hi = 0, max_dt
    while lo < hi:
        mid = (lo + hi) // 2
        if q * mid + p * ((a + b * mid) // c - k0) >= need:
            hi = mid
        else:
            lo = mid + 1
    return lo


@frozen
class RunningBolus:
    """A bolus in progress: ``volume_nl`` over ``duration_s`` from model second ``start_t``.

    ``dose_ng`` is the dose it delivers (0 for a priming bolus, which is volume);
    the volume was worked out at the concentration in effect when it started (or,
    for the part after a bridge ends, at the new one: see :func:`rescale_bolus`).
    """

    kind: BolusKind
    volume_nl: int
    duration_s: int
    start_t: int
    dose_ng: int = 0

    @property
    def end_t(self) -> int:
        """Model second at which the bolus has delivered all of its volume."""
        return self.start_t + self.duration_s

    def delivered_nl(self, t: int) -> int:
        """Volume the bolus has commanded by model second ``t`` (exact, rounded down)."""
        elapsed = min(max(t - self.start_t, 0), self.duration_s)
        return self.volume_nl * elapsed // self.duration_s


def rescale_bolus(
    bolus: RunningBolus, t: int, *, old_concentration: int, new_concentration: int
) -> RunningBolus | None:
    """The rest of a dose bolus running when a bridge ends at ``t``, at the new concentration.

    The dose still to come (the undelivered volume at the old concentration, as
    mcg) is delivered over the time the bolus had left, as volume of the new
    drug. A priming bolus (volume, not dose) is left as it is. None when
    nothing is left to deliver.
    """
    if bolus.dose_ng == 0 or t >= bolus.end_t:
        return bolus if t < bolus.end_t else None
    left_nl = bolus.volume_nl - bolus.delivered_nl(t)
    left_ng = int(dose_for_volume(left_nl, old_concentration))
    volume = volume_for_dose(left_ng, new_concentration)
    if volume <= 0:
        return None
    return RunningBolus(
        kind=bolus.kind,
        volume_nl=volume,
        duration_s=bolus.end_t - t,
        start_t=t,
        dose_ng=left_ng,
    )


# --------------------------------------------------------------------------- the schedule

DayRates = tuple[tuple[int, int], ...]
"""One day of a compiled schedule: ``(start_min, rate_nl_per_day)`` steps from minute 0."""


@frozen
class Schedule:
    """Basal volume rates over the pump clock's week, compiled from a prescription.

    ``days`` holds one day (every day alike) or seven (Monday first) of
    ``(start_min, rate_nl_per_day)`` steps, the first at minute 0. Times are
    pump-clock seconds (UTC; weeks start Monday).
    """

    mode: Mode
    days: tuple[DayRates, ...]
    period_s: int = field(init=False, compare=False)
    """The schedule repeats every ``period_s`` (1 when constant, a day, or a week)."""
    period_integral: int = field(init=False, compare=False, repr=False)
    """Sum of rate x seconds over one period, in nL*s/day."""
    weekly_integral: int = field(init=False, compare=False, repr=False)
    """Sum of rate x seconds over a week, in nL*s/day (divide by 86400 for nL)."""
    _starts: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _rates: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.days) not in (1, DAYS_PER_WEEK) or any(
            not day or day[0][0] != 0 for day in self.days
        ):
            raise ValueError(f"a schedule has 1 or 7 days starting at minute 0: {self.days!r}")
        starts: list[int] = []
        rates: list[int] = []
        for wd in range(DAYS_PER_WEEK):
            for start_min, rate in self.days[0 if len(self.days) == 1 else wd]:
                # Adjacent equal rates merge: fewer events to simulate.
                if rates and rates[-1] == rate:
                    continue
                starts.append(wd * SECONDS_PER_DAY + start_min * SECONDS_PER_MINUTE)
                rates.append(rate)
        ends = [*starts[1:], SECONDS_PER_WEEK]
        weekly = sum(r * (e - s) for s, e, r in zip(starts, ends, rates, strict=True))
        if len(rates) == 1:
            period = 1
        elif len(self.days) == 1:
            period = SECONDS_PER_DAY
        else:
            period = SECONDS_PER_WEEK
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_rates", tuple(rates))
        object.__setattr__(self, "weekly_integral", weekly)
        object.__setattr__(self, "period_s", period)
        object.__setattr__(self, "period_integral", weekly * period // SECONDS_PER_WEEK)

    @classmethod
    def constant(cls, rate_nl_per_day: int, mode: Mode = Mode.SIMPLE) -> Schedule:
        """One rate all the time."""
        return cls(mode=mode, days=(((0, rate_nl_per_day),),))

    def segment_at(self, clock_s: int) -> tuple[int, int | None]:
        """The rate at ``clock_s`` and the seconds until it next changes (None: never)."""
        starts = self._starts
        if len(starts) == 1:
            return self._rates[0], None
        off = week_offset_s(clock_s)
        i = bisect_right(starts, off) - 1
        if i + 1 < len(starts):
            nxt = starts[i + 1]
        elif self._rates[0] == self._rates[-1]:
            # The last segment runs on into next Monday's first one.
            nxt = SECONDS_PER_WEEK + starts[1]
        else:
            nxt = SECONDS_PER_WEEK
        return self._rates[i], nxt - off

    def rate_at(self, clock_s: int) -> int:
        """Basal rate in nL/day at pump-clock second ``clock_s``: ``segment_at(clock_s)[0]``,
        worked out alone (the same lookup, without the seconds to the next change)."""
        starts = self._starts
        if len(starts) == 1:
            return self._rates[0]
        return self._rates[bisect_right(starts, week_offset_s(clock_s)) - 1]

    def rate_and_weekday(self, clock_s: int) -> tuple[int, int]:
        """``(rate_at(clock_s), weekday(clock_s))`` from one week-offset lookup (what a
        STATUS reports: the basal rate and the day whose 24-h totals it gives)."""
        off = (clock_s - MONDAY_EPOCH_CLOCK_S) % SECONDS_PER_WEEK  # week_offset_s(clock_s)
        starts = self._starts
        if len(starts) == 1:
            return self._rates[0], off // SECONDS_PER_DAY
        return self._rates[bisect_right(starts, off) - 1], off // SECONDS_PER_DAY

    def next_change_after(self, clock_s: int) -> int | None:
        """The first pump-clock second after ``clock_s`` at which the rate differs."""
        until = self.segment_at(clock_s)[1]
        return None if until is None else clock_s + until

    def day_rates(self, weekday: int) -> DayRates:
        """The steps that run on ``weekday`` (Monday = 0)."""
        return self.days[0 if len(self.days) == 1 else weekday]

    def daily_volume_nl(self, weekday: int) -> Fraction:
        """Exact volume the schedule delivers over ``weekday`` (Monday = 0), 00:00 to 24:00."""
        if not 0 <= weekday < DAYS_PER_WEEK:
            raise ValueError(f"weekday must be 0..6, got {weekday}")
        return day_integral(self.day_rates(weekday))


def day_integral(steps: Sequence[tuple[int, int]]) -> Fraction:
    """Exact amount a day of ``(start_min, per_day)`` steps gives from 00:00 to 24:00."""
    ends = (*(start for start, _ in steps[1:]), MINUTES_PER_DAY)
    total = sum(value * (end - start) for (start, value), end in zip(steps, ends, strict=True))
    return Fraction(total, MINUTES_PER_DAY)


# --------------------------------------------------------------------------- patient doses


@frozen
class PatientRule:
    """Patient doses as a forecast places them: ``volume_nl`` over ``duration_s`` each,
    at least ``lockout_s`` apart, at most ``max_per_24h`` in any trailing 24 h."""

    volume_nl: int
    duration_s: int
    lockout_s: int
    max_per_24h: int
    dose_ng: int = 0


def doses_in_24h(grants_t: Sequence[int], t: int) -> int:
    """How many grant times (ascending) fall in the trailing 24 h (t-86400, t]."""
    return len(grants_t) - bisect_right(grants_t, t - SECONDS_PER_DAY)


def next_patient_dose_t(rule: PatientRule, grants_t: Sequence[int], t: int) -> int:
    """The earliest second >= ``t`` at which the request rule grants a dose.

    ``grants_t`` are the times of granted doses, ascending. The rule: at least
    ``lockout_s`` since the last grant, and fewer than ``max_per_24h`` grants in
    the trailing 24 h.
    """
    earliest = t
    if grants_t:
        earliest = max(earliest, grants_t[-1] + rule.lockout_s)
    n = rule.max_per_24h
    if len(grants_t) >= n:
        earliest = max(earliest, grants_t[-n] + SECONDS_PER_DAY)
    return earliest


# --------------------------------------------------------------------------- the bridge


def bridge_volume_nl(
    *,
    old_concentration_ug_per_ml: int,
    new_concentration_ug_per_ml: int,
    tubing_volume_nl: int,
    catheter_volume_nl_per_cm: int,
    catheter_length_mm: int,
    catheter_length_uncertainty_mm: int,
) -> int:
    """The dead volume a bridge runs for: tubing plus catheter, in nL (rounded up).

    When the catheter length carries an uncertainty, a rising concentration uses
    its lower bound and a falling one its upper bound; both err towards underdose.
    After a rise the bridge runs the old (weaker) drug's larger volumes: ending it
    early leaves weak drug at the new small rate for a while (underdose), ending it
    late would push the strong new drug at the old large rate (overdose). After a
    fall the bridge runs the old (stronger) drug's small volumes: ending it late
    gives the weak new drug at those small volumes (underdose). 0 when the
    concentration does not change.
    """
    if old_concentration_ug_per_ml == new_concentration_ug_per_ml:
        return 0
    rising = new_concentration_ug_per_ml > old_concentration_ug_per_ml
    length_mm = catheter_length_mm + (
        -catheter_length_uncertainty_mm if rising else catheter_length_uncertainty_mm
    )
    length_mm = max(length_mm, 0)
    catheter = ceil_div(catheter_volume_nl_per_cm * length_mm, MM_PER_CM)
    return tubing_volume_nl + catheter


# --------------------------------------------------------------------------- prescriptions


def compile_schedule(
    spec: PrescriptionSpec,
    *,
    concentration_ug_per_ml: int,
    minimum_mode_rate_nl_per_day: int,
) -> Schedule:
    """The volume rates that run ``spec``'s doses at ``concentration_ug_per_ml``.

    The concentration is the one the rates are computed at: the drug in the
    pump, or during a bridge the old drug still in the catheter (so it may differ
    from the concentration the prescription names). MINIMUM_RATE is a volume
    rate (keep-open), STOPPED is no flow.
    """
    mode = spec.mode
    if mode is Mode.SIMPLE:
        assert spec.dose_ng_per_day is not None  # PrescriptionSpec guarantees it
        return Schedule.constant(rate_for_dose(spec.dose_ng_per_day, concentration_ug_per_ml))
    if mode is Mode.FLEX:
        days = tuple(
            tuple(
                (step.start_min, rate_for_dose(step.dose_ng_per_day, concentration_ug_per_ml))
                for step in profile
            )
            for profile in spec.profiles
        )
        return Schedule(mode=Mode.FLEX, days=days)
    if mode is Mode.MINIMUM_RATE:
        return Schedule.constant(minimum_mode_rate_nl_per_day, Mode.MINIMUM_RATE)
    return Schedule.constant(0, Mode.STOPPED)


def daily_dose_ng(
    spec: PrescriptionSpec, weekday: int, *, minimum_mode_rate_nl_per_day: int
) -> Fraction:
    """Exact dose ``spec`` delivers over ``weekday`` (00:00-24:00 pump clock), in ng.

    A flex day is the time-weighted sum of its steps; MINIMUM_RATE is its
    keep-open volume of the named drug; STOPPED is none.
    """
    if not 0 <= weekday < DAYS_PER_WEEK:
        raise ValueError(f"weekday must be 0..6, got {weekday}")
    match spec.mode:
        case Mode.SIMPLE:
            assert spec.dose_ng_per_day is not None
            return Fraction(spec.dose_ng_per_day)
        case Mode.FLEX:
            steps = spec.profile_for_weekday(weekday)
            return day_integral([(s.start_min, s.dose_ng_per_day) for s in steps])
        case Mode.MINIMUM_RATE:
            return dose_for_volume(minimum_mode_rate_nl_per_day, spec.concentration_ug_per_ml)
        case _:
            return Fraction(0)
