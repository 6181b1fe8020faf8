"""Sessions back to back: a DeviceSession and a ProgrammerSession exchanging
bytes through Deframers, with an injected clock and seeded nonces."""

from __future__ import annotations

import random
from typing import Any

import pytest

from protocol.codec import Deframer
from protocol.docgen import EXAMPLES
from protocol.enums import BolusKind, ErrorCode, EventCode, Flags, Op, Role
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    InvalidMessage,
    NakError,
    SequenceExhaustedError,
    StateError,
    UnexpectedMessageError,
    UnexpectedResponseError,
)
from protocol.frames import Frame, decode_frame, encode_frame
from protocol.messages import (
    CommitRefillRequest,
    DeviceInfoRequest,
    DeviceInfoResponse,
    Message,
    Nak,
    ReadClockRequest,
    SessionAuthRequest,
    SessionCloseRequest,
    SessionOpenRequest,
    SessionOpenResponse,
    StartBolusRequest,
    StartBolusResponse,
    StatusRequest,
    StatusResponse,
    decode_response,
    encode_payload,
)
from protocol.session import (
    DEFAULT_GATE_AFTER,
    DEFAULT_MAX_FAILURES,
    DEVICE_TRANSITIONS,
    PROGRAMMER_TRANSITIONS,
    ROLE_OPS,
    Accepted,
    DeviceEvent,
    DeviceSecurity,
    DeviceSession,
    DeviceState,
    ProgrammerSession,
    ProgrammerState,
    Reply,
    SessionEvent,
    SessionEventKind,
    build_frame,
    programmer_proof,
)

CLINICIAN_KEY = bytes(range(32))
PATIENT_KEY = bytes(range(100, 132))
OTHER_KEY = bytes(range(200, 232))
KEYS = {Role.CLINICIAN: CLINICIAN_KEY, Role.PATIENT: PATIENT_KEY}
BOLUS = StartBolusRequest(kind=BolusKind.THERAPEUTIC, dose_ng=50_000, volume_nl=0, duration_s=600)


def canned_response(request: Message) -> Message:
    """What the stand-in pump application answers."""
    return EXAMPLES[request.op][1]


class Pump:
    """The pump side of a link: a DeviceSession, a deframer and a stand-in
    application that records what it executed."""

    def __init__(self, security: DeviceSecurity) -> None:
        self.device = DeviceSession(security)
        self.deframer = Deframer()
        self.executed: list[Accepted] = []
        self.events: list[SessionEvent] = []
        self.errors: list[ErrorCode] = []

    def receive(self, data: bytes, now_s: float) -> bytes:
        (frame,) = self.deframer.feed(data)
        result = self.device.handle(frame, now_s)
        if isinstance(result, Reply):
            if result.event is not None:
                self.events.append(result.event)
            if result.error is not None:
                self.errors.append(result.error)
            return result.data
        self.executed.append(result)
        return self.device.respond(result, canned_response(result.request))


class Pair:
    """A programmer and a pump connected back to back, with one clock."""

    def __init__(
        self,
        *,
        security: DeviceSecurity | None = None,
        key: bytes = CLINICIAN_KEY,
        role: Role = Role.CLINICIAN,
        first_seq: int = 1,
        seed: int = 1,
    ) -> None:
        self.rng = random.Random(seed)
        self.security = security or DeviceSecurity(keys=KEYS, random_bytes=self.rng.randbytes)
        self.pump = Pump(self.security)
        self.programmer = ProgrammerSession(
            key=key, role=role, random_bytes=self.rng.randbytes, first_seq=first_seq
        )
        self.deframer = Deframer()
        self.now_s = 1000.0

    def exchange(self, data: bytes) -> Frame:
        answer = self.pump.receive(data, self.now_s)
        (frame,) = self.deframer.feed(answer)
        return frame

    def open(self) -> None:
        auth = self.programmer.receive_open(self.exchange(self.programmer.start()))
        self.programmer.receive_auth(self.exchange(auth))

    def send(self, message: Message) -> tuple[int, bytes, Frame]:
        seq, data = self.programmer.request(message)
        return seq, data, self.exchange(data)

    def call(self, message: Message) -> Message:
        seq, _data, frame = self.send(message)
        return self.programmer.receive(frame, seq)


def _established_pair(**kwargs: object) -> Pair:
    pair = Pair(**kwargs)  # type: ignore[arg-type]
    pair.open()
    return pair


# --- the handshake ------------------------------------------------------------------


def test_handshake_establishes_both_ends() -> None:
    pair = _established_pair()
    assert pair.programmer.established and pair.programmer.state is ProgrammerState.ESTABLISHED
    assert pair.pump.device.established and pair.pump.device.role is Role.CLINICIAN
    assert pair.programmer.idle_timeout_s == 300
    (opened,) = pair.pump.events
    assert opened.kind is SessionEventKind.OPENED and opened.role is Role.CLINICIAN
    assert opened.log_params() == (EventCode.SESSION_OPENED, int(Role.CLINICIAN), 0)


