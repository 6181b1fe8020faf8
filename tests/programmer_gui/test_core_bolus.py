"""Boluses: a therapeutic dose, priming from the implant record, refusals, the alarm-date
effect (the pump's own forecast), progress. There is no bridge bolus."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from programmer_gui.core import InputError
from programmer_gui.core.bolus import (
    KIND_NAMES,
    build_review,
    priming,
    priming_volume_nl,
    progress,
    therapeutic,
)
from protocol.enums import BolusKind, EventCode, StopReason
from protocol.schedule import priming_duration_s
from protocol.units import format_duration
from tests.programmer_gui.pump_support import connected
from tests.programmer_gui.test_core_snapshot import IMPLANT_110, make_snapshot


def test_priming_volumes_come_from_the_implant_record() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
    device, implant = snapshot.device, snapshot.implant_record
    assert implant is not None
    # 110 cm x 0.0026 mL/cm = 0.286 mL; with the 0.2 mL tubing 0.486 mL.
    assert priming_volume_nl(device, implant, include_tubing=False) == 286_000
    assert priming_volume_nl(device, implant, include_tubing=True) == 486_000
    # An uncertain length is primed to its upper bound.
    wider = dataclasses.replace(implant, catheter_length_uncertainty_mm=50)
    assert priming_volume_nl(device, wider, include_tubing=False) == 299_000
    # At 24 mL/day, 0.486 mL takes 1749.6 s, rounded up as the pump does.
    assert priming_duration_s(486_000, device.max_rate_nl_per_day) == 1750
    assert set(KIND_NAMES) == set(BolusKind)  # a reported BRIDGE is named, never a KeyError


def test_durations_read_well() -> None:
    # The duration precision (protocol.units): to the second under an hour, else the minute.
    assert format_duration(1750) == "29 min 10 s"
    assert format_duration(7500) == "2 h 5 min"
    assert format_duration(7530) == "2 h 6 min"
    assert format_duration(45) == "45 s"
    assert format_duration(600) == "10 min"


def test_therapeutic_plan_and_its_refusals() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        plan = therapeutic(dose_ug=50, duration_s=3600, snapshot=snapshot)
        assert plan.ok and plan.volume_nl == 25_000  # 50 mcg at 2000 mcg/mL
        assert plan.dose_ug == 50 and plan.dose_ng == 50_000
        assert plan.reservoir_after_nl == snapshot.status.reservoir_nl - 25_000
        too_fast = therapeutic(dose_ug=2000, duration_s=60, snapshot=snapshot)
        assert any("needs at least" in r for r in too_fast.refusals)
        too_long = therapeutic(dose_ug=50, duration_s=2 * 86_400, snapshot=snapshot)
        assert any("at most 1 d" in r for r in too_long.refusals)
        # 100 mcg at 2000 mcg/mL is 50 uL: exactly 180 s at 24 mL/day. Only priming runs at
        # the maximum rate, so the programmer refuses 180 s, as the pump does, and takes 181.
        at_max = therapeutic(dose_ug=100, duration_s=180, snapshot=snapshot)
        assert at_max.volume_nl == 50_000
        assert any("needs at least 3 min 1 s" in r for r in at_max.refusals)
        assert therapeutic(dose_ug=100, duration_s=181, snapshot=snapshot).ok
        too_big = therapeutic(dose_ug=60_000, duration_s=86_400, snapshot=snapshot)
        assert any("can deliver only" in r for r in too_big.refusals)
        large = therapeutic(dose_ug=300, duration_s=3600, snapshot=snapshot)
        assert [code for code, _ in large.warnings] == ["bolus-large"]
        with pytest.raises(InputError):
            therapeutic(dose_ug=0, duration_s=60, snapshot=snapshot)
        with pytest.raises(InputError, match="refused"):
            build_review(too_fast, snapshot)


def test_during_a_bridge_a_bolus_dose_is_a_volume_of_the_old_drug() -> None:
    snapshot = make_snapshot(concentration_ug_per_ml=2000, bridge=(300_000, 500))
    plan = therapeutic(dose_ug=50, duration_s=3600, snapshot=snapshot)
    assert plan.volume_nl == 100_000  # 50 mcg of the old 500 mcg/mL
    assert plan.concentration_ug_per_ml == 500 and plan.dose_ug == 50


def test_stopped_pumps_take_no_bolus() -> None:
    stopped = make_snapshot(stop_reason=StopReason.MRI)
    plan = therapeutic(dose_ug=50, duration_s=3600, snapshot=stopped)
    assert "therapy is stopped: resume it first" in plan.refusals


def test_the_alarm_date_moves_earlier_and_equals_the_pumps() -> None:
    with connected("default") as world:  # simple 0.2 mL/day, 20 mL
        snapshot = world.snapshot()
        plan = therapeutic(dose_ug=100, duration_s=3600, snapshot=snapshot)  # 0.2 mL at 500
        assert plan.alarm_at_before_s is not None and plan.alarm_at_after_s is not None
        # 0.2 mL in 1 h instead of 1/24 of a day's 0.2 mL: 0.1917 mL more, 23 h earlier.
        earlier_s = plan.alarm_at_before_s - plan.alarm_at_after_s
        assert abs(earlier_s - 23 * 3600) <= 2
        build_review(plan, snapshot).action.run(world.client)
        # The pump's own date, to the second (the same maths, from the same STATUS).
        assert world.client.status().low_reservoir_alarm_at_s == plan.alarm_at_after_s


def test_a_therapeutic_review_runs_and_progress_is_reported() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        plan = therapeutic(dose_ug=50, duration_s=3600, snapshot=snapshot)
        review = build_review(plan, snapshot)
        assert review.title == "Review: therapeutic bolus"
        assert any(r.label == "Volume" and "0.025 mL" in r.pending for r in review.rows)
        assert "therapeutic bolus" in review.action.run(world.client)
        world.pump.clock.advance(1800)
        after = world.snapshot()
        assert review.action.verify(after)
        running = progress(after.status, volume_nl=plan.volume_nl)
        assert running is not None and running.kind is BolusKind.THERAPEUTIC
        assert running.fraction_done == Fraction(1, 2)
        assert running.text() == (
            "Therapeutic bolus: 0.0125 mL left of 0.025 mL (50 % done), ends in 30 min"
        )
        again = therapeutic(dose_ug=50, duration_s=3600, snapshot=after)
        assert any("is running" in r for r in again.refusals)
        started = [e for e in world.client.event_log() if e.code is EventCode.BOLUS_STARTED]
        assert started[-1].b == plan.volume_nl  # the log holds the full volume
        world.client.cancel_bolus()
        assert progress(world.snapshot().status) is None
        assert list(world.client.event_log())[-1].code is EventCode.BOLUS_CANCELLED


def test_priming_warns_of_a_full_catheter_and_of_mixing_and_starts_by_volume() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        plan = priming(include_tubing=False, snapshot=snapshot)
        assert plan.volume_nl == 286_000 and plan.duration_s == 1030
        assert [code for code, _ in plan.warnings] == ["priming-full-catheter", "priming-mixing"]
        assert "572 mcg" in plan.warnings[0][1]  # 0.286 mL at 2000 mcg/mL
        assert "mix" in plan.warnings[1][1]
        build_review(plan, snapshot).action.run(world.client)
        status = world.client.status()
        assert status.bolus_kind is BolusKind.PRIMING and status.bolus_volume_nl == 286_000


def test_priming_never_assumes_a_catheter_length() -> None:
    with pytest.raises(InputError, match="never assumed") as refused:
        priming(include_tubing=False, snapshot=make_snapshot(implant=None))
    assert refused.value.reason == "no-implant-record"
    plan = priming(include_tubing=True, snapshot=make_snapshot(implant=IMPLANT_110))
    assert plan.volume_nl == 486_000


def test_progress_without_a_known_volume() -> None:
    snapshot = make_snapshot(bolus=(BolusKind.THERAPEUTIC, 5_000, 1_790_000_060))
    running = progress(snapshot.status)
    assert running is not None and running.fraction_done is None
    assert running.text() == "Therapeutic bolus: 0.005 mL left, ends in 1 min"
