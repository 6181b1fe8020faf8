"""Framing: golden vectors (parse and build, fast path and schema), an
independent CRC, the fast path proven identical to the construct schema, and
the typed errors."""

from __future__ import annotations

import binascii
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.enums import MAX_PAYLOAD, Flags, Op
from protocol.errors import (
    FrameError,
    FrameFault,
    InvalidMessage,
    LocalError,
    PeerError,
)
from protocol.frames import (
    MAX_FRAME_SIZE,
    Frame,
    crc16,
    decode_frame,
    encode_frame,
    frame_length,
    schema_decode,
    schema_encode,
)
from tests.protocol.vectors import VECTOR_SESSION_KEY, VECTORS, Vector

PROFILE = settings(max_examples=150, derandomize=True, deadline=None)


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, bit by bit, straight from its definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def test_crc_check_value() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE.
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16(b"123456789") == 0x29B1


@given(st.binary(max_size=300))
@PROFILE
def test_crc_hqx_is_ccitt_false(data: bytes) -> None:
    assert binascii.crc_hqx(data, 0xFFFF) == crc16_ccitt_false(data) == crc16(data)


ids = [v.name for v in VECTORS]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_vector_crc_recomputed_independently(vector: Vector) -> None:
    wire = vector.wire
    assert int.from_bytes(wire[-2:], "big") == crc16_ccitt_false(wire[2:-2])


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_vector_parses(vector: Vector) -> None:
    assert decode_frame(vector.wire) == vector.frame
    assert schema_decode(vector.wire) == vector.frame


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_vector_builds(vector: Vector) -> None:
    assert encode_frame(vector.frame) == vector.wire
    assert schema_encode(vector.frame) == vector.wire


MAC_VECTORS = [v for v in VECTORS if v.frame.mac is not None]


@pytest.mark.parametrize("vector", MAC_VECTORS, ids=[v.name for v in MAC_VECTORS])
def test_vector_mac_recomputed_independently(vector: Vector) -> None:
    wire = vector.wire
    length = int.from_bytes(wire[7:9], "big")
    mac_input = wire[2 : 9 + length]  # VER .. end of PAYLOAD
    assert vector.frame.authenticated_bytes() == mac_input
    expected = hmac.new(VECTOR_SESSION_KEY, mac_input, hashlib.sha256).digest()[:16]
    assert vector.frame.mac == expected


def test_vectors_cover_the_framing_fields() -> None:
    flag_values = {int(v.frame.flags) for v in VECTORS}
    assert {0x00, 0x01, 0x02, 0x03, 0x05} <= flag_values
    assert max(len(v.frame.payload) for v in VECTORS) == MAX_PAYLOAD
    assert {0, 0xFFFF} <= {v.frame.seq for v in VECTORS}
    assert any(v.frame.op not in set(Op) for v in VECTORS)


# --- the fast path is the schema -------------------------------------------

frames = st.builds(
    lambda flags, seq, op, payload, mac: Frame(
        flags=Flags(flags),
        seq=seq,
        op=op,
        payload=payload,
        mac=mac if flags & Flags.MAC else None,
    ),
    flags=st.integers(0, 7),
    seq=st.integers(0, 0xFFFF),
    op=st.integers(0, 0xFF),
    payload=st.binary(max_size=MAX_PAYLOAD),
    mac=st.binary(min_size=16, max_size=16),
)


@given(frames)
@PROFILE
def test_fast_path_and_schema_build_the_same_bytes(frame: Frame) -> None:
    wire = encode_frame(frame)
    assert wire == schema_encode(frame)
    assert decode_frame(wire) == schema_decode(wire) == frame
    assert frame_length(wire[:9]) == len(wire)


