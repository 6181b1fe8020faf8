"""Prescriptions, schedules, boluses and the patient-dose rule."""

from __future__ import annotations

import dataclasses
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
    PatientDoseSettings,
    check_patient_dose,
    validate,
    validate_bolus,
    validate_patient_settings,
)
from firmware_model.profile import PROFILES, PumpProfile
from protocol.enums import BolusKind, Mode
from protocol.errors import InvalidMessage
from protocol.messages import FlexStep, PrescriptionSpec
from protocol.schedule import (
    doses_in_24h,
    next_patient_dose_t,
    priming_duration_s,
    shortest_bolus_s,
)
from protocol.timebase import SECONDS_PER_DAY, weekday

from . import rx
from .strategies import CLOCK_2024_01_01_S, STRATEGY_CONC, flexes, prescriptions, profiles

P20 = PROFILES[20]
MONDAY = CLOCK_2024_01_01_S
HOUR = 3_600
C = 500
"""The concentration of the drug in the pump, for these checks (mcg/mL)."""


def step(start_min: int, dose: int) -> FlexStep:
    return FlexStep(start_min=start_min, dose_ng_per_day=dose)


def day(*steps: tuple[int, int]) -> tuple[FlexStep, ...]:
    return tuple(step(s, d) for s, d in steps)


def flex(*steps: tuple[int, int]) -> PrescriptionSpec:
    return PrescriptionSpec.flex(day(*steps), concentration_ug_per_ml=C)


# ------------------------------------------------------------------ shape
# The shape of a prescription is checked where it is built (protocol.messages), with
# InvalidMessage: the pump only ever sees well-formed PrescriptionSpecs.


def test_day_profile_must_start_at_midnight() -> None:
    with pytest.raises(InvalidMessage, match="profile 0 must start at minute 0"):
        flex((60, 100_000))


def test_day_profile_starts_must_strictly_increase() -> None:
    with pytest.raises(InvalidMessage, match="profile 0 step starts must rise strictly"):
        flex((0, 100_000), (120, 100_000), (120, 200_000))
    with pytest.raises(InvalidMessage, match="profile 3 step starts must rise strictly"):
        PrescriptionSpec.flex_weekly(
            [day((0, 1))] * 3 + [day((0, 1), (60, 2), (30, 3))] + [day((0, 1))] * 3,
            concentration_ug_per_ml=C,
        )


def test_step_must_start_within_the_day() -> None:
    with pytest.raises(InvalidMessage, match=r"start_min must be in 0\.\.1439, got 1440"):
        step(1_440, 100_000)


def test_day_profile_needs_a_step() -> None:
    with pytest.raises(InvalidMessage, match=r"1\.\.13 items, got 0"):
        PrescriptionSpec.flex((), concentration_ug_per_ml=C)


def test_flex_has_one_or_seven_days() -> None:
    one = day((0, 100_000))
    with pytest.raises(InvalidMessage, match="weekly=False has 1"):
        PrescriptionSpec(mode=Mode.FLEX, concentration_ug_per_ml=C, profiles=(one, one))
    with pytest.raises(InvalidMessage, match="weekly=True has 7"):
        PrescriptionSpec.flex_weekly([one] * 6, concentration_ug_per_ml=C)


@pytest.mark.parametrize("bad", [True, 1.5, "100", -1])
def test_doses_must_be_ints(bad: object) -> None:
    with pytest.raises(InvalidMessage, match="dose_ng_per_day"):
        PrescriptionSpec.simple(bad, concentration_ug_per_ml=C)  # type: ignore[arg-type]


def test_mode_of_each_prescription_and_of_its_schedule() -> None:
    cases = [
        (rx.simple(100_000), Mode.SIMPLE),
        (rx.flex([(0, 100_000)]), Mode.FLEX),
        (rx.minimum_rate(), Mode.MINIMUM_RATE),
        (rx.stopped(), Mode.STOPPED),
    ]
    for spec, mode in cases:
        assert spec.mode is mode
        assert validate(spec, P20, C).mode is mode


