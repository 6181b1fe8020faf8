"""The programmer session's request packing against the validated build it replaces (issue #16).

:func:`protocol.session_programmer.request_bytes` (a request packed at once) is checked
against the validated :class:`Frame` build beside the pump's ``answer_bytes`` in
``test_session_fastpath.py``; here, every request a :class:`ProgrammerSession` sends
(handshake, MAC'd commands, a plain DEVICE_INFO, SESSION_CLOSE) is byte for byte the frame
built from the validated :class:`Frame` and ``hmac`` for the same message, SEQ and key.
"""

from __future__ import annotations

import hashlib
import hmac
import random

from protocol.enums import Flags, Op, Role
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

KEY = bytes(range(32))


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
