"""The two valve pump models in an MRI field (issue 19, domain.md "MRI and the emergency
visit"): the original discharges its whole reservoir at once (the pump cannot tell), the
later one's flow-activated valve lets about 10 uL through, closes, and stops delivery
until it is reset. Exact, event-driven, and kept across a save."""

from __future__ import annotations

import pytest

from firmware_model.errors import InvalidStateError, OutOfRangeError
from firmware_model.prescription import Bolus
from firmware_model.profile import profile_for
from firmware_model.pump import Pump
from firmware_model.valve import field_discharge_nl
from protocol.enums import BolusKind, EventCode, ValveModel
from protocol.messages import PrescriptionSpec

T0 = 1_790_000_000
DAY = 86_400
HOUR = 3_600
NL_PER_DAY = 200_000  # 100 mcg/day of 500 mcg/mL


def _pump(valve: ValveModel, reservoir_nl: int = 20_000_000) -> Pump:
    return Pump.new(
        profile=profile_for(20, valve),
        serial="VP20-VALVE",
        t=T0,
        reservoir_nl=reservoir_nl,
        concentration_ug_per_ml=500,
        prescription=PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500),
    )


def _codes(pump: Pump) -> list[EventCode]:
    return [e.code for e in pump.event_log]


def _books_hold(pump: Pump) -> None:
    assert pump.total_filled_nl == (
        pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    )


def test_what_the_field_lets_out() -> None:
    assert field_discharge_nl(ValveModel.MOTOR, reservoir_nl=5, flow_limit_nl=10) == 0
    assert field_discharge_nl(ValveModel.VALVE_DISCHARGE, reservoir_nl=5, flow_limit_nl=1) == 5
    flow = ValveModel.VALVE_FLOW_ACTIVATED
    assert field_discharge_nl(flow, reservoir_nl=50_000, flow_limit_nl=10_000) == 10_000
    assert field_discharge_nl(flow, reservoir_nl=4_000, flow_limit_nl=10_000) == 4_000
    with pytest.raises(ValueError):
        field_discharge_nl(flow, reservoir_nl=-1, flow_limit_nl=10_000)


def test_the_profiles_name_the_valve_models() -> None:
    assert profile_for(20).valve_model is ValveModel.MOTOR
    original = profile_for(40, ValveModel.VALVE_DISCHARGE)
    assert original.model == 40 and original.model_name == "vpump 40 mL valve (original)"
    assert profile_for(20, ValveModel.VALVE_FLOW_ACTIVATED).valve_flow_limit_nl == 10_000


def test_the_original_valve_pump_discharges_its_whole_reservoir_unseen() -> None:
    pump = _pump(ValveModel.VALVE_DISCHARGE)
    pump.advance_to(T0 + 2 * HOUR)
    before = pump.status()
    left = pump.reservoir_nl
    assert left == 20_000_000 - NL_PER_DAY * 2 * HOUR // DAY
    pump.mri_enter(pump.t)
    assert pump.reservoir_nl == 0  # the truth: all of it left at once
    assert pump.total_delivered_nl == 20_000_000  # delivered = filled - what is left (0)
    after = pump.status()
    assert after.reservoir_nl == before.reservoir_nl  # the pump's estimate did not move
    assert after.delivering and not after.alarms_active
    assert EventCode.MOTOR_STALL not in _codes(pump)
    state = pump.mri
    assert state is not None and state.in_field and state.valve and not state.stalled(pump.t)
    _books_hold(pump)
    pump.mri_leave(pump.t + 2700)
    assert pump.mri is None
    assert EventCode.STALL_RECOVERY not in _codes(pump)
    pump.advance_to(pump.t + DAY)  # it meters an empty reservoir: nothing more leaves
    assert pump.total_delivered_nl == 20_000_000 and pump.reservoir_nl == 0
    _books_hold(pump)


def test_an_emptied_original_valve_pump_has_nothing_to_discharge() -> None:
    pump = _pump(ValveModel.VALVE_DISCHARGE, reservoir_nl=0)
    delivered = pump.total_delivered_nl
    pump.mri_enter(pump.t)
    assert pump.total_delivered_nl == delivered and pump.reservoir_nl == 0


