"""The programmer session's request packing against the validated build it replaces (issue #16).

:func:`protocol.session_programmer.request_bytes` (a request packed at once) gives the bytes
of ``encode_frame(build_frame(response=False, ...))``, the validated :class:`Frame` build;
and every request a :class:`ProgrammerSession` sends (handshake, MAC'd commands, a plain
DEVICE_INFO, SESSION_CLOSE) is byte for byte the frame built from the validated
:class:`Frame` and ``hmac`` for the same message, SEQ and key.
"""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from protocol.enums import MAX_PAYLOAD, Flags, Op, Role
from protocol.frames import Frame, authenticated_bytes, decode_frame, encode_frame
from protocol.messages import (
    DeviceInfoRequest,
    Message,
    ReadClockRequest,
    ReadPrescriptionRequest,
    SessionCloseRequest,
    StatusRequest,
    decode_request,
    encode_payload,
)
from protocol.session import DeviceSecurity, DeviceSession, ProgrammerSession, Reply
from protocol.session_crypto import build_frame
from protocol.session_programmer import request_bytes

KEY = bytes(range(32))


@pytest.mark.parametrize("mac", [False, True])
def test_request_bytes_equal_the_validated_frame_build(mac: bool) -> None:
    rng = random.Random(30 + mac)
    sizes = [0, 1, 2, 81, 141, 255, 256, MAX_PAYLOAD - 1, MAX_PAYLOAD]
    for i in range(400):
        seq = rng.choice([0, 1, 0xFFFF, rng.randrange(0x10000)])
        op = rng.choice([*Op, rng.randrange(256)])
        payload = rng.randbytes(sizes[i] if i < len(sizes) else rng.randrange(300))
        key = rng.randbytes(32) if mac else None
        reference = encode_frame(
            build_frame(response=False, seq=seq, op=op, payload=payload, key=key)
        )
        assert request_bytes(seq, op, payload, key) == reference
        frame = decode_frame(reference)
        assert not frame.is_response and frame.has_mac is mac


def _reference_request(message: Message, seq: int, key: bytes | None) -> bytes:
    """The request rebuilt the validated way, its MAC by ``hmac``."""
    flags = Flags.MAC if key is not None else Flags.NONE
    payload = encode_payload(message)
    mac = None
    if key is not None:
        data = authenticated_bytes(flags=flags, seq=seq, op=message.op, payload=payload)
        mac = hmac.new(key, data, hashlib.sha256).digest()[:16]
    return encode_frame(Frame(flags=flags, seq=seq, op=message.op, payload=payload, mac=mac))


def test_a_programmer_session_sends_what_the_reference_builds() -> None:
    """Through a real handshake with a pump's session: every request's bytes (plain and
    MAC'd, before and after the handshake, SESSION_CLOSE last) equal the reference."""
    device = DeviceSession(
        DeviceSecurity(keys={Role.CLINICIAN: KEY}, random_bytes=random.Random(1).randbytes)
    )
    session = ProgrammerSession(
        key=KEY, role=Role.CLINICIAN, random_bytes=random.Random(3).randbytes, first_seq=0xFFF0
    )
    sent: list[tuple[Message, bytes, bytes | None]] = []

    def answer(data: bytes) -> Frame:
        reply = device.handle(decode_frame(data), 100.0)
        assert isinstance(reply, Reply)
        return decode_frame(reply.data)

    info = DeviceInfoRequest()
    sent.append((info, session.plain_request(info)[1], None))
    opening = session.start()
    sent.append((decode_request(Op.SESSION_OPEN, decode_frame(opening).payload), opening, None))
    auth = session.receive_open(answer(opening))
    sent.append((decode_request(Op.SESSION_AUTH, decode_frame(auth).payload), auth, None))
    session.receive_auth(answer(auth))
    key = session._key
    assert session.established and key is not None and key != KEY
    requests: tuple[Message, ...] = (StatusRequest(), ReadClockRequest(), ReadPrescriptionRequest())
    for message in requests:
        sent.append((message, session.request(message)[1], key))
    sent.append((SessionCloseRequest(), session.close(), key))
    seqs = [decode_frame(data).seq for _, data, _ in sent]
    assert seqs == list(range(0xFFF0, 0xFFF0 + 7))
    for (message, data, frame_key), seq in zip(sent, seqs, strict=True):
        assert data == _reference_request(message, seq, frame_key)
