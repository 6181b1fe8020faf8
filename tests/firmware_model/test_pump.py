"""The pump aggregate: worked checks from the domain notes and every command."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from fractions import Fraction

import pytest

from firmware_model.errors import (
    ConcentrationMismatchError,
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
from firmware_model.prescription import Bolus, PatientDoseSettings
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump
from protocol.enums import AlarmCode, BolusKind, ErrorCode, EventCode, Mode, StopReason
from protocol.timebase import SECONDS_PER_DAY

from . import rx
from .builders import T0_CLOCK_S, events, new_pump, raised, refill

DAY = SECONDS_PER_DAY
HOUR = 3_600
P20, P40 = PROFILES[20], PROFILES[40]

THIRTEEN_STEPS = [(i * 105, 48_000 + 96_000 * i) for i in range(13)]
"""(start_min, rate_nl_per_day) of a 13-step flex day."""


def therapeutic(pump: Pump, volume_nl: int = 100_000, duration_s: int = HOUR) -> Bolus:
    """The therapeutic bolus whose dose is ``volume_nl`` of the drug in the pump."""
    dose = rx.dose_for_rate(volume_nl, pump.concentration_ug_per_ml)
    bolus = pump.therapeutic_bolus(dose_ng=dose, duration_s=duration_s)
    assert (bolus.kind, bolus.volume_nl, bolus.dose_ng) == (BolusKind.THERAPEUTIC, volume_nl, dose)
    return bolus


# ------------------------------------------------------------------ construction and time


def test_new_pump_logs_power_on_and_reports_its_status() -> None:
    pump = new_pump()
    assert events(pump, EventCode.POWER_ON) == [(T0_CLOCK_S, 20_000_000, 500)]
    status = pump.status()
    assert (status.model, status.serial, status.firmware_version) == (20, "VP-TEST-0001", "1.0.0")
    assert (status.clock_s, status.mode, status.delivering) == (T0_CLOCK_S, Mode.SIMPLE, True)
    assert status.capacity_nl == 20_000_000
    assert status.battery_permille == 1000
    assert status.current_rate_nl_per_day == status.basal_rate_nl_per_day == 200_000
    # 0.2 mL/day of 500 mcg/mL is 100 mcg/day.
    assert (status.daily_dose_ng, status.daily_volume_nl) == (100_000, 200_000)
    assert (status.concentration_ug_per_ml, status.stop_reason) == (500, StopReason.NONE)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"serial": ""}, OutOfRangeError),
        ({"serial": "x" * 33}, OutOfRangeError),
        ({"reservoir_nl": 20_000_001}, OutOfRangeError),
        ({"concentration_ug_per_ml": 750}, OutOfRangeError),
        ({"concentration_ug_per_ml": 50}, OutOfRangeError),  # trial-only without the override
        ({"clock_offset_s": -1}, OutOfRangeError),
        # protocol.battery refuses it now, with a ValueError (OutOfRangeError before #12).
        ({"battery_permille": 1001}, ValueError),
        ({"prescription": rx.simple(10)}, OutOfRangeError),
        ({"prescription": rx.simple(100_000, 1000)}, ConcentrationMismatchError),
        ({"prescription": rx.simple(100_000).with_concentration(1000)}, ConcentrationMismatchError),
        ({"prescription": "SIMPLE 0.1 mL/day"}, WrongTypeError),
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
        "prescription": rx.simple(100_000),
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
        prescription=rx.stopped(50),
        allow_nonstandard_concentration=True,
    )
    assert pump.concentration_ug_per_ml == 50
    with pytest.raises(OutOfRangeError, match="even with the override"):
        refill(
            pump,
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
        pump.program(50, rx.minimum_rate())
    assert pump.t == 100
    assert pump.clock(100) == T0_CLOCK_S + 100


# ------------------------------------------------------------------ worked checks


def test_thirteen_step_flex_day_delivers_exactly_the_sum_of_its_steps() -> None:
    pump = new_pump(profile=P40, prescription=rx.flex(THIRTEEN_STEPS))
    steps = THIRTEEN_STEPS
    ends = [start for start, _ in steps[1:]] + [1_440]
    per_step = [
        Fraction(rate * (e - start), 1_440) for (start, rate), e in zip(steps, ends, strict=True)
    ]
    assert all(v.denominator == 1 for v in per_step)  # chosen so each step is whole nL
    pump.advance_to(DAY)
    assert pump.total_delivered_nl == sum(per_step)
    assert pump.status().daily_volume_nl == sum(per_step)
    # Step by step too: at each boundary the delivered volume is the running sum.
    pump2 = new_pump(profile=P40, prescription=rx.flex(THIRTEEN_STEPS))
    running = Fraction(0)
    for step, end, volume in zip(steps, ends, per_step, strict=True):
        pump2.advance_to(end * 60)
        running += volume
        assert pump2.total_delivered_nl == running, step


def test_flex_days_with_fractional_volumes_lose_nothing_over_many_days() -> None:
    # Odd rates: at 1000 mcg/mL a dose in ng/day runs the same number of nL/day.
    odd = rx.flex([(0, 48_001), (15, 99_999)], 1000)
    pump = new_pump(profile=P40, concentration_ug_per_ml=1000, prescription=odd)
    per_day = Fraction(48_001 * 15 + 99_999 * (1_440 - 15), 1_440)
    assert per_day.denominator != 1
    for n in (1, 2, 7, 30, 365):
        pump.advance_to(n * DAY)
        assert pump.total_delivered_nl == int(per_day * n)  # floor of the exact total


def test_bolus_returns_to_simple_mode() -> None:
    pump = new_pump()
    pump.advance_to(HOUR)
    pump.start_bolus(HOUR, therapeutic(pump, 100_000, HOUR))
    status = pump.status()
    assert (status.bolus_kind, status.bolus_volume_nl, status.bolus_remaining_nl) == (
        BolusKind.THERAPEUTIC,
        100_000,
        100_000,
    )
    assert status.bolus_dose_ng == 50_000  # 50 mcg of 500 mcg/mL
    assert status.current_rate_nl_per_day == 2_400_000
    assert status.bolus_ends_at_s == T0_CLOCK_S + 2 * HOUR
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
    flex = rx.flex([(0, 96_000), (8 * 60, 480_000)])
    pump = new_pump(prescription=flex)
    pump.start_bolus(
        7 * HOUR, therapeutic(pump, 50_000, 2 * HOUR)
    )  # 07:00-09:00, over the 08:00 step
    pump.advance_to(9 * HOUR)
    assert pump.status().mode is Mode.FLEX
    assert pump.status().current_rate_nl_per_day == 480_000
    pump.advance_to(DAY)
    basal = 96_000 * 7 // 24 + 480_000 * 15 // 24
    assert pump.total_delivered_nl == basal + 50_000


def test_a_prescription_committed_during_a_bolus_starts_after_it() -> None:
    # The bridge is no longer a bolus (#12): a priming bolus is the one at the maximum rate.
    pump = new_pump()
    pump.start_bolus(0, Bolus.priming(volume_nl=250_000, profile=P20))
    pump.program(60, rx.simple(960_000))
    assert pump.bolus is not None
    pump.advance_to(15 * 60 + HOUR)  # priming: 0.25 mL at 1 mL/h = 15 min
    assert pump.total_delivered_nl == 250_000 + 40_000
    # PROGRAMMED's b is today's dose in ng now: 0.96 mL/day of 500 mcg/mL = 480 mcg/day.
    assert events(pump, EventCode.PROGRAMMED) == [(T0_CLOCK_S + 60, Mode.SIMPLE, 480_000)]


def test_low_reservoir_at_day_ninety_exactly() -> None:
    pump = new_pump(reservoir_nl=20_000_000)  # 20 mL, 0.2 mL/day, 2 mL alarm volume
    pump.advance_to(90 * DAY - 1)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == []
    pump.advance_to(90 * DAY)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [T0_CLOCK_S + 90 * DAY]
    assert pump.estimated_reservoir_nl == 2_000_000


def test_seven_years_take_well_under_a_second() -> None:
    pump = new_pump(profile=P40, prescription=rx.flex(THIRTEEN_STEPS), reservoir_nl=40_000_000)
    started = time.perf_counter()
    for day in range(90, 7 * 365, 90):
        pump.advance_to(day * DAY)
        refill(pump, day * DAY, removed_nl=pump.estimated_reservoir_nl, added_nl=40_000_000)
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
    pump.start_bolus(0, therapeutic(pump, 100_000, HOUR))
    pump.stop(HOUR // 2, StopReason.MRI)
    assert events(pump, EventCode.BOLUS_CANCELLED) == [
        (T0_CLOCK_S + HOUR // 2, BolusKind.THERAPEUTIC, 50_000)
    ]
    assert pump.status().stop_reason is StopReason.MRI
    assert not pump.status().delivering
    # One meaning of stopped (#12): the mode reads STOPPED while STOP_PUMP is in force.
    assert pump.mode is pump.status().mode is Mode.STOPPED
    assert pump.prescription.mode is Mode.SIMPLE
    with pytest.raises(InvalidStateError):
        pump.stop(HOUR, StopReason.OTHER)
    with pytest.raises(InvalidStateError, match="stopped"):
        pump.start_bolus(HOUR, therapeutic(pump))
    pump.advance_to(DAY)
    assert pump.total_delivered_nl == 50_000
    pump.resume(DAY)
    assert events(pump, EventCode.RESUMED) == [(T0_CLOCK_S + DAY, Mode.SIMPLE, 0)]
    assert (pump.mode, pump.status().stop_reason) == (Mode.SIMPLE, StopReason.NONE)
    with pytest.raises(InvalidStateError):
        pump.resume(DAY)
    pump.advance_to(2 * DAY)
    assert pump.total_delivered_nl == 50_000 + 200_000  # nothing while stopped


def test_bolus_refusals() -> None:
    pump = new_pump(reservoir_nl=1_100_000)
    with pytest.raises(OutOfRangeError, match="what the reservoir can deliver"):
        pump.start_bolus(0, therapeutic(pump, 100_002, HOUR))  # 2 nL hold a whole ng at 500
    with pytest.raises(OutOfRangeError, match="request_patient_dose"):
        pump.start_bolus(0, Bolus(kind=BolusKind.PATIENT, volume_nl=10_000, duration_s=600))
    pump.start_bolus(0, therapeutic(pump, 100_000, HOUR))  # exactly what it can deliver
    pump.cancel_bolus(0)
    pump.start_bolus(0, therapeutic(pump, 50_000, HOUR))
    with pytest.raises(InvalidStateError, match="bolus is running"):
        pump.start_bolus(1, therapeutic(pump, 10_000, HOUR))
    assert pump.cancel_bolus(HOUR // 4) == 12_500
    with pytest.raises(InvalidStateError):
        pump.cancel_bolus(HOUR // 4)
    pump.program(HOUR, rx.stopped())
    with pytest.raises(InvalidStateError, match="STOPPED"):
        pump.start_bolus(HOUR, therapeutic(pump, 10_000, HOUR))


def test_a_stopped_prescription_is_stopped_therapy_that_only_programming_restarts() -> None:
    # By design (#12): a STOPPED prescription is not delivering and reads STOPPED, with no
    # stop reason; RESUME only undoes STOP_PUMP and refuses it, saying what to do instead.
    pump = new_pump()
    pump.program(HOUR, rx.stopped())
    status = pump.status()
    assert (pump.mode, status.mode, status.stop_reason) == (
        Mode.STOPPED,
        Mode.STOPPED,
        StopReason.NONE,
    )
    assert not pump.delivering and not status.delivering
    assert status.current_rate_nl_per_day == 0
    with pytest.raises(InvalidStateError, match="program a prescription"):
        pump.resume(HOUR)
    with pytest.raises(InvalidStateError, match="already stopped"):
        pump.stop(HOUR, StopReason.OTHER)
    delivered = pump.total_delivered_nl
    pump.advance_to(DAY)
    assert pump.total_delivered_nl == delivered
    pump.program(DAY, rx.simple(200_000))
    assert pump.delivering and pump.mode is Mode.SIMPLE
    pump.advance_to(2 * DAY)
    assert pump.total_delivered_nl == delivered + 200_000


# ------------------------------------------------------------------ refill


def test_refill_reports_expected_volume_and_discrepancy() -> None:
    pump = new_pump(reservoir_nl=10_000_000)
    pump.advance_to(10 * DAY)  # 2 mL delivered: 8 mL expected
    result = refill(
        pump, 10 * DAY, removed_nl=7_500_000, added_nl=18_000_000, concentration_ug_per_ml=1000
    )
    assert (result.expected_nl, result.removed_nl, result.discrepancy_nl) == (
        8_000_000,
        7_500_000,
        -500_000,
    )
    assert not result.discrepancy_flagged
    assert result.concentration_changed
    assert result.reservoir_nl == 18_000_000  # emptied completely, then 18 mL went in
    assert pump.concentration_ug_per_ml == 1000
    assert events(pump, EventCode.REFILLED) == [(T0_CLOCK_S + 10 * DAY, 18_000_000, 1000)]
    # The same dose (100 mcg/day) of the stronger drug: half the volume (no bridge asked).
    assert pump.prescription == rx.simple(200_000).with_concentration(1000)
    assert (result.bridge_volume_nl, pump.bridge) == (0, None)
    assert pump.status().basal_rate_nl_per_day == 100_000


@pytest.mark.parametrize(("profile", "threshold_nl"), [(P20, 1_000_000), (P40, 2_000_000)])
def test_discrepancy_over_the_threshold_is_flagged(profile: object, threshold_nl: int) -> None:
    assert profile in (P20, P40)
    pump = new_pump(profile=P20 if profile is P20 else P40, reservoir_nl=10_000_000)
    ok = refill(pump, 0, removed_nl=10_000_000 - threshold_nl, added_nl=0)
    assert not ok.discrepancy_flagged
    pump2 = new_pump(profile=P20 if profile is P20 else P40, reservoir_nl=10_000_000)
    bad = refill(pump2, 0, removed_nl=10_000_000 - threshold_nl - 1, added_nl=0)
    assert bad.discrepancy_flagged


def test_removing_more_than_the_reservoir_holds_is_a_flagged_pocket_fill() -> None:
    pump = new_pump(reservoir_nl=3_000_000)
    result = refill(pump, 0, removed_nl=6_000_000, added_nl=20_000_000)
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
        refill(pump, 0, removed_nl=0, added_nl=20_000_001)  # more than the 20 mL it holds
    assert info.value.room_nl == 20_000_000
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
    assert pump.status().alarms_active == ()


def test_set_clock_moves_the_flex_phase_and_logs_the_change() -> None:
    pump = new_pump(prescription=rx.flex([(0, 100_000), (12 * 60, 500_000)]))
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
    enabled=True, dose_ng=10_000, duration_s=600, lockout_s=2 * HOUR, max_per_24h=3
)
"""10 mcg a dose: 0.02 mL of the 500 mcg/mL the test pumps hold."""


def test_patient_doses_lockout_limit_and_refusals_logged() -> None:
    pump = new_pump()
    with pytest.raises(NotEnabledError):
        pump.request_patient_dose(0)
    assert events(pump, EventCode.PATIENT_DOSE_REFUSED) == [(T0_CLOCK_S, ErrorCode.NOT_ENABLED, 0)]
    pump.set_patient_settings(0, DOSES)
    # PATIENT_SETTINGS_SET's a is the dose in ng now.
    assert events(pump, EventCode.PATIENT_SETTINGS_SET) == [(T0_CLOCK_S, 10_000, 3)]
    grant = pump.request_patient_dose(100)
    assert (grant.dose_ng, grant.volume_nl, grant.doses_in_24h) == (10_000, 20_000, 1)
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
    pump.start_bolus(0, therapeutic(pump, 10_000, HOUR))
    pump.advance_to(HOUR // 2)
    return pump


REFUSED: list[tuple[str, Command]] = [
    ("program", lambda p: p.program(p.t, rx.simple(2))),
    ("program other drug", lambda p: p.program(p.t, rx.simple(200_000, 1000))),
    ("bolus running", lambda p: p.start_bolus(p.t, therapeutic(p))),
    ("refill overfill", lambda p: refill(p, p.t, removed_nl=0, added_nl=20_000_001)),
    (
        "refill concentration",
        lambda p: refill(p, p.t, removed_nl=0, added_nl=1, concentration_ug_per_ml=7),
    ),
    ("refill negative", lambda p: refill(p, p.t, removed_nl=-1, added_nl=1)),
    (
        "refill prescription for another drug",
        lambda p: refill(
            p,
            p.t,
            removed_nl=0,
            added_nl=1,
            concentration_ug_per_ml=1000,
            prescription=p.prescription,
        ),
    ),
    (
        "refill bridge without an implant record",
        lambda p: refill(
            p, p.t, removed_nl=0, added_nl=1, concentration_ug_per_ml=1000, bridge=True
        ),
    ),
    (
        "refill bridge at the same drug",
        lambda p: refill(p, p.t, removed_nl=0, added_nl=1, bridge=True),
    ),
    ("cancel bridge", lambda p: p.cancel_bridge(p.t)),
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
    pump = new_pump(prescription=rx.stopped())
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
    pump = new_pump(profile=biased, reservoir_nl=20_000_000, prescription=rx.simple(1_000_000))
    pump.advance_to(15 * DAY)
    assert pump.total_commanded_nl == 15_000_000
    assert pump.total_delivered_nl == 15_750_000
    assert pump.estimated_reservoir_nl == 5_000_000
    assert pump.reservoir_nl == 4_250_000
    result = refill(pump, 15 * DAY, removed_nl=pump.reservoir_nl, added_nl=15_000_000)
    assert result.discrepancy_nl == -750_000
    assert (
        pump.total_filled_nl == pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    )
    # A dry pump pumps nothing: with a large bias the reservoir empties before the estimate does.
    fast = dataclasses.replace(P20, delivery_bias_ppm=500_000)
    dry = new_pump(profile=fast, reservoir_nl=4_000_000, prescription=rx.simple(1_000_000))
    dry.advance_to(10 * DAY)
    assert dry.reservoir_nl == 0
    assert dry.total_delivered_nl == 4_000_000
    assert dry.halted_by == (AlarmCode.EMPTY_RESERVOIR,)
