"""Clinical cases computed by hand from /work/shared/domain.md (the arithmetic is in the
comments and the literals; no project code computes an expected value), compared with what
the pump reports through the doc-only client, and, for what reaches the patient, through the
emulator's documented control channel (docs/emulator.md ``state``).

One server for the module; each test puts the pump back to its preset (``reset``) and starts
at the next 08:00 of the pump clock. The true catheter is 50 cm (``--catheter-cm 50``) so
that, with the 0.2 mL pump tubing, it holds domain.md's worked 0.33 mL."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.audit.docclient import (
    A_EMPTY,
    A_EOS,
    A_ERI,
    A_LOW_BATTERY_RESET,
    A_LOW_RESERVOIR,
    A_MEMORY_CRITICAL,
    A_MOTOR_STALL,
    B_THERAPEUTIC,
    BIN,
    CANCEL_BRIDGE,
    CHECKSUM_MISMATCH,
    CLEAR_ALARM,
    CLINICIAN,
    COMMIT_PRESCRIPTION,
    COMMIT_REFILL,
    CONCENTRATION_MISMATCH,
    CONDITION_PERSISTS,
    CRITICAL,
    DEVICE_INFO,
    EV_BRIDGE_ENDED,
    EV_BRIDGE_STARTED,
    EV_MOTOR_STALL,
    EV_REFILLED,
    INVALID_STATE,
    M_MINIMUM_RATE,
    M_SIMPLE,
    NON_CRITICAL,
    PATIENT,
    PATIENT_DOSE,
    PUMP_HALTED,
    READ_ALARMS,
    READ_DELIVERY,
    SET_ALARM_VOLUME,
    SET_CLOCK,
    SET_IMPLANT,
    SET_PATIENT_SETTINGS,
    SILENCE_ALARM,
    STAGE_PRESCRIPTION,
    STAGE_REFILL,
    START_BOLUS,
    START_S,
    STATUS,
    NakError,
    Pump,
    Reader,
    Session,
    decode_alarms,
    decode_commit_refill,
    decode_device_info,
    decode_stage_refill,
    decode_start_bolus,
    decode_status,
    flex,
    implant_fields,
    last_entries,
    nak_code,
    patient_settings,
    serve,
    simple,
)

DAY = 86_400  # s
HOUR = 3_600  # s
MIN = 60  # s
EV_STALL_RECOVERY = 11  # EventCode STALL_RECOVERY (its a: the stall's seconds)


@pytest.fixture(scope="module")
def pump() -> Iterator[Pump]:
    with serve("--preset", "default", "--catheter-cm", "50") as served:
        yield served


@pytest.fixture
def clinician(pump: Pump) -> Iterator[Session]:
    """The preset again, at the next 08:00:00 of the pump clock, and a clinician session."""
    reply = pump.control("reset")
    assert reply["ok"], reply
    now = pump.control("state")["result"]["pump"]["clock_s"]
    pump.advance((START_S - now) % DAY)  # START_S is an 08:00:00
    session = pump.session(CLINICIAN)
    yield session
    session.link.close()


def status(session: Session) -> dict[str, Any]:
    return decode_status(session.request(STATUS))


def bit(code: int) -> int:
    return 1 << code


def refill(
    session: Session,
    *,
    added_nl: int,
    concentration: int,
    prescription: bytes,
    bridge: bool,
    commit: bool = True,
) -> tuple[dict[str, int], dict[str, int] | None]:
    """Stage (and commit) a refill that draws out exactly what the pump expects."""

    def payload(removed_nl: int) -> bytes:
        head = struct.pack(">IIIBB", removed_nl, added_nl, concentration, 0, int(bridge))
        return head + b"\x05LOT-1" + prescription

    expected = decode_stage_refill(session.request(STAGE_REFILL, payload(0)))["expected_nl"]
    staged = decode_stage_refill(session.request(STAGE_REFILL, payload(expected)))
    assert (staged["discrepancy_nl"], staged["discrepancy_flagged"]) == (0, 0)
    if not commit:
        return staged, None
    committed = decode_commit_refill(
        session.request(COMMIT_REFILL, struct.pack(">I", staged["checksum"]))
    )
    return staged, committed


def patient_world(pump: Pump) -> dict[str, Any]:
    fluid: dict[str, Any] = pump.control("state")["result"]["fluid_path"]
    return fluid


def test_simple_continuous_daily_dose_and_reservoir_dates(pump: Pump, clinician: Session) -> None:
    t0 = status(clinician)["clock_s"]
    # 350 mcg/day of 500 mcg/mL, 20 mL filled.
    # rate = 350 / 500 = 0.7 mL/day = 700,000 nL/day
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=500,
        prescription=simple(500, 350_000),
        bridge=False,
    )
    assert committed is not None and committed["reservoir_nl"] == 20_000_000
    st = status(clinician)
    assert st["daily_dose_ng"] == 350_000  # 350 mcg/day
    assert st["basal_rate_nl_per_day"] == st["current_rate_nl_per_day"] == 700_000
    assert st["daily_volume_nl"] == 700_000
    # Low reservoir (alarm volume 2 mL, domain.md's default):
    # (20 mL - 2 mL) / 0.7 mL/day = 25.714 d = 18,000,000 x 86,400 / 700,000 s
    # = 2,221,714.29 s -> the first whole second at or past it: 2,221,715 s
    # (25 d 17 h 8 min 35 s)
    low_at = t0 + 2_221_715
    assert committed["low_reservoir_alarm_at_s"] == st["low_reservoir_alarm_at_s"] == low_at
    # Empty (DEVICE_INFO's empty threshold, 1 mL): (20 - 1) / 0.7 = 27.143 d
    # = 19,000,000 x 86,400 / 700,000 = 2,345,142.86 s -> 2,345,143 s
    assert decode_device_info(clinician.request(DEVICE_INFO))["empty_threshold_nl"] == 1_000_000
    empty_at = t0 + 2_345_143
    assert st["empty_at_s"] == empty_at
    # The alarm is raised on that second, not before.
    pump.advance(low_at - 1 - t0)
    assert not status(clinician)["alarms_active"] & bit(A_LOW_RESERVOIR)
    pump.advance(1)
    st = status(clinician)
    assert st["alarms_active"] & bit(A_LOW_RESERVOIR)
    assert 1_999_990 <= st["reservoir_nl"] <= 2_000_000
    alarm = decode_alarms(clinician.request(READ_ALARMS))[A_LOW_RESERVOIR]
    assert (alarm["alarm_class"], alarm["raised_at_s"]) == (NON_CRITICAL, low_at)
    # domain.md: non-critical = a single tone, about 1 s, repeating about hourly
    tone = pump.control("state")["result"]["pump"]["tone"]
    assert (tone["tones"], tone["duration_s"], tone["repeat_s"]) == (1, 1, 3_600)
    pump.advance(empty_at - 1 - low_at)
    assert status(clinician)["delivering"] == 1
    pump.advance(1)
    st = status(clinician)
    assert st["delivering"] == 0 and st["halted_by"] == bit(A_EMPTY)
    assert decode_alarms(clinician.request(READ_ALARMS))[A_EMPTY]["alarm_class"] == CRITICAL
    # delivery can no longer be assured: no bolus
    bolus = struct.pack(">BIII", B_THERAPEUTIC, 10_000, 0, HOUR)
    assert nak_code(clinician, START_BOLUS, bolus) == PUMP_HALTED
    # the emergency view: not delivering since the empty second, last refill at t0
    r = Reader(clinician.request(READ_DELIVERY))
    assert (r.bool(), r.u64(), r.u64()) == (False, empty_at, t0)
    # A refill clears both alarms by itself and delivery resumes, same mode, same dose.
    _, committed = refill(
        clinician,
        added_nl=18_000_000,
        concentration=500,
        prescription=simple(500, 350_000),
        bridge=False,
    )
    assert committed is not None
    st = status(clinician)
    assert st["delivering"] == 1 and st["halted_by"] == 0 and st["reservoir_nl"] == 18_000_000
    assert not st["alarms_active"] & (bit(A_LOW_RESERVOIR) | bit(A_EMPTY))
    # (18 - 2) mL / 0.7 mL/day = 16,000,000 x 86,400 / 700,000 = 1,974,857.14 s -> 1,974,858 s
    assert st["low_reservoir_alarm_at_s"] == empty_at + 1_974_858


def test_flex_schedule_dose_and_alarm_date(pump: Pump, clinician: Session) -> None:
    t0 = status(clinician)["clock_s"]  # 08:00
    # 00:00 300, 07:00 450, 22:00 300 mcg/day of 500 mcg/mL:
    # 24-hour dose = (7 h x 300 + 15 h x 450 + 2 h x 300) / 24 h = 9,450 / 24 = 393.75 mcg/day
    # rates: 300 / 500 = 0.6 mL/day, 450 / 500 = 0.9 mL/day; daily volume 0.7875 mL
    steps = [(0, 300_000), (7 * 60, 450_000), (22 * 60, 300_000)]
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=500,
        prescription=flex(500, steps),
        bridge=False,
    )
    assert committed is not None
    st = status(clinician)
    assert (st["daily_dose_ng"], st["daily_volume_nl"]) == (393_750, 787_500)
    assert st["basal_rate_nl_per_day"] == 900_000  # 08:00 is in the 07:00 step
    # Low reservoir: 18 mL to deliver. 22 whole days from 08:00 deliver 22 x 0.7875 =
    # 17.325 mL; 0.675 mL left: 08:00-22:00 at 0.9 mL/day gives 0.525 mL, then 0.15 mL at
    # 0.6 mL/day takes 6 h: 04:00. So 22 d 20 h = 1,972,800 s after 08:00.
    assert st["low_reservoir_alarm_at_s"] == t0 + 1_972_800
    # Empty: 19 mL. 24 days give 18.9 mL; 0.1 mL at 0.9 mL/day takes 2 h 40 min (9,600 s):
    # 24 d 2 h 40 min = 2,083,200 s.
    assert st["empty_at_s"] == t0 + 2_083_200
    pump.advance(14 * HOUR)  # 22:00
    st = status(clinician)
    assert st["basal_rate_nl_per_day"] == 600_000
    # 14 h at 0.9 mL/day = 0.525 mL
    assert st["reservoir_nl"] == 20_000_000 - 525_000
    pump.advance(1_972_800 - 14 * HOUR - 1)
    assert not status(clinician)["alarms_active"] & bit(A_LOW_RESERVOIR)
    pump.advance(1)
    assert status(clinician)["alarms_active"] & bit(A_LOW_RESERVOIR)


def test_weekly_flex_follows_the_weekday(pump: Pump, clinician: Session) -> None:
    # Seven one-step profiles, Monday first, 100 + 10 x index mcg/day of 500 mcg/mL.
    doses = [100_000 + 10_000 * i for i in range(7)]
    prescription = struct.pack(">BIBB", 2, 500, 1, 7) + b"".join(
        struct.pack(">BHI", 1, 0, d) for d in doses
    )
    (checksum,) = struct.unpack(">I", clinician.request(STAGE_PRESCRIPTION, prescription))
    clinician.request(COMMIT_PRESCRIPTION, struct.pack(">I", checksum))
    st = status(clinician)
    # 1970-01-01 (Unix day 0) was a Thursday, weekday 3 counting Monday as 0
    weekday = (st["clock_s"] // DAY + 3) % 7
    for _ in range(3):
        dose = 100_000 + 10_000 * weekday  # ng/day; its rate at 500 mcg/mL: dose x 2 nL/day
        assert (st["daily_dose_ng"], st["basal_rate_nl_per_day"]) == (dose, 2 * dose)
        pump.advance(DAY)
        weekday = (weekday + 1) % 7
        st = status(clinician)
    # and the preset's start (docs/emulator.md: 2026-03-07 is a Saturday) is weekday 5
    assert (START_S // DAY + 3) % 7 == 5


def test_patient_doses_at_their_maximum_bring_the_alarm_date_forward(
    pump: Pump, clinician: Session
) -> None:
    t0 = status(clinician)["clock_s"]
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=500,
        prescription=simple(500, 100_000),
        bridge=False,
    )
    assert committed is not None
    # 100 mcg/day of 500 mcg/mL alone: (20 - 2) / 0.2 = 90 days
    assert status(clinician)["low_reservoir_alarm_at_s"] == t0 + 90 * DAY
    # Patient doses of 20 mcg (0.04 mL = 40,000 nL at 500 mcg/mL) over 600 s, lockout 3 h,
    # at most 4 in 24 h. Taken at their maximum from now: at 0, 3, 6 and 9 h of every day
    # (the 5th waits for the 24 h). Each replaces the basal rate while it runs, so a day is
    # 84,000 s of basal at 0.2 mL/day (194,444.4 nL) + 4 x 40,000 nL = 354,444.4 nL.
    # 50 days: 17,722,222.2 nL; 277,777.8 nL to go on day 50: dose (40,000), 10,200 s of
    # basal (23,611.1), dose, basal, dose, basal (3 x 63,611.1 in all by 32,400 s), the 4th
    # dose ends at 33,000 s with 46,944.4 nL left: 46,944.4 x 86,400 / 200,000 = 20,280 s.
    # So 50 d + 53,280 s = 4,373,280 s (exactly 18 mL: 9,840,000 basal + 204 doses).
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(True, 20_000, 600, 3 * HOUR, 4))
    st = status(clinician)
    assert t0 + 4_373_279 <= st["low_reservoir_alarm_at_s"] <= t0 + 4_373_280
    # A dose taken now is in recent_doses and the date does not move (it was assumed).
    patient = pump.session(PATIENT)
    try:
        patient.request(PATIENT_DOSE)
        st = decode_status(patient.request(STATUS))
        assert st["recent_doses"] == [t0]
        assert t0 + 4_373_279 <= st["low_reservoir_alarm_at_s"] <= t0 + 4_373_280
    finally:
        patient.link.close()


def test_dates_are_pump_clock_and_a_session_end_never_stops_the_pump(
    pump: Pump, clinician: Session
) -> None:
    st = status(clinician)
    ahead = st["low_reservoir_alarm_at_s"] - st["clock_s"]
    assert ahead == 90 * DAY  # the preset: (20 - 2) mL / 0.2 mL/day
    clinician.request(SET_CLOCK, struct.pack(">Q", st["clock_s"] + DAY))
    st = status(clinician)
    assert st["low_reservoir_alarm_at_s"] - st["clock_s"] == ahead
    # A STOPPED prescription staged, then the link drops: nothing was committed.
    (checksum,) = struct.unpack(
        ">I", clinician.request(STAGE_PRESCRIPTION, struct.pack(">BI", 0, 500))
    )
    clinician.link.close()
    again = pump.session(CLINICIAN)
    try:
        st = status(again)
        assert (st["mode"], st["delivering"]) == (M_SIMPLE, 1)
        assert nak_code(again, COMMIT_PRESCRIPTION, struct.pack(">I", checksum)) in (
            INVALID_STATE,
            CHECKSUM_MISMATCH,
        )
        assert status(again)["mode"] == M_SIMPLE
    finally:
        again.link.close()


def test_concentration_change_with_bridge_domain_worked_flex_case(
    pump: Pump, clinician: Session
) -> None:
    t0 = status(clinician)["clock_s"]  # 08:00, the drug is 500 mcg/mL
    # Implant record: 50 cm of 0.0026 mL/cm = 0.13 mL, + 0.2 mL tubing = 0.33 mL dead volume
    clinician.request(SET_IMPLANT, implant_fields(nl_per_cm=2_600, length_mm=500))
    # New profile 00:00 120, 08:00 200, 20:00 120 mcg/day of 2000 mcg/mL (160 mcg/day).
    profile = [(0, 120_000), (8 * 60, 200_000), (20 * 60, 120_000)]
    # The old prescription is refused on the new drug: a prescription names its drug.
    with pytest.raises(NakError) as refused:
        refill(
            clinician,
            added_nl=20_000_000,
            concentration=2000,
            prescription=simple(500, 100_000),
            bridge=True,
        )
    assert refused.value.code == CONCENTRATION_MISMATCH
    staged, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=2000,
        prescription=flex(2000, profile),
        bridge=True,
    )
    assert committed is not None
    assert staged["bridge_volume_nl"] == committed["bridge_volume_nl"] == 330_000
    # domain.md: at 500 mcg/mL the rates are 0.24 and 0.4 mL/day; 0.2 mL by 20:00, 0.24 mL
    # by midnight, 0.32 mL by 08:00, the last 0.01 mL at 0.4 mL/day takes 36 min:
    # the bridge ends 24 h 36 min = 88,560 s after the refill.
    assert committed["bridge_ends_at_s"] == t0 + 88_560
    # The low-reservoir date through the switch: 18 mL - 0.33 mL = 17.67 mL after 08:36 on
    # day 1, at the new rates 120 / 2000 = 0.06 and 200 / 2000 = 0.1 mL/day (0.08 mL a
    # day). 220 days from 08:36 give 17.6 mL; the last 0.07 mL: 08:36-20:00 at 0.1 mL/day
    # (0.0475), 20:00-24:00 at 0.06 (0.01), then 0.0125 mL at 0.06 mL/day = 5 h: 05:00.
    # 88,560 s + 220 d + 20 h 24 min (73,440 s) = 19,170,000 s (221.875 days).
    assert committed["low_reservoir_alarm_at_s"] == t0 + 19_170_000
    st = status(clinician)
    assert st["concentration_ug_per_ml"] == 2000 and st["bridge_concentration_ug_per_ml"] == 500
    assert st["bridge_ends_at_s"] == t0 + 88_560 and st["bridge_remaining_nl"] == 330_000
    # 200 mcg/day at the OLD 500 mcg/mL: 0.4 mL/day; never the maximum rate (24 mL/day),
    # and not 200 / 2000 = 0.1 mL/day either (that would be 50 mcg/day of the old drug).
    assert st["basal_rate_nl_per_day"] == st["current_rate_nl_per_day"] == 400_000
    # The dose is the prescribed 160 mcg/day, not four times it (640 mcg/day).
    assert st["daily_dose_ng"] == 160_000
    # What reaches the patient in the first hour: 0.4 mL/day x 500 mcg/mL / 24 = 8.333 mcg
    pump.advance(HOUR)
    world = patient_world(pump)
    assert world["concentration_at_tip_ug_per_ml"] == 500
    assert world["last_hour_to_patient_ug"] == pytest.approx(200 / 24, abs=0.01)
    pump.advance(11 * HOUR)  # 20:00: 0.2 mL delivered, 0.13 mL to go at 0.24 mL/day
    st = status(clinician)
    assert st["bridge_remaining_nl"] == 130_000 and st["basal_rate_nl_per_day"] == 240_000
    pump.advance(88_560 - 12 * HOUR - 1)
    assert status(clinician)["bridge_concentration_ug_per_ml"] == 500
    pump.advance(1)
    st = status(clinician)
    assert st["bridge_concentration_ug_per_ml"] == 0 and st["bridge_ends_at_s"] == 0
    # 08:36 next day, in the 08:00 step: 200 / 2000 = 0.1 mL/day; still 160 mcg/day,
    # 0.08 mL/day of the new drug; 20 mL - 0.33 mL in the reservoir
    assert st["basal_rate_nl_per_day"] == 100_000
    assert (st["daily_dose_ng"], st["daily_volume_nl"]) == (160_000, 80_000)
    assert st["reservoir_nl"] == 20_000_000 - 330_000
    entries = last_entries(clinician)
    started = [e for e in entries if e["code"] == EV_BRIDGE_STARTED]
    ended = [e for e in entries if e["code"] == EV_BRIDGE_ENDED]
    assert started[-1]["clock_s"] == t0 and started[-1]["a"] == 330_000
    assert ended[-1]["clock_s"] == t0 + 88_560
    refilled = [e for e in entries if e["code"] == EV_REFILLED]
    assert (refilled[-1]["a"], refilled[-1]["b"]) == (20_000_000, 2000)
    # The patient got the prescribed 200 mcg/day through the switch hour (08:00-09:00: old
    # drug for 36 min, new drug after, 8.333 mcg in all) and after it, of new drug.
    pump.advance(24 * MIN)
    assert patient_world(pump)["last_hour_to_patient_ug"] == pytest.approx(200 / 24, abs=0.01)
    pump.advance(2 * HOUR)  # 11:00
    world = patient_world(pump)
    assert world["concentration_at_tip_ug_per_ml"] == 2000
    assert world["last_hour_to_patient_ug"] == pytest.approx(200 / 24, abs=0.01)


def test_simple_bridge_its_bolus_and_the_catheter_uncertainty(
    pump: Pump, clinician: Session
) -> None:
    # Uncertain implant record: 110 cm +/- 10 cm of 0.0026 mL/cm, 0.2 mL tubing.
    clinician.request(
        SET_IMPLANT, implant_fields(nl_per_cm=2_600, length_mm=1_100, uncertainty_mm=100)
    )
    # Rising 500 -> 1000: the lower bound, 100 cm: 0.2 + 0.26 = 0.46 mL
    rising, _ = refill(
        clinician,
        added_nl=20_000_000,
        concentration=1000,
        prescription=simple(1000, 400_000),
        bridge=True,
        commit=False,
    )
    assert rising["bridge_volume_nl"] == 460_000
    # Now 500 -> 2000 without a bridge, 400 mcg/day of the new drug: 0.2 mL/day
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=2000,
        prescription=simple(2000, 400_000),
        bridge=False,
    )
    assert committed is not None and committed["bridge_volume_nl"] == 0
    st = status(clinician)
    assert (st["daily_dose_ng"], st["basal_rate_nl_per_day"]) == (400_000, 200_000)
    # Falling 2000 -> 1000: the upper bound, 120 cm: 0.2 + 0.312 = 0.512 mL
    falling, _ = refill(
        clinician,
        added_nl=20_000_000,
        concentration=1000,
        prescription=simple(1000, 400_000),
        bridge=True,
        commit=False,
    )
    assert falling["bridge_volume_nl"] == 512_000
    # domain.md's simple case: 0.486 mL (110 cm exact) of 2000 mcg/mL at 400 mcg/day runs at
    # 0.2 mL/day for 0.486 / 0.2 = 2.43 days = 209,952 s
    clinician.request(SET_IMPLANT, implant_fields(nl_per_cm=2_600, length_mm=1_100))
    t1 = status(clinician)["clock_s"]
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=1000,
        prescription=simple(1000, 400_000),
        bridge=True,
    )
    assert committed is not None
    assert committed["bridge_volume_nl"] == 486_000
    assert committed["bridge_ends_at_s"] == t1 + 209_952
    st = status(clinician)
    # 0.2 mL/day, never a push at the maximum rate (0.486 mL in 29 min = 972 mcg)
    assert st["current_rate_nl_per_day"] == 200_000 and st["daily_dose_ng"] == 400_000
    # A bolus during the bridge is a dose in mcg computed at the OLD concentration:
    # 50 mcg of 2000 mcg/mL = 0.025 mL (at the new 1000 mcg/mL it would be 0.05 mL).
    pump.advance(HOUR)
    started = decode_start_bolus(
        clinician.request(START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, HOUR))
    )
    assert (started["dose_ng"], started["volume_nl"]) == (50_000, 25_000)
    st = status(clinician)
    assert st["current_rate_nl_per_day"] == 25_000 * 24  # 0.025 mL in 1 h
    # The bridge's end is recomputed: 1 h of basal (8,333 nL) then the bolus's 25,000 nL in
    # the second hour leave 486,000 - 8,333 - 25,000 = 452,667 nL at 0.2 mL/day:
    # 452,667 x 86,400 / 200,000 = 195,552.1 s after the bolus ends (t1 + 7,200 s), so
    # t1 + 202,752 or 202,753 (the sub-nL remainder decides the second).
    assert t1 + 202_752 <= st["bridge_ends_at_s"] <= t1 + 202_753
    pump.advance(st["bridge_ends_at_s"] - t1 - HOUR)
    st = status(clinician)
    assert st["bridge_concentration_ug_per_ml"] == 0
    # after the bridge: 400 / 1000 = 0.4 mL/day, still 400 mcg/day; a 50 mcg bolus is 0.05 mL
    assert (st["basal_rate_nl_per_day"], st["daily_dose_ng"]) == (400_000, 400_000)
    started = decode_start_bolus(
        clinician.request(START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, HOUR))
    )
    assert started["volume_nl"] == 50_000


def test_refill_to_a_stronger_drug_keeps_the_dose(pump: Pump, clinician: Session) -> None:
    # The preset: 100 mcg/day of 500 mcg/mL = 0.2 mL/day. A refill to 2000 mcg/mL that kept
    # 0.2 mL/day would deliver 0.2 x 2000 = 400 mcg/day: four times the dose.
    before = status(clinician)
    assert (before["daily_dose_ng"], before["basal_rate_nl_per_day"]) == (100_000, 200_000)
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=2000,
        prescription=simple(2000, 100_000),
        bridge=False,
    )
    assert committed is not None
    after = status(clinician)
    # 100 / 2000 = 0.05 mL/day; still 100 mcg/day
    assert (after["daily_dose_ng"], after["basal_rate_nl_per_day"]) == (100_000, 50_000)
    # and a later prescription of the old drug is refused
    assert nak_code(clinician, STAGE_PRESCRIPTION, simple(500, 100_000)) == CONCENTRATION_MISMATCH


def test_elective_replacement_date(pump: Pump, clinician: Session) -> None:
    info = decode_device_info(clinician.request(DEVICE_INFO))
    # domain.md: battery life 5 to 7 years depending on flow; ERI about 90 days before EOS.
    # A new battery: 12,484,752,000 uC; drain 56 uC/s + 1 uC per nL.
    capacity, quiescent, per_nl = (
        info["battery_capacity_uc"],
        info["battery_quiescent_drain_uc_per_s"],
        info["battery_drain_uc_per_nl"],
    )
    assert (capacity, quiescent, per_nl) == (12_484_752_000, 56, 1)
    # at 0.048 mL/day: 56 x 86,400 + 48,000 = 4,886,400 uC/day -> 2,555 d = 7.0 years
    # at 0.2 mL/day: 4,838,400 + 200,000 = 5,038,400 uC/day -> 2,478 d = 6.8 years
    # at 1 mL/day: 4,838,400 + 1,000,000 = 5,838,400 uC/day -> 2,138 d = 5.9 years
    for ml_per_day, years in ((0.048, 7.0), (0.2, 6.8), (1.0, 5.9)):
        per_day = quiescent * DAY + ml_per_day * 1_000_000 * per_nl
        assert capacity / per_day / 365.25 == pytest.approx(years, abs=0.05)
    assert info["eri_lead_s"] == 90 * DAY
    # A full battery at 0.2 mL/day: the projection keeps the 0.2 mL/day drain past the
    # reservoir's empty date (day 95), "as if refilled": (charge - 453,456,000 uC) /
    # (5,038,400 uC/day) = about 2,388 d (6.5 years), not the 2,483 d (6.8 years) that 56 uC/s
    # alone after day 95 would give.
    full = status(clinician)
    ahead = full["eri_at_s"] - full["clock_s"]
    assert ahead == pytest.approx((full["battery_uc"] - 453_456_000) / 5_038_400 * DAY, abs=2)
    # Bring the ERI near: the battery at 4 % (the documented control fault).
    assert pump.control("fault", "battery", "4")["ok"]
    st = status(clinician)
    assert st["battery_permille"] == 40
    # 100 mcg/day of 500 mcg/mL: 0.2 mL/day. Mean drain 56 + 200,000 / 86,400 uC/s;
    # ERI threshold = ceil(7,776,000 s x that) = 435,456,000 + 18,000,000 = 453,456,000 uC.
    threshold = 453_456_000
    charge, rem = st["battery_uc"], st["basal_remainder"]

    def charge_after(t: int) -> int:  # the doc's integral: 56 uC each second, 1 uC per nL
        return int(charge - 56 * t - (rem + 200_000 * t) // DAY)

    # estimate (charge - threshold) / 58.3148 uC/s, then the first second below it
    t = (charge - threshold) * DAY // (56 * DAY + 200_000) - 2
    while charge_after(t) >= threshold:
        t += 1
    assert st["eri_at_s"] == st["clock_s"] + t
    assert 8 * DAY < t < 10 * DAY  # 4 % of the charge is about 9 days above the threshold
    # Raised at the date (a STATUS costs 2,000 uC, 34 s of drain: stay 100 s away).
    pump.advance(t - 100)
    assert not status(clinician)["alarms_active"] & bit(A_ERI)
    pump.advance(100)
    st = status(clinician)
    assert st["alarms_active"] & bit(A_ERI) and st["delivering"] == 1
    assert decode_alarms(clinician.request(READ_ALARMS))[A_ERI]["alarm_class"] == NON_CRITICAL


def test_mri_stall_and_delayed_recovery(pump: Pump, clinician: Session) -> None:
    t0 = status(clinician)["clock_s"]
    reservoir = status(clinician)["reservoir_nl"]
    assert pump.control("mri", "start")["ok"]
    st = status(clinician)
    # infusion suspended for the exposure: a motor stall with the critical two-tone alarm
    assert st["delivering"] == 0 and st["halted_by"] == bit(A_MOTOR_STALL)
    assert st["alarms_active"] & bit(A_MOTOR_STALL)
    assert st["low_reservoir_alarm_at_s"] == 0  # nothing moves: no forecast
    assert decode_alarms(clinician.request(READ_ALARMS))[A_MOTOR_STALL]["alarm_class"] == CRITICAL
    # domain.md: critical = two tones, about 3 s, repeating about every 10 minutes
    tone = pump.control("state")["result"]["pump"]["tone"]
    assert (tone["tones"], tone["duration_s"], tone["repeat_s"]) == (2, 3, 600)
    pump.advance(45 * MIN)
    # recovery delayed 2 h (domain.md: 2 to 24 h reported); beyond 24 h is refused
    refused = pump.control("mri", "end", "--delay", "25h")
    assert not refused["ok"]
    assert pump.control("mri", "end", "--delay", "2h")["ok"]
    pump.advance(2 * HOUR - 1)
    st = status(clinician)
    assert st["delivering"] == 0 and st["reservoir_nl"] == reservoir
    r = Reader(clinician.request(READ_DELIVERY))
    assert (r.bool(), r.u64()) == (False, t0)  # not delivering since the scan began
    # The emergency department's one interrogation (README: `pumpctl emergency`): drug and
    # concentration, dose, delivering now and since when not, reservoir and alarm date,
    # last refill, active alarms, withdrawal and overdose signs.
    url = f"socket://{pump.address[0]}:{pump.address[1]}"
    summary = subprocess.run(
        [str(BIN / "pumpctl"), "--port", url, "emergency"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert summary.returncode == 0, summary.stderr
    for needle in (
        "baclofen 500 mcg/mL",
        "100 mcg/day",
        "delivering now:       NO",
        "since " + datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "reservoir:",
        "low-reservoir alarm",
        "last refill:",
        "active alarms:        motor-stall",
        "withdrawal",
        "overdose",
    ):
        assert needle in summary.stdout, needle
    pump.advance(1)
    st = status(clinician)
    assert st["delivering"] == 1 and not st["alarms_active"] & bit(A_MOTOR_STALL)
    entries = last_entries(clinician)
    assert [e["clock_s"] for e in entries if e["code"] == EV_MOTOR_STALL][-1] == t0
    # 45 min in the field + 2 h of bound gears = 9,900 s
    assert [e["a"] for e in entries if e["code"] == EV_STALL_RECOVERY][-1] == 9_900


def test_low_battery_reset_runs_the_keep_open_rate(pump: Pump, clinician: Session) -> None:
    assert pump.control("fault", "low-battery-reset")["ok"]
    st = status(clinician)
    # domain.md: drops to the minimum-rate (keep-open) flow, 0.006 mL/day, until reprogrammed
    assert (st["mode"], st["basal_rate_nl_per_day"]) == (M_MINIMUM_RATE, 6_000)
    assert st["alarms_active"] & bit(A_LOW_BATTERY_RESET)
    assert nak_code(clinician, CLEAR_ALARM, bytes([A_LOW_BATTERY_RESET])) == CONDITION_PERSISTS
    (checksum,) = struct.unpack(">I", clinician.request(STAGE_PRESCRIPTION, simple(500, 100_000)))
    clinician.request(COMMIT_PRESCRIPTION, struct.pack(">I", checksum))
    st = status(clinician)
    assert (st["mode"], st["basal_rate_nl_per_day"]) == (M_SIMPLE, 200_000)
    assert not st["alarms_active"] & bit(A_LOW_BATTERY_RESET)


def test_mri_telemetry_trap_waits_for_an_interrogation(pump: Pump, clinician: Session) -> None:
    # domain.md: EMI can switch the pump into telemetry mode while it sounds an alarm; then
    # infusion does not resume until the pump is interrogated after the scan (clinician
    # programmer or the patient's handheld): every successful SESSION_AUTH is one.
    clinician.link.close()  # a session opened before the scan does not count
    t0 = pump.control("state")["result"]["pump"]["clock_s"]
    assert pump.control("mri", "45m", "--telemetry-trap", "on")["ok"]
    pump.advance(DAY)
    world = pump.control("state")["result"]["pump"]
    assert world["delivering"] is False and world["delivering_since_clock_s"] == t0
    reservoir = world["reservoir_nl"]
    handheld = pump.session(PATIENT)  # the interrogation after the scan
    try:
        st = decode_status(handheld.request(STATUS))
        assert st["delivering"] == 1 and st["reservoir_nl"] == reservoir
        r = Reader(handheld.request(READ_DELIVERY))
        assert (r.bool(), r.u64()) == (True, t0 + DAY)  # delivering since the interrogation
    finally:
        handheld.link.close()


def test_critical_memory_error_halts_until_cleared(pump: Pump, clinician: Session) -> None:
    assert pump.control("fault", "memory-error", "critical")["ok"]
    st = status(clinician)
    assert st["delivering"] == 0 and st["halted_by"] == bit(A_MEMORY_CRITICAL)
    assert st["mode"] == M_SIMPLE  # a halt is not a change of mode
    bolus = struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, HOUR)
    assert nak_code(clinician, START_BOLUS, bolus) == PUMP_HALTED
    assert (
        decode_alarms(clinician.request(READ_ALARMS))[A_MEMORY_CRITICAL]["alarm_class"] == CRITICAL
    )
    assert clinician.request(CLEAR_ALARM, bytes([A_MEMORY_CRITICAL])) == b""  # latched: cleared
    st = status(clinician)
    assert st["delivering"] == 1 and st["halted_by"] == 0 and st["basal_rate_nl_per_day"] == 200_000


def test_cancel_bridge_and_the_refusals_around_a_bridge(pump: Pump, clinician: Session) -> None:
    # The preset's implant record: 110 cm of 0.0026 mL/cm + 0.2 mL = 0.486 mL.
    # Same drug with bridge 1: refused; 500 -> 1000 with the bridge, 100 mcg/day:
    # at the old 500 mcg/mL 0.2 mL/day.
    with pytest.raises(NakError) as same:
        refill(
            clinician,
            added_nl=20_000_000,
            concentration=500,
            prescription=simple(500, 100_000),
            bridge=True,
        )
    assert same.value.code == INVALID_STATE
    t0 = status(clinician)["clock_s"]
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=1000,
        prescription=simple(1000, 100_000),
        bridge=True,
    )
    assert committed is not None
    # 0.486 mL / 0.2 mL/day = 2.43 d = 209,952 s
    assert committed["bridge_ends_at_s"] == t0 + 209_952
    # another concentration change while the bridge runs: refused
    with pytest.raises(NakError) as during:
        refill(
            clinician,
            added_nl=20_000_000,
            concentration=2000,
            prescription=simple(2000, 100_000),
            bridge=False,
        )
    assert during.value.code == INVALID_STATE
    pump.advance(DAY)  # 0.2 mL delivered
    # A patient dose during the bridge is mcg at the OLD concentration:
    # 20 mcg of 500 mcg/mL = 0.04 mL (at the new 1000 mcg/mL it would be 0.02 mL)
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(True, 20_000, 600, HOUR, 4))
    granted = Reader(clinician.request(PATIENT_DOSE))
    assert (granted.u32(), granted.u32()) == (20_000, 40_000)
    delivered, remaining = struct.unpack(">II", clinician.request(CANCEL_BRIDGE))
    assert (delivered, remaining) == (200_000, 286_000)
    st = status(clinician)
    # from this second the new drug's rate: 100 / 1000 = 0.1 mL/day
    assert (st["bridge_concentration_ug_per_ml"], st["basal_rate_nl_per_day"]) == (0, 100_000)
    assert nak_code(clinician, CANCEL_BRIDGE) == INVALID_STATE
    # after it, 20 mcg of 1000 mcg/mL = 0.02 mL
    pump.advance(HOUR)
    granted = Reader(clinician.request(PATIENT_DOSE))
    assert (granted.u32(), granted.u32()) == (20_000, 20_000)


def test_a_running_bolus_brings_the_alarm_date_forward(pump: Pump, clinician: Session) -> None:
    t0 = status(clinician)["clock_s"]
    _, committed = refill(
        clinician,
        added_nl=20_000_000,
        concentration=500,
        prescription=simple(500, 100_000),
        bridge=False,
    )
    assert committed is not None and committed["low_reservoir_alarm_at_s"] == t0 + 90 * DAY
    # 50 mcg over 1 h of 500 mcg/mL: 0.1 mL in the first hour instead of the basal. Then
    # 17.9 mL to go at 0.2 mL/day: 89.5 d = 7,732,800 s; t0 + 3,600 + 7,732,800 s.
    clinician.request(START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, HOUR))
    assert t0 + 7_736_399 <= status(clinician)["low_reservoir_alarm_at_s"] <= t0 + 7_736_400


def test_alarm_silenced_by_the_patient_stays_raised(pump: Pump, clinician: Session) -> None:
    t0 = status(clinician)["clock_s"]
    pump.advance(90 * DAY)  # the preset's low-reservoir day
    patient = pump.session(PATIENT)
    try:
        assert patient.request(SILENCE_ALARM, bytes([A_LOW_RESERVOIR])) == b""
        st = decode_status(patient.request(STATUS))
        assert st["alarms_active"] & bit(A_LOW_RESERVOIR) and st["alarms_silenced"] & bit(
            A_LOW_RESERVOIR
        )
        alarm = decode_alarms(patient.request(READ_ALARMS))[A_LOW_RESERVOIR]
        assert (alarm["raised_at_s"], alarm["silenced"], alarm["condition_present"]) == (
            t0 + 90 * DAY,
            1,
            1,
        )
    finally:
        patient.link.close()
    assert nak_code(clinician, CLEAR_ALARM, bytes([A_LOW_RESERVOIR])) == CONDITION_PERSISTS
    # a lower alarm volume (1.5 mL, the lowest) clears it by itself
    clinician.request(SET_ALARM_VOLUME, struct.pack(">I", 1_500_000))
    assert not status(clinician)["alarms_active"] & bit(A_LOW_RESERVOIR)


def test_end_of_service_stops_the_pump(pump: Pump, clinician: Session) -> None:
    # domain.md: at EOS (battery depleted) the pump stops; a critical alarm
    assert pump.control("fault", "battery", "0")["ok"]
    st = status(clinician)
    assert st["delivering"] == 0 and st["halted_by"] & bit(A_EOS)
    assert st["alarms_active"] & bit(A_EOS) and st["mode"] == M_SIMPLE
    assert decode_alarms(clinician.request(READ_ALARMS))[A_EOS]["alarm_class"] == CRITICAL
    bolus = struct.pack(">BIII", B_THERAPEUTIC, 10_000, 0, HOUR)
    assert nak_code(clinician, START_BOLUS, bolus) == PUMP_HALTED
    assert nak_code(clinician, CLEAR_ALARM, bytes([A_EOS])) == CONDITION_PERSISTS