def test_the_flow_activated_valve_closes_after_10_ul_and_waits_for_a_reset() -> None:
    pump = _pump(ValveModel.VALVE_FLOW_ACTIVATED)
    pump.advance_to(T0 + 2 * HOUR)
    estimate = pump.status().reservoir_nl
    delivered = pump.total_delivered_nl
    pump.mri_enter(pump.t)
    closed_at = pump.t
    assert pump.total_delivered_nl == delivered + 10_000
    assert pump.status().reservoir_nl == estimate  # unmetered
    assert not pump.delivering and pump.valve_closed_since_clock_s == pump.clock(closed_at)
    entry = list(pump.event_log)[-1]
    assert (entry.code, entry.a) == (EventCode.VALVE_CLOSED, 10_000)
    with pytest.raises(InvalidStateError):
        pump.mri_enter(pump.t)  # already in the field
    pump.mri_leave(pump.t + 2700)
    pump.advance_to(closed_at + 5 * HOUR)
    assert pump.total_delivered_nl == delivered + 10_000  # nothing while closed
    assert not pump.delivering
    with pytest.raises(InvalidStateError, match="valve is closed"):
        pump.start_bolus(
            pump.t, Bolus(kind=BolusKind.THERAPEUTIC, volume_nl=20_000, duration_s=600)
        )
    assert pump.reset_valve(pump.t) == 5 * HOUR
    entry = list(pump.event_log)[-1]
    assert (entry.code, entry.a) == (EventCode.VALVE_RESET, 5 * HOUR)
    assert pump.delivering and pump.delivering_since_clock_s == pump.clock(pump.t)
    with pytest.raises(InvalidStateError, match="open"):
        pump.reset_valve(pump.t)
    pump.advance_to(pump.t + DAY)
    assert pump.total_delivered_nl == delivered + 10_000 + NL_PER_DAY
    _books_hold(pump)


def test_a_closed_valve_lets_nothing_through_a_second_field() -> None:
    pump = _pump(ValveModel.VALVE_FLOW_ACTIVATED)
    pump.mri_enter(pump.t)
    pump.mri_leave(pump.t + 60)
    delivered = pump.total_delivered_nl
    pump.mri_enter(pump.t + 120)
    assert pump.total_delivered_nl == delivered
    assert _codes(pump).count(EventCode.VALVE_CLOSED) == 1


def test_the_forecast_knows_a_closed_valve_delivers_nothing() -> None:
    pump = _pump(ValveModel.VALVE_FLOW_ACTIVATED, reservoir_nl=3_000_000)
    assert pump.status().empty_at_clock_s is not None
    pump.mri_enter(pump.t)
    assert pump.status().empty_at_clock_s is None
    pump.reset_valve(pump.t + HOUR)
    assert pump.status().empty_at_clock_s is not None


def test_a_motor_pump_has_no_valve_to_reset() -> None:
    pump = _pump(ValveModel.MOTOR)
    with pytest.raises(InvalidStateError, match="no flow-activated valve"):
        pump.reset_valve(pump.t)


def test_the_valve_model_and_a_closed_valve_survive_a_save() -> None:
    pump = _pump(ValveModel.VALVE_FLOW_ACTIVATED)
    pump.mri_enter(pump.t + 60)
    again = Pump.from_bytes(pump.to_bytes())
    assert again.profile.valve_model is ValveModel.VALVE_FLOW_ACTIVATED
    assert again.valve_closed_since_clock_s == pump.valve_closed_since_clock_s
    state = again.mri
    assert state is not None and state.valve and state.in_field
    assert again.to_bytes() == pump.to_bytes()


def test_a_discharge_cannot_take_more_than_the_reservoir_holds() -> None:
    pump = _pump(ValveModel.VALVE_DISCHARGE, reservoir_nl=1_000)
    books = pump.to_image().delivery
    with pytest.raises(OutOfRangeError):
        books.discharge(1_001)