@given(frames, st.data())
@PROFILE
def test_fast_path_and_schema_reject_the_same_corruptions(
    frame: Frame, data: st.DataObject
) -> None:
    wire = bytearray(encode_frame(frame))
    position = data.draw(st.integers(0, len(wire) - 1), label="position")
    wire[position] ^= data.draw(st.integers(1, 255), label="xor")
    cut = data.draw(st.sampled_from([None, "short", "long"]), label="cut")
    corrupt = bytes(wire)
    if cut == "short":
        corrupt = corrupt[: data.draw(st.integers(0, len(corrupt) - 1), label="length")]
    elif cut == "long":
        corrupt += b"\x00"
    outcomes: list[Frame | str] = []
    for decode in (decode_frame, schema_decode):
        try:
            outcomes.append(decode(corrupt))
        except FrameError:
            outcomes.append("rejected")
    # Both accept the same frame (a CRC collision) or both reject; nothing else is raised.
    # (When several fields are wrong they may name different FrameError reasons.)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    ("mutate", "fault"),
    [
        (lambda w: b"\xa5\x5b" + w[2:], FrameFault.SYNC),
        (lambda w: w[:2] + b"\x02" + w[3:], FrameFault.VERSION),
        (lambda w: w[:3] + b"\x08" + w[4:], FrameFault.FLAGS),
        (lambda w: w[:-1] + bytes([w[-1] ^ 1]), FrameFault.CRC),
        (lambda w: w + b"\x00", FrameFault.LENGTH),
        (lambda w: w[:-1], FrameFault.LENGTH),
        (lambda w: w[:5], FrameFault.LENGTH),
        (lambda w: w[:7] + b"\x04\x01" + w[9:], FrameFault.LENGTH),
    ],
    ids=["sync", "version", "flags", "crc", "trailing", "short", "header", "oversize"],
)
def test_decode_errors_name_their_reason(mutate: object, fault: FrameFault) -> None:
    wire = encode_frame(Frame(flags=Flags.NONE, seq=1, op=Op.STATUS, payload=b"ab"))
    corrupt = mutate(wire)  # type: ignore[operator]
    with pytest.raises(FrameError) as fast:
        decode_frame(corrupt)
    assert fast.value.reason is fault
    with pytest.raises(FrameError) as schema:
        schema_decode(corrupt)
    assert schema.value.reason is fault


def test_frame_errors_are_peer_errors_and_value_errors() -> None:
    assert issubclass(FrameError, PeerError)
    assert issubclass(FrameError, ValueError)
    assert issubclass(InvalidMessage, LocalError)
    assert issubclass(InvalidMessage, ValueError)


def test_decode_accepts_bytearray_and_memoryview() -> None:
    frame = Frame(flags=Flags.RESPONSE, seq=9, op=Op.STATUS, payload=b"xyz")
    wire = encode_frame(frame)
    assert decode_frame(bytearray(wire)) == frame  # type: ignore[arg-type]
    assert decode_frame(memoryview(wire)) == frame  # type: ignore[arg-type]
    assert type(decode_frame(bytearray(wire)).payload) is bytes  # type: ignore[arg-type]


# --- Frame validation ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"flags": Flags.NONE, "seq": -1, "op": 1},
        {"flags": Flags.NONE, "seq": 0x10000, "op": 1},
        {"flags": Flags.NONE, "seq": 1, "op": 256},
        {"flags": Flags.NONE, "seq": 1, "op": -1},
        {"flags": Flags.NONE, "seq": True, "op": 1},
        {"flags": Flags.NONE, "seq": 1, "op": 1, "payload": b"x" * (MAX_PAYLOAD + 1)},
        {"flags": Flags.NONE, "seq": 1, "op": 1, "payload": bytearray(b"x")},
        {"flags": Flags.MAC, "seq": 1, "op": 1},
        {"flags": Flags.MAC, "seq": 1, "op": 1, "mac": b"x" * 15},
        {"flags": Flags.NONE, "seq": 1, "op": 1, "mac": b"x" * 16},
        {"flags": 0x08, "seq": 1, "op": 1},
        {"flags": Flags(0x10), "seq": 1, "op": 1},
        {"flags": "RESPONSE", "seq": 1, "op": 1},
    ],
)
def test_invalid_frames_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidMessage):
        Frame(**kwargs)  # type: ignore[arg-type]


def test_plain_int_flags_become_flags() -> None:
    frame = Frame(flags=3, seq=1, op=1, mac=b"m" * 16)  # type: ignore[arg-type]
    assert frame.flags is Flags.RESPONSE | Flags.MAC
    assert frame.is_response and frame.has_mac and not frame.is_notify


def test_max_frame_size() -> None:
    frame = Frame(flags=Flags.MAC, seq=1, op=1, payload=b"\0" * MAX_PAYLOAD, mac=b"m" * 16)
    assert len(encode_frame(frame)) == MAX_FRAME_SIZE == 1051
