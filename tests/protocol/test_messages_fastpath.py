"""The fast message codec against the construct schemas it is derived from.

For every message class, ``encode_payload`` / ``decode_request`` /
``decode_response`` (the fast path where the class has one) and
``schema_encode_payload`` / ``schema_decode_payload`` (construct, the
reference) must give the same bytes, the same objects (down to the type of
every field value) and the same rejections, with the same words. Checked over
the golden vectors, hypothesis-made messages, random payloads, and valid
payloads with one byte changed, dropped, added or cut off.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest
from construct import Bytes, FormatField, SizeofError
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import messages
from protocol.enums import ALARM_CLASS, AlarmCode, BolusKind, EventCode, Mode, Op, StopReason
from protocol.errors import MalformedPayload
from protocol.messages import (
    MESSAGE_CLASSES,
    AlarmMask,
    DeviceInfoResponse,
    Message,
    Nak,
    ReadAlarmsResponse,
    ReadEventLogResponse,
    StartBolusRequest,
    StatusResponse,
    StopPumpRequest,
    decode_request,
    decode_response,
    encode_payload,
    has_fast_codec,
    payload_schema,
    schema_decode_payload,
    schema_encode_payload,
)
from protocol.payload import _codec as payload_codec
from protocol.payload import _FixedCodec as FixedCodec
from protocol.payload import _RunPart as RunPart
from protocol.prescription import (
    FlexStep,
    PrescriptionSpec,
    PrescriptionWire,
    decode_prescription,
    encode_prescription,
    prescription_schema,
    schema_encode_prescription,
)
from protocol.wire import ArrayOf, Record, RecordWire, wire_fields
from tests.protocol.test_messages import prescriptions, record_strategy
from tests.protocol.vectors import VECTORS, Vector

PROFILE = settings(max_examples=20, derandomize=True, deadline=None)

MESSAGE_VECTORS = [v for v in VECTORS if v.message is not None]
FAST_CLASSES = [cls for cls in MESSAGE_CLASSES if has_fast_codec(cls)]
# One-byte values that sit on the edges of the wire types: bool, enum ends,
# alarm-mask bits, sign bits.
EDGE_BYTES = (0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x10, 0x20, 0x40, 0x7F, 0x80, 0xFE, 0xFF)


def _fast_decode(cls: type[Message], payload: bytes) -> Message:
    decode = decode_response if cls.response else decode_request
    return decode(cls.op, payload)


def _shape(value: Any) -> Any:
    """``value`` with the exact type of every part spelled out, so that an int
    where an enum member belongs (equal, but not the same) shows."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, _shape(getattr(value, f.name))) for f in dataclasses.fields(value))
        return (type(value), fields)
    if isinstance(value, tuple):
        return (tuple, tuple(_shape(item) for item in value))
    if isinstance(value, frozenset):
        return (frozenset, tuple(sorted((type(item).__name__, item) for item in value)))
    return (type(value), value)


def _outcome(decode: Any, cls: type[Message], payload: bytes) -> tuple[str, Any]:
    """What decoding gives: the decoded shape, or the MalformedPayload's words.
    Anything else raised fails the test."""
    try:
        return ("decoded", _shape(decode(cls, payload)))
    except MalformedPayload as error:
        return ("malformed", str(error))


def _assert_same_decoding(cls: type[Message], payload: bytes) -> tuple[str, Any]:
    fast = _outcome(_fast_decode, cls, payload)
    schema = _outcome(schema_decode_payload, cls, payload)
    assert fast == schema, payload.hex()
    return fast


# --- coverage -------------------------------------------------------------------


def test_every_message_has_a_fast_codec() -> None:
    # The prescription and the nested implant record included: none is left on construct.
    assert {cls for cls in MESSAGE_CLASSES if not has_fast_codec(cls)} == set()


def _records(cls: type[Record]) -> list[type[Record]]:
    """``cls`` and every record nested in it (the prescription's flex step too)."""
    found = [cls]
    for spec in wire_fields(cls):
        wire = spec.wire
        while isinstance(wire, ArrayOf):
            wire = wire.element
        if isinstance(wire, RecordWire):
            found += _records(wire.record)
        elif isinstance(wire, PrescriptionWire):
            found.append(FlexStep)
    return found