def test_requests_and_responses_are_maced_both_ways() -> None:
    pair = _established_pair()
    seq, data, frame = pair.send(StatusRequest())
    assert decode_frame(data).flags == Flags.MAC
    assert frame.flags == Flags.RESPONSE | Flags.MAC and frame.seq == seq
    response = pair.programmer.receive(frame, seq)
    assert isinstance(response, StatusResponse)
    assert [a.op for a in pair.pump.executed] == [Op.STATUS]


def test_both_ends_derive_the_same_session_key_with_fresh_nonces() -> None:
    first, second = _established_pair(seed=1), _established_pair(seed=2)
    _, data_1, _ = first.send(StatusRequest())
    _, data_2, _ = second.send(StatusRequest())
    # Same SEQ and payload, different nonces: the MACs differ.
    assert decode_frame(data_1).seq == decode_frame(data_2).seq
    assert decode_frame(data_1).mac != decode_frame(data_2).mac


def test_a_fake_pump_is_detected() -> None:
    fake = DeviceSecurity(keys={Role.CLINICIAN: OTHER_KEY}, random_bytes=random.Random(3).randbytes)
    pair = Pair(security=fake)
    with pytest.raises(AuthenticationError):
        pair.programmer.receive_open(pair.exchange(pair.programmer.start()))
    assert pair.programmer.state is ProgrammerState.FAILED
    with pytest.raises(StateError):
        pair.programmer.request(StatusRequest())


def test_the_wrong_role_key_is_detected_by_the_programmer() -> None:
    # A programmer holding the patient key asks for the clinician role.
    pair = Pair(key=PATIENT_KEY, role=Role.CLINICIAN)
    with pytest.raises(AuthenticationError):
        pair.programmer.receive_open(pair.exchange(pair.programmer.start()))


def test_a_fake_programmer_is_refused_and_counted() -> None:
    pair = Pair()
    start = pair.programmer.start()
    open_answer = decode_response(Op.SESSION_OPEN, pair.exchange(start).payload)
    assert isinstance(open_answer, SessionOpenResponse)
    client_nonce = decode_frame(start).payload[1:]
    forged = programmer_proof(OTHER_KEY, Role.CLINICIAN, open_answer.pump_nonce, client_nonce)
    frame = build_frame(
        response=False,
        seq=2,
        op=Op.SESSION_AUTH,
        payload=encode_payload(SessionAuthRequest(client_proof=forged)),
    )
    answer = pair.exchange(encode_frame(frame))
    nak = decode_response(answer.op, answer.payload)
    assert isinstance(nak, Nak) and nak.code is ErrorCode.AUTH_FAILED
    assert answer.mac is None
    assert not pair.pump.device.established
    assert pair.pump.device.failures == 1
    (event,) = pair.pump.events
    assert event.kind is SessionEventKind.SECURITY and event.error is ErrorCode.AUTH_FAILED
    assert event.log_params() == (EventCode.SECURITY, ErrorCode.AUTH_FAILED, Op.SESSION_AUTH)


def test_the_programmer_reports_a_refused_proof() -> None:
    pair = Pair()
    auth = decode_frame(pair.programmer.receive_open(pair.exchange(pair.programmer.start())))
    # The proof is damaged on the way (under a valid CRC): the pump refuses it.
    damaged = bytes([auth.payload[0] ^ 1]) + auth.payload[1:]
    tampered = build_frame(response=False, seq=auth.seq, op=auth.op, payload=damaged)
    with pytest.raises(NakError) as caught:
        pair.programmer.receive_auth(pair.exchange(encode_frame(tampered)))
    assert caught.value.code is ErrorCode.AUTH_FAILED and not caught.value.authenticated
    assert pair.programmer.state is ProgrammerState.FAILED


def test_a_pump_without_the_role_key_refuses_the_open() -> None:
    security = DeviceSecurity(
        keys={Role.CLINICIAN: CLINICIAN_KEY}, random_bytes=random.Random(4).randbytes
    )
    pair = Pair(security=security, key=PATIENT_KEY, role=Role.PATIENT)
    with pytest.raises(NakError) as caught:
        pair.programmer.receive_open(pair.exchange(pair.programmer.start()))
    assert caught.value.code is ErrorCode.AUTH_FAILED


def test_handshake_messages_out_of_order() -> None:
    pair = Pair()
    auth = build_frame(
        response=False,
        seq=1,
        op=Op.SESSION_AUTH,
        payload=encode_payload(SessionAuthRequest(client_proof=bytes(32))),
    )
    answer = pair.exchange(encode_frame(auth))
    nak = decode_response(answer.op, answer.payload)
    assert isinstance(nak, Nak) and nak.code is ErrorCode.BAD_HANDSHAKE
    assert "IDLE" in nak.reason
    assert pair.pump.device.failures == 0


