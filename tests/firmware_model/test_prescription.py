"""Prescriptions, schedules, boluses and the patient-dose rule."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.errors import (
    NotEnabledError,
    OutOfRangeError,
    PatientDoseLimitError,
    PatientDoseLockoutError,
    WrongTypeError,
)
from firmware_model.prescription import (
    Bolus,
    DayProfile,
    Flex,
    FlexStep,
    MinimumRate,
    PatientDoseSettings,
    Prescription,
    Schedule,
    Simple,
    Stopped,
    check_patient_dose,
    doses_in_24h,
    mode_of,
    next_patient_dose_t,
    validate,
    validate_bolus,
    validate_patient_settings,
)
from firmware_model.profile import PROFILES, PumpProfile
from firmware_model.timebase import SECONDS_PER_DAY, weekday
from protocol.enums import BolusKind, Mode

from .strategies import CLOCK_2024_01_01_S, flexes, prescriptions, profiles

P20 = PROFILES[20]
MONDAY = CLOCK_2024_01_01_S
HOUR = 3_600


def step(start_min: int, rate: int) -> FlexStep:
    return FlexStep(start_min=start_min, rate_nl_per_day=rate)


def day(*steps: tuple[int, int]) -> DayProfile:
    return DayProfile(steps=tuple(step(s, r) for s, r in steps))


# ------------------------------------------------------------------ shape


def test_day_profile_must_start_at_midnight() -> None:
    with pytest.raises(OutOfRangeError) as info:
        day((60, 100_000))
    assert info.value.field == "steps[0].start_min"
    assert "60 min" in str(info.value)


def test_day_profile_starts_must_strictly_increase() -> None:
    with pytest.raises(OutOfRangeError) as info:
        day((0, 100_000), (120, 100_000), (120, 200_000))
    assert info.value.field == "steps[2].start_min"
    assert info.value.limit == 120


def test_step_must_start_within_the_day() -> None:
    with pytest.raises(OutOfRangeError, match="start_min = 1440 min"):
        step(1_440, 100_000)


def test_day_profile_needs_a_step() -> None:
    with pytest.raises(OutOfRangeError):
        DayProfile(steps=())


def test_flex_has_one_or_seven_days() -> None:
    one = day((0, 100_000))
    with pytest.raises(OutOfRangeError, match=r"len\(days\) = 2"):
        Flex(days=(one, one))


@pytest.mark.parametrize("bad", [True, 1.5, "100"])
def test_rates_must_be_ints(bad: object) -> None:
    with pytest.raises(WrongTypeError):
        Simple(rate_nl_per_day=bad)  # type: ignore[arg-type]


def test_mode_of_each_prescription() -> None:
    assert mode_of(Simple(rate_nl_per_day=100_000)) is Mode.SIMPLE
    assert mode_of(Flex(days=(day((0, 100_000)),))) is Mode.FLEX
    assert mode_of(MinimumRate()) is Mode.MINIMUM_RATE
    assert mode_of(Stopped()) is Mode.STOPPED


# ------------------------------------------------------------------ limits


def test_simple_rate_below_minimum_names_field_value_and_limit_with_units() -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate(Simple(rate_nl_per_day=47_999), P20)
    err = info.value
    assert (err.field, err.value, err.limit) == ("rate_nl_per_day", 47_999, 48_000)
    assert str(err) == (
        "rate_nl_per_day = 47999 nL/day is out of range: must be at least 48000 nL/day"
    )


def test_simple_rate_above_maximum() -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate(Simple(rate_nl_per_day=P20.max_rate_nl_per_day + 1), P20)
    assert info.value.limit == P20.max_rate_nl_per_day
    assert "at most" in str(info.value)


def test_flex_limits_name_the_day_and_step() -> None:
    ok = day((0, 100_000))
    bad = day((0, 100_000), (60, 10))
    with pytest.raises(OutOfRangeError) as info:
        validate(Flex(days=(ok, ok, bad, ok, ok, ok, ok)), P20)
    assert info.value.field == "days[2].steps[1].rate_nl_per_day"


def test_flex_at_most_thirteen_steps() -> None:
    thirteen = DayProfile(steps=tuple(step(i * 60, 100_000 + i) for i in range(13)))
    validate(Flex(days=(thirteen,)), P20)
    fourteen = DayProfile(steps=tuple(step(i * 60, 100_000 + i) for i in range(14)))
    with pytest.raises(OutOfRangeError) as info:
        validate(Flex(days=(fourteen,)), P20)
    assert (info.value.value, info.value.limit) == (14, 13)


def test_flex_steps_start_on_the_granularity() -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate(Flex(days=(day((0, 100_000), (7, 200_000)),)), P20)
    assert info.value.rule == "a multiple of"
    assert info.value.limit == P20.flex_step_granularity_min


def test_schedule_rejects_non_prescriptions() -> None:
    with pytest.raises(WrongTypeError):
        Schedule(prescription="simple", profile=P20)  # type: ignore[arg-type]


# ------------------------------------------------------------------ schedule


def test_weekday_of_a_known_monday() -> None:
    assert weekday(MONDAY) == 0
    assert weekday(MONDAY + 6 * SECONDS_PER_DAY + 86_399) == 6
    assert weekday(0) == 3  # 1970-01-01 was a Thursday


def test_constant_schedules_never_change() -> None:
    cases: list[tuple[Prescription, int]] = [
        (Simple(rate_nl_per_day=123_456), 123_456),
        (MinimumRate(), P20.minimum_rate_mode_nl_per_day),
        (Stopped(), 0),
    ]
    for prescription, rate in cases:
        sched = validate(prescription, P20)
        assert sched.rate_at(MONDAY + 12_345) == rate
        assert sched.next_change_after(MONDAY) is None
        assert sched.period_s == 1
        assert sched.daily_volume_nl(3) == rate


def test_one_day_flex_rate_and_next_change() -> None:
    sched = validate(Flex(days=(day((0, 100_000), (480, 300_000), (1_200, 100_000)),)), P20)
    assert sched.rate_at(MONDAY) == 100_000
    assert sched.rate_at(MONDAY + 8 * HOUR - 1) == 100_000
    assert sched.rate_at(MONDAY + 8 * HOUR) == 300_000
    assert sched.next_change_after(MONDAY) == MONDAY + 8 * HOUR
    assert sched.next_change_after(MONDAY + 8 * HOUR) == MONDAY + 20 * HOUR
    # 20:00 -> 08:00 is one stretch at 100000: the midnight boundary is no change.
    assert sched.next_change_after(MONDAY + 20 * HOUR) == MONDAY + SECONDS_PER_DAY + 8 * HOUR
    assert sched.period_s == SECONDS_PER_DAY


def test_seven_day_flex_follows_the_weekday_and_wraps_the_week() -> None:
    days = tuple(day((0, 100_000 + d * 1_000)) for d in range(7))
    sched = validate(Flex(days=days), P20)
    for d in range(7):
        assert sched.rate_at(MONDAY + d * SECONDS_PER_DAY + 5) == 100_000 + d * 1_000
    sunday = MONDAY + 6 * SECONDS_PER_DAY + 10
    assert sched.next_change_after(sunday) == MONDAY + 7 * SECONDS_PER_DAY
    assert sched.rate_at(MONDAY + 7 * SECONDS_PER_DAY) == 100_000
    assert sched.period_s == 7 * SECONDS_PER_DAY


def test_thirteen_step_day_volume_is_exactly_the_sum_of_its_steps() -> None:
    steps = tuple(step(i * 105, 48_000 + 96_000 * i) for i in range(13))
    dp = DayProfile(steps=steps)
    ends = [s.start_min for s in steps[1:]] + [1_440]
    expected = sum(
        Fraction(s.rate_nl_per_day * (e - s.start_min), 1_440)
        for s, e in zip(steps, ends, strict=True)
    )
    assert dp.volume_nl() == expected
    assert validate(Flex(days=(dp,)), P20).daily_volume_nl(4) == expected


def reference_rate(prescription: Prescription, clock_s: int) -> int:
    """Brute force: find the step in force by scanning the day's steps."""
    match prescription:
        case Simple(rate_nl_per_day=rate):
            return rate
        case MinimumRate():
            return P20.minimum_rate_mode_nl_per_day
        case Stopped():
            return 0
        case Flex():
            minute = (clock_s % SECONDS_PER_DAY) // 60
            rate = 0
            for s in prescription.day(weekday(clock_s)).steps:
                if s.start_min <= minute:
                    rate = s.rate_nl_per_day
            return rate


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prescription=prescriptions(P20), clock_s=st.integers(0, 2**32 - 1))
def test_rate_at_and_next_change_match_a_brute_force_lookup(
    prescription: Prescription, clock_s: int
) -> None:
    sched = validate(prescription, P20)
    rate = sched.rate_at(clock_s)
    assert rate == reference_rate(prescription, clock_s)
    nxt = sched.next_change_after(clock_s)
    if nxt is None:
        for probe in (clock_s + 1, clock_s + 3_600, clock_s + 7 * SECONDS_PER_DAY):
            assert reference_rate(prescription, probe) == rate
    else:
        assert nxt > clock_s
        assert reference_rate(prescription, nxt - 1) == rate
        assert reference_rate(prescription, nxt) != rate
        # And no change in between (step boundaries are on whole minutes).
        for probe in range(clock_s - clock_s % 60 + 60, nxt, 60 * 15):
            assert reference_rate(prescription, probe) == rate


