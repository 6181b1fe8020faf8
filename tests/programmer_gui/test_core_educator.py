"""The educator window's Qt-free core: speed and clock texts, the plot history, the lessons'
numbers, and the wire decoder (frames back from chunks, noise reported, MAC frames decoded)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programmer_gui.core import CoreError, InputError
from programmer_gui.core.educator import (
    BRIDGE_BOLUS,
    DAY_S,
    HOUR_S,
    LOW_RESERVOIR,
    SCENARIOS,
    TITRATING_A_DOSE,
    EducatorError,
    EducatorPeerError,
    EducatorValueError,
    EntryKind,
    FaultState,
    PathSegment,
    PatientRisk,
    PumpFacts,
    SampleHistory,
    SpeedSetting,
    TonePattern,
    TrueSample,
    WireChunk,
    WireDecoder,
    WireDirection,
    auto_window_s,
    bridge_lesson,
    describe_elapsed,
    describe_message,
    entry_details,
    format_pump_time,
    hex_layout,
    hex_text,
    is_routine,
    low_reservoir_jump_s,
    message_fields,
    short_time,
    transit_time_s,
)
from protocol import messages as m
from protocol.enums import AlarmCode, BolusKind, ErrorCode, Flags, Mode, Op, Role, StopReason
from protocol.frames import Frame, encode_frame

T0 = 1_790_000_000  # 2026-09-21 14:13:20 UTC

FACTS = PumpFacts(
    serial="VP40-DEMO01",
    model=40,
    start_pump_s=T0,
    catheter_length_cm=50,
    dead_volume_nl=330_000,
    max_rate_nl_per_day=24_000_000,
    withdrawal_threshold_permille=400,
    overdose_threshold_permille=2000,
    half_life_s=4 * HOUR_S,
)


def sample(**changes: object) -> TrueSample:
    base = TrueSample(
        pump_time_s=T0,
        clock_s=T0,
        speed=SpeedSetting.stopped(),
        reservoir_nl=30_000_000,
        capacity_nl=40_000_000,
        alarm_volume_nl=2_000_000,
        reservoir_concentration_ug_per_ml=2000,
        tip_concentration_ug_per_ml=2000,
        path=(PathSegment(volume_nl=330_000, concentration_ug_per_ml=2000),),
        delivered_to_patient_ug=0.0,
        current_rate_nl_per_day=200_000,
        delivering=True,
        bolus_kind=BolusKind.NONE,
        alarms_active=(),
        silenced_alarms=(),
        tone=None,
        low_reservoir_at_clock_s=T0 + 140 * DAY_S,
        patient_level_ng_per_ml=600.0,
        reference_ng_per_ml=600.0,
        withdrawal_below_ng_per_ml=240.0,
        overdose_above_ng_per_ml=1200.0,
        patient_risk=PatientRisk.NORMAL,
        faults=FaultState(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --- speed, clock, window -----------------------------------------------------------------


def test_speed_setting_labels_and_limits() -> None:
    assert SpeedSetting.running(10_000).label == "x10,000"
    assert SpeedSetting.stopped(100).label == "paused"
    assert SpeedSetting.stopped(100).factor == 100
    assert "16 min 40 s" in SpeedSetting.running(1000).describe()
    assert "1 d 3 h 46 min 40 s" in SpeedSetting.running(100_000).describe()
    assert SpeedSetting.running(1).describe() == "x1: real time."
    for bad in (0, 100_001, 2.5, True):
        with pytest.raises(EducatorValueError):
            SpeedSetting(paused=False, factor=bad)  # type: ignore[arg-type]


def test_pump_time_and_elapsed_texts() -> None:
    assert format_pump_time(T0, UTC) == "2026-09-21 14:13"
    assert describe_elapsed(T0, T0) == "day 0 since start (0 s)"
    later = T0 + 3 * DAY_S + 4 * HOUR_S + 12 * 60 + 30
    assert describe_elapsed(later, T0) == "day 3 since start (3 d 4 h 12 min)"
    assert short_time(later, T0) == "d3 04:12:30"


def test_auto_window_follows_the_speed_within_bounds() -> None:
    assert auto_window_s(SpeedSetting.running(1)) == 6 * HOUR_S
    assert auto_window_s(SpeedSetting.running(1000)) == 600_000
    assert auto_window_s(SpeedSetting.running(100_000)) == 180 * DAY_S
    windows = [auto_window_s(SpeedSetting.running(f)) for f in (1, 10, 100, 1000, 10_000)]
    assert windows == sorted(windows)


def test_tone_pattern_words_and_beeps() -> None:
    critical = TonePattern(tones=2, duration_s=3, repeat_s=600)
    assert critical.describe() == "two tones, 3 s, repeating every 10 min"
    assert TonePattern(tones=1, duration_s=1, repeat_s=3600).describe() == (
        "single tone, 1 s, repeating every 1 h"
    )
    beeps = critical.beeps(1200)
    assert [b[0] for b in beeps] == [0, 1.5, 600, 601.5]
    assert [b[2] for b in beeps] == [0, 1, 0, 1]
    with pytest.raises(EducatorValueError):
        TonePattern(tones=1, duration_s=5, repeat_s=2)


# --- the lessons ----------------------------------------------------------------------------


def test_transit_time() -> None:
    assert transit_time_s(330_000, 24_000_000) == pytest.approx(1188)
    assert transit_time_s(200_000, 200_000) == DAY_S
    assert transit_time_s(1, 0) is None


def test_bridge_lesson_numbers_before_and_after_a_concentration_change() -> None:
    lines = bridge_lesson(sample(), FACTS)
    text = "\n".join(lines)
    assert "0.330 mL" in text
    assert "39.6 h" in text  # 0.33 mL at 0.2 mL/day
    assert "never pushed at the maximum rate" in text
    assert "400 mcg/day" in text
    assert "NOW" not in text
    changed = sample(
        reservoir_concentration_ug_per_ml=500,
        current_rate_nl_per_day=800_000,
        path=(
            PathSegment(volume_nl=130_000, concentration_ug_per_ml=2000),
            PathSegment(volume_nl=200_000, concentration_ug_per_ml=500),
        ),
    )
    text = "\n".join(bridge_lesson(changed, FACTS))
    assert "NOW: 0.130 mL of older drug (2000 mcg/mL, 260 mcg)" in text
    assert "holds 500 mcg/mL" in text
    assert "Reaching the patient now: 1600 mcg/day" in text


def test_low_reservoir_jump() -> None:
    assert low_reservoir_jump_s(sample()) == 140 * DAY_S + 60
    assert low_reservoir_jump_s(sample(alarms_active=(AlarmCode.LOW_RESERVOIR,))) is None
    assert low_reservoir_jump_s(sample(low_reservoir_at_clock_s=None)) is None
    assert {s.key for s in SCENARIOS} == {
        LOW_RESERVOIR.key,
        BRIDGE_BOLUS.key,
        TITRATING_A_DOSE.key,
        "mri_without_check",
        "mri_with_check",
    }
    assert all(len(s.steps) >= 3 for s in SCENARIOS)


def test_sample_reports_tip_dose_and_old_drug() -> None:
    s = sample(
        reservoir_concentration_ug_per_ml=500,
        path=(
            PathSegment(volume_nl=100_000, concentration_ug_per_ml=2000),
            PathSegment(volume_nl=230_000, concentration_ug_per_ml=500),
        ),
    )
    assert s.tip_dose_rate_ug_per_day == 400
    assert s.old_drug_in_path_nl == 100_000
    assert sample(tip_concentration_ug_per_ml=None).tip_dose_rate_ug_per_day is None
    with pytest.raises(EducatorValueError):
        sample(patient_level_ng_per_ml=math.nan)


# --- the plot history -----------------------------------------------------------------------


def test_history_skips_repeats_and_cuts_the_window() -> None:
    history = SampleHistory(start_pump_s=T0)
    assert history.add(sample())
    assert not history.add(sample())  # paused, nothing changed
    for hour in range(1, 49):
        history.add(sample(pump_time_s=T0 + hour * HOUR_S, delivered_to_patient_ug=hour * 400 / 24))
    assert not history.add(sample(pump_time_s=T0))  # never back in time
    assert len(history) == 49
    everything = history.series()
    assert len(everything) == 49
    assert everything.x_days[-1] == 2.0
    assert math.isnan(everything.reaching_patient_ug_per_day[0])
    assert everything.reaching_patient_ug_per_day[1] == pytest.approx(400)
    window = history.series(window_s=6 * HOUR_S)
    # The six hours plus one sample before them, so the line enters from the edge.
    assert len(window) == 8
    assert window.x_days[0] == pytest.approx(41 / 24)


def test_history_gap_in_the_tip_and_a_reset_of_the_delivered_total() -> None:
    history = SampleHistory(start_pump_s=T0, max_samples=3)
    history.add(sample(delivered_to_patient_ug=10.0))
    history.add(
        sample(pump_time_s=T0 + 60, tip_concentration_ug_per_ml=None, delivered_to_patient_ug=10.0)
    )
    history.add(sample(pump_time_s=T0 + 120, delivered_to_patient_ug=5.0))
    history.add(sample(pump_time_s=T0 + 180, delivered_to_patient_ug=6.0))
    series = history.series()
    assert len(series) == 3  # the oldest fell out
    assert math.isnan(series.tip_concentration_ug_per_ml[0])
    assert math.isnan(series.reaching_patient_ug_per_day[1])  # the total went backwards
    assert series.reaching_patient_ug_per_day[2] == pytest.approx(1440)


# --- the wire -------------------------------------------------------------------------------


def frame_bytes(message: m.Message, *, seq: int, mac: bool = False) -> bytes:
    flags = Flags.RESPONSE if message.response else Flags.NONE
    if mac:
        flags |= Flags.MAC
    return encode_frame(
        Frame(
            flags=flags,
            seq=seq,
            op=message.op,
            payload=m.encode_payload(message),
            mac=bytes(range(16)) if mac else None,
        )
    )


def chunk(data: bytes, direction: WireDirection = WireDirection.TO_PUMP) -> WireChunk:
    return WireChunk(wall_s=1.0, pump_s=T0, direction=direction, link="pump0#1", data=data)


STATUS = m.StatusResponse(
    clock_s=T0,
    mode=Mode.SIMPLE,
    stop_reason=StopReason.NONE,
    halted_by=frozenset(),
    bolus_kind=BolusKind.NONE,
    bolus_dose_ng=0,
    bolus_volume_nl=0,
    bolus_duration_s=0,
    bolus_started_at_s=None,
    bolus_remaining_nl=0,
    bolus_ends_at_s=None,
    basal_rate_nl_per_day=200_000,
    current_rate_nl_per_day=200_000,
    daily_dose_ng=100_000,
    daily_volume_nl=200_000,
    concentration_ug_per_ml=500,
    bridge_remaining_nl=0,
    bridge_concentration_ug_per_ml=0,
    bridge_ends_at_s=None,
    basal_remainder=0,
    reservoir_nl=1_500_000,
    capacity_nl=20_000_000,
    alarm_volume_nl=2_000_000,
    alarms_active=frozenset({AlarmCode.LOW_RESERVOIR}),
    alarms_silenced=frozenset(),
    low_reservoir_alarm_at_s=None,
    empty_at_s=T0 + DAY_S,
    battery_permille=700,
    battery_uc=8_000_000_000,
    eri_at_s=None,
    prescription_checksum=0x1234,
    delivering=True,
    recent_doses=(),
)


def test_decoder_decodes_mac_protected_frames_in_both_directions() -> None:
    decoder = WireDecoder(tz=UTC)
    request = frame_bytes(m.StatusRequest(), seq=7, mac=True)
    response = frame_bytes(STATUS, seq=7, mac=True)
    [asked] = decoder.feed(chunk(request))
    [answered] = decoder.feed(chunk(response, WireDirection.TO_PROGRAMMER))
    assert (asked.number, answered.number) == (1, 2)
    assert asked.kind is EntryKind.REQUEST and answered.kind is EntryKind.RESPONSE
    assert asked.op_name == answered.op_name == "STATUS"
    assert asked.seq == answered.seq == 7
    assert asked.summary == "Read the pump's state"
    assert answered.summary == ("SIMPLE, reservoir 1.5 mL, 0.2 mL/day now, alarms: LOW_RESERVOIR")
    assert answered.message == STATUS
    assert answered.data == response
    assert answered.payload_length == len(m.encode_payload(STATUS))
    fields = dict(answered.fields)
    assert fields["reservoir_nl"] == "1.5 mL"
    assert fields["concentration_ug_per_ml"] == "500 mcg/mL"
    assert fields["battery_permille"] == "70 %"
    assert fields["empty_at_s"] == "2026-09-22 14:13:20"
    assert fields["prescription_checksum"] == "0x00001234"
    details = entry_details(answered, tz=UTC)
    assert "MAC present" in details and "pump to programmer" in details
    assert not is_routine(decoder.feed(chunk(b"\x00"))[0])
    assert is_routine(asked)


def test_a_frame_split_across_chunks_and_noise_around_it() -> None:
    data = frame_bytes(m.DeviceInfoRequest(), seq=1)
    decoder = WireDecoder()
    first = decoder.feed(chunk(b"\x11\x22" + data[:5]))
    assert [e.kind for e in first] == [EntryKind.DROPPED]
    assert first[0].data == b"\x11\x22"
    assert "line noise" in first[0].summary
    [entry] = decoder.feed(chunk(data[5:]))
    assert entry.kind is EntryKind.REQUEST
    assert entry.data == data
    assert entry.summary.startswith("Who are you?")


def test_a_corrupted_frame_is_reported_and_the_next_frame_still_decodes() -> None:
    good = frame_bytes(m.StatusRequest(), seq=3)
    bad = bytearray(frame_bytes(m.StatusRequest(), seq=2))
    bad[-1] ^= 0x01  # CRC broken
    entries = WireDecoder().feed(chunk(bytes(bad) + good))
    assert [e.kind for e in entries] == [EntryKind.DROPPED, EntryKind.REQUEST]
    assert entries[0].data == bytes(bad)
    assert "CRC" in entries[0].summary and "no answer" in entries[0].summary
    assert entries[1].seq == 3
    assert entries[0].op_name == "(dropped)" and entries[0].seq is None


def test_naks_unknown_opcodes_and_bad_payloads() -> None:
    decoder = WireDecoder()
    nak = m.Nak(code=ErrorCode.NO_SESSION, reason="open a session first")
    [entry] = decoder.feed(chunk(frame_bytes(nak, seq=4), WireDirection.TO_PROGRAMMER))
    assert entry.kind is EntryKind.NAK
    assert entry.summary == "REFUSED NO_SESSION: open a session first"
    unknown = encode_frame(Frame(flags=Flags.NONE, seq=1, op=0x66, payload=b"\x01"))
    [entry] = decoder.feed(chunk(unknown))
    assert entry.message is None and entry.op_name == "0x66"
    assert entry.summary.startswith("payload does not decode")
    short = encode_frame(Frame(flags=Flags.RESPONSE, seq=1, op=Op.STATUS, payload=b"\x00"))
    [entry] = decoder.feed(chunk(short, WireDirection.TO_PROGRAMMER))
    assert entry.error is not None and "Payload error" in entry_details(entry)


def test_session_and_nested_messages_read_in_words() -> None:
    assert describe_message(
        m.SessionOpenRequest(role=Role.CLINICIAN, client_nonce=bytes(16))
    ).startswith("open a CLINICIAN session")
    auth = m.SessionAuthResponse(role=Role.PATIENT, idle_timeout_s=300)
    assert "session open as PATIENT" in describe_message(auth)
    assert describe_message(m.SessionCloseResponse()) == "acknowledged (no payload)"
    alarms = m.ReadAlarmsResponse(
        alarms=(
            m.AlarmRecord(
                code=AlarmCode.MOTOR_STALL,
                alarm_class=AlarmCode.MOTOR_STALL.alarm_class,
                raised_at_s=T0,
                silenced=False,
                condition_present=True,
            ),
        )
    )
    fields = message_fields(alarms, tz=UTC)
    assert fields[0] == ("alarms", "1 item(s)")
    assert fields[1][0] == "  [0]"
    assert "code = MOTOR_STALL" in fields[1][1] and "2026-09-21 14:13:20" in fields[1][1]
    flex = m.ReadPrescriptionResponse(
        prescription=m.PrescriptionSpec.flex(
            [
                m.FlexStep(start_min=0, dose_ng_per_day=100_000),
                m.FlexStep(start_min=420, dose_ng_per_day=200_000),
            ],
            concentration_ug_per_ml=500,
        ),
        checksum=1,
    )
    lines = dict(message_fields(flex))
    assert lines["prescription"] == "FLEX"
    assert lines["  profile every day"] == "00:00 100 mcg/day, 07:00 200 mcg/day"
    assert lines["  concentration_ug_per_ml"] == "500 mcg/mL"


def test_hex_layout_names_every_byte_of_a_mac_frame() -> None:
    data = frame_bytes(STATUS, seq=0x0102, mac=True)
    rows = hex_layout(data)
    assert [name for name, _, _ in rows] == [
        "SYNC",
        "VER",
        "FLAGS",
        "SEQ",
        "OP",
        "LEN",
        "PAYLOAD",
        "MAC",
        "CRC",
    ]
    assert b"".join(part for _, part, _ in rows) == data
    assert dict((n, meaning) for n, _, meaning in rows)["FLAGS"] == "RESPONSE, MAC"
    assert dict((n, meaning) for n, _, meaning in rows)["SEQ"] == "258"
    text = hex_text(data)
    assert text.splitlines()[0] == "SYNC     a5 5a  frame start"
    assert "MAC      00 01 02 03" in text
    assert hex_layout(b"\xa5\x5a\x01") == [("bytes", b"\xa5\x5a\x01", "not one whole frame")]


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=40), max_size=8), st.integers(0, 3))
def test_any_bytes_decode_without_raising_and_every_byte_is_accounted_for(
    pieces: list[bytes], frames: int
) -> None:
    good = frame_bytes(m.StatusRequest(), seq=9)
    stream = b"".join(piece + good * (i < frames) for i, piece in enumerate(pieces))
    decoder = WireDecoder()
    entries = [e for part in (stream[:17], stream[17:]) for e in decoder.feed(chunk(part))]
    seen = b"".join(e.data for e in entries)
    # Rows cover the stream in order; what is not reported waits for the rest of a frame.
    assert stream.startswith(seen)
    assert len(stream) - len(seen) <= len(good)
    assert all(e.frame is None or e.data == good for e in entries)


@settings(max_examples=40)
@given(st.lists(st.binary(max_size=40), max_size=8), st.integers(0, 8))
def test_noise_without_a_frame_start_never_hides_a_frame(pieces: list[bytes], frames: int) -> None:
    good = frame_bytes(m.StatusRequest(), seq=9)
    clean = [piece.replace(b"\xa5", b"\x00") for piece in pieces]
    stream = b"".join(piece + good * (i < frames) for i, piece in enumerate(clean))
    entries = WireDecoder().feed(chunk(stream))
    assert sum(e.kind is EntryKind.REQUEST for e in entries) == min(frames, len(clean))
    assert b"".join(e.data for e in entries) == stream


def test_educator_errors_sit_under_the_core_error() -> None:

    assert issubclass(EducatorError, CoreError)
    assert issubclass(EducatorValueError, InputError) and issubclass(EducatorValueError, ValueError)
    assert issubclass(EducatorPeerError, EducatorError)
    assert not issubclass(EducatorPeerError, InputError)  # the peer's fault, not ours