def test_a_retransmitted_open_gets_the_same_answer() -> None:
    pair = Pair()
    start = pair.programmer.start()
    first = pair.pump.receive(start, pair.now_s)
    second = pair.pump.receive(start, pair.now_s)
    assert first == second
    (frame,) = pair.deframer.feed(second)
    auth = pair.programmer.receive_open(frame)
    pair.programmer.receive_auth(pair.exchange(auth))
    assert pair.programmer.established


# --- MAC, SEQ, retransmission -------------------------------------------------------------


def test_a_bad_mac_is_refused_and_counted() -> None:
    pair = _established_pair()
    seq, data = pair.programmer.request(StatusRequest())
    frame = decode_frame(data)
    forged = Frame(flags=frame.flags, seq=seq, op=frame.op, payload=frame.payload, mac=bytes(16))
    answer = pair.exchange(encode_frame(forged))
    with pytest.raises(NakError) as caught:
        pair.programmer.receive(answer, seq)
    assert caught.value.code is ErrorCode.BAD_MAC and caught.value.authenticated
    assert pair.pump.executed == []
    assert pair.pump.device.failures == 1
    assert pair.pump.events[-1].error is ErrorCode.BAD_MAC
    # The forgery did not use up the SEQ: the genuine frame is still executed.
    answer = pair.exchange(data)
    assert answer.op == Op.STATUS and [a.op for a in pair.pump.executed] == [Op.STATUS]


def test_the_programmer_rejects_a_response_with_a_bad_mac() -> None:
    pair = _established_pair()
    seq, _data, frame = pair.send(StatusRequest())
    forged = Frame(flags=frame.flags, seq=seq, op=frame.op, payload=frame.payload, mac=bytes(16))
    with pytest.raises(BadMacError):
        pair.programmer.receive(forged, seq)
    plain = Frame(flags=Flags.RESPONSE, seq=seq, op=frame.op, payload=frame.payload)
    with pytest.raises(BadMacError):
        pair.programmer.receive(plain, seq)
    plain_nak = Frame(
        flags=Flags.RESPONSE,
        seq=seq,
        op=Op.NAK,
        payload=encode_payload(Nak(code=ErrorCode.OUT_OF_RANGE, reason="forged")),
    )
    with pytest.raises(BadMacError):
        pair.programmer.receive(plain_nak, seq)  # only session-less codes come without MAC
    assert isinstance(pair.programmer.receive(frame, seq), StatusResponse)


def test_an_old_frame_replayed_is_refused() -> None:
    pair = _established_pair()
    _seq, old, _frame = pair.send(BOLUS)
    pair.call(StatusRequest())
    answer = pair.exchange(old)  # the bolus request again, after a newer request
    nak = decode_response(answer.op, answer.payload)
    assert isinstance(nak, Nak) and nak.code is ErrorCode.REPLAY
    assert answer.mac is not None
    assert [a.op for a in pair.pump.executed] == [Op.START_BOLUS, Op.STATUS]
    assert pair.pump.events[-1].error is ErrorCode.REPLAY
    assert pair.pump.device.failures == 0  # a replay is logged, not counted towards lockout


def test_the_same_seq_with_other_bytes_is_a_replay() -> None:
    pair = _established_pair()
    seq, _data, _frame = pair.send(StatusRequest())
    key = pair.programmer._key  # the attacker would need it; this tests the SEQ rule alone
    assert key is not None
    other = build_frame(response=False, seq=seq, op=Op.READ_CLOCK, payload=b"", key=key)
    answer = pair.exchange(encode_frame(other))
    nak = decode_response(answer.op, answer.payload)
    assert isinstance(nak, Nak) and nak.code is ErrorCode.REPLAY


def test_a_retransmitted_request_is_answered_from_the_cache_and_executed_once() -> None:
    pair = _established_pair()
    seq, data = pair.programmer.request(BOLUS)
    first = pair.pump.receive(data, pair.now_s)
    pair.now_s += 2.5  # the response was lost; the programmer times out and resends
    second = pair.pump.receive(data, pair.now_s)
    assert first == second
    assert [a.op for a in pair.pump.executed] == [Op.START_BOLUS]
    (frame,) = pair.deframer.feed(second)
    response = pair.programmer.receive(frame, seq)
    assert isinstance(response, StartBolusResponse)
    # A late duplicate of the first answer is recognised as stale.
    (late,) = pair.deframer.feed(first)
    with pytest.raises(UnexpectedResponseError):
        pair.programmer.receive(late, seq)