def _subcon_code(subcon: Any) -> str | None:
    """The struct code construct's subcon packs with (None: not a fixed-size field)."""
    if type(subcon) is FormatField and subcon.fmtstr[0] == ">":
        return str(subcon.fmtstr[1:])
    if type(subcon) is Bytes and type(subcon.length) is int:
        return f"{subcon.length}s"
    return None


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda c: c.__name__)
def test_struct_codes_are_what_the_schema_packs(cls: type[Message]) -> None:
    """The fast codec packs each fixed-size field with the code its wire type declares:
    the code construct's subcon of that field packs with, and no other field has one."""
    for record in _records(cls):
        for spec in wire_fields(record):
            if isinstance(spec.wire, RecordWire):
                continue  # never flattened into its parent's struct
            assert spec.wire.struct_code == _subcon_code(spec.wire.subcon), spec.name
        codec = payload_codec(record)
        assert codec is not None
        if isinstance(codec, FixedCodec):  # all fixed-size: one struct, the schema's size
            assert codec.size == payload_schema(record).sizeof()


def test_the_fast_path_runs_without_construct() -> None:
    """Every golden vector's frame and message, encoded and decoded, and a prescription's
    checksum, in a fresh interpreter: construct is never imported (start-up, #16)."""
    code = (
        "import sys\n"
        "from protocol.frames import decode_frame, encode_frame\n"
        "from protocol.messages import decode_request, decode_response, encode_payload\n"
        "from protocol.prescription import prescription_checksum\n"
        "from tests.protocol.vectors import VECTORS\n"
        "for v in VECTORS:\n"
        "    assert decode_frame(encode_frame(v.frame)) == v.frame\n"
        "    if v.message is not None:\n"
        "        decode = decode_response if v.message.response else decode_request\n"
        "        assert decode(v.frame.op, encode_payload(v.message)) == v.message\n"
        "        spec = getattr(v.message, 'prescription', None)\n"
        "        if spec is not None:\n"
        "            prescription_checksum(spec)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'construct'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@given(spec=prescriptions)
@PROFILE
def test_prescription_bytes_are_the_schemas(spec: PrescriptionSpec) -> None:
    data = encode_prescription(spec)
    assert data == schema_encode_prescription(spec)
    assert PrescriptionWire().unpack_from(data + b"\x00", 0) == (spec, len(data))
    assert decode_prescription(data) == spec
    assert PrescriptionWire().from_wire(prescription_schema().parse(data)) == spec
    with pytest.raises(ValueError, match="trailing"):
        decode_prescription(data + b"\x00")
    for cut in range(len(data)):
        with pytest.raises(ValueError):
            decode_prescription(data[:cut])


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=[v.name for v in MESSAGE_VECTORS])
def test_fast_path_does_not_touch_construct(
    vector: Vector, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = vector.message
    assert message is not None
    if not has_fast_codec(type(message)):
        return

    def no_schema(record: Any) -> Any:
        raise AssertionError(f"the fast path of {record.__name__} used its construct schema")

    monkeypatch.setattr(messages, "payload_schema", no_schema)
    assert encode_payload(message) == vector.frame.payload
    assert _fast_decode(type(message), vector.frame.payload) == message


# --- golden vectors ----------------------------------------------------------------


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=[v.name for v in MESSAGE_VECTORS])
def test_vector_both_paths(vector: Vector) -> None:
    message = vector.message
    assert message is not None
    payload = vector.frame.payload
    assert encode_payload(message) == schema_encode_payload(message) == payload
    assert _assert_same_decoding(type(message), payload) == ("decoded", _shape(message))


@pytest.mark.parametrize("vector", MESSAGE_VECTORS, ids=[v.name for v in MESSAGE_VECTORS])
def test_vector_every_byte_changed_dropped_or_cut(vector: Vector) -> None:
    """Deterministic sweep: each position of each vector set to each edge byte,
    deleted, and the payload cut there; plus bytes appended."""
    assert vector.message is not None
    cls = type(vector.message)
    payload = vector.frame.payload
    for position in range(len(payload)):
        for byte in EDGE_BYTES:
            changed = payload[:position] + bytes((byte,)) + payload[position + 1 :]
            _assert_same_decoding(cls, changed)
        _assert_same_decoding(cls, payload[:position] + payload[position + 1 :])
        _assert_same_decoding(cls, payload[:position])
    for tail in (b"\x00", b"\x01\x02", b"\xff" * 9):
        _assert_same_decoding(cls, payload + tail)


# --- hypothesis: messages, random payloads, mutated payloads -----------------------


# The classes without a fast codec run the schema path both ways: nothing to compare.