@settings(max_examples=40, deadline=None, derandomize=True)
@given(profile=profiles(), data=st.data())
def test_weekly_integral_is_the_sum_of_the_daily_volumes(
    profile: PumpProfile, data: st.DataObject
) -> None:
    flex = data.draw(flexes(profile))
    sched = validate(flex, profile)
    week = sum(sched.daily_volume_nl(d) for d in range(7))
    assert Fraction(sched.weekly_integral, SECONDS_PER_DAY) == week
    assert sched.period_integral * (7 * SECONDS_PER_DAY // sched.period_s) == sched.weekly_integral


# ------------------------------------------------------------------ boluses


def test_bridge_and_priming_run_at_the_maximum_rate() -> None:
    bolus = Bolus.at_max_rate(kind=BolusKind.BRIDGE, volume_nl=1_000_000, profile=P20)
    assert bolus.duration_s == 3_600  # 1 mL at 1 mL/h
    validate_bolus(bolus, P20)
    odd = Bolus.at_max_rate(kind=BolusKind.PRIMING, volume_nl=1_001, profile=P20)
    assert odd.duration_s == 4  # 3.6036 s, rounded up so the rate stays within the maximum
    with pytest.raises(OutOfRangeError) as info:
        validate_bolus(Bolus(kind=BolusKind.PRIMING, volume_nl=1_000_000, duration_s=7_200), P20)
    assert (info.value.field, info.value.limit) == ("duration_s", 3_600)


def test_therapeutic_bolus_may_not_exceed_the_maximum_rate() -> None:
    validate_bolus(Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_000_000, duration_s=3_600), P20)
    with pytest.raises(OutOfRangeError) as info:
        validate_bolus(
            Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_000_000, duration_s=3_599), P20
        )
    assert (info.value.field, info.value.limit) == ("duration_s", 3_600)
    with pytest.raises(OutOfRangeError):
        validate_bolus(
            Bolus(
                kind=BolusKind.THERAPEUTIC,
                volume_nl=10_000,
                duration_s=P20.max_bolus_duration_s + 1,
            ),
            P20,
        )