def test_a_refusal_is_cached_too() -> None:
    pair = _established_pair()
    seq, data = pair.programmer.request(BOLUS)
    (frame,) = pair.pump.deframer.feed(data)
    accepted = pair.pump.device.handle(frame, pair.now_s)
    assert isinstance(accepted, Accepted) and accepted.role is Role.CLINICIAN
    nak = pair.pump.device.refuse(accepted, ErrorCode.PUMP_HALTED, "end of service")
    assert pair.pump.receive(data, pair.now_s) == nak
    (answer,) = pair.deframer.feed(nak)
    with pytest.raises(NakError) as caught:
        pair.programmer.receive(answer, seq)
    assert caught.value.code is ErrorCode.PUMP_HALTED and caught.value.reason == "end of service"


def test_seq_exhaustion() -> None:
    pair = _established_pair(first_seq=0xFFFD)  # OPEN 0xFFFD, AUTH 0xFFFE
    seq, _data, frame = pair.send(StatusRequest())
    assert seq == 0xFFFF
    pair.programmer.receive(frame, seq)
    with pytest.raises(SequenceExhaustedError):
        pair.programmer.request(StatusRequest())
    # The pump accepts nothing after 0xFFFF either: a new session is the only way on.
    key = pair.programmer._key
    assert key is not None
    other = build_frame(response=False, seq=0xFFFF, op=Op.READ_CLOCK, payload=b"", key=key)
    answer = pair.exchange(encode_frame(other))
    assert decode_response(answer.op, answer.payload) == Nak(
        code=ErrorCode.REPLAY, reason="SEQ 65535 does not follow 65535"
    )
    fresh = ProgrammerSession(
        key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=pair.rng.randbytes
    )
    pair.programmer = fresh
    pair.open()
    assert isinstance(pair.call(StatusRequest()), StatusResponse)


# --- roles ----------------------------------------------------------------------------------


def test_the_patient_role_is_limited() -> None:
    pair = _established_pair(key=PATIENT_KEY, role=Role.PATIENT)
    assert isinstance(pair.call(StatusRequest()), StatusResponse)
    refill = CommitRefillRequest(checksum=0)
    with pytest.raises(NakError) as caught:
        pair.call(refill)
    assert caught.value.code is ErrorCode.FORBIDDEN
    assert [a.op for a in pair.pump.executed] == [Op.STATUS]
    event = pair.pump.events[-1]
    assert event.error is ErrorCode.FORBIDDEN and event.op == Op.COMMIT_REFILL
    assert event.role is Role.PATIENT


def test_role_table() -> None:
    assert ROLE_OPS[Role.CLINICIAN] == frozenset(Op) - {Op.NAK}
    assert ROLE_OPS[Role.PATIENT] == {
        Op.DEVICE_INFO,
        Op.SESSION_OPEN,
        Op.SESSION_AUTH,
        Op.SESSION_CLOSE,
        Op.LIMITS,
        Op.STATUS,
        Op.READ_DELIVERY,
        Op.READ_VALVE,
        Op.READ_ALARMS,
        Op.SILENCE_ALARM,
        Op.READ_PATIENT_SETTINGS,
        Op.PATIENT_DOSE,
        Op.READ_CLOCK,
    }


# --- idle timeout -----------------------------------------------------------------------------


def test_idle_timeout() -> None:
    pair = _established_pair()
    pair.call(StatusRequest())
    pair.now_s += 299.5
    pair.call(StatusRequest())  # still alive: the timer restarts at every request
    pair.now_s += 300
    with pytest.raises(NakError) as caught:
        pair.call(StatusRequest())
    assert caught.value.code is ErrorCode.SESSION_EXPIRED and not caught.value.authenticated
    assert pair.programmer.state is ProgrammerState.CLOSED
    assert not pair.pump.device.established
    closed = pair.pump.events[-1]
    assert closed.kind is SessionEventKind.CLOSED and closed.role is Role.CLINICIAN
    assert closed.log_params() == (EventCode.SESSION_CLOSED, int(Role.CLINICIAN), 0)


def test_poll_expires_an_abandoned_session() -> None:
    pair = _established_pair()
    assert pair.pump.device.poll(pair.now_s + 10) is None
    event = pair.pump.device.poll(pair.now_s + 300)
    assert event is not None and event.kind is SessionEventKind.CLOSED
    assert pair.pump.device.state is DeviceState.IDLE
    assert pair.pump.device.poll(pair.now_s + 600) is None  # logged once


def test_a_half_open_handshake_expires_silently() -> None:
    pair = Pair()
    auth = pair.programmer.receive_open(pair.exchange(pair.programmer.start()))
    pair.now_s += 301
    with pytest.raises(NakError) as caught:
        pair.programmer.receive_auth(pair.exchange(auth))
    assert caught.value.code is ErrorCode.BAD_HANDSHAKE
    assert pair.pump.events == []