# ------------------------------------------------------------------ limits


def test_simple_rate_below_minimum_names_field_value_and_limit_with_units() -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate(rx.simple(47_999, 1000), P20, 1000)
    err = info.value
    assert (err.field, err.value, err.limit) == ("rate_nl_per_day", 47_999, 48_000)
    assert str(err) == (
        "rate_nl_per_day = 47999 nL/day is out of range: must be at least 48000 nL/day"
    )
    validate(rx.simple(48_000, 1000), P20, 1000)


def test_the_limits_are_on_the_rate_the_dose_needs_at_the_concentration() -> None:
    # 24 mcg/day is 48,000 nL/day of 500 mcg/mL, but 24,000 nL/day of 1000 mcg/mL.
    dose = PrescriptionSpec.simple(24_000, concentration_ug_per_ml=500)
    assert validate(dose, P20, 500).rate_at(0) == 48_000
    with pytest.raises(OutOfRangeError) as info:
        validate(dose, P20, 1000)
    assert (info.value.field, info.value.value, info.value.limit) == (
        "rate_nl_per_day",
        24_000,
        48_000,
    )
    # Rounded to the nearest nL/day, halves up: 96,001 ng/day of 2000 mcg/mL is 48,000.5.
    odd = PrescriptionSpec.simple(96_001, concentration_ug_per_ml=2000)
    assert validate(odd, P20, 2000).rate_at(0) == 48_001


def test_simple_rate_above_maximum() -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate(rx.simple(P20.max_rate_nl_per_day + 2), P20, C)
    assert (info.value.value, info.value.limit) == (
        P20.max_rate_nl_per_day + 2,
        P20.max_rate_nl_per_day,
    )
    assert "at most" in str(info.value)
    validate(rx.simple(P20.max_rate_nl_per_day), P20, C)


def test_flex_limits_name_the_day_and_step() -> None:
    ok = day((0, 100_000))
    bad = day((0, 100_000), (60, 10))
    week = PrescriptionSpec.flex_weekly([ok, ok, bad, ok, ok, ok, ok], concentration_ug_per_ml=C)
    with pytest.raises(OutOfRangeError) as info:
        validate(week, P20, C)
    assert info.value.field == "days[2].steps[1].rate_nl_per_day"
    assert info.value.value == 20  # 10 ng/day of 500 mcg/mL


def test_flex_at_most_thirteen_steps() -> None:
    thirteen = tuple(step(i * 60, 100_000 + i) for i in range(13))
    spec = PrescriptionSpec.flex(thirteen, concentration_ug_per_ml=C)
    validate(spec, P20, C)
    # Fourteen cannot even be built (the wire holds 13) ...
    with pytest.raises(InvalidMessage, match=r"1\.\.13 items, got 14"):
        PrescriptionSpec.flex((*thirteen, step(13 * 60, 1)), concentration_ug_per_ml=C)
    # ... and a model allowing fewer steps refuses more than it allows.
    twelve_steps = dataclasses.replace(P20, max_flex_steps=12)
    with pytest.raises(OutOfRangeError) as info:
        validate(spec, twelve_steps, C)
    assert (info.value.field, info.value.value, info.value.limit) == ("days[0].len(steps)", 13, 12)


def test_flex_steps_start_on_the_granularity() -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate(flex((0, 100_000), (7, 200_000)), P20, C)
    assert info.value.rule == "a multiple of"
    assert info.value.limit == P20.flex_step_granularity_min


def test_validate_rejects_non_prescriptions() -> None:
    with pytest.raises(WrongTypeError):
        validate("simple", P20, C)  # type: ignore[arg-type]


# ------------------------------------------------------------------ schedule


def test_weekday_of_a_known_monday() -> None:
    assert weekday(MONDAY) == 0
    assert weekday(MONDAY + 6 * SECONDS_PER_DAY + 86_399) == 6
    assert weekday(0) == 3  # 1970-01-01 was a Thursday


