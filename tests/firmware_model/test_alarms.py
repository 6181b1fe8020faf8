"""Alarms: the rule table, silence versus clear, self-clearing and latched alarms, halts."""

from __future__ import annotations

import pytest

from firmware_model.alarms import ALARM_RULES, AlarmTable, next_tone_at
from firmware_model.errors import ConditionPersistsError, InvalidStateError, PumpHaltedError
from firmware_model.profile import PROFILES
from protocol.enums import ALARM_CLASS, AlarmClass, AlarmCode, BolusKind, EventCode
from protocol.timebase import SECONDS_PER_DAY

from .builders import T0_CLOCK_S, events, new_pump, raised, refill

P20 = PROFILES[20]
DAY = SECONDS_PER_DAY


def test_every_alarm_has_a_rule_and_critical_ones_halt() -> None:
    assert set(ALARM_RULES) == set(AlarmCode)
    for code, rule in ALARM_RULES.items():
        if code is AlarmCode.LOW_BATTERY_RESET:
            # By design (#12): critical, but the pump runs the keep-open minimum rate.
            assert ALARM_CLASS[code] is AlarmClass.CRITICAL
            assert not rule.halts_delivery
            continue
        assert rule.halts_delivery == (ALARM_CLASS[code] is AlarmClass.CRITICAL)
    latched = {c for c, r in ALARM_RULES.items() if not r.auto_clears}
    assert latched == {AlarmCode.MEMORY_NON_CRITICAL, AlarmCode.MEMORY_CRITICAL}


def test_table_silence_and_clear_rules() -> None:
    table = AlarmTable()
    with pytest.raises(InvalidStateError):
        table.check_silence(AlarmCode.ERI)
    table.raise_alarm(AlarmCode.ERI, 100)
    table.raise_alarm(AlarmCode.MEMORY_NON_CRITICAL, 100)
    table.silence(AlarmCode.ERI)
    assert table.silenced_codes() == (AlarmCode.ERI,)
    with pytest.raises(InvalidStateError, match="already silenced"):
        table.silence(AlarmCode.ERI)
    with pytest.raises(ConditionPersistsError):
        table.check_clear(AlarmCode.ERI)
    table.check_clear(AlarmCode.MEMORY_NON_CRITICAL)
    with pytest.raises(InvalidStateError, match="not active"):
        table.check_clear(AlarmCode.EOS)


def test_tone_pattern_repeats_from_the_raise_time() -> None:
    assert next_tone_at(raised_at_clock_s=1_000, repeat_s=600, clock_s=900) == 1_000
    assert next_tone_at(raised_at_clock_s=1_000, repeat_s=600, clock_s=1_000) == 1_000
    assert next_tone_at(raised_at_clock_s=1_000, repeat_s=600, clock_s=1_001) == 1_600
    assert next_tone_at(raised_at_clock_s=1_000, repeat_s=600, clock_s=2_200) == 2_200


def test_the_most_severe_unsilenced_alarm_sets_the_tone() -> None:
    table = AlarmTable()
    assert table.sounding_tone(P20) is None
    table.raise_alarm(AlarmCode.LOW_RESERVOIR, 0)
    assert table.sounding_tone(P20) == P20.non_critical_tone
    table.raise_alarm(AlarmCode.MOTOR_STALL, 0)
    assert table.sounding_tone(P20) == P20.critical_tone
    table.silence(AlarmCode.MOTOR_STALL)
    assert table.sounding_tone(P20) == P20.non_critical_tone


def test_low_reservoir_silence_keeps_it_refill_clears_it_and_it_comes_back() -> None:
    pump = new_pump(reservoir_nl=3_000_000)  # 1 mL above the 2 mL alarm volume, 0.2 mL/day
    pump.advance_to(5 * DAY)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [T0_CLOCK_S + 5 * DAY]
    view = pump.alarms()[0]
    assert (view.code, view.alarm_class, view.silenced) == (
        AlarmCode.LOW_RESERVOIR,
        AlarmClass.NON_CRITICAL,
        False,
    )
    assert view.next_tone_at_clock_s == T0_CLOCK_S + 5 * DAY
    pump.advance_to(5 * DAY + 10)
    assert pump.alarms()[0].next_tone_at_clock_s == T0_CLOCK_S + 5 * DAY + 3_600

    pump.silence_alarm(5 * DAY + 10, AlarmCode.LOW_RESERVOIR)
    status = pump.status()
    assert status.alarms_active == (AlarmCode.LOW_RESERVOIR,)
    assert status.silenced_alarms == (AlarmCode.LOW_RESERVOIR,)
    assert status.tone is None
    assert pump.alarms()[0].next_tone_at_clock_s is None
    with pytest.raises(ConditionPersistsError):
        pump.clear_alarm(5 * DAY + 20, AlarmCode.LOW_RESERVOIR)

    refill(pump, 6 * DAY, removed_nl=1_800_000, added_nl=10_000_000)
    assert pump.status().alarms_active == ()
    assert events(pump, EventCode.ALARM_CLEARED) == [
        (T0_CLOCK_S + 6 * DAY, AlarmCode.LOW_RESERVOIR, 0)
    ]
    with pytest.raises(InvalidStateError):
        pump.clear_alarm(6 * DAY, AlarmCode.LOW_RESERVOIR)
    # 10 mL - 2 mL at 0.2 mL/day: the second episode starts 40 days later, sounding again.
    pump.advance_to(50 * DAY)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [T0_CLOCK_S + 5 * DAY, T0_CLOCK_S + 46 * DAY]
    assert pump.status().silenced_alarms == ()


