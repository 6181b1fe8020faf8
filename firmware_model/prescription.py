"""Basal prescriptions, boluses and patient-dose settings, validated before they reach a pump.

Each value is a frozen, keyword-only dataclass whose constructor checks its
shape (types, ordering, day tiling). The limits of a pump model are checked
against a :class:`~firmware_model.profile.PumpProfile` by :func:`validate`
(which compiles a :class:`Schedule`), :func:`validate_bolus` and
:func:`validate_patient_settings`; the pump accepts nothing else, so an
invalid prescription never reaches it. Every refusal is an
:class:`~firmware_model.errors.OutOfRangeError` naming field, value and limit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeAlias

from firmware_model.errors import (
    NotEnabledError,
    OutOfRangeError,
    PatientDoseLimitError,
    PatientDoseLockoutError,
    WrongTypeError,
)
from firmware_model.profile import PumpProfile
from firmware_model.timebase import (
    DAYS_PER_WEEK,
    MINUTES_PER_DAY,
    SECONDS_PER_DAY,
    SECONDS_PER_MINUTE,
    SECONDS_PER_WEEK,
    week_offset_s,
)
from protocol.enums import BolusKind, Mode


def _int(field_name: str, value: object, *, minimum: int) -> int:
    if type(value) is not int:
        raise WrongTypeError(field=field_name, value=value, expected="an int")
    if value < minimum:
        raise OutOfRangeError(field=field_name, value=value, limit=minimum, rule="at least")
    return value


def _within(field_name: str, value: int, low: int, high: int) -> None:
    if value < low:
        raise OutOfRangeError(field=field_name, value=value, limit=low, rule="at least")
    if value > high:
        raise OutOfRangeError(field=field_name, value=value, limit=high, rule="at most")


# --------------------------------------------------------------------------- basal


@dataclass(frozen=True, kw_only=True)
class Simple:
    """Simple continuous: one rate all day."""

    rate_nl_per_day: int

    def __post_init__(self) -> None:
        _int("rate_nl_per_day", self.rate_nl_per_day, minimum=1)


@dataclass(frozen=True, kw_only=True)
class FlexStep:
    """One flex step: from ``start_min`` minutes after midnight (UTC) until the next step."""

    start_min: int
    rate_nl_per_day: int

    def __post_init__(self) -> None:
        _int("start_min", self.start_min, minimum=0)
        if self.start_min >= MINUTES_PER_DAY:
            raise OutOfRangeError(
                field="start_min", value=self.start_min, limit=MINUTES_PER_DAY, rule="below"
            )
        _int("rate_nl_per_day", self.rate_nl_per_day, minimum=1)


@dataclass(frozen=True, kw_only=True)
class DayProfile:
    """A day of flex steps tiling 00:00-24:00: the first starts at minute 0, starts increase."""

    steps: tuple[FlexStep, ...]

    def __post_init__(self) -> None:
        if type(self.steps) is not tuple or not all(isinstance(s, FlexStep) for s in self.steps):
            raise WrongTypeError(field="steps", value=self.steps, expected="a tuple of FlexStep")
        if not self.steps:
            raise OutOfRangeError(field="len(steps)", value=0, limit=1, rule="at least")
        if self.steps[0].start_min != 0:
            raise OutOfRangeError(
                field="steps[0].start_min", value=self.steps[0].start_min, limit=0, rule="equal to"
            )
        for i in range(1, len(self.steps)):
            prev, cur = self.steps[i - 1].start_min, self.steps[i].start_min
            if cur <= prev:
                raise OutOfRangeError(
                    field=f"steps[{i}].start_min", value=cur, limit=prev, rule="greater than"
                )

    def step_ends_min(self) -> tuple[int, ...]:
        """End minute of each step (the next step's start, 1440 for the last)."""
        return (*(s.start_min for s in self.steps[1:]), MINUTES_PER_DAY)

    def volume_nl(self) -> Fraction:
        """Exact volume this day delivers from 00:00 to 24:00, in nL."""
        integral = sum(
            step.rate_nl_per_day * (end - step.start_min)
            for step, end in zip(self.steps, self.step_ends_min(), strict=True)
        )
        return Fraction(integral, MINUTES_PER_DAY)


@dataclass(frozen=True, kw_only=True)
class Flex:
    """Flex dosing: one day profile for every day, or seven (Monday .. Sunday)."""

    days: tuple[DayProfile, ...]

    def __post_init__(self) -> None:
        if type(self.days) is not tuple or not all(isinstance(d, DayProfile) for d in self.days):
            raise WrongTypeError(field="days", value=self.days, expected="a tuple of DayProfile")
        if len(self.days) not in (1, DAYS_PER_WEEK):
            raise OutOfRangeError(
                field="len(days)", value=len(self.days), limit=(1, DAYS_PER_WEEK), rule="one of"
            )

    def day(self, weekday: int) -> DayProfile:
        """The profile that runs on ``weekday`` (Monday = 0)."""
        return self.days[0] if len(self.days) == 1 else self.days[weekday]


@dataclass(frozen=True, kw_only=True)
class MinimumRate:
    """Keep-open flow only, at the profile's minimum-rate-mode flow."""


@dataclass(frozen=True, kw_only=True)
class Stopped:
    """No basal delivery."""


Prescription: TypeAlias = Simple | Flex | MinimumRate | Stopped
"""Any basal prescription."""


def mode_of(prescription: Prescription) -> Mode:
    """The wire mode of a prescription."""
    match prescription:
        case Simple():
            return Mode.SIMPLE
        case Flex():
            return Mode.FLEX
        case MinimumRate():
            return Mode.MINIMUM_RATE
        case Stopped():
            return Mode.STOPPED


def _check_limits(prescription: Prescription, profile: PumpProfile) -> None:
    low, high = profile.min_rate_nl_per_day, profile.max_rate_nl_per_day
    match prescription:
        case Simple(rate_nl_per_day=rate):
            _within("rate_nl_per_day", rate, low, high)
        case Flex(days=days):
            for d, day in enumerate(days):
                if len(day.steps) > profile.max_flex_steps:
                    raise OutOfRangeError(
                        field=f"days[{d}].len(steps)",
                        value=len(day.steps),
                        limit=profile.max_flex_steps,
                        rule="at most",
                    )
                for i, step in enumerate(day.steps):
                    if step.start_min % profile.flex_step_granularity_min:
                        raise OutOfRangeError(
                            field=f"days[{d}].steps[{i}].start_min",
                            value=step.start_min,
                            limit=profile.flex_step_granularity_min,
                            rule="a multiple of",
                        )
                    _within(
                        f"days[{d}].steps[{i}].rate_nl_per_day", step.rate_nl_per_day, low, high
                    )
        case MinimumRate() | Stopped():
            pass


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A prescription validated against a profile and compiled to a weekly rate table.

    Construction raises :class:`OutOfRangeError` if the prescription breaks
    the profile's limits. Times are RTC seconds (UTC; weeks start Monday).
    """

    prescription: Prescription
    profile: PumpProfile
    period_s: int = field(init=False, compare=False)
    """The schedule repeats every ``period_s`` (1 when constant, a day, or a week)."""
    period_integral: int = field(init=False, compare=False, repr=False)
    """Sum of rate x seconds over one period, in nL*s/day."""
    weekly_integral: int = field(init=False, compare=False, repr=False)
    """Sum of rate x seconds over a week, in nL*s/day (divide by 86400 for nL)."""
    _starts: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _rates: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.prescription, Simple | Flex | MinimumRate | Stopped):
            raise WrongTypeError(
                field="prescription", value=self.prescription, expected="a Prescription"
            )
        _check_limits(self.prescription, self.profile)
        starts: list[int] = []
        rates: list[int] = []
        match self.prescription:
            case Flex() as flex:
                for wd in range(DAYS_PER_WEEK):
                    for step in flex.day(wd).steps:
                        # Adjacent equal rates merge: fewer events to simulate.
                        if rates and rates[-1] == step.rate_nl_per_day:
                            continue
                        starts.append(wd * SECONDS_PER_DAY + step.start_min * SECONDS_PER_MINUTE)
                        rates.append(step.rate_nl_per_day)
            case _:
                starts.append(0)
                rates.append(self._constant_rate())
        ends = [*starts[1:], SECONDS_PER_WEEK]
        weekly = sum(r * (e - s) for s, e, r in zip(starts, ends, rates, strict=True))
        if len(rates) == 1:
            period = 1
        elif isinstance(self.prescription, Flex) and len(self.prescription.days) == 1:
            period = SECONDS_PER_DAY
        else:
            period = SECONDS_PER_WEEK
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_rates", tuple(rates))
        object.__setattr__(self, "weekly_integral", weekly)
        object.__setattr__(self, "period_s", period)
        object.__setattr__(self, "period_integral", weekly * period // SECONDS_PER_WEEK)

    def _constant_rate(self) -> int:
        match self.prescription:
            case Simple(rate_nl_per_day=rate):
                return rate
            case MinimumRate():
                return self.profile.minimum_rate_mode_nl_per_day
            case _:
                return 0

    @property
    def mode(self) -> Mode:
        """The wire mode of the prescription."""
        return mode_of(self.prescription)

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
        """Basal rate in nL/day at RTC second ``clock_s``."""
        return self.segment_at(clock_s)[0]

    def next_change_after(self, clock_s: int) -> int | None:
        """The first RTC second after ``clock_s`` at which the rate differs; None if constant."""
        until = self.segment_at(clock_s)[1]
        return None if until is None else clock_s + until

    def daily_volume_nl(self, weekday: int) -> Fraction:
        """Exact volume the schedule delivers over ``weekday`` (Monday = 0), 00:00 to 24:00."""
        if not 0 <= weekday < DAYS_PER_WEEK:
            raise OutOfRangeError(field="weekday", value=weekday, limit=(0, 6), rule="within")
        if isinstance(self.prescription, Flex):
            return self.prescription.day(weekday).volume_nl()
        return Fraction(self._constant_rate())


def validate(prescription: Prescription, profile: PumpProfile) -> Schedule:
    """Check a prescription against a profile; the compiled schedule, or OutOfRangeError."""
    return Schedule(prescription=prescription, profile=profile)


# --------------------------------------------------------------------------- boluses

_CLINICIAN_BOLUS_KINDS = (BolusKind.THERAPEUTIC, BolusKind.BRIDGE, BolusKind.PRIMING)


@dataclass(frozen=True, kw_only=True)
class Bolus:
    """A bolus: ``volume_nl`` over ``duration_s``, replacing the basal rate while it runs.

    THERAPEUTIC and PATIENT run over their chosen duration; BRIDGE and
    PRIMING run at the profile's maximum rate (build them with
    :meth:`at_max_rate`).
    """

    kind: BolusKind
    volume_nl: int
    duration_s: int

    def __post_init__(self) -> None:
        if not isinstance(self.kind, BolusKind):
            raise WrongTypeError(field="kind", value=self.kind, expected="a BolusKind")
        if self.kind is BolusKind.NONE:
            raise OutOfRangeError(
                field="kind", value=self.kind.name, limit="THERAPEUTIC..PATIENT", rule="one of"
            )
        _int("volume_nl", self.volume_nl, minimum=1)
        _int("duration_s", self.duration_s, minimum=1)

    @classmethod
    def at_max_rate(cls, *, kind: BolusKind, volume_nl: int, profile: PumpProfile) -> Bolus:
        """A bolus of ``volume_nl`` at the profile's maximum rate (bridge, priming)."""
        _int("volume_nl", volume_nl, minimum=1)
        return cls(
            kind=kind,
            volume_nl=volume_nl,
            duration_s=profile.bolus_duration_at_max_rate_s(volume_nl),
        )

    @property
    def rate_nl_per_day(self) -> Fraction:
        """Exact mean rate of the bolus."""
        return Fraction(self.volume_nl * SECONDS_PER_DAY, self.duration_s)


