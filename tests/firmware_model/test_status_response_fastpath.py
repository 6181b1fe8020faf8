"""The telemetry head builds STATUS without re-validating the pump's own values
(``status_response(..., trusted=True)``); this proves that build equal to the validated one
(``trusted=False``): the same fields, of the same types, and the same bytes on the wire,
over the states a pump goes through (running, bolus, bridge, stopped, alarms, MRI, a flex
prescription, the keep-open minimum rate after a low-battery reset)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from emulator.presets import PRESETS
from firmware_model.pump import Pump, PumpStatus, RefillOrder
from firmware_model.telemetry import status_response
from protocol import messages as m
from protocol.enums import StopReason
from protocol.errors import InvalidMessage

T0 = 1_790_000_000
HOUR = 3600
DAY = 86_400


def _flex(concentration_ug_per_ml: int) -> m.PrescriptionSpec:
    """Eight steps a day, 100 to 170 mcg/day."""
    steps = [m.FlexStep(start_min=i * 180, dose_ng_per_day=100_000 + 10_000 * i) for i in range(8)]
    return m.PrescriptionSpec.flex_weekly(
        [steps] * 7, concentration_ug_per_ml=concentration_ug_per_ml
    )


def _other(concentration_ug_per_ml: int) -> int:
    """Another standard concentration (a bridge needs a change of drug), mcg/mL."""
    return 1000 if concentration_ug_per_ml != 1000 else 2000


def _states(preset: str) -> Iterator[tuple[str, Pump]]:
    pump = PRESETS[preset].build(t=T0)
    t = T0
    yield "fresh", pump

    def step(what: str, action: Callable[[int], object], after_s: int = HOUR) -> Pump:
        nonlocal t
        action(t)
        t += after_s
        pump.advance_to(t)
        return pump

    yield "a day on", step("advance", lambda t: None, DAY)
    yield (
        "bolus running",
        step(
            "bolus",
            lambda t: pump.start_bolus(t, pump.therapeutic_bolus(dose_ng=40_000, duration_s=1800)),
            600,
        ),
    )
    yield (
        "flex",
        step("flex", lambda t: pump.program(t, _flex(pump.concentration_ug_per_ml)), 5 * HOUR),
    )
    yield (
        "refill with a bridge",
        step(
            "refill",
            lambda t: pump.refill(
                t,
                RefillOrder(
                    removed_nl=pump.estimated_reservoir_nl,
                    added_nl=pump.profile.capacity_nl,
                    concentration_ug_per_ml=_other(pump.concentration_ug_per_ml),
                    prescription=m.PrescriptionSpec.simple(
                        150_000, concentration_ug_per_ml=_other(pump.concentration_ug_per_ml)
                    ),
                    bridge=True,
                ),
            ),
            HOUR,
        ),
    )
    yield "motor stall", step("stall", lambda t: pump.set_motor_stall(t, True), HOUR)
    yield "stall cleared", step("unstall", lambda t: pump.set_motor_stall(t, False), HOUR)
    yield "memory error", step("memory", lambda t: pump.inject_memory_error(t, False), HOUR)
    yield "battery low", step("battery", lambda t: pump.set_battery(t, 50), HOUR)
    yield "stopped", step("stop", lambda t: pump.stop(t, StopReason.CLINICIAN_DECISION), HOUR)
    yield "resumed", step("resume", pump.resume, HOUR)
    yield "mri", step("mri", pump.mri_enter, 600)
    yield "low battery reset", step("reset", pump.low_battery_reset, DAY)
    yield "a month on", step("advance", lambda t: None, 30 * DAY)
    yield "empty", step("advance", lambda t: None, 400 * DAY)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_trusted_status_equals_the_validated_one(preset: str) -> None:
    seen = 0
    for name, pump in _states(preset):
        status = pump.status()
        checksum = 0x1234ABCD
        fast = status_response(status, checksum)
        checked = status_response(status, checksum, trusted=False)
        assert fast == checked, name
        for field in m.wire_fields(m.StatusResponse):
            a, b = getattr(fast, field.name), getattr(checked, field.name)
            assert type(a) is type(b), (name, field.name, a, b)
        assert m.encode_payload(fast) == m.encode_payload(checked), name
        seen += 1
    assert seen == 15


def test_the_validated_build_still_refuses_what_the_wire_cannot_carry() -> None:
    """The reference the fast path is held to does check (so the test above can fail)."""
    status = PRESETS["demo"].build(t=T0).status()
    with pytest.raises(InvalidMessage):
        status_response(status, -1, trusted=False)


def assert_same_response(fast: m.StatusResponse, reference: m.StatusResponse) -> None:
    """Equal, with the same fields in the same order, of the same types, and the same bytes."""
    assert type(fast) is m.StatusResponse
    assert fast == reference
    assert list(vars(fast)) == list(vars(reference))
    for key, value in vars(reference).items():
        assert type(vars(fast)[key]) is type(value), key
    assert m.encode_payload(fast) == m.encode_payload(reference)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_answer_built_from_the_pump_equals_the_one_from_its_record(preset: str) -> None:
    """``Pump.status_response`` (what the telemetry head sends: one dict, straight from the
    pump) is the answer ``status_response(pump.status(), checksum)`` maps from the record,
    and the validated one: field by field, and byte for byte on the wire."""
    seen = 0
    for _name, pump in _states(preset):
        for checksum in (0, 0x1234ABCD, 0xFFFFFFFF):
            direct = pump.status_response(checksum)
            assert_same_response(direct, status_response(pump.status(), checksum))
            assert_same_response(direct, status_response(pump.status(), checksum, trusted=False))
        seen += 1
    assert seen == 15


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_pumps_status_record_equals_the_constructed_one(preset: str) -> None:
    """``Pump.status()`` fills its record without the dataclass's __init__; it is the record
    ``PumpStatus(**fields)`` builds: equal, with the same fields in the same order, of the
    same types."""
    seen = 0
    for name, pump in _states(preset):
        status = pump.status()
        values = {f.name: getattr(status, f.name) for f in dataclasses.fields(PumpStatus)}
        built = PumpStatus(**values)
        assert type(status) is PumpStatus
        assert status == built, name
        assert list(vars(status)) == list(vars(built)), name
        for key, value in vars(built).items():
            assert type(vars(status)[key]) is type(value), (name, key)
        assert dataclasses.replace(status) == status
        seen += 1
    assert seen == 15