@pytest.mark.parametrize("message_type", FAST_CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
@PROFILE
def test_random_payloads_decode_alike(message_type: type[Message], data: st.DataObject) -> None:
    schema = payload_schema(message_type)
    try:
        size = schema.sizeof()
    except SizeofError:  # variable size: any length
        payloads = st.binary(max_size=200)
    else:
        payloads = st.binary(min_size=size, max_size=size) | st.binary(max_size=size + 2)
    _assert_same_decoding(message_type, data.draw(payloads))


_MUTATIONS = ("replace", "insert", "delete", "truncate", "append", "xor")


def _mutate(payload: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(_MUTATIONS))
    position = data.draw(st.integers(0, len(payload)))
    byte = bytes((data.draw(st.integers(0, 255)),))
    head, tail = payload[:position], payload[position:]
    if kind == "replace":
        return head + byte + tail[1:]
    if kind == "insert":
        return head + byte + tail
    if kind == "delete":
        return head + tail[1:]
    if kind == "truncate":
        return head
    if kind == "append":
        return payload + data.draw(st.binary(min_size=1, max_size=4))
    bit = 1 << data.draw(st.integers(0, 7))
    return head + bytes((tail[0] ^ bit,)) + tail[1:] if tail else payload


@pytest.mark.parametrize("message_type", FAST_CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
@PROFILE
def test_generated_and_mutated_messages_alike(
    message_type: type[Message], data: st.DataObject
) -> None:
    """A generated message encodes and decodes alike; then so does its payload
    after each of three successive mutations."""
    message = data.draw(record_strategy(message_type))
    payload = encode_payload(message)
    assert payload == schema_encode_payload(message)
    assert _assert_same_decoding(message_type, payload) == ("decoded", _shape(message))
    for _ in range(3):
        payload = _mutate(payload, data)
        _assert_same_decoding(message_type, payload)


# --- the limits of the variable-size fields -------------------------------------
# Random bytes seldom reach them (valid UTF-8 over 200 bytes, 33 whole log
# entries), so they are spelled out here: each at its limit and one past it.


def _alarm(code: AlarmCode) -> bytes:
    return (
        bytes((code, ALARM_CLASS[code])) + (1_700_000_000 + code).to_bytes(8, "big") + b"\x01\x00"
    )


def _entry(index: int) -> bytes:
    return (
        index.to_bytes(4, "big")
        + (1_700_000_000 + index).to_bytes(8, "big")
        + int(EventCode.POWER_ON).to_bytes(2, "big")
        + (-index).to_bytes(4, "big", signed=True)
        + index.to_bytes(4, "big", signed=True)
    )


def _device_info(serial: bytes) -> bytes:
    # model 20, serial, "v1.", then 29 bytes of limits and 38 of battery and forecast constants
    return b"\x14" + bytes((len(serial),)) + serial + b"\x03v1." + bytes(29 + 38)


_LIMITS: list[tuple[str, type[Message], bytes, bool]] = [
    ("nak reason 200 bytes", Nak, b"\x01" + b"A" * 200, True),
    ("nak reason 201 bytes", Nak, b"\x01" + b"A" * 201, False),
    ("nak reason 200 bytes of 2-byte chars", Nak, b"\x01" + "é".encode() * 100, True),
    ("nak reason 201 bytes with 2-byte chars", Nak, b"\x01A" + "é".encode() * 100, False),
    ("nak reason empty", Nak, b"\x01", True),
    ("nak reason with NULs", Nak, b"\x01\x00A\x00", True),
    ("serial 16 bytes", DeviceInfoResponse, _device_info(b"S" * 16), True),
    ("serial 17 bytes", DeviceInfoResponse, _device_info(b"S" * 17), False),
    ("serial bad UTF-8", DeviceInfoResponse, _device_info(b"S\xc3"), False),
    ("alarms: all 8", ReadAlarmsResponse, b"\x08" + b"".join(map(_alarm, AlarmCode)), True),
    (
        "alarms: 9 (one twice)",
        ReadAlarmsResponse,
        b"\x09" + b"".join(map(_alarm, AlarmCode)) + _alarm(AlarmCode.EOS),
        False,
    ),
    ("alarms: count over the data", ReadAlarmsResponse, b"\x02" + _alarm(AlarmCode.EOS), False),
    (
        "log: 32 entries",
        ReadEventLogResponse,
        bytes(8) + b"\x20" + b"".join(map(_entry, range(32))),
        True,
    ),
    (
        "log: 33 entries",
        ReadEventLogResponse,
        bytes(8) + b"\x21" + b"".join(map(_entry, range(33))),
        False,
    ),
    ("log: no entries", ReadEventLogResponse, bytes(8) + b"\x00", True),
]


@pytest.mark.parametrize(
    ("cls", "payload", "valid"), [case[1:] for case in _LIMITS], ids=[case[0] for case in _LIMITS]
)
def test_variable_size_limits_decode_alike(cls: type[Message], payload: bytes, valid: bool) -> None:
    kind, _ = _assert_same_decoding(cls, payload)
    assert kind == ("decoded" if valid else "malformed")
    if valid:
        message = _fast_decode(cls, payload)
        assert encode_payload(message) == schema_encode_payload(message) == payload


# --- details ----------------------------------------------------------------------


def _status_payload() -> bytes:
    vector = next(v for v in MESSAGE_VECTORS if isinstance(v.message, StatusResponse))
    return vector.frame.payload


def test_rejections_are_not_cached() -> None:
    # The per-value tables remember valid values only: a bad value stays bad.
    bad = bytes((0x09,))
    for _ in range(3):
        with pytest.raises(MalformedPayload, match="StopPumpRequest"):
            decode_request(Op.STOP_PUMP, bad)
    good = bytes((int(StopReason.MRI),))
    assert decode_request(Op.STOP_PUMP, good) == StopPumpRequest(reason=StopReason.MRI)
    patient = bytes.fromhex("04 00000001 00000000 00000384")
    with pytest.raises(MalformedPayload):
        decode_request(Op.START_BOLUS, patient)
    assert decode_request(Op.START_BOLUS, bytes.fromhex("03 00000000 00000001 00000000")) == (
        StartBolusRequest(kind=BolusKind.PRIMING, dose_ng=0, volume_nl=1, duration_s=0)
    )
    with pytest.raises(MalformedPayload):
        decode_request(Op.START_BOLUS, patient)


def test_trailing_bytes_are_named_as_the_schema_names_them() -> None:
    with pytest.raises(MalformedPayload) as fast:
        decode_response(Op.STATUS, _status_payload() + b"\x00")
    with pytest.raises(MalformedPayload) as schema:
        schema_decode_payload(StatusResponse, _status_payload() + b"\x00")
    assert str(fast.value) == str(schema.value) == "StatusResponse: 1 trailing bytes"


def test_any_bytes_like_payload_decodes() -> None:
    payload = _status_payload()
    expected = decode_response(Op.STATUS, payload)
    assert decode_response(Op.STATUS, bytearray(payload)) == expected  # type: ignore[arg-type]
    assert decode_response(Op.STATUS, memoryview(payload)) == expected  # type: ignore[arg-type]
    assert decode_response(int(Op.STATUS), payload) == expected


def test_decoded_status_holds_normalized_values() -> None:
    status = decode_response(Op.STATUS, _status_payload())
    assert isinstance(status, StatusResponse)
    assert type(status.mode) is Mode
    assert type(status.bolus_kind) is BolusKind
    assert all(type(code) is AlarmCode for code in status.alarms_active)
    assert type(status.delivering) is bool
    assert type(status.clock_s) is int


def test_construction_still_normalizes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Start from an empty cache of normalized alarm sets, so that both its miss
    # and its hit are exercised whatever ran before.
    monkeypatch.setattr(AlarmMask, "_normalized", {})
    fields: dict[str, Any] = {spec.name: None for spec in messages.wire_fields(StatusResponse)}
    fields.update(
        clock_s=Mode.FLEX,  # an int subclass becomes a plain int
        mode=2,
        stop_reason=StopReason.NONE,
        delivering=True,
        halted_by=frozenset(),
        bolus_kind=BolusKind.NONE,
        bolus_dose_ng=0,
        bolus_volume_nl=0,
        bolus_duration_s=0,
        bolus_remaining_nl=0,
        basal_rate_nl_per_day=0,
        current_rate_nl_per_day=0,
        daily_dose_ng=0,
        daily_volume_nl=0,
        concentration_ug_per_ml=0,
        bridge_remaining_nl=0,
        bridge_concentration_ug_per_ml=0,
        basal_remainder=0,
        reservoir_nl=0,
        capacity_nl=0,
        alarm_volume_nl=0,
        alarms_active=frozenset({0, 3}),  # plain ints become AlarmCode members
        alarms_silenced=frozenset({AlarmCode.EOS}),
        battery_permille=1000,
        battery_uc=0,
        prescription_checksum=0,
        recent_doses=(),
    )
    for _ in range(2):  # the second time through the per-set cache
        status = StatusResponse(**fields)
        assert type(status.clock_s) is int and status.clock_s == 2
        assert status.mode is Mode.FLEX
        assert {type(code) for code in status.alarms_active} == {AlarmCode}
        assert status.alarms_active == {AlarmCode.LOW_RESERVOIR, AlarmCode.EMPTY_RESERVOIR}
        assert encode_payload(status) == schema_encode_payload(status)


# --- the compiled codecs against the field-by-field reading of the same parts ----------
# Each codec's encode and decode are compiled from its parts (payload._Run, _PartsCodec);
# here the same parts are read and written one field at a time, as the codec did before
# it was compiled: the two must agree on every byte, value and rejection.


def _reference_pack(run: Any, record: Any) -> bytes:
    values = [getattr(record, name) for name in run.names]
    for i, encode in run.encoders:
        values[i] = encode(values[i])
    packed: bytes = run.struct.pack(*values)
    return packed


def _reference_values(run: Any, raw: tuple[Any, ...]) -> list[Any]:
    values = list(raw)
    for i, decode in run.decoders:
        values[i] = decode(values[i])
    return values


def _reference_build(codec: Any, values: list[Any]) -> Any:
    build = codec.build
    if not build.direct:
        return build.cls(**dict(zip(build.names, values, strict=True)))
    record = object.__new__(build.cls)
    record.__dict__.update(zip(build.names, values, strict=True))
    if build.check is not None:
        build.check(record)
    return record


def _reference_encode(codec: Any, message: Any) -> bytes:
    if isinstance(codec, FixedCodec):
        return _reference_pack(codec.run, message)
    out: list[bytes] = []
    for part in codec.parts:
        if isinstance(part, RunPart):
            out.append(_reference_pack(part.run, message))
        else:
            part.write(message, out)
    return b"".join(out)


def _reference_decode(codec: Any, payload: bytes) -> Any:
    if isinstance(codec, FixedCodec):
        if len(payload) != codec.size:
            raise ValueError("size")
        return _reference_build(
            codec, _reference_values(codec.run, codec.run.struct.unpack(payload))
        )
    values: list[Any] = []
    offset = 0
    for part in codec.parts:
        if isinstance(part, RunPart):
            end = offset + part.run.size
            if end > len(payload):
                raise ValueError("short")
            values += _reference_values(part.run, part.run.struct.unpack_from(payload, offset))
            offset = end
        else:
            offset = part.read(payload, offset, values)
    if offset != len(payload):
        raise ValueError("trailing")
    return _reference_build(codec, values)


def _decoded(decode: Any, codec: Any, payload: bytes) -> tuple[str, Any]:
    try:
        return "decoded", _shape(decode(codec, payload))
    except ValueError:
        return "rejected", None


@pytest.mark.parametrize("message_type", FAST_CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
@PROFILE
def test_compiled_codecs_are_the_field_by_field_reading(
    message_type: type[Message], data: st.DataObject
) -> None:
    codec = payload_codec(message_type)
    assert codec is not None
    message = data.draw(record_strategy(message_type))
    payload = codec.encode(message)
    assert payload == _reference_encode(codec, message)
    compiled = _decoded(lambda c, p: c.decode(p), codec, payload)
    assert compiled == _decoded(_reference_decode, codec, payload) == ("decoded", _shape(message))
    for _ in range(3):
        payload = _mutate(payload, data)
        compiled = _decoded(lambda c, p: c.decode(p), codec, payload)
        assert compiled == _decoded(_reference_decode, codec, payload), payload.hex()


def test_the_status_answer_decodes_field_by_field_alike() -> None:
    """Every byte of a STATUS payload set to each edge value, one at a time: the compiled
    decoder and the field-by-field reading agree (the STATUS is most of a session's
    traffic)."""
    codec = payload_codec(StatusResponse)
    assert codec is not None
    statuses = [v.message for v in MESSAGE_VECTORS if isinstance(v.message, StatusResponse)]
    assert statuses
    base = encode_payload(statuses[0])
    assert _decoded(lambda c, p: c.decode(p), codec, base) == ("decoded", _shape(statuses[0]))
    for index in range(len(base)):
        for value in EDGE_BYTES:
            payload = bytearray(base)
            payload[index] = value
            compiled = _decoded(lambda c, p: c.decode(p), codec, bytes(payload))
            assert compiled == _decoded(_reference_decode, codec, bytes(payload))
