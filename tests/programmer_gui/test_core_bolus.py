"""Boluses: volumes from catheter and tubing, refusals, the alarm-date effect, progress."""

from __future__ import annotations

from fractions import Fraction

import pytest

from programmer_gui.core.bolus import (
    BolusEntryError,
    bridge,
    bridge_volume_nl,
    build_review,
    duration_at_max_rate_s,
    format_duration_s,
    priming,
    priming_volume_nl,
    progress,
    therapeutic,
    volume_from_log,
)
from protocol import messages as m
from protocol.enums import BolusKind, EventCode
from tests.programmer_gui.pump_support import connected


def test_bridge_and_priming_volumes_from_device_info() -> None:
    with connected("demo") as world:
        device = world.snapshot().device
    # 0.2 mL of tubing + 110 cm x 0.0026 mL/cm = 0.486 mL
    assert bridge_volume_nl(device, 110) == 486_000
    assert priming_volume_nl(device, 110, include_tubing=False) == 286_000
    assert priming_volume_nl(device, 110, include_tubing=True) == 486_000
    # At 24 mL/day, 0.486 mL takes 1749.6 s, rounded up as the pump does.
    assert duration_at_max_rate_s(486_000, device.max_rate_nl_per_day) == 1750
    with pytest.raises(BolusEntryError):
        bridge_volume_nl(device, 0)


def test_durations_read_well() -> None:
    assert format_duration_s(1750) == "29 min 10 s"
    assert format_duration_s(7500) == "2 h 05 min"
    assert format_duration_s(45) == "45 s"
    assert format_duration_s(600) == "10 min"


def test_therapeutic_plan_and_its_refusals() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        plan = therapeutic(dose_ug=50, duration_s=3600, snapshot=snapshot)
        assert plan.ok and plan.volume_nl == 25_000  # 50 mcg at 2000 mcg/mL
        assert plan.dose_ug == 50 and plan.wire_duration_s == 3600
        assert plan.reservoir_after_nl == snapshot.status.reservoir_nl - 25_000
        too_fast = therapeutic(dose_ug=2000, duration_s=60, snapshot=snapshot)
        assert any("needs at least" in r for r in too_fast.refusals)
        too_long = therapeutic(dose_ug=50, duration_s=2 * 86_400, snapshot=snapshot)
        assert any("at most 24 h" in r for r in too_long.refusals)
        too_big = therapeutic(dose_ug=60_000, duration_s=86_400, snapshot=snapshot)
        assert any("can deliver only" in r for r in too_big.refusals)
        large = therapeutic(dose_ug=300, duration_s=3600, snapshot=snapshot)
        assert [code for code, _ in large.warnings] == ["bolus-large"]
        with pytest.raises(BolusEntryError):
            therapeutic(dose_ug=0, duration_s=60, snapshot=snapshot)
        with pytest.raises(BolusEntryError, match="refused"):
            build_review(too_fast, snapshot)


def test_the_alarm_date_moves_earlier_by_the_extra_volume() -> None:
    with connected("default") as world:  # simple 0.2 mL/day, 20 mL
        snapshot = world.snapshot()
        plan = therapeutic(dose_ug=100, duration_s=3600, snapshot=snapshot)  # 0.2 mL at 500
        assert plan.alarm_at_before_s is not None and plan.alarm_at_after_s is not None
        # 0.2 mL in 1 h instead of 1/24 of a day's 0.2 mL: 0.1917 mL more, 23 h earlier.
        earlier_s = plan.alarm_at_before_s - plan.alarm_at_after_s
        assert abs(earlier_s - 23 * 3600) <= 2
        world.client.start_bolus(BolusKind.THERAPEUTIC, plan.volume_nl, 3600)
        pump_alarm = world.client.status().low_reservoir_alarm_at_s
        assert pump_alarm is not None and abs(pump_alarm - plan.alarm_at_after_s) <= 2


def test_bridge_review_runs_and_progress_is_reported() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        plan = bridge(catheter_length_cm=110, snapshot=snapshot)
        assert plan.ok and plan.duration_s == 1750 and plan.wire_duration_s == 0
        review = build_review(plan, snapshot)
        assert review.title == "Review: bridge bolus"
        assert any(r.label == "Volume" and "0.486 mL" in r.pending for r in review.rows)
        assert "bridge bolus" in review.action.run(world.client)
        world.pump.clock.advance(875)
        after = world.snapshot()
        assert review.action.verify(after)
        running = progress(after.status, volume_nl=plan.volume_nl)
        assert running is not None and running.kind is BolusKind.BRIDGE
        assert running.fraction_done == Fraction(1, 2)
        assert running.text() == (
            "Bridge bolus: 0.243 mL left of 0.486 mL (50 % done), ends in 14 min 35 s"
        )
        # A second bolus while one runs is refused by the programmer.
        again = bridge(catheter_length_cm=110, snapshot=after)
        assert any("is running" in r for r in again.refusals)
        entries = list(world.client.event_log())
        assert volume_from_log(entries) == plan.volume_nl
        world.client.cancel_bolus()
        assert progress(world.snapshot().status) is None
        assert volume_from_log(list(world.client.event_log())) is None


def test_priming_always_warns_about_a_full_catheter() -> None:
    with connected("demo") as world:
        plan = priming(catheter_length_cm=50, include_tubing=False, snapshot=world.snapshot())
    assert plan.volume_nl == 130_000
    assert [code for code, _ in plan.warnings] == ["priming-full-catheter"]
    assert "260 mcg" in plan.warnings[0][1]  # 0.13 mL at 2000 mcg/mL


def test_progress_without_a_known_volume() -> None:
    status_fields = dict(
        clock_s=100,
        mode=1,
        bolus_kind=BolusKind.THERAPEUTIC,
        bolus_remaining_nl=5_000,
        bolus_ends_at_s=160,
        current_rate_nl_per_day=0,
        daily_volume_nl=0,
        concentration_ug_per_ml=500,
        reservoir_nl=1,
        capacity_nl=2,
        alarm_volume_nl=1,
        alarms_active=frozenset(),
        alarms_silenced=frozenset(),
        low_reservoir_alarm_at_s=None,
        empty_at_s=None,
        battery_permille=1000,
        eri_at_s=None,
        prescription_checksum=0,
        delivering=True,
    )
    running = progress(m.StatusResponse(**status_fields))  # type: ignore[arg-type]
    assert running is not None and running.fraction_done is None
    assert running.text() == "Therapeutic bolus: 0.005 mL left, ends in 1 min"
    entry = m.LogEntry(index=0, clock_s=1, code=EventCode.BOLUS_STARTED, a=1, b=7)
    assert volume_from_log([entry]) == 7
