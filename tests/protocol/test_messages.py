"""Messages: golden vectors, round trips for every message, strict decoding,
validation on construction, and the registry."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from construct import SizeofError
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.enums import (
    ALARM_CLASS,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Mode,
    Op,
    Origin,
    Role,
    StopReason,
)
from protocol.errors import InvalidMessage, MalformedPayload, UnknownOpcodeError
from protocol.messages import (
    MAX_EVENT_LOG_READ,
    MESSAGE_CLASSES,
    REGISTRY,
    AlarmMask,
    AlarmRecord,
    ArrayOf,
    Bool8,
    DeviceInfoResponse,
    DoseGrant,
    EnumWire,
    FlexStep,
    ImplantFields,
    LogEntry,
    Message,
    Nak,
    PrescriptionSpec,
    PrescriptionWire,
    RawBytes,
    ReadAlarmsResponse,
    ReadEventLogRequest,
    ReadEventLogResponse,
    Record,
    RecordWire,
    SInt32,
    StartBolusRequest,
    StatusResponse,
    StopPumpRequest,
    Text,
    TimeOrNone,
    UInt,
    Wire,
    decode_request,
    decode_response,
    encode_payload,
    encode_prescription,
    payload_schema,
    prescription_checksum,
    request_class,
    response_class,
    wire_fields,
)
from tests.protocol.vectors import VECTORS, Vector

PROFILE = settings(max_examples=40, derandomize=True, deadline=None)

MESSAGE_VECTORS = [v for v in VECTORS if v.message is not None]


def _decode(message_type: type[Message], payload: bytes) -> Message:
    op = message_type.op
    return decode_response(op, payload) if message_type.response else decode_request(op, payload)


# --- golden vectors ------------------------------------------------------------


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=[v.name for v in MESSAGE_VECTORS])
def test_vector_payload_parses(vector: Vector) -> None:
    assert vector.message is not None
    assert vector.frame.op == vector.message.op
    assert vector.frame.is_response == vector.message.response
    assert _decode(type(vector.message), vector.frame.payload) == vector.message


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=[v.name for v in MESSAGE_VECTORS])
def test_vector_payload_builds(vector: Vector) -> None:
    assert vector.message is not None
    assert encode_payload(vector.message) == vector.frame.payload


def test_vectors_cover_every_message_class() -> None:
    covered = {type(v.message) for v in MESSAGE_VECTORS}
    assert covered == set(MESSAGE_CLASSES)


def test_vectors_cover_every_prescription_mode() -> None:
    modes = set()
    for vector in MESSAGE_VECTORS:
        spec = getattr(vector.message, "prescription", None)
        if isinstance(spec, PrescriptionSpec):
            modes.add((spec.mode, spec.weekly))
    assert modes == {
        (Mode.SIMPLE, False),
        (Mode.FLEX, False),
        (Mode.FLEX, True),
        (Mode.MINIMUM_RATE, False),
        (Mode.STOPPED, False),
    }


def test_prescription_checksum_is_crc32_of_the_encoding() -> None:
    spec = PrescriptionSpec.simple(200_000, concentration_ug_per_ml=500)
    assert encode_prescription(spec) == bytes.fromhex("01000001f400030d40")
    assert (
        prescription_checksum(spec) == zlib.crc32(bytes.fromhex("01000001f400030d40")) == 0x46AEA451
    )


# --- strategies derived from the wire types ----------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=20)


def strategy_for(wire: Wire) -> st.SearchStrategy[Any]:
    """Every valid value of a wire type."""
    if isinstance(wire, UInt):
        if wire.choices:
            return st.sampled_from(wire.choices)
        return st.integers(wire.minimum, wire.maximum)
    if isinstance(wire, SInt32):
        return st.integers(-(1 << 31), (1 << 31) - 1)
    if isinstance(wire, Bool8):
        return st.booleans()
    if isinstance(wire, EnumWire):
        return st.sampled_from(sorted(wire.allowed) or list(wire.enum))
    if isinstance(wire, TimeOrNone):
        return st.none() | st.integers(1, (1 << 64) - 1)
    if isinstance(wire, AlarmMask):
        return st.frozensets(st.sampled_from(AlarmCode))
    if isinstance(wire, RawBytes):
        return st.binary(min_size=wire.size, max_size=wire.size)
    if isinstance(wire, Text):
        return _text.filter(lambda s: len(s.encode()) <= wire.max_bytes)
    if isinstance(wire, ArrayOf):
        element = wire.element
        if isinstance(element, RecordWire) and element.record is AlarmRecord:
            return st.lists(
                record_strategy(AlarmRecord), max_size=wire.max_count, unique_by=lambda a: a.code
            ).map(tuple)
        items = st.lists(strategy_for(element), min_size=wire.min_count, max_size=wire.max_count)
        return items.map(tuple)
    if isinstance(wire, RecordWire):
        return record_strategy(wire.record)
    if isinstance(wire, PrescriptionWire):
        return prescriptions
    raise AssertionError(f"no strategy for {wire!r}")


def _profile() -> st.SearchStrategy[tuple[FlexStep, ...]]:
    starts = st.lists(st.integers(1, 1439), max_size=12, unique=True).map(
        lambda rest: [0, *sorted(rest)]
    )
    return starts.flatmap(
        lambda s: st.tuples(
            *[
                st.builds(FlexStep, start_min=st.just(m), dose_ng_per_day=st.integers(0, 2**32 - 1))
                for m in s
            ]
        )
    )


_CONCENTRATIONS = st.integers(1, 2**32 - 1)

prescriptions: st.SearchStrategy[PrescriptionSpec] = st.one_of(
    st.builds(
        PrescriptionSpec.simple, st.integers(0, 2**32 - 1), concentration_ug_per_ml=_CONCENTRATIONS
    ),
    st.builds(PrescriptionSpec.flex, _profile(), concentration_ug_per_ml=_CONCENTRATIONS),
    st.builds(
        PrescriptionSpec.flex_weekly,
        st.lists(_profile(), min_size=7, max_size=7),
        concentration_ug_per_ml=_CONCENTRATIONS,
    ),
    st.builds(PrescriptionSpec.minimum_rate, concentration_ug_per_ml=_CONCENTRATIONS),
    st.builds(PrescriptionSpec.stopped, concentration_ug_per_ml=_CONCENTRATIONS),
)


def record_strategy(record: type[Record]) -> st.SearchStrategy[Any]:
    """Every valid instance of a record (cross-field rules respected)."""
    fields = {spec.name: strategy_for(spec.wire) for spec in wire_fields(record)}
    if record is AlarmRecord:
        fields["alarm_class"] = st.just(AlarmClass.NON_CRITICAL)
        return st.fixed_dictionaries(fields).map(
            lambda kw: AlarmRecord(**{**kw, "alarm_class": ALARM_CLASS[kw["code"]]})
        )
    if record is StartBolusRequest:
        u32 = st.integers(1, 2**32 - 1)
        return st.one_of(
            st.builds(
                StartBolusRequest,
                kind=st.just(BolusKind.THERAPEUTIC),
                dose_ng=u32,
                volume_nl=st.just(0),
                duration_s=u32,
            ),
            st.builds(
                StartBolusRequest,
                kind=st.just(BolusKind.PRIMING),
                dose_ng=st.just(0),
                volume_nl=u32,
                duration_s=st.just(0),
            ),
        )
    if record is ImplantFields:
        fields["catheter_length_uncertainty_mm"] = st.just(0)
    return st.fixed_dictionaries(fields).map(lambda kw: record(**kw))


@pytest.mark.parametrize("message_type", MESSAGE_CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
@PROFILE
def test_round_trip(message_type: type[Message], data: st.DataObject) -> None:
    message = data.draw(record_strategy(message_type))
    payload = encode_payload(message)
    assert _decode(message_type, payload) == message


@pytest.mark.parametrize("op", [*Op, 0x00, 0x7E, 0xFF], ids=lambda op: f"0x{int(op):02X}")
@given(payload=st.binary(max_size=120))
@PROFILE
def test_random_payloads_decode_canonically_or_raise_malformed(op: int, payload: bytes) -> None:
    for decode in (decode_request, decode_response):
        try:
            message = decode(op, payload)
        except (MalformedPayload, UnknownOpcodeError):
            continue
        # Whatever decodes re-encodes to exactly the same bytes: one encoding per message.
        assert encode_payload(message) == payload


# --- strict decoding ------------------------------------------------------------


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=[v.name for v in MESSAGE_VECTORS])
def test_trailing_and_missing_bytes_are_malformed(vector: Vector) -> None:
    assert vector.message is not None
    message_type = type(vector.message)
    payload = vector.frame.payload
    if isinstance(vector.message, Nak):
        # The reason runs to the end of the payload: only the code byte is required.
        with pytest.raises(MalformedPayload):
            _decode(Nak, b"")
        return
    with pytest.raises(MalformedPayload, match="trailing"):
        _decode(message_type, payload + b"\x00")
    if payload:
        with pytest.raises(MalformedPayload):
            _decode(message_type, payload[:-1])


@pytest.mark.parametrize(
    ("op", "response", "payload"),
    [
        (Op.STOP_PUMP, False, "09"),  # not a StopReason
        (Op.STOP_PUMP, False, ""),  # short
        (Op.START_BOLUS, False, "04 00000001 00000000 00000001"),  # PATIENT cannot be started
        (Op.START_BOLUS, False, "02 00000000 00000001 00000000"),  # BRIDGE is not a bolus
        (Op.START_BOLUS, False, "01 00000001 00000000 00000000"),  # THERAPEUTIC, no duration
        (Op.START_BOLUS, False, "03 00000000 00000001 00000384"),  # PRIMING with a duration
        (Op.STAGE_REFILL, False, "00000000 00000000 000001f4 02 00 00 03 000001f4"),  # bool 2
        (Op.STAGE_REFILL, False, "00000000 00000000 000001f4 00 00 00 03 00000000"),  # conc 0
        (Op.STOP_PUMP, False, "00"),  # NONE is not a reason to stop
        (Op.RESUME_PUMP, True, "04"),  # not a Mode
        (Op.SESSION_OPEN, False, "03" + "00" * 16),  # not a Role
        (Op.READ_EVENT_LOG, False, "00000000 00"),  # max_count 0
        (Op.READ_EVENT_LOG, False, "00000000 21"),  # max_count 33
        (Op.DEVICE_INFO, True, "15" + "00" * 20),  # model 21
        (Op.DEVICE_INFO, True, "14 02 ffff" + "00" * 19),  # serial not UTF-8
        (Op.DEVICE_INFO, True, "14 11" + "41" * 17 + "00" * 18),  # serial of 17 bytes
        (Op.NAK, True, "99"),  # not an ErrorCode
        (Op.NAK, True, "01 c3"),  # truncated UTF-8
        (Op.NAK, True, "01" + "41" * 201),  # reason over 200 bytes
        (Op.STAGE_PRESCRIPTION, False, "07 000001f4"),  # not a Mode
        (Op.STAGE_PRESCRIPTION, False, "01 000001f4"),  # SIMPLE without its dose
        (Op.STAGE_PRESCRIPTION, False, "01 00000000 00030d40"),  # concentration 0
        (Op.STAGE_PRESCRIPTION, False, "02 000001f4 00 00"),  # FLEX without profile
        (Op.STAGE_PRESCRIPTION, False, "02 000001f4 00 02 01 0000 00000001 01 0000 00000001"),
        (Op.STAGE_PRESCRIPTION, False, "02 000001f4 00 01 01 0001 00000001"),  # not midnight
        (Op.STAGE_PRESCRIPTION, False, "02 000001f4 00 01 02 0000 00000001 0000 00000001"),
        (Op.STAGE_PRESCRIPTION, False, "02 000001f4 00 01 02 0000 00000001 05a0 00000001"),
        (Op.STAGE_PRESCRIPTION, False, "02 000001f4 02 01 01 0000 00000001"),  # weekly byte 2
        (Op.STATUS, True, "00" * 9 + "09" + "00" * 131),  # not a StopReason
        (Op.STATUS, True, "00" * 98 + "0100" + "00" * 41),  # alarm bit 8 names no alarm
        (Op.STATUS, True, "00" * 118 + "03e9" + "00" * 21),  # battery 1001 permille
        (Op.READ_ALARMS, True, "01 00 02" + "00" * 10),  # LOW_RESERVOIR is not CRITICAL
        (Op.READ_ALARMS, True, "02" + "00 01" + "00" * 10 + "00 01" + "00" * 10),  # twice
        (Op.READ_EVENT_LOG, True, "00" * 8 + "01" + "00" * 12 + "00 00" + "00" * 8),  # code 0
    ],
)
def test_malformed_payloads(op: Op, response: bool, payload: str) -> None:
    decode = decode_response if response else decode_request
    with pytest.raises(MalformedPayload):
        decode(op, bytes.fromhex(payload))


def test_unknown_opcodes() -> None:
    with pytest.raises(UnknownOpcodeError) as caught:
        decode_request(0x7E, b"")
    assert caught.value.op == 0x7E
    with pytest.raises(UnknownOpcodeError):
        decode_request(Op.NAK, b"")  # NAK is never a request
    with pytest.raises(UnknownOpcodeError):
        decode_response(0x05, b"")
    with pytest.raises(UnknownOpcodeError):
        request_class(-1)


# --- validation on construction ---------------------------------------------------


def _status(**changes: Any) -> StatusResponse:
    fields: dict[str, Any] = {
        "clock_s": 1,
        "mode": Mode.SIMPLE,
        "stop_reason": StopReason.NONE,
        "delivering": False,
        "halted_by": frozenset(),
        "bolus_kind": BolusKind.NONE,
        "bolus_dose_ng": 0,
        "bolus_volume_nl": 0,
        "bolus_duration_s": 0,
        "bolus_started_at_s": None,
        "bolus_remaining_nl": 0,
        "bolus_ends_at_s": None,
        "basal_rate_nl_per_day": 0,
        "current_rate_nl_per_day": 0,
        "daily_dose_ng": 0,
        "daily_volume_nl": 0,
        "concentration_ug_per_ml": 0,
        "bridge_remaining_nl": 0,
        "bridge_concentration_ug_per_ml": 0,
        "bridge_ends_at_s": None,
        "basal_remainder": 0,
        "reservoir_nl": 0,
        "capacity_nl": 0,
        "alarm_volume_nl": 0,
        "alarms_active": frozenset(),
        "alarms_silenced": frozenset(),
        "low_reservoir_alarm_at_s": None,
        "empty_at_s": None,
        "battery_permille": 0,
        "battery_uc": 0,
        "eri_at_s": None,
        "prescription_checksum": 0,
        "recent_doses": (),
    }
    return StatusResponse(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"clock_s": -1},
        {"clock_s": 2**64},
        {"reservoir_nl": 2**32},
        {"reservoir_nl": 1.5},
        {"reservoir_nl": True},
        {"mode": 9},
        {"mode": "SIMPLE"},
        {"delivering": 1},
        {"bolus_ends_at_s": 0},  # 0 means none on the wire: say None
        {"alarms_active": {8}},
        {"stop_reason": 9},
        {"recent_doses": (DoseGrant(at_s=1),) * 49},
        {"alarms_active": 1},
        {"battery_permille": 1001},
    ],
)
def test_invalid_values_cannot_be_built(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage):
        _status(**changes)


def test_values_are_normalized() -> None:
    status = _status(mode=2, alarms_active=[0, 3], bolus_kind=4)
    assert status.mode is Mode.FLEX
    assert status.bolus_kind is BolusKind.PATIENT
    assert status.alarms_active == frozenset({AlarmCode.LOW_RESERVOIR, AlarmCode.EMPTY_RESERVOIR})
    assert hash(status) == hash(_status(mode=Mode.FLEX, alarms_active={0, 3}, bolus_kind=4))


@pytest.mark.parametrize(
    "build",
    [
        lambda: StartBolusRequest(kind=BolusKind.THERAPEUTIC, dose_ng=1, volume_nl=0, duration_s=0),
        lambda: StartBolusRequest(kind=BolusKind.THERAPEUTIC, dose_ng=1, volume_nl=1, duration_s=5),
        lambda: StartBolusRequest(kind=BolusKind.PRIMING, dose_ng=0, volume_nl=1, duration_s=5),
        lambda: StartBolusRequest(kind=BolusKind.PRIMING, dose_ng=1, volume_nl=1, duration_s=0),
        lambda: StartBolusRequest(kind=BolusKind.BRIDGE, dose_ng=0, volume_nl=1, duration_s=0),
        lambda: StartBolusRequest(kind=BolusKind.PATIENT, dose_ng=1, volume_nl=0, duration_s=5),
        lambda: StartBolusRequest(kind=BolusKind.NONE, dose_ng=1, volume_nl=0, duration_s=5),
        lambda: StopPumpRequest(reason=StopReason.NONE),
        lambda: ImplantFields(
            catheter_model="",
            catheter_volume_nl_per_cm=2600,
            catheter_length_mm=100,
            catheter_length_uncertainty_mm=100,
            implanted_at_s=None,
            patient_id="",
            origin=Origin.UNKNOWN,
            physician="",
        ),
        lambda: ReadEventLogRequest(first_index=0, max_count=0),
        lambda: ReadEventLogResponse(
            total_written=0,
            overwritten=0,
            entries=(LogEntry(index=0, clock_s=0, code=EventCode.POWER_ON, a=0, b=0),)
            * (MAX_EVENT_LOG_READ + 1),
        ),
        lambda: LogEntry(index=0, clock_s=0, code=EventCode.POWER_ON, a=2**31, b=0),
        lambda: AlarmRecord(
            code=AlarmCode.EOS,
            alarm_class=AlarmClass.NON_CRITICAL,
            raised_at_s=0,
            silenced=False,
            condition_present=False,
        ),
        lambda: ReadAlarmsResponse(alarms=(1, 2)),  # type: ignore[arg-type]
        lambda: Nak(code=ErrorCode.INTERNAL, reason="x" * 201),
        lambda: Nak(code=ErrorCode.INTERNAL, reason="\ud800"),
        lambda: DeviceInfoResponse(
            model=30,
            serial="",
            firmware_version="",
            capacity_nl=0,
            protocol_version=1,
            min_rate_nl_per_day=0,
            max_rate_nl_per_day=0,
            minimum_mode_rate_nl_per_day=0,
            empty_threshold_nl=0,
            tubing_volume_nl=0,
            catheter_volume_nl_per_cm=0,
            battery_capacity_uc=0,
            battery_quiescent_drain_uc_per_s=0,
            battery_drain_uc_per_nl=0,
            battery_telemetry_drain_uc_per_s=0,
            telemetry_s_per_frame=0,
            eri_lead_s=0,
            forecast_horizon_s=0,
            min_bolus_volume_nl=0,
            max_bolus_duration_s=0,
        ),
        lambda: FlexStep(start_min=1440, dose_ng_per_day=1),
        lambda: PrescriptionSpec(mode=Mode.SIMPLE, concentration_ug_per_ml=500),
        lambda: PrescriptionSpec(mode=Mode.SIMPLE, concentration_ug_per_ml=0, dose_ng_per_day=1),
        lambda: PrescriptionSpec(mode=Mode.STOPPED, concentration_ug_per_ml=500, dose_ng_per_day=5),
        lambda: PrescriptionSpec(mode=Mode.STOPPED, concentration_ug_per_ml=500, weekly=True),
        lambda: _flex([]),
        lambda: _flex([FlexStep(start_min=5, dose_ng_per_day=1)]),
        lambda: _flex([FlexStep(start_min=0, dose_ng_per_day=1)] * 2),
        lambda: _flex([FlexStep(start_min=m, dose_ng_per_day=1) for m in range(14)]),
        lambda: PrescriptionSpec.flex_weekly(
            [[FlexStep(start_min=0, dose_ng_per_day=1)]] * 6, concentration_ug_per_ml=500
        ),
        lambda: PrescriptionSpec(
            mode=Mode.FLEX,
            concentration_ug_per_ml=500,
            profiles=((FlexStep(start_min=0, dose_ng_per_day=1),),) * 7,
        ),
    ],
)
def test_structural_rules(build: Any) -> None:
    with pytest.raises(InvalidMessage):
        build()


def _flex(steps: list[FlexStep]) -> PrescriptionSpec:
    return PrescriptionSpec.flex(steps, concentration_ug_per_ml=500)


def test_prescription_helpers() -> None:
    monday = (FlexStep(start_min=0, dose_ng_per_day=1),)
    sunday = (FlexStep(start_min=0, dose_ng_per_day=7),)
    weekly = PrescriptionSpec.flex_weekly([monday] * 6 + [sunday], concentration_ug_per_ml=500)
    assert weekly.profile_for_weekday(0) == monday
    assert weekly.profile_for_weekday(6) == sunday
    assert _flex(list(monday)).profile_for_weekday(6) == monday
    assert weekly.with_concentration(2000).concentration_ug_per_ml == 2000
    assert weekly.with_concentration(2000).profiles == weekly.profiles
    with pytest.raises(InvalidMessage):
        PrescriptionSpec.simple(5, concentration_ug_per_ml=500).profile_for_weekday(0)
    with pytest.raises(InvalidMessage):
        weekly.profile_for_weekday(7)


# --- the registry -------------------------------------------------------------------


def test_registry_has_every_opcode_with_matching_classes() -> None:
    assert set(REGISTRY) == set(Op)
    for op, command in REGISTRY.items():
        assert command.response.op is op and command.response.response
        if op is Op.NAK:
            assert command.request is None
        else:
            assert command.request is not None
            assert command.request.op is op and not command.request.response
            assert request_class(op) is command.request
        assert response_class(op) is command.response
        assert command.summary


def test_every_message_encoding_fits_in_a_frame() -> None:
    biggest = ReadEventLogResponse(
        total_written=0,
        overwritten=0,
        entries=(LogEntry(index=0, clock_s=0, code=EventCode.POWER_ON, a=0, b=0),)
        * MAX_EVENT_LOG_READ,
    )
    weekly = PrescriptionSpec.flex_weekly(
        [[FlexStep(start_min=m, dose_ng_per_day=1) for m in range(13)]] * 7,
        concentration_ug_per_ml=500,
    )
    assert len(encode_payload(biggest)) <= 1024
    assert len(encode_prescription(weekly)) <= 1024


def test_schemas_are_construct_structs_with_the_fields_in_order() -> None:
    schema = payload_schema(StatusResponse)
    assert [sc.name for sc in schema.subcons] == [f.name for f in wire_fields(StatusResponse)]
    with pytest.raises(SizeofError):
        schema.sizeof()  # recent_doses makes it variable
    fixed = sum(sc.sizeof() for sc in schema.subcons[:-1])
    assert fixed == 140  # every field before recent_doses (a u8 count, then 8 bytes each)


def test_messages_are_frozen() -> None:
    message = StartBolusRequest(kind=BolusKind.PRIMING, dose_ng=0, volume_nl=1, duration_s=0)
    with pytest.raises(AttributeError):
        message.volume_nl = 2  # type: ignore[misc]


def test_role_enum_round_trip_through_session_open() -> None:
    # A bool is not an enum value, even though bool is an int.
    with pytest.raises(InvalidMessage):
        StartBolusRequest(kind=True, dose_ng=1, volume_nl=0, duration_s=1)  # type: ignore[arg-type]
    assert Role(1) is Role.CLINICIAN