def test_constant_schedules_never_change() -> None:
    cases: list[tuple[PrescriptionSpec, int]] = [
        (rx.simple(123_456), 123_456),
        (rx.minimum_rate(), P20.minimum_rate_mode_nl_per_day),
        (rx.stopped(), 0),
    ]
    for prescription, rate in cases:
        sched = validate(prescription, P20, C)
        assert sched.rate_at(MONDAY + 12_345) == rate
        assert sched.next_change_after(MONDAY) is None
        assert sched.period_s == 1
        assert sched.daily_volume_nl(3) == rate


def test_one_day_flex_rate_and_next_change() -> None:
    sched = validate(rx.flex([(0, 100_000), (480, 300_000), (1_200, 100_000)]), P20, C)
    assert sched.rate_at(MONDAY) == 100_000
    assert sched.rate_at(MONDAY + 8 * HOUR - 1) == 100_000
    assert sched.rate_at(MONDAY + 8 * HOUR) == 300_000
    assert sched.next_change_after(MONDAY) == MONDAY + 8 * HOUR
    assert sched.next_change_after(MONDAY + 8 * HOUR) == MONDAY + 20 * HOUR
    # 20:00 -> 08:00 is one stretch at 100000: the midnight boundary is no change.
    assert sched.next_change_after(MONDAY + 20 * HOUR) == MONDAY + SECONDS_PER_DAY + 8 * HOUR
    assert sched.period_s == SECONDS_PER_DAY


def test_seven_day_flex_follows_the_weekday_and_wraps_the_week() -> None:
    sched = validate(rx.flex_weekly([[(0, 100_000 + d * 1_000)] for d in range(7)]), P20, C)
    for d in range(7):
        assert sched.rate_at(MONDAY + d * SECONDS_PER_DAY + 5) == 100_000 + d * 1_000
    sunday = MONDAY + 6 * SECONDS_PER_DAY + 10
    assert sched.next_change_after(sunday) == MONDAY + 7 * SECONDS_PER_DAY
    assert sched.rate_at(MONDAY + 7 * SECONDS_PER_DAY) == 100_000
    assert sched.period_s == 7 * SECONDS_PER_DAY


def test_thirteen_step_day_volume_is_exactly_the_sum_of_its_steps() -> None:
    steps = [(i * 105, 48_000 + 96_000 * i) for i in range(13)]
    ends = [start for start, _ in steps[1:]] + [1_440]
    expected = sum(
        Fraction(rate * (e - start), 1_440) for (start, rate), e in zip(steps, ends, strict=True)
    )
    assert validate(rx.flex(steps), P20, C).daily_volume_nl(4) == expected


def exact_rate(dose_ng_per_day: int, concentration_ug_per_ml: int) -> int:
    rate = Fraction(dose_ng_per_day * 1_000, concentration_ug_per_ml)
    assert rate.denominator == 1  # the strategies draw doses that are whole nL/day
    return int(rate)


