"""MRI exposures and the emergency summary, over the wire (domain.md, "MRI and the
emergency visit"): the default pump's rotor stops in the field, may recover late, may wait
in telemetry mode for an interrogation, and may log its recovery only at the second one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from protocol import cli
from protocol.enums import AlarmCode, EventCode, Role
from tests.support import InprocPump, inproc_pump

HOUR = 3_600
DAY = 86_400


@pytest.fixture
def pump() -> Iterator[InprocPump]:
    # 100 mcg/day of 500 mcg/mL: 0.2 mL/day, 200,000 nL a day.
    with inproc_pump() as p:
        yield p


def _now(pump: InprocPump) -> int:
    """The model brought to the pump clock's second; that second."""
    model = pump.virtual.pump
    model.advance_to(pump.clock.now())
    return model.t


def _at(pump: InprocPump, t: int) -> int:
    """Move the pump clock (and the model) to model second ``t``."""
    pump.clock.advance(t - _now(pump))
    return _now(pump)


def test_an_exposure_halts_delivery_for_exactly_its_length(pump: InprocPump) -> None:
    model = pump.virtual.pump
    start = _now(pump)
    model.mri_enter(_at(pump, start + HOUR))
    with pump.client() as client:
        pump.clock.advance(60)
        status = client.status()
        assert not status.delivering and AlarmCode.MOTOR_STALL in status.halted_by
    model.mri_leave(_at(pump, start + HOUR + 45 * 60))  # a 45 min scan, no recovery delay
    pump.clock.advance(DAY)
    with pump.client() as client:
        assert client.status().delivering
    # One day and 61 min of 0.2 mL/day, less the 45 min missed (6,250 nL).
    elapsed = _now(pump) - start
    assert model.total_commanded_nl == 200_000 * (elapsed - 45 * 60) // DAY
    codes = [e.code for e in model.event_log]
    assert EventCode.MOTOR_STALL in codes and EventCode.STALL_RECOVERY in codes
    recovery = next(e for e in model.event_log if e.code is EventCode.STALL_RECOVERY)
    assert recovery.a == 45 * 60


def test_a_recovery_delay_is_honoured_to_the_second(pump: InprocPump) -> None:
    model = pump.virtual.pump
    start = _now(pump)
    model.mri_enter(start)
    model.mri_leave(_at(pump, start + 1_800), recovery_delay_s=5 * HOUR)
    _at(pump, start + 1_800 + 5 * HOUR - 1)
    assert not model.delivering
    _at(pump, start + 1_800 + 5 * HOUR)
    assert model.delivering
    assert model.delivering_since_clock_s == model.clock(start + 1_800 + 5 * HOUR)


def test_telemetry_mode_waits_for_an_interrogation(pump: InprocPump) -> None:
    model = pump.virtual.pump
    start = _now(pump)
    model.mri_enter(start)
    model.mri_leave(_at(pump, start + 1_800), telemetry_trap=True)
    _at(pump, start + 2 * DAY)
    assert not model.delivering  # two days without drug: the withdrawal risk
    with pump.client(Role.PATIENT) as client:  # the patient's handheld interrogates
        status = client.status()
        assert status.delivering
        delivery = client.read_delivery()
        assert delivery.delivering and delivery.since_s == status.clock_s


def test_a_recovery_may_be_logged_only_at_the_second_interrogation(pump: InprocPump) -> None:
    model = pump.virtual.pump
    start = _now(pump)
    model.mri_enter(start)
    model.mri_leave(_at(pump, start + 1_800), recovery_logged_at_second_interrogation=True)
    assert model.delivering  # the motor turns again at once
    with pump.client() as client:
        assert EventCode.STALL_RECOVERY not in [e.code for e in client.event_log()]
    with pump.client() as client:
        recovered = [e for e in client.event_log() if e.code is EventCode.STALL_RECOVERY]
        assert [e.a for e in recovered] == [1_800]


def _summary(pump: InprocPump, capsys: pytest.CaptureFixture[str], *role: str) -> str:
    code = cli.main(["--port", pump.url, "--timeout", "0.2", *role, "emergency"])
    assert code == cli.EXIT_OK
    return capsys.readouterr().out


def test_the_emergency_summary_after_the_pump_ran_empty(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    # 20 mL at 0.2 mL/day reaches the 1 mL empty threshold on day 95.
    pump.clock.advance(96 * DAY)
    out = _summary(pump, capsys, "--role", "patient")
    assert "drug:                 baclofen 500 mcg/mL" in out
    assert "dose:                 100 mcg/day" in out
    assert "delivering now:       NO: the reservoir is empty; since" in out
    assert "(1 d ago)" in out
    assert "empty-reservoir" in out
    assert "withdrawal" in out and "overdose" in out


def test_the_emergency_summary_after_an_mri_without_a_check(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    model = pump.virtual.pump
    start = _now(pump)
    model.mri_enter(start)
    model.mri_leave(_at(pump, start + 1_800), recovery_delay_s=24 * HOUR)
    pump.clock.advance(7 * DAY)
    out = _summary(pump, capsys)
    assert "motor stall (an MRI? delivery stopped)" in out
    assert "stall recovery after 1 d 30 min" in out
    assert "P-" in out or "patient:" in out  # the implant record is shown to clinicians
