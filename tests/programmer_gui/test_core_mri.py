"""The MRI workflow's pure core (issue 19): the pre-MRI facts and warnings, and the
post-MRI check from one reading, over the wire against in-process pumps."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from emulator.presets import PRESETS
from programmer_gui.core.mri import MriReading, post_mri_check, pre_mri_plan
from protocol import messages as m
from protocol.enums import EventCode, Role, StopReason, ValveModel
from tests.support import T0, inproc_pump

HOUR = 3_600
DAILY_NL = Fraction(200_000)  # the default preset: 0.2 mL/day


def test_a_stall_recovered_late_its_missed_volume_and_the_prompt() -> None:
    with inproc_pump() as pump:
        model = pump.virtual.pump
        model.mri_enter(T0)
        model.mri_leave(T0 + 2_700, recovery_delay_s=4 * HOUR)
        pump.clock.advance(HOUR)
        with pump.client() as client:
            during = post_mri_check(MriReading.read(client), daily_volume_nl=DAILY_NL)
        assert not during.delivering and during.interrogate_again
        assert during.verdict.startswith("NOT DELIVERING since 2026-09-21 14:13:20 UTC (1 h)")
        assert during.missed_s == HOUR and during.missed_nl == 8_333
        pump.clock.advance(5 * HOUR)
        with pump.client() as client:
            after = post_mri_check(MriReading.read(client), daily_volume_nl=DAILY_NL)
        assert after.delivering and not after.interrogate_again
        assert after.recovery is not None and after.recovery.code is EventCode.STALL_RECOVERY
        # 45 min in the field + the 4 h delay: 4 h 45 min at 0.2 mL/day, rounded down.
        assert after.missed_s == 2_700 + 4 * HOUR
        assert after.missed_nl == 39_583
        assert after.missed_ug == Fraction(39_583 * 500, 1_000_000)
        assert "Missed: 4 h 45 min without delivery, 0.0396 mL (19.79 mcg)." in after.lines()
        assert after.alarm_date_s is not None


def test_a_patient_session_reads_no_log_and_says_so() -> None:
    with inproc_pump() as pump:
        with pump.client(Role.PATIENT) as client:
            check = post_mri_check(MriReading.read(client), daily_volume_nl=DAILY_NL)
        assert check.delivering and not check.log_read and check.interruption is None
        assert check.verdict == "Delivering since 2026-09-21 14:13:20 UTC."
        assert "read in a clinician session" in check.record_detail()


def test_the_pre_mri_plan_warns_for_a_stopped_pump_and_a_full_valve_pump() -> None:
    setup = dataclasses.replace(PRESETS["default"], valve=ValveModel.VALVE_DISCHARGE)
    with inproc_pump(setup) as pump, pump.client() as client:
        plan = pre_mri_plan(client.status(), client.read_valve())
        assert plan.must_empty and "EMPTY THE RESERVOIR" in plan.warning
        assert not plan.stopped_warning
        client.stop(StopReason.MRI)
        stopped = pre_mri_plan(client.status(), client.read_valve())
        assert "do not leave it stopped" in stopped.stopped_warning
        detail = stopped.record_detail(can_go_without=False, note=" oral baclofen ")
        assert detail.startswith("the patient can NOT go without drug: bridging plan needed;")
        assert detail.endswith("; note: oral baclofen")
        assert "STOPPED" in detail


def test_an_emptied_valve_pump_needs_no_emptying() -> None:
    setup = dataclasses.replace(
        PRESETS["default"], valve=ValveModel.VALVE_DISCHARGE, reservoir_nl=0
    )
    with inproc_pump(setup) as pump, pump.client() as client:
        status: m.StatusResponse = client.status()
        assert not pre_mri_plan(status, client.read_valve()).must_empty