# --- lockout ----------------------------------------------------------------------------------


def _nak_code(frame: Frame) -> ErrorCode:
    nak = decode_response(frame.op, frame.payload)
    assert isinstance(nak, Nak)
    return nak.code


def _failed_attempt(pair: Pair) -> ErrorCode:
    """An attacker's handshake: a fresh SESSION_OPEN, then a guessed proof."""
    nonce = pair.rng.randbytes(16)
    payload = encode_payload(SessionOpenRequest(role=Role.CLINICIAN, client_nonce=nonce))
    pair.exchange(
        encode_frame(build_frame(response=False, seq=1, op=Op.SESSION_OPEN, payload=payload))
    )
    guess = encode_payload(SessionAuthRequest(client_proof=bytes(32)))
    answer = pair.exchange(
        encode_frame(build_frame(response=False, seq=2, op=Op.SESSION_AUTH, payload=guess))
    )
    return _nak_code(answer)


def test_a_link_backs_off_after_five_failures_and_is_released_after_the_period() -> None:
    pair = Pair()
    codes = [_failed_attempt(pair) for _ in range(5)]
    assert codes == [ErrorCode.AUTH_FAILED] * 4 + [ErrorCode.LOCKED_OUT]
    assert pair.pump.events[-1].error is ErrorCode.LOCKED_OUT
    assert pair.pump.device.state is DeviceState.LOCKED
    # While it backs off (15 s, the first step) even the right key is refused on this link,
    # with the time left in the reason; the refusal is not counted.
    pair.now_s += 5
    with pytest.raises(NakError) as caught:
        pair.programmer.receive_open(pair.exchange(pair.programmer.start()))
    assert caught.value.code is ErrorCode.LOCKED_OUT and "10 s left" in caught.value.reason
    assert pair.pump.device.failures == 5
    # DEVICE_INFO still answers.
    _seq, data = ProgrammerSession(
        key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=pair.rng.randbytes
    ).plain_request(DeviceInfoRequest())
    assert (
        decode_response(Op.DEVICE_INFO, pair.exchange(data).payload) == EXAMPLES[Op.DEVICE_INFO][1]
    )
    # After the back-off the right key opens a session again, and the link is forgiven.
    pair.now_s += 10
    pair.programmer = ProgrammerSession(
        key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=pair.rng.randbytes
    )
    pair.open()
    assert pair.programmer.established and pair.pump.device.failures == 0


def test_the_back_off_doubles_up_to_the_cap() -> None:
    pair = Pair()
    for _ in range(4):
        assert _failed_attempt(pair) is ErrorCode.AUTH_FAILED
    waits = []
    for _ in range(8):
        assert _failed_attempt(pair) is ErrorCode.LOCKED_OUT
        left = pair.pump.device.backoff_remaining_s(pair.now_s)
        waits.append(left)
        pair.now_s += left
    assert waits == [15, 30, 60, 120, 240, 300, 300, 300]


def test_failures_on_one_link_never_touch_a_session_or_handshake_on_another() -> None:
    pair = _established_pair()
    attackers = [Pair(security=pair.security, seed=20 + link) for link in range(10)]
    for _round in range(8):  # ten links guessing side by side, as fast as they can
        for attacker in attackers:
            attacker.now_s = pair.now_s
            _failed_attempt(attacker)
    assert all(a.pump.device.state is DeviceState.LOCKED for a in attackers)
    # The clinician's session goes on, and a new link still opens one.
    assert isinstance(pair.call(StatusRequest()), StatusResponse)
    fresh = Pair(security=pair.security, seed=99)
    fresh.now_s = pair.now_s
    fresh.open()
    assert fresh.programmer.established
    # Counted: one free failure per link in the first round; from then on the pump is under
    # pressure, so each link's next failure backs it off and the rest are refused uncounted.
    assert pair.security.failures_total == 10 + 10


def test_under_pressure_a_new_link_per_guess_gains_nothing() -> None:
    pair = Pair()
    for link in range(2):
        attacker = Pair(security=pair.security, seed=30 + link)
        attacker.now_s = pair.now_s
        for _ in range(5):
            _failed_attempt(attacker)
    assert pair.security.under_pressure(pair.now_s)
    # A new link per guess: its first failure backs it off ...
    for link in range(DEFAULT_GATE_AFTER):
        churn = Pair(security=pair.security, seed=40 + link)
        churn.now_s = pair.now_s
        assert _failed_attempt(churn) is ErrorCode.LOCKED_OUT
    # ... and after 16 of them the next new link waits 15 s before its handshake is answered.
    with pytest.raises(NakError) as caught:
        pair.open()
    assert caught.value.code is ErrorCode.LOCKED_OUT and "15 s left" in caught.value.reason
    assert pair.pump.device.failures == 0  # waiting is not a failure
    pair.now_s += 15
    pair.programmer = ProgrammerSession(
        key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=pair.rng.randbytes
    )
    pair.open()
    assert pair.programmer.established
    # A link that proved a key is never held at the gate.
    churn2 = Pair(security=pair.security, seed=41)
    churn2.now_s = pair.now_s
    assert _failed_attempt(churn2) is ErrorCode.LOCKED_OUT
    pair.programmer = ProgrammerSession(
        key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=pair.rng.randbytes
    )
    pair.open()
    assert pair.programmer.established
    # The pressure ends lockout_s after the failures.
    assert not pair.security.under_pressure(pair.now_s + 300)