def validate_bolus(bolus: Bolus, profile: PumpProfile) -> None:
    """Check a bolus against a profile's limits; raises OutOfRangeError."""
    high = (
        profile.patient_dose_max_volume_nl
        if bolus.kind is BolusKind.PATIENT
        else profile.reservoir_capacity_nl
    )
    _within("volume_nl", bolus.volume_nl, profile.min_bolus_volume_nl, high)
    fastest_s = profile.bolus_duration_at_max_rate_s(bolus.volume_nl)
    if bolus.kind in (BolusKind.BRIDGE, BolusKind.PRIMING):
        if bolus.duration_s != fastest_s:
            raise OutOfRangeError(
                field="duration_s",
                value=bolus.duration_s,
                limit=fastest_s,
                rule="(at the maximum rate) equal to",
            )
        return
    _within("duration_s", bolus.duration_s, fastest_s, profile.max_bolus_duration_s)


# --------------------------------------------------------------------------- patient doses


@dataclass(frozen=True, kw_only=True)
class PatientDoseSettings:
    """Patient-activated doses as the clinician set them.

    A dose is ``volume_nl`` over ``duration_s``; after a granted dose the
    next is refused for ``lockout_s``; at most ``max_per_24h`` are granted in
    any trailing 24 h. When disabled the numbers are kept but unused.
    """

    enabled: bool
    volume_nl: int
    duration_s: int
    lockout_s: int
    max_per_24h: int

    def __post_init__(self) -> None:
        if type(self.enabled) is not bool:
            raise WrongTypeError(field="enabled", value=self.enabled, expected="a bool")
        least = 1 if self.enabled else 0
        _int("volume_nl", self.volume_nl, minimum=least)
        _int("duration_s", self.duration_s, minimum=least)
        _int("lockout_s", self.lockout_s, minimum=least)
        _int("max_per_24h", self.max_per_24h, minimum=least)

    @classmethod
    def disabled(cls) -> PatientDoseSettings:
        """Patient doses off (the state of a new pump)."""
        return cls(enabled=False, volume_nl=0, duration_s=0, lockout_s=0, max_per_24h=0)

    def bolus(self) -> Bolus:
        """The bolus one granted dose runs."""
        return Bolus(kind=BolusKind.PATIENT, volume_nl=self.volume_nl, duration_s=self.duration_s)


