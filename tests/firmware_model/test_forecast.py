"""Forecasts agree with what the pump then does, to the second."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from firmware_model.errors import OutOfRangeError
from firmware_model.prescription import PatientDoseSettings, compile_for, validate
from firmware_model.profile import PROFILES, PumpProfile
from protocol.enums import AlarmCode, EventCode, StopReason
from protocol.forecast import BridgePlan, Plan, first_reach_t
from protocol.messages import PrescriptionSpec
from protocol.schedule import PatientRule
from protocol.timebase import SECONDS_PER_DAY

from . import rx
from .builders import T0_CLOCK_S, new_pump, raised, refill
from .strategies import STRATEGY_CONC, prescriptions, profiles

DAY = SECONDS_PER_DAY


def test_worked_example_low_reservoir_date_is_day_ninety() -> None:
    # 100 mcg/day at 500 mcg/mL = 0.2 mL/day; 20 mL with a 2 mL alarm volume.
    pump = new_pump(profile=PROFILES[20], reservoir_nl=20_000_000)
    assert pump.status().daily_volume_nl == 200_000
    assert pump.low_reservoir_at() == T0_CLOCK_S + 90 * DAY
    assert pump.empty_at() == T0_CLOCK_S + 95 * DAY
    pump.advance_to(100 * DAY)
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [T0_CLOCK_S + 90 * DAY]
    assert raised(pump, AlarmCode.EMPTY_RESERVOIR) == [T0_CLOCK_S + 95 * DAY]
    # Once the condition holds, the forecast is "now".
    assert pump.low_reservoir_at() == pump.clock(pump.t)


def test_no_forecast_when_nothing_will_flow_or_beyond_the_horizon() -> None:
    stopped = new_pump(prescription=rx.stopped())
    assert stopped.low_reservoir_at() is None
    assert stopped.eri_at() is not None  # the quiescent drain still runs the battery down
    paused = new_pump()
    paused.stop(0, StopReason.MRI)
    assert paused.low_reservoir_at() is None
    # 38 mL at 0.006 mL/day takes 17 years, beyond the 10-year horizon.
    slow = new_pump(profile=PROFILES[40], prescription=rx.minimum_rate())
    assert slow.low_reservoir_at() is None


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    profile=profiles(),
    data=st.data(),
    start_s=st.integers(0, 7 * DAY),
    with_bolus=st.booleans(),
)
def test_reservoir_forecasts_match_the_raise_times(
    profile: PumpProfile, data: st.DataObject, start_s: int, with_bolus: bool
) -> None:
    prescription = data.draw(prescriptions(profile, stopped=False))
    reservoir = data.draw(st.integers(profile.empty_threshold_nl + 100_000, profile.capacity_nl))
    pump = new_pump(
        profile=profile,
        prescription=prescription,
        concentration_ug_per_ml=STRATEGY_CONC,
        reservoir_nl=reservoir,
        t=start_s,
    )
    if with_bolus and reservoir - profile.empty_threshold_nl >= 50_000:
        bolus = pump.therapeutic_bolus(dose_ng=50_000, duration_s=3_601)
        assert bolus.volume_nl == 50_000  # 50 mcg of 1000 mcg/mL
        pump.start_bolus(start_s, bolus)
    low, empty = pump.low_reservoir_at(), pump.empty_at()
    pump.advance_to(start_s + profile.forecast_horizon_s)
    # Forecasts assume the pump keeps running; a battery that dies first ends the comparison.
    eos = raised(pump, AlarmCode.EOS)
    for forecast, code in ((low, AlarmCode.LOW_RESERVOIR), (empty, AlarmCode.EMPTY_RESERVOIR)):
        actual = raised(pump, code)[:1]
        if eos and (forecast is None or forecast > eos[0]):
            assert not actual or actual[0] <= eos[0]
            continue
        assert actual == ([] if forecast is None else [forecast])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(profile=profiles(), data=st.data(), permille=st.integers(0, 60))
def test_eri_forecast_matches_the_raise_time(
    profile: PumpProfile, data: st.DataObject, permille: int
) -> None:
    prescription = data.draw(prescriptions(profile))
    pump = new_pump(
        profile=profile,
        prescription=prescription,
        concentration_ug_per_ml=STRATEGY_CONC,
        battery_permille=permille,
    )
    eri = pump.eri_at()
    assert eri is not None  # a quiescent drain always ends within the horizon here
    pump.advance_to(eri - T0_CLOCK_S)
    if not raised(pump, AlarmCode.EMPTY_RESERVOIR):  # forecasts assume the pump keeps running
        assert raised(pump, AlarmCode.ERI) == [eri]


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    data=st.data(),
    max_per_24h=st.integers(1, 12),
    lockout_min=st.integers(1, 96),
    volume_nl=st.integers(10_000, 200_000),
)
def test_low_reservoir_forecast_assumes_patient_doses_at_their_maximum(
    data: st.DataObject, max_per_24h: int, lockout_min: int, volume_nl: int
) -> None:
    profile = PROFILES[20]
    prescription = data.draw(prescriptions(profile, stopped=False))
    settings_ = PatientDoseSettings(
        enabled=True,
        dose_ng=volume_nl,  # at 1000 mcg/mL a dose in ng is its volume in nL
        duration_s=data.draw(st.integers(profile.shortest_bolus_s(volume_nl), 900)),
        lockout_s=lockout_min * 15 * 60,
        max_per_24h=max_per_24h,
    )
    pump = new_pump(
        profile=profile,
        prescription=prescription,
        concentration_ug_per_ml=STRATEGY_CONC,
        reservoir_nl=4_000_000,
    )
    pump.set_patient_settings(0, settings_)
    grant = pump.request_patient_dose(0)
    assert grant.volume_nl == volume_nl
    next_t = grant.next_allowed_at_clock_s - T0_CLOCK_S
    pump.advance_to(min(1_234, next_t))
    forecast = pump.low_reservoir_at()
    assert forecast is not None
    # A patient who asks at every second the rule allows, until the reservoir is low.
    while True:
        pump.advance_to(next_t)
        if raised(pump, AlarmCode.LOW_RESERVOIR):
            break
        grant = pump.request_patient_dose(next_t)
        next_t = grant.next_allowed_at_clock_s - T0_CLOCK_S
    assert raised(pump, AlarmCode.LOW_RESERVOIR) == [forecast]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    profile=profiles(),
    data=st.data(),
    with_doses=st.booleans(),
    with_bridge=st.booleans(),
    max_per_24h=st.integers(1, 12),
    lockout_min=st.integers(1, 96),
    clock_s=st.integers(0, 2**31),
    remainder=st.integers(0, DAY - 1),
)
def test_skipping_repetitions_gives_the_same_answer_as_plain_integration(
    *,
    profile: PumpProfile,
    data: st.DataObject,
    with_doses: bool,
    with_bridge: bool,
    max_per_24h: int,
    lockout_min: int,
    clock_s: int,
    remainder: int,
) -> None:
    prescription: PrescriptionSpec = data.draw(prescriptions(profile, stopped=False))

    def rule(volume_nl: int) -> PatientRule | None:
        if not with_doses:
            return None
        return PatientRule(
            volume_nl=volume_nl,
            duration_s=300,
            lockout_s=lockout_min * 15 * 60,
            max_per_24h=max_per_24h,
        )

    # A bridge from 1000 to 2000 mcg/mL (after it, half the volumes) ending within weeks.
    bridge = BridgePlan(
        remaining_nl=data.draw(st.integers(1, 2_000_000)),
        schedule_after=compile_for(prescription.with_concentration(2000), profile, 2000),
        patient_after=rule(10_000),
        old_concentration_ug_per_ml=STRATEGY_CONC,
        new_concentration_ug_per_ml=2000,
    )
    plan = Plan(
        t=0,
        clock_offset_s=clock_s,
        schedule=validate(prescription, profile, STRATEGY_CONC),
        basal_remainder=remainder,
        bolus=None,
        patient=rule(20_000),
        grants_t=tuple(
            data.draw(st.lists(st.integers(-DAY, 0), max_size=3, unique=True).map(sorted))
        ),
        delivering=True,
        bridge=bridge if with_bridge else None,
    )
    bat = profile.battery()
    queries = [
        (0, 1, data.draw(st.integers(1, 3 * profile.capacity_nl))),
        (bat.quiescent_drain_uc_per_s, bat.drain_uc_per_nl, data.draw(st.integers(1, 10**9))),
    ]
    for q, p, need in queries:
        fast = first_reach_t(plan, q=q, p=p, need=need, horizon_s=120 * DAY)
        slow = first_reach_t(plan, q=q, p=p, need=need, horizon_s=120 * DAY, skip_cycles=False)
        assert fast == slow


def test_seven_year_eri_forecast_with_patient_doses_is_cheap() -> None:
    pump = new_pump(profile=PROFILES[40], prescription=rx.simple(300_000))
    pump.set_patient_settings(
        0,
        PatientDoseSettings(
            enabled=True, dose_ng=10_000, duration_s=300, lockout_s=3 * 3_600, max_per_24h=5
        ),
    )
    assert pump.patient_settings.rule(pump.concentration_ug_per_ml).volume_nl == 20_000
    eri = pump.eri_at()
    assert eri is not None
    slow = first_reach_t(
        pump._plan(),  # the pump's own plan, integrated without skipping
        q=pump.profile.battery_quiescent_drain_uc_per_s,
        p=pump.profile.battery_drain_uc_per_nl,
        need=pump.battery_uc
        - pump.profile.battery().eri_threshold_uc(pump.schedule.weekly_integral)
        + 1,
        horizon_s=pump.profile.forecast_horizon_s,
        skip_cycles=False,
    )
    assert slow is not None
    assert eri == T0_CLOCK_S + slow
    assert 4 * 365 * DAY < eri - T0_CLOCK_S < 7 * 365 * DAY


@pytest.mark.parametrize("rate", [48_000, 200_000, 2_000_000])
def test_status_reports_the_same_forecasts(rate: int) -> None:
    pump = new_pump(prescription=rx.simple(rate))
    status = pump.status()
    assert status.low_reservoir_at_clock_s == pump.low_reservoir_at()
    assert status.empty_at_clock_s == pump.empty_at()
    assert status.eri_at_clock_s == pump.eri_at()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    profile=profiles(),
    data=st.data(),
    new=st.sampled_from([500, 2000]),
    start_s=st.integers(0, 7 * DAY),
    bolus_dose=st.one_of(st.none(), st.integers(1_000, 1_500_000)),
)
def test_forecasts_across_a_bridge_match_what_the_pump_then_does(
    *,
    profile: PumpProfile,
    data: st.DataObject,
    new: int,
    start_s: int,
    bolus_dose: int | None,
) -> None:
    """After a refill to another drug with a bridge (and perhaps a dose bolus the bridge's
    end cuts in two), STATUS's bridge end and reservoir dates are the seconds they happen."""
    prescription = data.draw(prescriptions(profile, stopped=False))
    pump = new_pump(
        profile=profile,
        prescription=prescription,
        concentration_ug_per_ml=STRATEGY_CONC,
        reservoir_nl=profile.capacity_nl // 2,
        t=start_s,
        implant=rx.IMPLANT,
    )
    added = data.draw(st.integers(profile.empty_threshold_nl + 100_000, profile.capacity_nl))
    try:
        refill(
            pump,
            start_s,
            removed_nl=pump.estimated_reservoir_nl,
            added_nl=added,
            concentration_ug_per_ml=new,
            bridge=True,
        )
    except OutOfRangeError:
        event("refused: rates out of range at one of the drugs")
        return
    assert pump.bridge is not None
    if bolus_dose is not None:
        bolus = pump.therapeutic_bolus(dose_ng=bolus_dose, duration_s=6 * 3_600)
        if bolus.volume_nl <= added - profile.empty_threshold_nl:
            with contextlib.suppress(OutOfRangeError):
                pump.start_bolus(start_s, bolus)
    status = pump.status()
    bridge_end = status.bridge_end_clock_s
    low, empty = status.low_reservoir_at_clock_s, status.empty_at_clock_s
    assert bridge_end is not None  # at least the keep-open rate reaches it within the horizon
    pump.advance_to(start_s + profile.forecast_horizon_s)
    eos = raised(pump, AlarmCode.EOS)
    log = list(pump.event_log)
    ended = [e.clock_s for e in log if e.code is EventCode.BRIDGE_ENDED]
    # Forecasts assume the pump keeps running: a halt (empty, EOS) first ends the comparison.
    halts = [e.clock_s for e in log if e.code is EventCode.DELIVERY_HALTED]
    if not halts or bridge_end < halts[0]:
        event("bridge end checked")
        assert ended == [bridge_end]
    else:
        assert not ended or ended[0] <= halts[0]
    for forecast, code in ((low, AlarmCode.LOW_RESERVOIR), (empty, AlarmCode.EMPTY_RESERVOIR)):
        actual = raised(pump, code)[:1]
        if eos and (forecast is None or forecast > eos[0]):
            continue
        assert actual == ([] if forecast is None else [forecast])
