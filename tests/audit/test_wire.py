"""docs/protocol.md checked from the outside: framing, every documented request, STATUS's
fields against a second source, the documented limits at and one past each bound, the mode
transitions, the NAKs and which clock each timer runs on. Only the stdlib client of
``tests.audit.docclient`` talks to the pump (one ``pump-emulator serve`` for the module)."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.audit.docclient import (
    A_LOW_RESERVOIR,
    B_NONE,
    B_PATIENT,
    B_PRIMING,
    B_THERAPEUTIC,
    CANCEL_BOLUS,
    CANCEL_BRIDGE,
    CHECKSUM_MISMATCH,
    CLEAR_ALARM,
    CLINICIAN,
    COMMIT_PRESCRIPTION,
    COMMIT_REFILL,
    CONCENTRATION_MISMATCH,
    DEVICE_INFO,
    EV_BOLUS_CANCELLED,
    EV_IMPLANT_RECORDED,
    EV_RESUMED,
    EV_STOPPED,
    F_MAC,
    F_NOTIFY,
    F_RESPONSE,
    FORBIDDEN,
    INVALID_STATE,
    LIMITS,
    M_FLEX,
    M_MINIMUM_RATE,
    M_SIMPLE,
    M_STOPPED,
    MALFORMED,
    NAK,
    NO_SESSION,
    NOT_ENABLED,
    O_SPINAL,
    OUT_OF_RANGE,
    OVERFILL,
    PATIENT,
    PATIENT_DOSE,
    PATIENT_DOSE_LIMIT,
    PATIENT_DOSE_LOCKOUT,
    READ_ALARMS,
    READ_CLOCK,
    READ_DELIVERY,
    READ_EVENT_LOG,
    READ_IMPLANT,
    READ_PATIENT_SETTINGS,
    READ_PRESCRIPTION,
    READ_VALVE,
    REPLAY,
    RESET_VALVE,
    RESUME_PUMP,
    SESSION_CLOSE,
    SET_ALARM_VOLUME,
    SET_CLOCK,
    SET_IMPLANT,
    SET_PATIENT_SETTINGS,
    SILENCE_ALARM,
    SR_CLINICIAN_DECISION,
    SR_MRI,
    SR_NONE,
    STAGE_PRESCRIPTION,
    STAGE_REFILL,
    START_BOLUS,
    START_S,
    STATUS,
    STOP_PUMP,
    SYNC,
    UNKNOWN_OPCODE,
    V_MOTOR,
    Link,
    Pump,
    Reader,
    Session,
    build_frame,
    crc16,
    decode_alarms,
    decode_device_info,
    decode_event_log,
    decode_limits,
    decode_patient_settings,
    decode_stage_refill,
    decode_start_bolus,
    decode_status,
    flex,
    implant_fields,
    last_entries,
    minimum_rate,
    nak_code,
    patient_settings,
    serve,
    session_key,
    simple,
    stopped,
)


@pytest.fixture(scope="module")
def pump() -> Iterator[Pump]:
    # The default preset (docs/emulator.md): 20 mL just filled, 500 mcg/mL, 100 mcg/day.
    with serve("--preset", "default") as served:
        yield served


@pytest.fixture
def clinician(pump: Pump) -> Iterator[Session]:
    session = pump.session(CLINICIAN)
    yield session
    session.link.close()


def status(session: Session) -> dict[str, Any]:
    return decode_status(session.request(STATUS))


def test_framing_matches_the_documents_examples() -> None:
    # "the check value of b"123456789" is 0x29B1"
    assert crc16(b"123456789") == 0x29B1
    # "Example: a STATUS request, SEQ 0x0102, no MAC: a5 5a 01 00 01 02 10 00 00 4d f5"
    assert build_frame(0x0102, STATUS, b"") == bytes.fromhex(
        "a55a01000102100000 4df5".replace(" ", "")
    )
    # Handshake worked example: K, cn, pn give the session key and the MAC'd STATUS (SEQ 3).
    k = bytes(range(0x40, 0x60))
    cn, pn = bytes(range(0x10, 0x20)), bytes(range(0x20, 0x30))
    sk = session_key(k, CLINICIAN, cn, pn)
    assert sk.hex() == "fba657fcc8c6a29ad7f9fbfa78f9a614fbde160962703d51c6674ee63502f1e6"
    assert build_frame(3, STATUS, b"", key=sk) == bytes.fromhex(
        "a55a01020003100000 7e45ad3e0080ae8a69f39c72ece678a9 d707".replace(" ", "")
    )


def test_device_info_needs_no_session_and_carries_domain_numbers(pump: Pump) -> None:
    link = Link(pump.address)
    try:
        link.send_raw(build_frame(7, DEVICE_INFO, b""))
        frame = link.recv_frame()
        assert frame is not None and frame.op == DEVICE_INFO and frame.seq == 7
        assert frame.flags == F_RESPONSE and frame.mac is None
        info = decode_device_info(frame.payload)
    finally:
        link.close()
    # domain.md, pump hardware: a 20 mL model; minimum flow 0.048 mL/day; maximum about
    # 24 mL/day (1 mL/h); keep-open 0.006 mL/day; 0.0026 mL/cm of catheter; ERI about
    # 90 days before end of service. 1 mL = 1,000,000 nL.
    assert info["model"] == 20
    assert info["capacity_nl"] == 20_000_000
    assert info["protocol_version"] == 1
    assert info["min_rate_nl_per_day"] == 48_000
    assert info["max_rate_nl_per_day"] == 24_000_000
    assert info["minimum_mode_rate_nl_per_day"] == 6_000
    assert info["catheter_volume_nl_per_cm"] == 2_600
    assert info["eri_lead_s"] == 90 * 86_400
    # docs/emulator.md: "the 0.2 mL pump tubing"
    assert info["tubing_volume_nl"] == 200_000


def test_status_fields_agree_with_a_second_source(pump: Pump, clinician: Session) -> None:
    info = decode_device_info(clinician.request(DEVICE_INFO))
    prescription = clinician.request(READ_PRESCRIPTION)
    st = status(clinician)
    # READ_PRESCRIPTION: the Prescription bytes then the checksum, zlib.crc32 of them.
    body, (checksum,) = prescription[:-4], struct.unpack(">I", prescription[-4:])
    assert checksum == zlib.crc32(body) == st["prescription_checksum"]
    mode, concentration, dose = struct.unpack(">BII", body)
    # The preset: 100 mcg/day (100,000 ng/day) of 500 mcg/mL, SIMPLE.
    assert (mode, concentration, dose) == (M_SIMPLE, 500, 100_000)
    assert st["mode"] == M_SIMPLE and st["stop_reason"] == SR_NONE
    assert st["delivering"] == 1 and st["halted_by"] == 0
    assert st["concentration_ug_per_ml"] == concentration
    # rate = dose / concentration = 100 / 500 = 0.2 mL/day = 200,000 nL/day
    assert st["basal_rate_nl_per_day"] == st["current_rate_nl_per_day"] == 200_000
    assert st["daily_dose_ng"] == 100_000 and st["daily_volume_nl"] == 200_000
    assert st["capacity_nl"] == info["capacity_nl"]
    assert st["alarm_volume_nl"] == 2_000_000  # domain.md: default low-reservoir volume 2 mL
    assert st["bolus_kind"] == B_NONE and st["bolus_ends_at_s"] == 0
    assert st["bridge_concentration_ug_per_ml"] == 0 and st["bridge_ends_at_s"] == 0
    assert st["alarms_active"] == 0 and st["recent_doses"] == []
    assert 0 <= st["basal_remainder"] < 86_400
    assert 0 < st["battery_permille"] <= 1000
    assert st["battery_uc"] <= info["battery_capacity_uc"]
    # permille is the charge in thousandths of a new battery's (rounding either way)
    assert abs(st["battery_permille"] - st["battery_uc"] * 1000 / info["battery_capacity_uc"]) <= 1
    # The clock agrees with READ_CLOCK (manual clock: nothing moves between the two).
    (clock,) = struct.unpack(">Q", clinician.request(READ_CLOCK))
    assert clock == st["clock_s"]
    # Each answered frame costs battery_telemetry_drain_uc_per_s x telemetry_s_per_frame.
    frame_cost = info["battery_telemetry_drain_uc_per_s"] * info["telemetry_s_per_frame"]
    again = status(clinician)
    assert st["battery_uc"] - again["battery_uc"] == 2 * frame_cost  # READ_CLOCK + STATUS
    # READ_IMPLANT's drug is STATUS's drug.
    r = Reader(clinician.request(READ_IMPLANT))
    assert r.bool()
    r.str8()
    r.u32(), r.u16(), r.u16(), r.u64()
    r.str8()
    assert r.u8() in (0, 1, 2)  # Origin
    r.str8()
    assert r.u32() == st["concentration_ug_per_ml"]
    r.str8()
    r.u64()
    r.done()


def test_documented_limits_at_and_one_past_each_bound(clinician: Session) -> None:
    lim = decode_limits(clinician.request(LIMITS))
    info = decode_device_info(clinician.request(DEVICE_INFO))
    # Low-reservoir alarm volume ("many clinics use 3-4 mL": inside the range).
    assert lim["min_alarm_volume_nl"] <= 3_000_000
    assert lim["max_alarm_volume_nl"] >= 4_000_000
    for ok in (lim["min_alarm_volume_nl"], lim["max_alarm_volume_nl"], 2_000_000):
        assert clinician.request(SET_ALARM_VOLUME, struct.pack(">I", ok)) == struct.pack(">I", ok)
    for bad in (lim["min_alarm_volume_nl"] - 1, lim["max_alarm_volume_nl"] + 1):
        assert nak_code(clinician, SET_ALARM_VOLUME, struct.pack(">I", bad)) == OUT_OF_RANGE
    assert status(clinician)["alarm_volume_nl"] == 2_000_000  # the refusals changed nothing

    # Rates: round(dose_ng * 1000 / 500) within 48,000 .. 24,000,000 nL/day.
    # 24,000 ng/day -> 48,000 nL/day (the minimum); 23,998 -> 47,996 (one nL/day under, in
    # whole ng: 23,999 ng would round half up to 47,998)
    assert info["min_rate_nl_per_day"] == 48_000
    clinician.request(STAGE_PRESCRIPTION, simple(500, 24_000))
    assert nak_code(clinician, STAGE_PRESCRIPTION, simple(500, 23_999)) == OUT_OF_RANGE
    # 12,000,000 ng/day -> 24,000,000 nL/day (the maximum); 12,000,001 -> 24,000,002
    clinician.request(STAGE_PRESCRIPTION, simple(500, 12_000_000))
    assert nak_code(clinician, STAGE_PRESCRIPTION, simple(500, 12_000_001)) == OUT_OF_RANGE
    # Flex: steps on multiples of 15 min; 13 steps at most (a 14th is outside the type).
    assert lim["max_flex_steps"] == 13 and lim["flex_step_granularity_min"] == 15
    thirteen = [(i * 60, 100_000) for i in range(13)]
    clinician.request(STAGE_PRESCRIPTION, flex(500, thirteen))
    fourteen = [(i * 60, 100_000) for i in range(14)]
    assert nak_code(clinician, STAGE_PRESCRIPTION, flex(500, fourteen)) == MALFORMED
    clinician.request(STAGE_PRESCRIPTION, flex(500, [(0, 100_000), (7 * 60 + 15, 200_000)]))
    assert (
        nak_code(clinician, STAGE_PRESCRIPTION, flex(500, [(0, 100_000), (7 * 60 + 10, 200_000)]))
        == OUT_OF_RANGE
    )
    assert (
        nak_code(clinician, STAGE_PRESCRIPTION, flex(500, [(15, 100_000)])) == MALFORMED
    )  # must start at 0
    # The drug in the pump is 500 mcg/mL: a prescription of 2000 is refused.
    assert nak_code(clinician, STAGE_PRESCRIPTION, simple(2000, 100_000)) == CONCENTRATION_MISMATCH

    # Boluses at 500 mcg/mL: 50 mcg = 100,000 nL; at 24,000,000 nL/day that is exactly 360 s,
    # the maximum rate, where only priming runs: floor(100,000 * 86,400 / 24,000,000) + 1 =
    # 361 s is the shortest therapeutic duration.
    def bolus(dose_ng: int, duration_s: int) -> bytes:
        return struct.pack(">BIII", B_THERAPEUTIC, dose_ng, 0, duration_s)

    for dose_ng, duration_s in ((50_000, 361), (50_000, lim["max_bolus_duration_s"]), (500, 3600)):
        started = decode_start_bolus(clinician.request(START_BOLUS, bolus(dose_ng, duration_s)))
        assert started["volume_nl"] == dose_ng * 1000 // 500 and started["duration_s"] == duration_s
        clinician.request(CANCEL_BOLUS)
    assert lim["min_bolus_volume_nl"] == 1_000  # 500 ng at 500 mcg/mL is 1,000 nL: the smallest
    for dose_ng, duration_s in (
        (50_000, 360),
        (50_000, 359),
        (50_000, lim["max_bolus_duration_s"] + 1),
        (499, 3600),
    ):
        assert nak_code(clinician, START_BOLUS, bolus(dose_ng, duration_s)) == OUT_OF_RANGE
    assert status(clinician)["bolus_kind"] == B_NONE

    # Patient-activated doses: lockout, doses per 24 h, the dose's volume.
    assert lim["max_patient_dose_volume_nl"] == 500_000  # 250,000 ng at 500 mcg/mL
    for args in (
        # 500,000 nL at 24,000,000 nL/day is exactly 1,800 s at the maximum rate: a patient
        # dose runs below it, so 1,801 s at least
        (True, 250_000, 1_801, 1_801, 1),
        (True, 20_000, 600, lim["min_patient_lockout_s"], 1),
        (True, 20_000, 600, lim["max_patient_lockout_s"], lim["max_patient_doses_per_24h"]),
    ):
        clinician.request(SET_PATIENT_SETTINGS, patient_settings(*args))
    for args in (
        (True, 250_001, 3600, 3600, 1),
        (True, 250_000, 1_800, 1_800, 1),
        (True, 250_000, 1_799, 1_800, 1),
        (True, 20_000, 600, lim["min_patient_lockout_s"] - 1, 1),
        (True, 20_000, 600, lim["max_patient_lockout_s"] + 1, 1),
        (True, 20_000, 600, 3600, lim["max_patient_doses_per_24h"] + 1),
        (True, 20_000, 600, 3600, 0),
        # a dose ends before the next may start: the lockout is at least the duration
        (True, 20_000, 3_601, 3_600, 1),
    ):
        assert nak_code(clinician, SET_PATIENT_SETTINGS, patient_settings(*args)) == OUT_OF_RANGE
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(True, 20_000, 3_600, 3_600, 1))
    # disabled settings are stored as sent, unchecked
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(False, 20_000, 600, 1, 0))
    assert decode_patient_settings(clinician.request(READ_PATIENT_SETTINGS))["lockout_s"] == 1
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(False, 20_000, 600, 3600, 4))

    # Refill: concentrations and capacity (staged only: nothing changes until COMMIT_REFILL).
    def refill(added_nl: int, concentration: int, nonstandard: bool) -> bytes:
        return (
            struct.pack(">IIIBB", 0, added_nl, concentration, int(nonstandard), 0)
            + b"\x03LOT"
            + simple(concentration, concentration * 200)  # 0.2 mL/day of any drug
        )

    # domain.md: the commercial 500, 1000, 2000 mcg/mL; 50 mcg/mL is for trial injections
    # only, and other values need an explicit override. LIMITS names the ones "accepted
    # without allow_nonstandard": each of them must be.
    assert sorted(lim["standard_concentrations_ug_per_ml"]) == [500, 1000, 2000]
    for concentration in lim["standard_concentrations_ug_per_ml"]:
        decode_stage_refill(
            clinician.request(STAGE_REFILL, refill(1_000_000, concentration, False))
        )
    assert nak_code(clinician, STAGE_REFILL, refill(1_000_000, 50, False)) == OUT_OF_RANGE
    decode_stage_refill(clinician.request(STAGE_REFILL, refill(1_000_000, 50, True)))
    for refill_args in (
        (20_000_000, 1000, False),
        (1_000_000, lim["min_concentration_ug_per_ml"], True),
        (1_000_000, lim["max_concentration_ug_per_ml"], True),
    ):
        decode_stage_refill(clinician.request(STAGE_REFILL, refill(*refill_args)))
    assert nak_code(clinician, STAGE_REFILL, refill(20_000_001, 1000, False)) == OVERFILL
    for refill_args in (
        (1_000_000, 750, False),  # not a standard concentration without allow_nonstandard
        (1_000_000, lim["min_concentration_ug_per_ml"] - 1, True),
        (1_000_000, lim["max_concentration_ug_per_ml"] + 1, True),
    ):
        assert nak_code(clinician, STAGE_REFILL, refill(*refill_args)) == OUT_OF_RANGE
    # The clock: u32 seconds, changed by -2^31 .. 2^31 - 1 s at once (an i32).
    (now,) = struct.unpack(">Q", clinician.request(READ_CLOCK))
    assert now < 2**31

    def set_clock(target: int) -> bytes:
        return clinician.request(SET_CLOCK, struct.pack(">Q", target))

    far = now + 2**31 - 1  # the largest step forward
    assert set_clock(far) == struct.pack(">Q", far)
    assert set_clock(2**32 - 1) == struct.pack(">Q", 2**32 - 1)  # the last second of u32
    assert nak_code(clinician, SET_CLOCK, struct.pack(">Q", 2**32)) == OUT_OF_RANGE
    set_clock(far)
    assert nak_code(clinician, SET_CLOCK, struct.pack(">Q", now - 2)) == OUT_OF_RANGE  # -2^31 - 1
    assert set_clock(now - 1) == struct.pack(">Q", now - 1)  # -2^31: the largest step back
    set_clock(now)
    assert nak_code(clinician, SET_CLOCK, struct.pack(">Q", now + 2**31)) == OUT_OF_RANGE
    assert struct.unpack(">Q", clinician.request(READ_CLOCK)) == (now,)
    # Implant record: the uncertainty stays below the length; length 1..3000 mm.
    for length_mm, uncertainty_mm in ((1_100, 1_000), (3_000, 0), (1, 0), (101, 100)):
        record = implant_fields(nl_per_cm=2_600, length_mm=length_mm, uncertainty_mm=uncertainty_mm)
        assert clinician.request(SET_IMPLANT, record) == record
    for length_mm, uncertainty_mm in ((100, 100), (3_001, 0), (0, 0), (1_100, 1_001)):
        record = implant_fields(nl_per_cm=2_600, length_mm=length_mm, uncertainty_mm=uncertainty_mm)
        assert nak_code(clinician, SET_IMPLANT, record) == MALFORMED
    clinician.request(SET_IMPLANT, implant_fields(nl_per_cm=2_600, length_mm=1_100))
    # START_BOLUS: "The other field is 0"; only THERAPEUTIC and PRIMING
    for kind, dose_ng, volume_nl, duration_s in (
        (B_THERAPEUTIC, 50_000, 1, 3_600),
        (B_PRIMING, 0, 100_000, 3_600),
        (B_PRIMING, 1, 100_000, 0),
        (B_PATIENT, 50_000, 0, 3_600),
    ):
        bolus_payload = struct.pack(">BIII", kind, dose_ng, volume_nl, duration_s)
        assert nak_code(clinician, START_BOLUS, bolus_payload) == MALFORMED
    # a bolus the reservoir cannot deliver before its empty threshold (1 mL): 20 mL less
    # what the preset delivered so far, less 1 mL, is the largest priming volume
    room = status(clinician)["reservoir_nl"] - info["empty_threshold_nl"]
    priming = struct.pack(">BIII", B_PRIMING, 0, room + 1, 0)
    assert nak_code(clinician, START_BOLUS, priming) == OUT_OF_RANGE
    clinician.request(START_BOLUS, struct.pack(">BIII", B_PRIMING, 0, room, 0))
    clinician.request(CANCEL_BOLUS)
    # Event log: max_count is u8 (1..32), outside it the payload is malformed.
    for bad in (0, 33):
        assert nak_code(clinician, READ_EVENT_LOG, struct.pack(">IB", 0, bad)) == MALFORMED
    assert (
        status(clinician)["reservoir_nl"] > 0
        and status(clinician)["concentration_ug_per_ml"] == 500
    )


def test_mode_transitions_of_the_table(clinician: Session) -> None:
    def stage_commit(prescription: bytes) -> int:
        (checksum,) = struct.unpack(">I", clinician.request(STAGE_PRESCRIPTION, prescription))
        assert checksum == zlib.crc32(prescription)
        assert clinician.request(COMMIT_PRESCRIPTION, struct.pack(">I", checksum)) == struct.pack(
            ">I", checksum
        )
        return int(checksum)

    stage_commit(simple(500, 100_000))
    # COMMIT naming another checksum than the staged one
    clinician.request(STAGE_PRESCRIPTION, simple(500, 120_000))
    assert (
        nak_code(clinician, COMMIT_PRESCRIPTION, struct.pack(">I", 0x12345678)) == CHECKSUM_MISMATCH
    )
    # running -> STOP_PUMP -> STOPPED (stop_reason set), drug stops; the bolus is cancelled
    clinician.request(START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, 3600))
    assert clinician.request(STOP_PUMP, bytes([SR_MRI])) == b""
    assert status(clinician)["bolus_kind"] == B_NONE
    assert EV_BOLUS_CANCELLED in [e["code"] for e in last_entries(clinician, 4)]
    st = status(clinician)
    assert (st["mode"], st["stop_reason"], st["delivering"]) == (M_STOPPED, SR_MRI, 0)
    assert st["low_reservoir_alarm_at_s"] == st["empty_at_s"] == 0  # nothing moves: no forecast
    assert nak_code(clinician, STOP_PUMP, bytes([SR_CLINICIAN_DECISION])) == INVALID_STATE
    assert (
        nak_code(clinician, START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, 3600))
        == INVALID_STATE
    )
    # STOPPED by STOP_PUMP, COMMIT_PRESCRIPTION -> still STOPPED; RESUME runs the new one
    stage_commit(simple(500, 150_000))
    assert status(clinician)["mode"] == M_STOPPED
    assert clinician.request(RESUME_PUMP) == bytes([M_SIMPLE])
    st = status(clinician)
    assert (st["mode"], st["delivering"], st["daily_dose_ng"]) == (M_SIMPLE, 1, 150_000)
    # running -> COMMIT of STOPPED -> STOPPED with stop_reason NONE; RESUME refused
    stage_commit(stopped(500))
    st = status(clinician)
    assert (st["mode"], st["stop_reason"], st["delivering"]) == (M_STOPPED, SR_NONE, 0)
    assert nak_code(clinician, RESUME_PUMP) == INVALID_STATE
    # STOPPED prescription -> COMMIT of another mode -> that mode
    stage_commit(minimum_rate(500))
    st = status(clinician)
    # MINIMUM_RATE runs the keep-open 0.006 mL/day whatever the drug
    assert (st["mode"], st["basal_rate_nl_per_day"], st["delivering"]) == (M_MINIMUM_RATE, 6_000, 1)
    stage_commit(flex(500, [(0, 100_000), (8 * 60, 200_000)]))
    assert status(clinician)["mode"] == M_FLEX
    stage_commit(simple(500, 100_000))
    codes = [e["code"] for e in last_entries(clinician)]
    assert EV_STOPPED in codes and EV_RESUMED in codes


def test_every_other_request_once(pump: Pump, clinician: Session) -> None:
    assert clinician.idle_timeout_s == 300  # "default 300 s, sent in the SESSION_AUTH response"
    # READ_DELIVERY: delivering now, since when (pump clock), last refill
    r = Reader(clinician.request(READ_DELIVERY))
    delivering, since, _last_refill = r.bool(), r.u64(), r.u64()
    r.done()
    st = status(clinician)
    assert delivering == bool(st["delivering"]) and START_S <= since <= st["clock_s"]
    # READ_VALVE: the default pump is a motor pump, no valve closed
    assert clinician.request(READ_VALVE) == bytes([V_MOTOR, 0]) + bytes(8)
    assert nak_code(clinician, RESET_VALVE) == INVALID_STATE  # a pump without a valve
    assert nak_code(clinician, CANCEL_BRIDGE) == INVALID_STATE  # no bridge runs
    assert nak_code(clinician, CANCEL_BOLUS) == INVALID_STATE  # no bolus runs
    # PRIMING: a volume at the maximum rate: 240,000 nL at 24,000,000 nL/day is 864 s
    started = decode_start_bolus(
        clinician.request(START_BOLUS, struct.pack(">BIII", B_PRIMING, 0, 240_000, 0))
    )
    assert (started["volume_nl"], started["duration_s"]) == (240_000, 864)
    assert started["ends_at_s"] == st["clock_s"] + 864
    st = status(clinician)
    assert st["bolus_kind"] == B_PRIMING and st["current_rate_nl_per_day"] == 24_000_000
    pump.advance(432)  # half way: floor(240,000 x 432 / 864) = 120,000 nL delivered
    assert clinician.request(CANCEL_BOLUS) == struct.pack(">I", 120_000)
    # SET_IMPLANT / READ_IMPLANT round trip
    record = implant_fields(
        nl_per_cm=2_600, length_mm=1_100, uncertainty_mm=50, implanted_at_s=START_S - 86_400
    )
    assert clinician.request(SET_IMPLANT, record) == record
    implant = clinician.request(READ_IMPLANT)
    assert implant[0] == 1 and implant[1 : 1 + len(record)] == record
    assert implant[1 + len(record) - 1 - len("Dr Audit") - 1] == O_SPINAL
    total, overwritten, _ = decode_event_log(
        clinician.request(READ_EVENT_LOG, struct.pack(">IB", 0, 1))
    )
    first = max(0, total - 32)
    total, overwritten, entries = decode_event_log(
        clinician.request(READ_EVENT_LOG, struct.pack(">IB", first, 32))
    )
    assert overwritten == 0
    assert [e["index"] for e in entries] == list(range(first, total))
    recorded = [e for e in entries if e["code"] == EV_IMPLANT_RECORDED]
    assert recorded[-1]["a"] == 1_100 and recorded[-1]["b"] == O_SPINAL
    # READ_ALARMS, SILENCE_ALARM and CLEAR_ALARM on an alarm that is not there
    assert decode_alarms(clinician.request(READ_ALARMS)) == {}
    assert nak_code(clinician, SILENCE_ALARM, bytes([A_LOW_RESERVOIR])) == INVALID_STATE
    assert nak_code(clinician, CLEAR_ALARM, bytes([A_LOW_RESERVOIR])) == INVALID_STATE
    assert nak_code(clinician, SILENCE_ALARM, bytes([99])) == MALFORMED  # unknown enum value
    # COMMIT_REFILL with nothing staged
    assert nak_code(clinician, COMMIT_REFILL, struct.pack(">I", 1)) in (
        INVALID_STATE,
        CHECKSUM_MISMATCH,
    )
    # PATIENT_DOSE while not enabled; READ_PATIENT_SETTINGS
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(False, 20_000, 600, 3600, 4))
    assert decode_patient_settings(clinician.request(READ_PATIENT_SETTINGS))["enabled"] == 0
    assert nak_code(clinician, PATIENT_DOSE) == NOT_ENABLED
    # SET_CLOCK answers the clock after setting it; setting it back restores it
    (now,) = struct.unpack(">Q", clinician.request(READ_CLOCK))
    assert clinician.request(SET_CLOCK, struct.pack(">Q", now + 60)) == struct.pack(">Q", now + 60)
    assert clinician.request(SET_CLOCK, struct.pack(">Q", now)) == struct.pack(">Q", now)
    # SESSION_CLOSE, then a MAC'd request finds no session
    assert clinician.request(SESSION_CLOSE) == b""
    frame = clinician.exchange(STATUS)
    assert frame.op == NAK and frame.payload[0] == NO_SESSION and frame.mac is None


def test_documented_naks(pump: Pump, clinician: Session) -> None:
    # a payload with a trailing byte
    assert nak_code(clinician, STATUS, b"\x00") == MALFORMED
    # an opcode that is not in the table
    assert nak_code(clinician, 0x09) == UNKNOWN_OPCODE
    # a command without MAC inside a session
    frame = clinician.exchange(STATUS, mac=False)
    assert frame.op == NAK and frame.payload[0] == NO_SESSION
    # an exact retransmission gets the cached answer byte for byte, and is not executed again
    seq = clinician.next_seq()
    request = build_frame(seq, STOP_PUMP, bytes([SR_CLINICIAN_DECISION]), key=clinician.key)
    clinician.link.send_raw(request)
    first = clinician.link.recv_frame()
    clinician.link.send_raw(request)
    second = clinician.link.recv_frame()
    assert first is not None and second is not None
    assert first == second and first.op == STOP_PUMP and first.flags == F_RESPONSE | F_MAC
    # ... while an older SEQ with other bytes is a replay
    clinician.link.send_raw(build_frame(seq - 1, STATUS, b"", key=clinician.key))
    replay = clinician.link.recv_frame()
    assert replay is not None and replay.op == NAK and replay.payload[0] == REPLAY
    assert clinician.request(RESUME_PUMP) == bytes([M_SIMPLE])
    # the patient role: its table
    patient = pump.session(PATIENT)
    try:
        for op, payload in (
            (READ_PRESCRIPTION, b""),
            (STAGE_PRESCRIPTION, simple(500, 100_000)),
            (START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, 3600)),
            (STOP_PUMP, bytes([SR_CLINICIAN_DECISION])),
            (STAGE_REFILL, b""),
            (READ_EVENT_LOG, struct.pack(">IB", 0, 1)),
            (SET_CLOCK, struct.pack(">Q", START_S)),
            (CLEAR_ALARM, bytes([A_LOW_RESERVOIR])),
            (READ_IMPLANT, b""),
        ):
            assert nak_code(patient, op, payload) == FORBIDDEN, hex(op)
        for op in (
            LIMITS,
            STATUS,
            READ_DELIVERY,
            READ_VALVE,
            READ_ALARMS,
            READ_CLOCK,
            READ_PATIENT_SETTINGS,
        ):
            patient.request(op)
    finally:
        patient.link.close()
    assert status(clinician)["mode"] == M_SIMPLE
    # SEQ never wraps: 0xFFFF is the last; after it, 0 does not move forward
    clinician.seq = 0xFFFE
    assert status(clinician)["mode"] == M_SIMPLE  # SEQ 0xFFFF
    clinician.link.send_raw(build_frame(0, STATUS, b"", key=clinician.key))
    wrapped = clinician.link.recv_frame()
    assert wrapped is not None and wrapped.op == NAK and wrapped.payload[0] == REPLAY
    # ... so the programmer opens a new session, whose SEQs start again
    clinician.seq = 0
    clinician.open(CLINICIAN, pump.keys[CLINICIAN])
    assert status(clinician)["mode"] == M_SIMPLE


def test_which_clock_each_timer_uses(pump: Pump, clinician: Session) -> None:
    # Therapy timers on pump time: a bolus over 3600 s ends when the pump clock has moved
    # 3600 s, whatever the wall does.
    start = status(clinician)["clock_s"]
    started = decode_start_bolus(
        clinician.request(START_BOLUS, struct.pack(">BIII", B_THERAPEUTIC, 10_000, 0, 3_600))
    )
    assert started["ends_at_s"] == start + 3_600 and started["volume_nl"] == 20_000
    pump.advance(3_599)
    st = status(clinician)
    assert (
        st["bolus_kind"] == B_THERAPEUTIC
        and st["bolus_remaining_nl"] == 20_000 - 20_000 * 3_599 // 3_600
    )
    pump.advance(1)
    assert status(clinician)["bolus_kind"] == B_NONE
    # The patient-dose lockout runs on the pump's model time: SET_CLOCK cannot shorten it.
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(True, 10_000, 600, 3_600, 2))
    granted = Reader(clinician.request(PATIENT_DOSE))
    dose_ng, volume_nl, ends_at, in_24h, next_at = (
        granted.u32(),
        granted.u32(),
        granted.u64(),
        granted.u8(),
        granted.u64(),
    )
    now = status(clinician)["clock_s"]
    # 10 mcg at 500 mcg/mL is 0.02 mL; it runs 600 s; the next is allowed 3600 s later
    assert (dose_ng, volume_nl, ends_at, in_24h, next_at) == (
        10_000,
        20_000,
        now + 600,
        1,
        now + 3_600,
    )
    assert status(clinician)["bolus_kind"] == B_PATIENT
    assert nak_code(clinician, PATIENT_DOSE) == INVALID_STATE  # a dose is running
    pump.advance(600)  # the dose ran its 600 s of pump time
    assert status(clinician)["bolus_kind"] == B_NONE
    (clock,) = struct.unpack(">Q", clinician.request(SET_CLOCK, struct.pack(">Q", now + 7_800)))
    assert clock == now + 7_800
    assert nak_code(clinician, PATIENT_DOSE) == PATIENT_DOSE_LOCKOUT
    clinician.request(SET_CLOCK, struct.pack(">Q", now + 600))
    pump.advance(2_999)
    assert nak_code(clinician, PATIENT_DOSE) == PATIENT_DOSE_LOCKOUT
    pump.advance(1)  # 3,600 s of the pump's time since the grant: the lockout is over
    clinician.request(PATIENT_DOSE)
    pump.advance(3_600)
    assert nak_code(clinician, PATIENT_DOSE) == PATIENT_DOSE_LIMIT  # 2 in 24 h at most
    assert len(status(clinician)["recent_doses"]) == 2
    clinician.request(SET_PATIENT_SETTINGS, patient_settings(False, 10_000, 600, 3_600, 2))
    # Link timers on real time: a day of pump time does not expire the session (idle
    # timeout 300 s of the link's monotonic time).
    before = time.monotonic()
    pump.advance(86_400)
    assert status(clinician)["mode"] == M_SIMPLE
    assert time.monotonic() - before < clinician.idle_timeout_s


def test_status_checksum_is_the_prescriptions_crc32_after_programming(clinician: Session) -> None:
    prescription = flex(500, [(0, 120_000), (8 * 60, 200_000), (20 * 60, 120_000)])
    (checksum,) = struct.unpack(">I", clinician.request(STAGE_PRESCRIPTION, prescription))
    assert checksum == zlib.crc32(prescription)
    clinician.request(COMMIT_PRESCRIPTION, struct.pack(">I", checksum))
    assert status(clinician)["prescription_checksum"] == checksum
    assert clinician.request(READ_PRESCRIPTION) == prescription + struct.pack(">I", checksum)
    # (120 x 8 h + 200 x 12 h + 120 x 4 h) / 24 h = 160 mcg/day (domain.md's worked profile)
    assert status(clinician)["daily_dose_ng"] == 160_000
    clinician.request(STAGE_PRESCRIPTION, simple(500, 100_000))
    clinician.request(COMMIT_PRESCRIPTION, struct.pack(">I", zlib.crc32(simple(500, 100_000))))


def test_stage_refill_reconciliation(clinician: Session) -> None:
    st = status(clinician)
    expected = 20_000_000 - (20_000_000 - st["reservoir_nl"])

    def stage(removed: int) -> dict[str, int]:
        payload = (
            struct.pack(">IIIBB", removed, 18_000_000, 500, 0, 0)
            + b"\x03LOT"
            + simple(500, 100_000)
        )
        staged = decode_stage_refill(clinician.request(STAGE_REFILL, payload))
        assert staged["checksum"] == zlib.crc32(payload)  # "zlib.crc32 of the request's payload"
        return staged

    exact = stage(expected)
    assert (exact["expected_nl"], exact["discrepancy_nl"], exact["discrepancy_flagged"]) == (
        expected,
        0,
        0,
    )
    assert exact["bridge_volume_nl"] == 0
    # flagged over 1 mL on the 20 mL model: 1,000,000 nL short is not flagged, one more is
    assert stage(expected - 1_000_000)["discrepancy_flagged"] == 0
    over = stage(expected - 1_000_001)
    assert (over["discrepancy_nl"], over["discrepancy_flagged"]) == (-1_000_001, 1)
    assert stage(expected + 1_000_001)["discrepancy_flagged"] == 1
    assert status(clinician)["reservoir_nl"] == st["reservoir_nl"]  # staging changed nothing


def test_receiver_drops_what_the_framing_section_says(clinician: Session) -> None:
    link = clinician.link

    key = clinician.key

    def unanswered_then_status(*ignored: bytes) -> None:
        """Frames the pump must drop without a word, then a STATUS: the first answer on
        the link is the STATUS's (so none of them was answered, nor swallowed it)."""
        seq = clinician.next_seq()
        link.send_raw(b"".join(ignored) + build_frame(seq, STATUS, b"", key=key))
        frame = link.recv_frame()
        assert frame is not None and (frame.op, frame.seq) == (STATUS, seq)

    # NOTIFY set (not a request), an undefined FLAGS bit, a bad VER, each with a good CRC
    wrong_ver = bytearray(build_frame(clinician.next_seq(), STATUS, b"", key=key))
    wrong_ver[2] = 0x02
    wrong_ver[-2:] = struct.pack(">H", crc16(bytes(wrong_ver[2:-2])))
    unanswered_then_status(
        build_frame(clinician.next_seq(), STATUS, b"", key=key, flags=F_NOTIFY),
        build_frame(clinician.next_seq(), STATUS, b"", key=key, flags=0x08),
        bytes(wrong_ver),
    )
    # LEN over 1024 is dropped at its header
    unanswered_then_status(SYNC + struct.pack(">BBHBH", 1, 0, clinician.next_seq(), STATUS, 1025))
    # a frame failing its CRC, and a frame with RESPONSE set (not a request)
    bad_crc = bytearray(build_frame(clinician.next_seq(), STATUS, b"", key=key))
    bad_crc[-1] ^= 0xFF
    unanswered_then_status(
        bytes(bad_crc), build_frame(clinician.next_seq(), STATUS, b"", key=key, flags=F_RESPONSE)
    )
    # a partial frame abandoned after 0.5 s of silence: the frame after it is answered
    partial = build_frame(clinician.next_seq(), STAGE_PRESCRIPTION, bytes(1000), key=key)[:40]
    link.send_raw(partial)
    time.sleep(0.6)
    assert status(clinician)["mode"] == M_SIMPLE
    # garbage before a frame: hunted through
    seq = clinician.next_seq()
    link.send_raw(b"\x00\xa5\x13\x5a" + build_frame(seq, STATUS, b"", key=key))
    frame = link.recv_frame()
    assert frame is not None and frame.op == STATUS and frame.seq == seq