def test_bad_macs_count_towards_the_back_off_of_their_link() -> None:
    pair = _established_pair()
    for attempt in range(5):
        seq, data = pair.programmer.request(StatusRequest())
        frame = decode_frame(data)
        forged = Frame(
            flags=frame.flags, seq=seq, op=frame.op, payload=frame.payload, mac=bytes(16)
        )
        answer = pair.exchange(encode_frame(forged))
        expected = ErrorCode.LOCKED_OUT if attempt == 4 else ErrorCode.BAD_MAC
        assert _nak_code(answer) is expected
    assert not pair.pump.device.established


def test_a_success_resets_the_failure_count() -> None:
    pair = Pair()
    for _ in range(4):
        _failed_attempt(pair)
    assert pair.pump.device.failures == 4
    pair.open()
    assert pair.pump.device.failures == 0


def test_a_long_quiet_spell_forgives_a_link() -> None:
    pair = Pair()
    for _ in range(4):
        _failed_attempt(pair)
    pair.now_s += 2 * 300
    assert _failed_attempt(pair) is ErrorCode.AUTH_FAILED
    assert pair.pump.device.failures == 1


# --- closing, replacing, plain frames --------------------------------------------------


def test_close() -> None:
    pair = _established_pair()
    data = pair.programmer.close()
    assert pair.programmer.state is ProgrammerState.CLOSED
    answer = pair.exchange(data)
    assert pair.programmer.last_seq is not None
    pair.programmer.receive(answer, pair.programmer.last_seq)
    assert pair.pump.events[-1].kind is SessionEventKind.CLOSED
    assert not pair.pump.device.established
    # A retransmitted close is answered from the cache, not refused.
    assert pair.pump.receive(data, pair.now_s) == encode_frame(answer)
    with pytest.raises(StateError):
        pair.programmer.request(StatusRequest())


def test_a_maced_request_without_a_session() -> None:
    pair = _established_pair()
    pair.pump.device.disconnect()
    with pytest.raises(NakError) as caught:
        pair.call(StatusRequest())
    assert caught.value.code is ErrorCode.NO_SESSION


def test_a_new_open_replaces_an_established_session() -> None:
    pair = _established_pair()
    newcomer = Pair(security=pair.security, seed=5)
    newcomer.pump = pair.pump  # the same link
    newcomer.open()
    assert pair.pump.events[-2].kind is SessionEventKind.CLOSED  # the old one, replaced
    assert pair.pump.events[-1].kind is SessionEventKind.OPENED
    # The displaced programmer is told so, under its own key, and it is no failure.
    for _ in range(2 * DEFAULT_MAX_FAILURES):
        with pytest.raises(NakError) as caught:
            pair.call(StatusRequest())
        assert caught.value.code is ErrorCode.SESSION_DISPLACED and caught.value.authenticated
        assert pair.programmer.state is ProgrammerState.CLOSED
        pair.programmer._state = ProgrammerState.ESTABLISHED  # a programmer that keeps polling
    assert pair.pump.device.failures == 0
    assert isinstance(newcomer.call(StatusRequest()), StatusResponse)


def test_a_displaced_programmer_during_the_new_handshake() -> None:
    pair = _established_pair()
    newcomer = Pair(security=pair.security, seed=5)
    newcomer.pump = pair.pump
    newcomer.programmer.receive_open(newcomer.exchange(newcomer.programmer.start()))
    with pytest.raises(NakError) as caught:
        pair.call(StatusRequest())
    assert caught.value.code is ErrorCode.SESSION_DISPLACED
    assert pair.pump.device.failures == 0 and pair.pump.device.state is DeviceState.OPENING


def test_plain_commands_are_never_executed() -> None:
    pair = _established_pair()
    plain = build_frame(response=False, seq=50, op=Op.STATUS, payload=b"")
    answer = pair.exchange(encode_frame(plain))
    assert _nak_code(answer) is ErrorCode.NO_SESSION
    unknown = build_frame(response=False, seq=51, op=0x7E, payload=b"")
    answer = pair.exchange(encode_frame(unknown))
    assert _nak_code(answer) is ErrorCode.UNKNOWN_OPCODE
    assert pair.pump.executed == []