def validate_patient_settings(settings: PatientDoseSettings, profile: PumpProfile) -> None:
    """Check enabled settings against a profile's limits; disabled settings always pass."""
    if not settings.enabled:
        return
    validate_bolus(settings.bolus(), profile)
    _within("max_per_24h", settings.max_per_24h, 1, profile.patient_max_doses_per_24h)
    _within(
        "lockout_s",
        settings.lockout_s,
        profile.patient_lockout_min_s,
        profile.patient_lockout_max_s,
    )
    # A dose must end before the next may start, so doses never overlap.
    if settings.lockout_s < settings.duration_s:
        raise OutOfRangeError(
            field="lockout_s", value=settings.lockout_s, limit=settings.duration_s, rule="at least"
        )


def doses_in_24h(grants_t: Sequence[int], t: int) -> int:
    """How many grant times (ascending, model seconds) fall in the trailing 24 h (t-86400, t]."""
    return len(grants_t) - bisect_right(grants_t, t - SECONDS_PER_DAY)


def next_patient_dose_t(settings: PatientDoseSettings, grants_t: Sequence[int], t: int) -> int:
    """The earliest model second >= ``t`` at which the request rule grants a dose.

    ``grants_t`` are the model times of granted doses, ascending. The rule:
    at least ``lockout_s`` since the last grant, and fewer than
    ``max_per_24h`` grants in the trailing 24 h.
    """
    earliest = t
    if grants_t:
        earliest = max(earliest, grants_t[-1] + settings.lockout_s)
    n = settings.max_per_24h
    if len(grants_t) >= n:
        earliest = max(earliest, grants_t[-n] + SECONDS_PER_DAY)
    return earliest


def check_patient_dose(settings: PatientDoseSettings, grants_t: Sequence[int], t: int) -> None:
    """Raise the refusal the request rule gives at ``t``, or return if a dose is allowed.

    Order: not enabled, then lockout, then the 24-h limit.
    """
    if not settings.enabled:
        raise NotEnabledError("patient-activated dosing")
    if grants_t and t < grants_t[-1] + settings.lockout_s:
        raise PatientDoseLockoutError(seconds_remaining=grants_t[-1] + settings.lockout_s - t)
    n = settings.max_per_24h
    if len(grants_t) >= n and t < grants_t[-n] + SECONDS_PER_DAY:
        raise PatientDoseLimitError(
            doses_in_24h=doses_in_24h(grants_t, t),
            max_per_24h=n,
            seconds_remaining=grants_t[-n] + SECONDS_PER_DAY - t,
        )