def test_empty_reservoir_halts_delivery_and_a_refill_resumes_it() -> None:
    pump = new_pump(reservoir_nl=1_200_000)  # 0.2 mL above the 1 mL empty threshold
    pump.advance_to(3 * DAY)
    assert raised(pump, AlarmCode.EMPTY_RESERVOIR) == [T0_CLOCK_S + DAY]
    assert pump.halted_by == (AlarmCode.EMPTY_RESERVOIR,)
    assert pump.estimated_reservoir_nl == P20.empty_threshold_nl
    assert events(pump, EventCode.DELIVERY_HALTED) == [
        (T0_CLOCK_S + DAY, AlarmCode.EMPTY_RESERVOIR, 0)
    ]
    with pytest.raises(PumpHaltedError):
        pump.start_bolus(3 * DAY, pump.therapeutic_bolus(dose_ng=5_000, duration_s=600))
    refill(pump, 3 * DAY, removed_nl=1_000_000, added_nl=20_000_000)
    assert pump.delivering
    assert pump.status().alarms_active == ()
    pump.advance_to(4 * DAY)
    assert pump.estimated_reservoir_nl == 20_000_000 - 200_000


def test_motor_stall_halts_cancels_the_bolus_and_logs_recovery() -> None:
    pump = new_pump()
    # 50 mcg of 500 mcg/mL: 0.1 mL over an hour.
    pump.start_bolus(0, pump.therapeutic_bolus(dose_ng=50_000, duration_s=3_600))
    pump.set_motor_stall(1_800, True)
    assert pump.halted_by == (AlarmCode.MOTOR_STALL,)
    assert pump.bolus is None
    assert events(pump, EventCode.BOLUS_CANCELLED) == [
        (T0_CLOCK_S + 1_800, BolusKind.THERAPEUTIC, 50_000)
    ]
    delivered = pump.total_delivered_nl
    with pytest.raises(ConditionPersistsError):
        pump.clear_alarm(2_000, AlarmCode.MOTOR_STALL)
    pump.set_motor_stall(2_000, True)  # already stalled: nothing happens
    pump.advance_to(DAY)
    assert pump.total_delivered_nl == delivered
    pump.set_motor_stall(DAY, False)
    assert events(pump, EventCode.STALL_RECOVERY) == [(T0_CLOCK_S + DAY, DAY - 1_800, 0)]
    assert pump.status().alarms_active == ()
    assert pump.delivering
    pump.advance_to(2 * DAY)
    assert pump.total_delivered_nl == delivered + 200_000


def test_critical_memory_error_halts_until_a_clinician_clears_it() -> None:
    pump = new_pump()
    pump.inject_memory_error(100, critical=True)
    assert pump.halted_by == (AlarmCode.MEMORY_CRITICAL,)
    assert events(pump, EventCode.MEMORY_ERROR) == [
        (T0_CLOCK_S + 100, AlarmCode.MEMORY_CRITICAL, 0)
    ]
    pump.advance_to(DAY)
    before = pump.total_delivered_nl
    pump.clear_alarm(DAY, AlarmCode.MEMORY_CRITICAL)
    assert pump.delivering
    pump.advance_to(2 * DAY)
    assert pump.total_delivered_nl == before + 200_000


def test_non_critical_memory_error_does_not_halt() -> None:
    pump = new_pump()
    pump.inject_memory_error(100, critical=False)
    assert pump.delivering
    assert pump.status().alarms_active == (AlarmCode.MEMORY_NON_CRITICAL,)
    assert not pump.alarm_condition_present(AlarmCode.MEMORY_NON_CRITICAL)  # clearing is allowed
    pump.clear_alarm(200, AlarmCode.MEMORY_NON_CRITICAL)
    assert pump.status().alarms_active == ()


def test_condition_present_tells_whether_a_clear_would_be_refused() -> None:
    pump = new_pump(reservoir_nl=1_900_000)
    assert pump.status().alarms_active == (AlarmCode.LOW_RESERVOIR,)
    assert pump.alarm_condition_present(AlarmCode.LOW_RESERVOIR)
    assert not pump.alarm_condition_present(AlarmCode.EMPTY_RESERVOIR)
    pump.set_motor_stall(0, True)
    assert pump.alarm_condition_present(AlarmCode.MOTOR_STALL)


def test_battery_set_to_zero_raises_eri_then_eos_and_a_new_battery_clears_them() -> None:
    pump = new_pump()
    pump.set_battery(100, 0)
    assert raised(pump, AlarmCode.ERI) == raised(pump, AlarmCode.EOS) == [T0_CLOCK_S + 100]
    codes = [e.a for e in pump.event_log if e.code is EventCode.ALARM_RAISED]
    assert codes == [AlarmCode.ERI, AlarmCode.EOS]
    assert pump.halted_by == (AlarmCode.EOS,)
    pump.set_battery(200, 1000)
    assert pump.status().alarms_active == ()
    assert pump.delivering