def reference_rate(prescription: PrescriptionSpec, clock_s: int) -> int:
    """Brute force: find the step in force by scanning the day's steps."""
    conc = prescription.concentration_ug_per_ml
    match prescription.mode:
        case Mode.SIMPLE:
            assert prescription.dose_ng_per_day is not None
            return exact_rate(prescription.dose_ng_per_day, conc)
        case Mode.MINIMUM_RATE:
            return P20.minimum_rate_mode_nl_per_day
        case Mode.STOPPED:
            return 0
        case _:
            minute = (clock_s % SECONDS_PER_DAY) // 60
            rate = 0
            for s in prescription.profile_for_weekday(weekday(clock_s)):
                if s.start_min <= minute:
                    rate = exact_rate(s.dose_ng_per_day, conc)
            return rate


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prescription=prescriptions(P20), clock_s=st.integers(0, 2**32 - 1))
def test_rate_at_and_next_change_match_a_brute_force_lookup(
    prescription: PrescriptionSpec, clock_s: int
) -> None:
    sched = validate(prescription, P20, STRATEGY_CONC)
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
    sched = validate(flex, profile, STRATEGY_CONC)
    week = sum(sched.daily_volume_nl(d) for d in range(7))
    assert Fraction(sched.weekly_integral, SECONDS_PER_DAY) == week
    assert sched.period_integral * (7 * SECONDS_PER_DAY // sched.period_s) == sched.weekly_integral


# ------------------------------------------------------------------ boluses


def test_priming_runs_at_the_maximum_rate_and_the_bridge_is_no_bolus() -> None:
    bolus = Bolus.priming(volume_nl=1_000_000, profile=P20)
    assert (bolus.kind, bolus.duration_s, bolus.dose_ng) == (BolusKind.PRIMING, 3_600, 0)
    validate_bolus(bolus, P20)  # 1 mL at 1 mL/h
    # By design (#12) the bridge is a transition of the basal rates, not a bolus.
    with pytest.raises(OutOfRangeError) as kind:
        Bolus(kind=BolusKind.BRIDGE, volume_nl=1_000_000, duration_s=3_600)
    assert kind.value.field == "kind"
    odd = Bolus.priming(volume_nl=1_001, profile=P20)
    assert odd.duration_s == 4  # 3.6036 s, rounded up so the rate stays within the maximum
    with pytest.raises(OutOfRangeError) as info:
        validate_bolus(Bolus(kind=BolusKind.PRIMING, volume_nl=1_000_000, duration_s=7_200), P20)
    assert (info.value.field, info.value.limit) == ("duration_s", 3_600)


def test_a_therapeutic_bolus_runs_below_the_maximum_rate() -> None:
    # domain.md: priming is the only bolus that runs at the maximum rate. 1 mL at 24 mL/day
    # (1 mL/h) takes exactly 3600 s, so a therapeutic 1 mL needs 3601 s at least.
    validate_bolus(Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_000_000, duration_s=3_601), P20)
    for duration_s in (3_600, 3_599):
        with pytest.raises(OutOfRangeError) as info:
            validate_bolus(
                Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_000_000, duration_s=duration_s),
                P20,
            )
        assert (info.value.field, info.value.limit) == ("duration_s", 3_601)
    # 1001 nL takes 3.6036 s at the maximum rate: 4 s already runs below it, 3 s above.
    validate_bolus(Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_001, duration_s=4), P20)
    with pytest.raises(OutOfRangeError):
        validate_bolus(Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_001, duration_s=3), P20)
    # A patient dose is a bolus too.
    with pytest.raises(OutOfRangeError):
        validate_bolus(Bolus(kind=BolusKind.PATIENT, volume_nl=50_000, duration_s=180), P20)
    validate_bolus(Bolus(kind=BolusKind.PATIENT, volume_nl=50_000, duration_s=181), P20)
    with pytest.raises(OutOfRangeError):
        validate_bolus(
            Bolus(
                kind=BolusKind.THERAPEUTIC,
                volume_nl=10_000,
                duration_s=P20.max_bolus_duration_s + 1,
            ),
            P20,
        )


@given(
    volume_nl=st.integers(1, 40_000_000),
    max_rate=st.integers(1_000, 50_000_000),
)
def test_the_shortest_bolus_is_the_first_second_below_the_maximum_rate(
    volume_nl: int, max_rate: int
) -> None:
    shortest = shortest_bolus_s(volume_nl, max_rate)
    # rate = volume * 86400 / duration, compared exactly in integers
    assert volume_nl * SECONDS_PER_DAY < max_rate * shortest
    assert volume_nl * SECONDS_PER_DAY >= max_rate * (shortest - 1)
    priming = priming_duration_s(volume_nl, max_rate)
    assert volume_nl * SECONDS_PER_DAY <= max_rate * priming
    assert volume_nl * SECONDS_PER_DAY > max_rate * (priming - 1)
    assert shortest - priming == (1 if volume_nl * SECONDS_PER_DAY % max_rate == 0 else 0)


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