def test_unknown_and_malformed_requests_in_a_session() -> None:
    pair = _established_pair()
    key = pair.programmer._key
    assert key is not None
    unknown = build_frame(response=False, seq=10, op=0x7E, payload=b"", key=key)
    answer = pair.exchange(encode_frame(unknown))
    assert answer.mac is not None
    assert _nak_code(answer) is ErrorCode.UNKNOWN_OPCODE
    malformed = build_frame(response=False, seq=11, op=Op.STATUS, payload=b"x", key=key)
    answer = pair.exchange(encode_frame(malformed))
    assert _nak_code(answer) is ErrorCode.MALFORMED
    in_session_open = build_frame(response=False, seq=12, op=Op.SESSION_OPEN, payload=b"", key=key)
    answer = pair.exchange(encode_frame(in_session_open))
    assert _nak_code(answer) is ErrorCode.BAD_HANDSHAKE
    # Those SEQs are used: the programmer's next request (SEQ 4) is now behind.
    with pytest.raises(NakError) as caught:
        pair.call(StatusRequest())
    assert caught.value.code is ErrorCode.REPLAY


def test_responses_sent_to_the_pump_are_ignored() -> None:
    pair = Pair()
    echo = build_frame(response=True, seq=1, op=Op.STATUS, payload=b"")
    assert pair.pump.receive(encode_frame(echo), pair.now_s) == b""


def test_device_info_without_a_session() -> None:
    pair = Pair()
    seq, data = pair.programmer.plain_request(DeviceInfoRequest())
    response = pair.programmer.receive(pair.exchange(data), seq)
    assert isinstance(response, DeviceInfoResponse)
    assert pair.pump.executed[0].role is None
    pair.open()  # the plain request did not disturb the handshake
    seq, data = pair.programmer.plain_request(DeviceInfoRequest())
    assert isinstance(pair.programmer.receive(pair.exchange(data), seq), DeviceInfoResponse)
    assert isinstance(pair.call(DeviceInfoRequest()), DeviceInfoResponse)  # MAC'd works too


def test_disconnect_logs_the_end_of_the_session() -> None:
    pair = _established_pair()
    event = pair.pump.device.disconnect()
    assert event is not None and event.kind is SessionEventKind.CLOSED
    assert pair.pump.device.disconnect() is None


# --- API misuse and state rules --------------------------------------------------------------


def test_programmer_state_errors_name_state_and_event() -> None:
    programmer = ProgrammerSession(key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=bytes)
    with pytest.raises(StateError) as caught:
        programmer.request(StatusRequest())
    assert caught.value.state == "IDLE" and caught.value.event == "request"
    programmer.start()
    with pytest.raises(StateError) as caught:
        programmer.start()
    assert caught.value.state == "OPENING"
    with pytest.raises(InvalidMessage):
        programmer.plain_request(StatusRequest())


def test_request_refuses_messages_that_are_not_plain_requests() -> None:
    pair = _established_pair()
    for message in (SessionCloseRequest(), EXAMPLES[Op.STATUS][1]):
        with pytest.raises(InvalidMessage):
            pair.programmer.request(message)


def test_device_api_misuse() -> None:
    pair = _established_pair()
    _seq, data = pair.programmer.request(StatusRequest())
    (frame,) = pair.pump.deframer.feed(data)
    accepted = pair.pump.device.handle(frame, pair.now_s)
    assert isinstance(accepted, Accepted)
    with pytest.raises(StateError):
        pair.pump.device.handle(frame, pair.now_s)  # the last Accepted is unanswered
    with pytest.raises(InvalidMessage):
        pair.pump.device.respond(accepted, EXAMPLES[Op.READ_CLOCK][1])  # wrong response type
    stale = Accepted(seq=accepted.seq, op=accepted.op, request=accepted.request, role=accepted.role)
    with pytest.raises(StateError):
        pair.pump.device.respond(stale, EXAMPLES[Op.STATUS][1])  # equal, but not the one
    pair.pump.device.respond(accepted, EXAMPLES[Op.STATUS][1])
    with pytest.raises(StateError):
        pair.pump.device.refuse(accepted, ErrorCode.INTERNAL, "twice")


def test_unexpected_responses() -> None:
    pair = _established_pair()
    seq, _data, frame = pair.send(StatusRequest())
    with pytest.raises(UnexpectedResponseError):
        pair.programmer.receive(frame, seq + 1)  # no such request
    wrong_op = Frame(flags=frame.flags, seq=seq, op=Op.READ_CLOCK, payload=b"", mac=frame.mac)
    with pytest.raises(UnexpectedResponseError):
        pair.programmer.receive(wrong_op, seq)
    request_frame = Frame(flags=Flags.MAC, seq=seq, op=frame.op, payload=b"", mac=frame.mac)
    with pytest.raises(UnexpectedResponseError):
        pair.programmer.receive(request_frame, seq)
    pair.programmer.receive(frame, seq)


