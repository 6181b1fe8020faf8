"""The pump aggregate: worked checks from the domain notes and every command."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from fractions import Fraction

import pytest

from firmware_model.errors import (
    InvalidStateError,
    NotEnabledError,
    OutOfRangeError,
    OverfillError,
    PatientDoseLimitError,
    PatientDoseLockoutError,
    PumpHaltedError,
    RequestError,
    TimeWentBackwardsError,
    WrongTypeError,
)
from firmware_model.prescription import (
    Bolus,
    DayProfile,
    Flex,
    FlexStep,
    MinimumRate,
    PatientDoseSettings,
    Simple,
    Stopped,
)
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump
from firmware_model.timebase import SECONDS_PER_DAY
from protocol.enums import AlarmCode, BolusKind, ErrorCode, EventCode, Mode, StopReason

from .builders import T0_CLOCK_S, events, new_pump, raised

DAY = SECONDS_PER_DAY
HOUR = 3_600
P20, P40 = PROFILES[20], PROFILES[40]

THIRTEEN_STEPS = DayProfile(
    steps=tuple(FlexStep(start_min=i * 105, rate_nl_per_day=48_000 + 96_000 * i) for i in range(13))
)


def therapeutic(volume_nl: int = 100_000, duration_s: int = HOUR) -> Bolus:
    return Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=volume_nl, duration_s=duration_s)


# ------------------------------------------------------------------ construction and time


def test_new_pump_logs_power_on_and_reports_its_status() -> None:
    pump = new_pump()
    assert events(pump, EventCode.POWER_ON) == [(T0_CLOCK_S, 20_000_000, 500)]
    status = pump.status()
    assert (status.model, status.serial, status.firmware_version) == (20, "VP-TEST-0001", "1.0.0")
    assert (status.clock_s, status.mode, status.delivering) == (T0_CLOCK_S, Mode.SIMPLE, True)
    assert status.reservoir_capacity_nl == 20_000_000
    assert status.battery_permille == 1000
    assert status.current_rate_nl_per_day == status.basal_rate_nl_per_day == 200_000


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"serial": ""}, OutOfRangeError),
        ({"serial": "x" * 33}, OutOfRangeError),
        ({"reservoir_nl": 20_000_001}, OutOfRangeError),
        ({"concentration_ug_per_ml": 750}, OutOfRangeError),
        ({"concentration_ug_per_ml": 50}, OutOfRangeError),  # trial-only without the override
        ({"clock_offset_s": -1}, OutOfRangeError),
        ({"battery_permille": 1001}, OutOfRangeError),
        ({"prescription": Simple(rate_nl_per_day=10)}, OutOfRangeError),
        ({"t": 1.5}, WrongTypeError),
    ],
)
def test_new_pump_refuses_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    base: dict[str, object] = {
        "profile": P20,
        "serial": "SN",
        "t": 0,
        "reservoir_nl": 1_000,
        "concentration_ug_per_ml": 500,
        "prescription": Simple(rate_nl_per_day=100_000),
    }
    with pytest.raises(error):
        Pump.new(**{**base, **kwargs})  # type: ignore[arg-type]


def test_nonstandard_concentration_needs_the_override() -> None:
    pump = Pump.new(
        profile=P20,
        serial="SN",
        t=0,
        reservoir_nl=1_000,
        concentration_ug_per_ml=50,
        prescription=Stopped(),
        allow_nonstandard_concentration=True,
    )
    assert pump.concentration_ug_per_ml == 50
    with pytest.raises(OutOfRangeError, match="even with the override"):
        pump.refill(
            0,
            removed_nl=0,
            added_nl=0,
            concentration_ug_per_ml=P20.nonstandard_concentration_max_ug_per_ml + 1,
            allow_nonstandard_concentration=True,
        )


def test_time_never_goes_backwards() -> None:
    pump = new_pump()
    pump.advance_to(100)
    with pytest.raises(TimeWentBackwardsError):
        pump.advance_to(99)
    with pytest.raises(TimeWentBackwardsError):
        pump.program(50, MinimumRate())
    assert pump.t == 100
    assert pump.clock(100) == T0_CLOCK_S + 100


# ------------------------------------------------------------------ worked checks


def test_thirteen_step_flex_day_delivers_exactly_the_sum_of_its_steps() -> None:
    pump = new_pump(profile=P40, prescription=Flex(days=(THIRTEEN_STEPS,)))
    steps = THIRTEEN_STEPS.steps
    ends = [s.start_min for s in steps[1:]] + [1_440]
    per_step = [
        Fraction(s.rate_nl_per_day * (e - s.start_min), 1_440)
        for s, e in zip(steps, ends, strict=True)
    ]
    assert all(v.denominator == 1 for v in per_step)  # chosen so each step is whole nL
    pump.advance_to(DAY)
    assert pump.total_delivered_nl == sum(per_step)
    assert pump.status().daily_volume_nl == sum(per_step)
    # Step by step too: at each boundary the delivered volume is the running sum.
    pump2 = new_pump(profile=P40, prescription=Flex(days=(THIRTEEN_STEPS,)))
    running = Fraction(0)
    for step, end, volume in zip(steps, ends, per_step, strict=True):
        pump2.advance_to(end * 60)
        running += volume
        assert pump2.total_delivered_nl == running, step


def test_flex_days_with_fractional_volumes_lose_nothing_over_many_days() -> None:
    odd = DayProfile(
        steps=(
            FlexStep(start_min=0, rate_nl_per_day=48_001),
            FlexStep(start_min=15, rate_nl_per_day=99_999),
        )
    )
    pump = new_pump(profile=P40, prescription=Flex(days=(odd,)))
    per_day = odd.volume_nl()
    assert per_day.denominator != 1
    for n in (1, 2, 7, 30, 365):
        pump.advance_to(n * DAY)
        assert pump.total_delivered_nl == int(per_day * n)  # floor of the exact total


def test_bolus_returns_to_simple_mode() -> None:
    pump = new_pump()
    pump.advance_to(HOUR)
    pump.start_bolus(HOUR, therapeutic(100_000, HOUR))
    status = pump.status()
    assert (status.bolus_kind, status.bolus_volume_nl, status.bolus_remaining_nl) == (
        BolusKind.THERAPEUTIC,
        100_000,
        100_000,
    )
    assert status.current_rate_nl_per_day == 2_400_000
    assert status.bolus_end_clock_s == T0_CLOCK_S + 2 * HOUR
    pump.advance_to(2 * HOUR)
    assert pump.bolus is None
    assert events(pump, EventCode.BOLUS_ENDED) == [
        (T0_CLOCK_S + 2 * HOUR, BolusKind.THERAPEUTIC, 100_000)
    ]
    assert pump.status().current_rate_nl_per_day == 200_000
    pump.advance_to(DAY + HOUR)
    # 24 h of basal (the bolus hour replaced one basal hour) plus the bolus.
    assert pump.total_delivered_nl == 200_000 + 100_000


def test_bolus_returns_to_flex_mode_across_a_step_boundary() -> None:
    flex = Flex(
        days=(
            DayProfile(
                steps=(
                    FlexStep(start_min=0, rate_nl_per_day=96_000),
                    FlexStep(start_min=8 * 60, rate_nl_per_day=480_000),
                )
            ),
        )
    )
    pump = new_pump(prescription=flex)
    pump.start_bolus(7 * HOUR, therapeutic(50_000, 2 * HOUR))  # 07:00-09:00, over the 08:00 step
    pump.advance_to(9 * HOUR)
    assert pump.status().mode is Mode.FLEX
    assert pump.status().current_rate_nl_per_day == 480_000
    pump.advance_to(DAY)
    basal = 96_000 * 7 // 24 + 480_000 * 15 // 24
    assert pump.total_delivered_nl == basal + 50_000


def test_a_prescription_committed_during_a_bolus_starts_after_it() -> None:
    pump = new_pump()
    pump.start_bolus(0, Bolus.at_max_rate(kind=BolusKind.BRIDGE, volume_nl=250_000, profile=P20))
    pump.program(60, Simple(rate_nl_per_day=960_000))
    assert pump.bolus is not None
    pump.advance_to(15 * 60 + HOUR)  # bridge: 0.25 mL at 1 mL/h = 15 min
    assert pump.total_delivered_nl == 250_000 + 40_000
    assert events(pump, EventCode.PROGRAMMED) == [(T0_CLOCK_S + 60, Mode.SIMPLE, 960_000)]


def test_low_reservoir_at_day_ninety_exactly() -> None:
    pump = new_pump(reservoir_nl=20_000_000)  # 20 mL, 0.2 mL/day, 2 mL alarm volume
    pump.advance_to(90 * DAY - 1)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == []
    pump.advance_to(90 * DAY)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [T0_CLOCK_S + 90 * DAY]
    assert pump.estimated_reservoir_nl == 2_000_000


def test_seven_years_take_well_under_a_second() -> None:
    pump = new_pump(profile=P40, prescription=Flex(days=(THIRTEEN_STEPS,)), reservoir_nl=40_000_000)
    started = time.perf_counter()
    for day in range(90, 7 * 365, 90):
        pump.advance_to(day * DAY)
        pump.refill(
            day * DAY,
            removed_nl=pump.estimated_reservoir_nl,
            added_nl=40_000_000,
            concentration_ug_per_ml=500,
        )
    pump.advance_to(7 * 365 * DAY)
    elapsed = time.perf_counter() - started
    # Event-driven: about one segment per flex step per day, never per tick.
    assert pump.segments_processed <= 13 * 7 * 365 + 100
    assert elapsed < 1.0
    assert pump.total_filled_nl == (
        pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    )


# ------------------------------------------------------------------ stop, resume, boluses


def test_stop_cancels_the_bolus_and_resume_returns_to_the_mode() -> None:
    pump = new_pump()
    pump.start_bolus(0, therapeutic(100_000, HOUR))
    pump.stop(HOUR // 2, StopReason.MRI)
    assert events(pump, EventCode.BOLUS_CANCELLED) == [
        (T0_CLOCK_S + HOUR // 2, BolusKind.THERAPEUTIC, 50_000)
    ]
    assert pump.status().stop_reason is StopReason.MRI
    assert not pump.status().delivering
    with pytest.raises(InvalidStateError):
        pump.stop(HOUR, StopReason.OTHER)
    with pytest.raises(InvalidStateError, match="stopped"):
        pump.start_bolus(HOUR, therapeutic())
    pump.advance_to(DAY)
    assert pump.total_delivered_nl == 50_000
    pump.resume(DAY)
    assert events(pump, EventCode.RESUMED) == [(T0_CLOCK_S + DAY, Mode.SIMPLE, 0)]
    with pytest.raises(InvalidStateError):
        pump.resume(DAY)
    pump.advance_to(2 * DAY)
    assert pump.total_delivered_nl == 50_000 + 200_000  # nothing while stopped


def test_bolus_refusals() -> None:
    pump = new_pump(reservoir_nl=1_100_000)
    with pytest.raises(OutOfRangeError, match="what the reservoir can deliver"):
        pump.start_bolus(0, therapeutic(100_001, HOUR))
    with pytest.raises(OutOfRangeError, match="request_patient_dose"):
        pump.start_bolus(0, Bolus(kind=BolusKind.PATIENT, volume_nl=10_000, duration_s=600))
    pump.start_bolus(0, therapeutic(50_000, HOUR))
    with pytest.raises(InvalidStateError, match="bolus is running"):
        pump.start_bolus(1, therapeutic(10_000, HOUR))
    assert pump.cancel_bolus(HOUR // 4) == 12_500
    with pytest.raises(InvalidStateError):
        pump.cancel_bolus(HOUR // 4)
    pump.program(HOUR, Stopped())
    with pytest.raises(InvalidStateError, match="STOPPED"):
        pump.start_bolus(HOUR, therapeutic(10_000, HOUR))


# ------------------------------------------------------------------ refill


def test_refill_reports_expected_volume_and_discrepancy() -> None:
    pump = new_pump(reservoir_nl=10_000_000)
    pump.advance_to(10 * DAY)  # 2 mL delivered: 8 mL expected
    result = pump.refill(
        10 * DAY, removed_nl=7_500_000, added_nl=18_000_000, concentration_ug_per_ml=1000
    )
    assert (result.expected_nl, result.removed_nl, result.discrepancy_nl) == (
        8_000_000,
        7_500_000,
        -500_000,
    )
    assert not result.discrepancy_flagged
    assert result.concentration_changed
    assert result.reservoir_nl == 18_500_000  # 0.5 mL stayed in and 18 mL went in
    assert pump.concentration_ug_per_ml == 1000
    assert events(pump, EventCode.REFILLED) == [(T0_CLOCK_S + 10 * DAY, 18_000_000, 1000)]


@pytest.mark.parametrize(("profile", "threshold_nl"), [(P20, 1_000_000), (P40, 2_000_000)])
def test_discrepancy_over_the_threshold_is_flagged(profile: object, threshold_nl: int) -> None:
    assert profile in (P20, P40)
    pump = new_pump(profile=P20 if profile is P20 else P40, reservoir_nl=10_000_000)
    ok = pump.refill(
        0, removed_nl=10_000_000 - threshold_nl, added_nl=0, concentration_ug_per_ml=500
    )
    assert not ok.discrepancy_flagged
    pump2 = new_pump(profile=P20 if profile is P20 else P40, reservoir_nl=10_000_000)
    bad = pump2.refill(
        0, removed_nl=10_000_000 - threshold_nl - 1, added_nl=0, concentration_ug_per_ml=500
    )
    assert bad.discrepancy_flagged


def test_removing_more_than_the_reservoir_holds_is_a_flagged_pocket_fill() -> None:
    pump = new_pump(reservoir_nl=3_000_000)
    result = pump.refill(0, removed_nl=6_000_000, added_nl=20_000_000, concentration_ug_per_ml=500)
    assert result.discrepancy_nl == 3_000_000
    assert result.discrepancy_flagged
    assert pump.total_removed_nl == 3_000_000  # only what was in the reservoir left it
    assert pump.reservoir_nl == 20_000_000
    assert (
        pump.total_filled_nl == pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    )


def test_overfill_is_refused() -> None:
    pump = new_pump(reservoir_nl=5_000_000)
    with pytest.raises(OverfillError) as info:
        pump.refill(0, removed_nl=0, added_nl=15_000_001, concentration_ug_per_ml=500)
    assert info.value.room_nl == 15_000_000
    assert pump.estimated_reservoir_nl == 5_000_000


# ------------------------------------------------------------------ settings and clock


def test_alarm_volume_range_and_immediate_alarm() -> None:
    pump = new_pump(reservoir_nl=3_000_000)
    with pytest.raises(OutOfRangeError) as info:
        pump.set_alarm_volume(0, P20.max_alarm_volume_nl + 1)
    assert info.value.field == "alarm_volume_nl"
    with pytest.raises(OutOfRangeError):
        pump.set_alarm_volume(0, P20.min_alarm_volume_nl - 1)
    pump.set_alarm_volume(10, 4_000_000)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [T0_CLOCK_S + 10]
    assert events(pump, EventCode.ALARM_VOLUME_SET) == [(T0_CLOCK_S + 10, 4_000_000, 0)]
    pump.set_alarm_volume(20, 2_000_000)
    assert pump.status().active_alarms == ()


def test_set_clock_moves_the_flex_phase_and_logs_the_change() -> None:
    flex = Flex(
        days=(
            DayProfile(
                steps=(
                    FlexStep(start_min=0, rate_nl_per_day=100_000),
                    FlexStep(start_min=12 * 60, rate_nl_per_day=500_000),
                )
            ),
        )
    )
    pump = new_pump(prescription=flex)
    assert pump.status().basal_rate_nl_per_day == 100_000
    pump.set_clock(60, T0_CLOCK_S + 13 * HOUR)
    assert events(pump, EventCode.CLOCK_SET) == [(T0_CLOCK_S + 13 * HOUR, 13 * HOUR - 60, 0)]
    assert pump.status().basal_rate_nl_per_day == 500_000
    assert pump.clock(60) == T0_CLOCK_S + 13 * HOUR
    with pytest.raises(OutOfRangeError):
        pump.set_clock(60, 2**32)
    with pytest.raises(OutOfRangeError) as info:
        pump.set_clock(60, 2**32 - 1)  # a jump of more than 2**31 s does not fit the log
    assert info.value.field == "delta_s"


# ------------------------------------------------------------------ patient doses

DOSES = PatientDoseSettings(
    enabled=True, volume_nl=20_000, duration_s=600, lockout_s=2 * HOUR, max_per_24h=3
)


def test_patient_doses_lockout_limit_and_refusals_logged() -> None:
    pump = new_pump()
    with pytest.raises(NotEnabledError):
        pump.request_patient_dose(0)
    assert events(pump, EventCode.PATIENT_DOSE_REFUSED) == [(T0_CLOCK_S, ErrorCode.NOT_ENABLED, 0)]
    pump.set_patient_settings(0, DOSES)
    assert events(pump, EventCode.PATIENT_SETTINGS_SET) == [(T0_CLOCK_S, 20_000, 3)]
    grant = pump.request_patient_dose(100)
    assert (grant.volume_nl, grant.doses_in_24h) == (20_000, 1)
    assert grant.ends_at_clock_s == T0_CLOCK_S + 700
    assert grant.next_allowed_at_clock_s == T0_CLOCK_S + 100 + 2 * HOUR
    assert pump.status().bolus_kind is BolusKind.PATIENT
    with pytest.raises(InvalidStateError):
        pump.request_patient_dose(200)  # the dose is still running
    with pytest.raises(PatientDoseLockoutError) as lock:
        pump.request_patient_dose(HOUR)
    assert lock.value.seconds_remaining == HOUR + 100
    pump.request_patient_dose(100 + 2 * HOUR)
    third = pump.request_patient_dose(100 + 4 * HOUR)
    assert third.doses_in_24h == 3
    assert third.next_allowed_at_clock_s == T0_CLOCK_S + 100 + DAY
    with pytest.raises(PatientDoseLimitError) as limit:
        pump.request_patient_dose(100 + 6 * HOUR)
    assert limit.value.seconds_remaining == DAY - 6 * HOUR
    refused = [a for _, a, _ in events(pump, EventCode.PATIENT_DOSE_REFUSED)]
    assert refused == [
        ErrorCode.NOT_ENABLED,
        ErrorCode.INVALID_STATE,
        ErrorCode.PATIENT_DOSE_LOCKOUT,
        ErrorCode.PATIENT_DOSE_LIMIT,
    ]
    assert pump.request_patient_dose(100 + DAY).doses_in_24h == 3
    assert pump.status().patient_doses_in_24h == 3


def test_patient_doses_refused_while_halted_or_stopped() -> None:
    pump = new_pump()
    pump.set_patient_settings(0, DOSES)
    pump.set_motor_stall(0, True)
    with pytest.raises(PumpHaltedError):
        pump.request_patient_dose(0)
    pump.set_motor_stall(0, False)
    pump.stop(0, StopReason.ADVERSE_EFFECT)
    with pytest.raises(InvalidStateError):
        pump.request_patient_dose(0)


def test_setting_the_clock_does_not_shorten_a_lockout() -> None:
    pump = new_pump()
    pump.set_patient_settings(0, DOSES)
    pump.request_patient_dose(0)
    pump.set_clock(HOUR, T0_CLOCK_S + 10 * HOUR)
    with pytest.raises(PatientDoseLockoutError):
        pump.request_patient_dose(HOUR)


# ------------------------------------------------------------------ refused commands change nothing

Command = Callable[[Pump], object]


def prepared() -> Pump:
    pump = new_pump(reservoir_nl=5_000_000)
    pump.set_patient_settings(0, DOSES)
    pump.start_bolus(0, therapeutic(10_000, HOUR))
    pump.advance_to(HOUR // 2)
    return pump


REFUSED: list[tuple[str, Command]] = [
    ("program", lambda p: p.program(p.t, Simple(rate_nl_per_day=1))),
    ("bolus running", lambda p: p.start_bolus(p.t, therapeutic())),
    (
        "refill overfill",
        lambda p: p.refill(p.t, removed_nl=0, added_nl=20_000_000, concentration_ug_per_ml=500),
    ),
    (
        "refill concentration",
        lambda p: p.refill(p.t, removed_nl=0, added_nl=1, concentration_ug_per_ml=7),
    ),
    (
        "refill negative",
        lambda p: p.refill(p.t, removed_nl=-1, added_nl=1, concentration_ug_per_ml=500),
    ),
    ("alarm volume", lambda p: p.set_alarm_volume(p.t, 1)),
    ("silence", lambda p: p.silence_alarm(p.t, AlarmCode.EOS)),
    ("clear", lambda p: p.clear_alarm(p.t, AlarmCode.ERI)),
    ("clock", lambda p: p.set_clock(p.t, -5)),
    (
        "patient settings",
        lambda p: p.set_patient_settings(p.t, dataclasses.replace(DOSES, lockout_s=1)),
    ),
    ("resume", lambda p: p.resume(p.t)),
    ("battery", lambda p: p.set_battery(p.t, 1001)),
    ("telemetry", lambda p: p.note_telemetry(p.t, -1)),
    ("log", lambda p: p.log_event(p.t, EventCode.SECURITY, 2**31, 0)),
    ("backwards", lambda p: p.advance_to(p.t - 1)),
]


@pytest.mark.parametrize(("name", "command"), REFUSED, ids=[n for n, _ in REFUSED])
def test_a_refused_command_changes_nothing(name: str, command: Command) -> None:
    pump = prepared()
    before = copy.deepcopy(pump)
    with pytest.raises((RequestError, TimeWentBackwardsError, WrongTypeError)):
        command(pump)
    assert pump == before, name


def test_a_refused_patient_dose_changes_nothing_but_the_log() -> None:
    pump = prepared()
    before = copy.deepcopy(pump)
    with pytest.raises(InvalidStateError):
        pump.request_patient_dose(pump.t)
    entry = list(pump.event_log)[-1]
    assert (entry.code, entry.a) == (EventCode.PATIENT_DOSE_REFUSED, ErrorCode.INVALID_STATE)
    before.log_event(pump.t, EventCode.PATIENT_DOSE_REFUSED, ErrorCode.INVALID_STATE, 0)
    assert pump == before


# ------------------------------------------------------------------ battery and telemetry


def test_telemetry_drains_the_battery_exactly() -> None:
    pump = new_pump(prescription=Stopped())
    start = pump.battery_uc
    pump.note_telemetry(0, 600)
    assert start - pump.battery_uc == 600 * P20.battery_telemetry_drain_uc_per_s
    pump.advance_to(DAY)
    assert start - pump.battery_uc == (
        600 * P20.battery_telemetry_drain_uc_per_s + DAY * P20.battery_quiescent_drain_uc_per_s
    )


def test_log_event_is_stamped_with_the_rtc() -> None:
    pump = new_pump()
    pump.log_event(30, EventCode.SESSION_OPENED, 1, 0)
    assert events(pump, EventCode.SESSION_OPENED) == [(T0_CLOCK_S + 30, 1, 0)]
    with pytest.raises(WrongTypeError):
        pump.log_event(30, 22, 1, 0)  # type: ignore[arg-type]


# ------------------------------------------------------------------ delivery accuracy bias


def test_bias_makes_the_estimate_drift_and_the_refill_finds_it() -> None:
    biased = dataclasses.replace(P20, delivery_bias_ppm=50_000)  # delivers 5 % more
    pump = new_pump(
        profile=biased, reservoir_nl=20_000_000, prescription=Simple(rate_nl_per_day=1_000_000)
    )
    pump.advance_to(15 * DAY)
    assert pump.total_commanded_nl == 15_000_000
    assert pump.total_delivered_nl == 15_750_000
    assert pump.estimated_reservoir_nl == 5_000_000
    assert pump.reservoir_nl == 4_250_000
    result = pump.refill(
        15 * DAY, removed_nl=pump.reservoir_nl, added_nl=15_000_000, concentration_ug_per_ml=500
    )
    assert result.discrepancy_nl == -750_000
    assert (
        pump.total_filled_nl == pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    )
    # A dry pump pumps nothing: with a large bias the reservoir empties before the estimate does.
    fast = dataclasses.replace(P20, delivery_bias_ppm=500_000)
    dry = new_pump(
        profile=fast, reservoir_nl=4_000_000, prescription=Simple(rate_nl_per_day=1_000_000)
    )
    dry.advance_to(10 * DAY)
    assert dry.reservoir_nl == 0
    assert dry.total_delivered_nl == 4_000_000
    assert dry.halted_by == (AlarmCode.EMPTY_RESERVOIR,)
