"""The session's fast paths against the validated ones they replace (issue #16).

* :func:`protocol.session.mac16` (HMAC-SHA256 from each key's precomputed pad states) gives
  the bytes of ``hmac.new(key, data, sha256).digest()[:16]``;
* :func:`protocol.session.answer_bytes` (an answer packed at once) gives the bytes of
  ``encode_frame(build_frame(...))``, the validated :class:`~protocol.frames.Frame` build;
* a pump's session, driven through the handshake, commands, NAKs, retransmissions, a
  displaced session and a bad MAC, answers with exactly the frames the reference builds
  (``hmac`` and ``Frame``) give for the same answers.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import random

import pytest

from protocol.codec import Deframer
from protocol.enums import MAX_PAYLOAD, ErrorCode, Flags, Op, Role
from protocol.errors import UnknownOpcodeError
from protocol.frames import MAC_SIZE, Frame, crc16, decode_frame, encode_frame
from protocol.messages import (
    DeviceInfoRequest,
    Nak,
    ReadClockRequest,
    ReadClockResponse,
    StatusRequest,
    decode_response,
    request_class,
)
from protocol.session import (
    ROLE_OPS,
    Accepted,
    DeviceSecurity,
    DeviceSession,
    ProgrammerSession,
    Reply,
    answer_bytes,
    build_frame,
    mac16,
    verify_mac,
)
from protocol.session_crypto import _MAC_STATES_KEPT, _MACS_KEPT, _mac_states, _recent_macs
from protocol.session_device import _command_ops, accepted
from protocol.session_programmer import request_bytes
from protocol.session_rules import DEVICE_TRANSITIONS, DeviceEvent, DeviceState

KEYS = {Role.CLINICIAN: bytes(range(32)), Role.PATIENT: bytes(range(100, 132))}


def _reference_mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()[:MAC_SIZE]


def test_mac16_is_hmac_sha256_truncated() -> None:
    rng = random.Random(16)
    for key_size in (0, 1, 16, 32, 63, 64, 65, 100, 200):
        for data_size in (0, 1, 9, 55, 56, 64, 150, 1050, 4000):
            key = rng.randbytes(key_size)
            data = rng.randbytes(data_size)
            assert mac16(key, data) == _reference_mac(key, data)
            assert mac16(key, data) == _reference_mac(key, data)  # from the kept states


def test_mac16_keeps_a_bounded_number_of_key_states() -> None:
    rng = random.Random(17)
    for _ in range(3 * _MAC_STATES_KEPT):
        key, data = rng.randbytes(32), rng.randbytes(40)
        assert mac16(key, data) == _reference_mac(key, data)
        assert len(_mac_states) <= _MAC_STATES_KEPT


def test_mac16_memo_answers_the_hash_of_exactly_that_key_and_data() -> None:
    """The memo of the MACs last computed (a receiver finding its in-process sender's) gives
    the reference bytes on a hit, and never a MAC of another key, other bytes, a shorter or
    longer input, or a key that differs in one bit; it stays bounded."""
    rng = random.Random(18)
    keys = [rng.randbytes(32) for _ in range(3)]
    keys.append(bytes([keys[0][0] ^ 1]) + keys[0][1:])  # one bit from keys[0]
    inputs = [rng.randbytes(size) for size in (0, 9, 40, 300, 1041)]
    inputs += [inputs[2][:-1], inputs[2] + b"\0", bytes([inputs[2][0] ^ 0x80]) + inputs[2][1:]]
    for _ in range(4 * _MACS_KEPT):
        key, data = rng.choice(keys), rng.choice(inputs)
        first = mac16(key, data)
        assert (key, data) in _recent_macs
        # The receiver's own copies of the bytes (equal, not the same objects) hit the memo.
        assert mac16(bytes(bytearray(key)), bytes(bytearray(data))) == first
        assert first == _reference_mac(key, data)
        for other_key in keys:
            for other_data in inputs:
                assert mac16(other_key, other_data) == _reference_mac(other_key, other_data)
        assert len(_recent_macs) <= _MACS_KEPT


def test_verify_mac_is_the_reference_check_with_and_without_the_memo() -> None:
    """A received frame verifies exactly when its MAC is the reference HMAC of its bytes
    under the key: whether its sender's MAC is in the memo (sent in process), was forgotten,
    or was made under another key; with its MAC, or any byte it covers, bent."""
    rng = random.Random(19)
    keys = [rng.randbytes(32) for _ in range(3)]
    for _ in range(600):
        key, other = rng.sample(keys, 2)
        payload = rng.randbytes(rng.choice((0, 4, 141, 600)))
        seq, op = rng.randrange(0x10000), rng.randrange(0x7F)
        data = answer_bytes(seq, op, payload, rng.choice((key, other)))
        if rng.random() < 0.3:
            _recent_macs.clear()  # the receiver in another process
        frame = decode_frame(data)
        if rng.random() < 0.3:
            bent = bytearray(frame.authenticated_bytes() + (frame.mac or b""))
            # SEQ, OP, a payload or MAC byte (VER, FLAGS and LEN bent would not frame).
            at = rng.choice([2, 3, 4, *range(7, len(bent))])
            bent[at] ^= 1 << rng.randrange(8)
            body = bytes(bent)
            data = b"\xa5\x5a" + body + crc16(body).to_bytes(2, "big")
            frame = decode_frame(data)
        assert frame.mac is not None
        expected = _reference_mac(key, frame.authenticated_bytes()) == frame.mac
        assert verify_mac(key, frame) is expected
        assert verify_mac(key, dataclasses.replace(frame, mac=bytes(16))) is (
            _reference_mac(key, frame.authenticated_bytes()) == bytes(16)
        )


@pytest.mark.parametrize("mac", [False, True])
@pytest.mark.parametrize("response", [True, False], ids=["answer_bytes", "request_bytes"])
def test_packed_frames_equal_the_validated_frame_build(response: bool, mac: bool) -> None:
    """The pump's answers (``answer_bytes``) and the programmer's requests
    (``request_bytes``) are the bytes of the validated ``Frame`` build."""
    pack = answer_bytes if response else request_bytes
    rng = random.Random((18 if response else 30) + mac)
    sizes = [0, 1, 2, 81, 141, 255, 256, MAX_PAYLOAD - 1, MAX_PAYLOAD]
    for i in range(400):
        seq = rng.choice([0, 1, 0xFFFF, rng.randrange(0x10000)])
        op = rng.choice([*Op, rng.randrange(256)])
        payload = rng.randbytes(sizes[i] if i < len(sizes) else rng.randrange(300))
        key = rng.randbytes(32) if mac else None
        reference = encode_frame(
            build_frame(response=response, seq=seq, op=op, payload=payload, key=key)
        )
        assert pack(seq, op, payload, key) == reference
        frame = decode_frame(reference)
        assert frame.is_response is response and frame.has_mac is mac


def _reference_answer(frame: Frame, key: bytes | None) -> bytes:
    """The answer frame rebuilt the validated way, its MAC by ``hmac``."""
    flags = Flags.RESPONSE | (Flags.MAC if key is not None else Flags.NONE)
    body = (
        bytes([1, int(flags), frame.seq >> 8, frame.seq & 0xFF, frame.op, len(frame.payload) >> 8])
        + bytes([len(frame.payload) & 0xFF])
        + frame.payload
    )
    mac = None if key is None else _reference_mac(key, body)
    return encode_frame(
        Frame(flags=flags, seq=frame.seq, op=frame.op, payload=frame.payload, mac=mac)
    )


def test_a_device_session_answers_what_the_reference_builds() -> None:
    """Every answer of a pump's session (handshake, commands, NAKs, a retransmission, a
    displaced session, a bad MAC, a plain DEVICE_INFO) is byte for byte the frame built
    from the validated Frame and ``hmac``."""
    device = DeviceSession(DeviceSecurity(keys=KEYS, random_bytes=random.Random(1).randbytes))
    now = 100.0
    answers: list[tuple[bytes, bytes | None]] = []  # (answer, the key it must carry)

    def send(data: bytes, key: bytes | None, *, execute: bool = True) -> bytes:
        (frame,) = Deframer().feed(data)
        result = device.handle(frame, now)
        if isinstance(result, Accepted):
            if isinstance(result.request, ReadClockRequest):
                answer = device.respond(result, ReadClockResponse(clock_s=1_790_000_000))
            else:
                answer = device.refuse(result, ErrorCode.INVALID_STATE, "refused for the test")
        else:
            assert isinstance(result, Reply)
            answer = result.data
        answers.append((answer, key))
        return answer

    def programmer() -> tuple[ProgrammerSession, bytes]:
        session = ProgrammerSession(
            key=KEYS[Role.CLINICIAN], role=Role.CLINICIAN, random_bytes=random.Random(2).randbytes
        )
        deframer = Deframer()
        auth = session.receive_open(deframer.feed(send(session.start(), None))[0])
        key = session._key
        assert key is not None
        session.receive_auth(deframer.feed(send(auth, key))[0])
        return session, key

    first, first_key = programmer()
    _, clock = first.request(ReadClockRequest())
    send(clock, first_key)
    send(clock, first_key)  # a retransmission: the cached answer
    send(first.request(StatusRequest())[1], first_key)  # refused: a MAC'd NAK
    bad = bytearray(first.request(StatusRequest())[1])
    bad[-3] ^= 1  # the MAC's last byte
    bad[-2:] = crc16(bytes(bad[2:-2])).to_bytes(2, "big")
    send(bytes(bad), first_key)  # BAD_MAC: a NAK MAC'd with the session key
    programmer()  # displaces the first session
    send(first.request(StatusRequest())[1], first_key)  # SESSION_DISPLACED, first key
    send(first.plain_request(DeviceInfoRequest())[1], None)  # plain, refused: no MAC
    assert len(answers) == 10
    for answer, key in answers:
        frame = decode_frame(answer)
        assert frame.has_mac is (key is not None)
        assert answer == _reference_answer(frame, key)
        if frame.op == Op.NAK:
            assert isinstance(decode_response(frame.op, frame.payload), Nak)


@pytest.mark.parametrize("role", list(Role))
def test_the_command_table_is_what_the_refusals_leave(role: Role) -> None:
    """A MAC'd opcode skips the refusal checks exactly when none of them would refuse it:
    it names a request, the role may use it, and it is not a handshake step."""
    for op in range(256):
        try:
            request_class(op)
            known = True
        except UnknownOpcodeError:
            known = False
        allowed = known and Op(op) in ROLE_OPS[role]
        command = allowed and Op(op) not in (Op.SESSION_OPEN, Op.SESSION_AUTH)
        assert (op in _command_ops(role)) is command, op
        if command:
            assert _command_ops(role)[op] == (Op(op), request_class(op))


def test_an_accepted_command_leaves_the_session_where_the_table_says() -> None:
    # DeviceSession._command skips _fire(COMMAND) once the session is ESTABLISHED: the
    # state table must keep it ESTABLISHED for that to be the same.
    established = DeviceState.ESTABLISHED
    assert DEVICE_TRANSITIONS[(established, DeviceEvent.COMMAND)] is established


def test_an_accepted_made_whole_is_the_validated_one() -> None:
    # DeviceSession._command builds its Accepted with session_device.accepted (no generated
    # __init__): the same class, fields, equality, hash, repr and frozenness.
    request = StatusRequest()
    for role in (*Role, None):
        for seq in (0, 1, 0xFFFF):
            made = accepted(seq, Op.STATUS, request, role)
            reference = Accepted(seq=seq, op=Op.STATUS, request=request, role=role)
            assert type(made) is Accepted
            assert vars(made) == vars(reference)
            assert list(vars(made)) == [f.name for f in dataclasses.fields(Accepted)]
            assert made == reference and hash(made) == hash(reference)
            assert repr(made) == repr(reference)
            with pytest.raises(dataclasses.FrozenInstanceError):
                made.seq = 2  # type: ignore[misc]


def _reference_poll(session: DeviceSession, now_s: float) -> object:
    """DeviceSession.poll as it was before its short cut for a live, quiet session."""
    locked = session.backoff_remaining_s(now_s) > 0
    if locked and session._state is not DeviceState.LOCKED:
        session._displaced_key = None
        return session._end_session(DeviceEvent.LOCK, "the link backs off")
    if not locked and session._state is DeviceState.LOCKED:
        session._fire(DeviceEvent.UNLOCK)
        return None
    idle_s = now_s - session._last_activity_s
    live = session._state in (DeviceState.OPENING, DeviceState.ESTABLISHED)
    if live and idle_s >= session.security.idle_timeout_s:
        session._expired = session._state is DeviceState.ESTABLISHED
        return session._end_session(DeviceEvent.EXPIRE, "idle timeout")
    return None


def test_poll_is_the_reference_poll_in_every_state_and_time() -> None:
    # DeviceSession.poll returns at once for an established session that neither backs off
    # nor idled out; everywhere else it runs the checks. Both are compared with the checks
    # alone, on copies of sessions in each state, at times around the idle timeout and the
    # back-off's end.
    security = DeviceSecurity(keys=KEYS, random_bytes=random.Random(3).randbytes)
    sessions = []
    for state in DeviceState:
        for backoff in (None, 150.0, 400.0):
            session = DeviceSession(security)
            session._state = state
            session._last_activity_s = 100.0
            session._backoff_until_s = backoff
            session._role = Role.CLINICIAN if state is DeviceState.ESTABLISHED else None
            session._key = KEYS[Role.CLINICIAN] if state is DeviceState.ESTABLISHED else None
            sessions.append(session)
    timeout = security.idle_timeout_s
    times = [100.0, 149.0, 150.0, 151.0, 100 + timeout - 1e-6, 100 + timeout, 100 + timeout + 1]
    for session in sessions:
        for now_s in times:
            fast, slow = copy.copy(session), copy.copy(session)
            assert fast.poll(now_s) == _reference_poll(slow, now_s), (session.state, now_s)
            assert vars(fast) == vars(slow)