def test_device_transition_table_rejects_illegal_events() -> None:
    device = DeviceSession(DeviceSecurity(keys=KEYS, random_bytes=random.Random(0).randbytes))
    with pytest.raises(UnexpectedMessageError) as caught:
        device._fire(DeviceEvent.AUTH)
    assert caught.value.state == "IDLE" and caught.value.event == "SESSION_AUTH"
    assert caught.value.code is ErrorCode.BAD_HANDSHAKE
    states_reached = {after for after in DEVICE_TRANSITIONS.values()}
    assert states_reached == set(DeviceState)
    assert {after for after in PROGRAMMER_TRANSITIONS.values()} | {ProgrammerState.IDLE} == set(
        ProgrammerState
    )


def test_security_parameters_are_validated() -> None:
    cases: list[dict[str, Any]] = [
        {"keys": {}},
        {"keys": {Role.CLINICIAN: b"short"}},
        {"keys": KEYS, "idle_timeout_s": 0},
        {"keys": KEYS, "max_failures": 0},
        {"keys": KEYS, "lockout_s": -1},
        {"keys": KEYS, "lockout_s": float("nan")},
        {"keys": KEYS, "backoff_first_s": 0},
        {"keys": KEYS, "pressure_failures": 0},
    ]
    for kwargs in cases:
        with pytest.raises(InvalidMessage):
            DeviceSecurity(random_bytes=bytes, **kwargs)
    with pytest.raises(InvalidMessage):
        ProgrammerSession(key=b"short", role=Role.CLINICIAN, random_bytes=bytes)
    with pytest.raises(InvalidMessage):
        ProgrammerSession(key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=bytes, first_seq=-1)
    bad_rng = ProgrammerSession(key=CLINICIAN_KEY, role=Role.CLINICIAN, random_bytes=lambda n: b"")
    with pytest.raises(InvalidMessage):
        bad_rng.start()


def test_custom_policy() -> None:
    security = DeviceSecurity(
        keys=KEYS,
        random_bytes=random.Random(7).randbytes,
        idle_timeout_s=30,
        max_failures=2,
        lockout_s=60,
    )
    pair = Pair(security=security)
    codes = [_failed_attempt(pair) for _ in range(2)]
    assert codes == [ErrorCode.AUTH_FAILED, ErrorCode.LOCKED_OUT]
    pair.now_s += 15
    pair.open()
    assert pair.programmer.idle_timeout_s == 30
    pair.now_s += 30
    with pytest.raises(NakError) as caught:
        pair.call(ReadClockRequest())
    assert caught.value.code is ErrorCode.SESSION_EXPIRED


def test_each_reply_says_whether_its_frame_carries_a_mac() -> None:
    """Reply.mac agrees with the FLAGS byte the session built, cached retransmissions too."""
    pair = Pair()
    device = pair.pump.device

    def reply(data: bytes) -> Reply:
        (frame,) = pair.pump.deframer.feed(data)
        result = device.handle(frame, pair.now_s)
        assert isinstance(result, Reply)
        flags = decode_frame(result.data).flags
        assert result.mac is bool(flags & Flags.MAC)
        return result

    start = pair.programmer.start()
    opened = reply(start)
    assert not opened.mac and opened.error is None  # SESSION_OPEN is answered keyless
    assert not reply(start).mac  # its retransmission, from the cache
    (open_frame,) = pair.deframer.feed(opened.data)
    auth = pair.programmer.receive_open(open_frame)
    authed = reply(auth)
    assert authed.mac and authed.error is None
    assert reply(auth).mac  # cached, still MAC'd
    (auth_frame,) = pair.deframer.feed(authed.data)
    pair.programmer.receive_auth(auth_frame)
    seq, data = pair.programmer.request(StatusRequest())
    frame = decode_frame(data)
    forged = Frame(flags=frame.flags, seq=seq, op=frame.op, payload=frame.payload, mac=bytes(16))
    bad_mac = reply(encode_frame(forged))
    assert bad_mac.error is ErrorCode.BAD_MAC and bad_mac.mac  # answered in the session
    outsider = Pair(seed=9)
    keyless = build_frame(
        response=False, seq=5, op=Op.STATUS, payload=b"", key=bytes(range(50, 82))
    )
    (stranger,) = outsider.pump.deframer.feed(encode_frame(keyless))
    refused = outsider.pump.device.handle(stranger, outsider.now_s)
    assert isinstance(refused, Reply) and refused.error is ErrorCode.NO_SESSION
    assert not refused.mac and not decode_frame(refused.data).flags & Flags.MAC