def test_a_dose_bolus_is_the_volume_that_holds_its_dose() -> None:
    # 0.5 mcg over a minute: 1 uL of 500 mcg/mL, 0.25 uL of 2000 mcg/mL (refused: too small).
    bolus = Bolus.of_dose(
        kind=BolusKind.THERAPEUTIC, dose_ng=500, duration_s=60, concentration_ug_per_ml=500
    )
    assert (bolus.volume_nl, bolus.dose_ng, bolus.duration_s) == (1_000, 500, 60)
    validate_bolus(bolus, P20)
    weak = Bolus.of_dose(
        kind=BolusKind.THERAPEUTIC, dose_ng=500, duration_s=60, concentration_ug_per_ml=2000
    )
    assert weak.volume_nl == 250
    with pytest.raises(OutOfRangeError, match="volume_nl = 250 nL"):
        validate_bolus(weak, P20)
    # Nearest nL, halves up: 1 ng of 2000 mcg/mL is 0.5 nL -> 1 nL.
    tiny = Bolus.of_dose(
        kind=BolusKind.THERAPEUTIC, dose_ng=1, duration_s=60, concentration_ug_per_ml=2000
    )
    assert tiny.volume_nl == 1
    with pytest.raises(OutOfRangeError):
        Bolus.of_dose(
            kind=BolusKind.THERAPEUTIC, dose_ng=0, duration_s=60, concentration_ug_per_ml=500
        )


# ------------------------------------------------------------------ patient doses

DOSES = PatientDoseSettings(
    enabled=True, dose_ng=10_000, duration_s=600, lockout_s=2 * HOUR, max_per_24h=4
)
RULE = DOSES.rule(C)


def test_patient_settings_validation() -> None:
    validate_patient_settings(DOSES, P20, C)
    validate_patient_settings(PatientDoseSettings.disabled(), P20, C)
    assert (RULE.volume_nl, RULE.dose_ng) == (20_000, 10_000)
    with pytest.raises(OutOfRangeError) as info:
        validate_patient_settings(
            PatientDoseSettings(
                enabled=True, dose_ng=10_000, duration_s=1_800, lockout_s=900, max_per_24h=4
            ),
            P20,
            C,
        )
    assert info.value.field == "lockout_s"
    with pytest.raises(OutOfRangeError) as info:
        validate_patient_settings(
            PatientDoseSettings(
                enabled=True,
                dose_ng=10_000,
                duration_s=600,
                lockout_s=HOUR,
                max_per_24h=P20.patient_max_doses_per_24h + 1,
            ),
            P20,
            C,
        )
    assert info.value.field == "max_per_24h"
    with pytest.raises(OutOfRangeError):
        PatientDoseSettings(enabled=True, dose_ng=0, duration_s=600, lockout_s=HOUR, max_per_24h=1)


def test_a_patient_dose_volume_limit_depends_on_the_drug() -> None:
    # 250 mcg is 0.5 mL (the P20 patient-dose maximum) of 500 mcg/mL, 0.25 mL of 1000.
    big = dataclasses.replace(DOSES, dose_ng=250_000, duration_s=HOUR, lockout_s=HOUR)
    validate_patient_settings(big, P20, 500)
    bigger = dataclasses.replace(big, dose_ng=250_001)
    with pytest.raises(OutOfRangeError) as info:
        validate_patient_settings(bigger, P20, 500)
    assert (info.value.field, info.value.value, info.value.limit) == (
        "volume_nl",
        500_002,
        P20.patient_dose_max_volume_nl,
    )
    validate_patient_settings(bigger, P20, 1000)


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
    assert next_patient_dose_t(RULE, grants, 7 * HOUR) == SECONDS_PER_DAY


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
    nxt = next_patient_dose_t(RULE, grants, now)
    assert nxt >= now
    check_patient_dose(DOSES, grants, nxt)
    if nxt > now:
        with pytest.raises((PatientDoseLockoutError, PatientDoseLimitError)):
            check_patient_dose(DOSES, grants, nxt - 1)