def test_bolus_volume_limits() -> None:
    with pytest.raises(OutOfRangeError, match="volume_nl = 999 nL"):
        validate_bolus(Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=999, duration_s=60), P20)
    with pytest.raises(OutOfRangeError):
        validate_bolus(
            Bolus(
                kind=BolusKind.PATIENT,
                volume_nl=P20.patient_dose_max_volume_nl + 1,
                duration_s=SECONDS_PER_DAY,
            ),
            P20,
        )
    with pytest.raises(OutOfRangeError):
        Bolus(kind=BolusKind.NONE, volume_nl=1_000, duration_s=60)
    assert Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_000, duration_s=60).rate_nl_per_day == (
        1_440_000
    )


# ------------------------------------------------------------------ patient doses

DOSES = PatientDoseSettings(
    enabled=True, volume_nl=20_000, duration_s=600, lockout_s=2 * HOUR, max_per_24h=4
)


def test_patient_settings_validation() -> None:
    validate_patient_settings(DOSES, P20)
    validate_patient_settings(PatientDoseSettings.disabled(), P20)
    with pytest.raises(OutOfRangeError) as info:
        validate_patient_settings(
            PatientDoseSettings(
                enabled=True, volume_nl=20_000, duration_s=1_800, lockout_s=900, max_per_24h=4
            ),
            P20,
        )
    assert info.value.field == "lockout_s"
    with pytest.raises(OutOfRangeError) as info:
        validate_patient_settings(
            PatientDoseSettings(
                enabled=True,
                volume_nl=20_000,
                duration_s=600,
                lockout_s=HOUR,
                max_per_24h=P20.patient_max_doses_per_24h + 1,
            ),
            P20,
        )
    assert info.value.field == "max_per_24h"
    with pytest.raises(OutOfRangeError):
        PatientDoseSettings(
            enabled=True, volume_nl=0, duration_s=600, lockout_s=HOUR, max_per_24h=1
        )


def test_patient_rule_lockout_then_limit() -> None:
    with pytest.raises(NotEnabledError):
        check_patient_dose(PatientDoseSettings.disabled(), [], 0)
    check_patient_dose(DOSES, [], 0)
    with pytest.raises(PatientDoseLockoutError) as lock:
        check_patient_dose(DOSES, [0], HOUR)
    assert lock.value.seconds_remaining == HOUR
    grants = [0, 2 * HOUR, 4 * HOUR, 6 * HOUR]
    with pytest.raises(PatientDoseLimitError) as limit:
        check_patient_dose(DOSES, grants, 8 * HOUR)
    assert limit.value.seconds_remaining == 16 * HOUR
    assert limit.value.doses_in_24h == 4
    check_patient_dose(DOSES, grants, SECONDS_PER_DAY)  # the first grant left the window
    assert doses_in_24h(grants, SECONDS_PER_DAY) == 3
    assert next_patient_dose_t(DOSES, grants, 7 * HOUR) == SECONDS_PER_DAY


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    gaps=st.lists(st.integers(2 * HOUR, 30 * HOUR), max_size=8),
    wait=st.integers(0, 2 * SECONDS_PER_DAY),
)
def test_next_dose_time_is_the_first_second_the_rule_allows(gaps: list[int], wait: int) -> None:
    grants: list[int] = []
    t = 0
    for gap in gaps:
        t += gap
        grants.append(t)
    now = t + wait
    nxt = next_patient_dose_t(DOSES, grants, now)
    assert nxt >= now
    check_patient_dose(DOSES, grants, nxt)
    if nxt > now:
        with pytest.raises((PatientDoseLockoutError, PatientDoseLimitError)):
            check_patient_dose(DOSES, grants, nxt - 1)
