"""The programmer session's request packing against the validated build it replaces (issue #16).

:func:`protocol.session_programmer.request_bytes` (a request packed at once) is checked
against the validated :class:`Frame` build beside the pump's ``answer_bytes`` in
``test_session_fastpath.py``; here, every request a :class:`ProgrammerSession` sends
(handshake, MAC'd commands, a plain DEVICE_INFO, SESSION_CLOSE) is byte for byte the frame
built from the validated :class:`Frame` and ``hmac`` for the same message, SEQ and key.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import random

from protocol.enums import ErrorCode, Flags, Op, Role
from protocol.errors import ProtocolError
from protocol.frames import Frame, authenticated_bytes, decode_frame, encode_frame
from protocol.messages import (
    DeviceInfoRequest,
    Message,
    Nak,
    ReadClockRequest,
    ReadClockResponse,
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


def _outcome(
    session: ProgrammerSession, frame: Frame, seq: int, *, fast: bool
) -> tuple[object, ...]:
    """What receiving ``frame`` for ``seq`` gives (the message, or the error's type and
    words) and the session's state after, through ``receive`` or its checked path."""
    copy_ = copy.copy(session)
    copy_._outstanding = dict(session._outstanding)
    try:
        if fast:
            result: object = copy_.receive(frame, seq)
        else:
            result = copy_._receive_checked(frame, seq)
    except ProtocolError as error:
        result = (type(error), str(error))
    return result, copy_._state, copy_._outstanding, copy_._key


def test_receive_takes_the_usual_answer_as_its_checked_path_does() -> None:
    """``receive``'s fast path (a MAC'd success answering an outstanding MAC'd request)
    gives the message, error and session state of the checked path, for seeded answers
    with every field bent: flags, SEQ, opcode, MAC (missing, wrong, of another key),
    payload (short, long, a NAK's), and requests sent plain or MAC'd, or never sent."""
    rng = random.Random(16)
    device = DeviceSession(
        DeviceSecurity(keys={Role.CLINICIAN: KEY}, random_bytes=random.Random(1).randbytes)
    )
    session = ProgrammerSession(key=KEY, role=Role.CLINICIAN, random_bytes=rng.randbytes)

    def answer(data: bytes) -> Frame:
        reply = device.handle(decode_frame(data), 100.0)
        assert isinstance(reply, Reply)
        return decode_frame(reply.data)

    session.receive_auth(answer(session.receive_open(answer(session.start()))))
    key = session._key
    assert key is not None
    responses: list[Message] = [
        ReadClockResponse(clock_s=1_790_000_000),
        ReadClockResponse(clock_s=0),
        Nak(code=ErrorCode.INVALID_STATE, reason="refused"),
        Nak(code=ErrorCode.SESSION_DISPLACED, reason="displaced"),
        Nak(code=ErrorCode.NO_SESSION, reason="no session"),
    ]
    seqs = [session.request(ReadClockRequest())[0] for _ in range(6)]
    seqs.append(session.plain_request(DeviceInfoRequest())[0])
    compared = fast_taken = 0
    for _ in range(3000):
        seq = rng.choice(seqs)
        response = rng.choice(responses)
        payload = encode_payload(response)
        op = int(response.op)
        flags = int(Flags.RESPONSE | Flags.MAC)
        mac_key: bytes | None = key
        bend = rng.randrange(10)
        if bend == 1:
            flags = rng.randrange(8)
        elif bend == 2:
            seq = rng.choice((seq + 1, seq - 1, 0xFFFF))
        elif bend == 3:
            op = rng.choice((int(Op.STATUS), int(Op.DEVICE_INFO), 0x55, int(Op.NAK)))
        elif bend == 4:
            mac_key = rng.choice((None, KEY, bytes(32)))
        elif bend == 5:
            payload = payload[: rng.randrange(len(payload) + 1)] + rng.randbytes(rng.randrange(3))
        if mac_key is None:
            flags &= ~int(Flags.MAC)
        mac = None
        if flags & int(Flags.MAC):
            data = authenticated_bytes(flags=flags, seq=seq, op=op, payload=payload)
            mac = hmac.new(mac_key or KEY, data, hashlib.sha256).digest()[:16]
        frame = Frame(flags=Flags(flags), seq=seq, op=op, payload=payload, mac=mac)
        fast = _outcome(session, frame, seq, fast=True)
        checked = _outcome(session, frame, seq, fast=False)
        assert fast == checked, (frame, seq)
        compared += 1
        fast_taken += isinstance(fast[0], ReadClockResponse)
    assert compared == 3000 and fast_taken > 300  # both paths well exercised
