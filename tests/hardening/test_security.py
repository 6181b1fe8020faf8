"""The link attacked as an adversary would, through the real device stack and a real client.

Each attack goes through :class:`~firmware_model.telemetry.TelemetryLink` (the
pump's own telemetry head, session and model) or through :class:`PumpClient`
over the in-process link, never a mock. Each must be refused with its error
code, appear in the pump's event log as a SECURITY event (code, opcode), and
leave therapy exactly as it was. The session rules themselves are unit-tested
in ``tests/protocol/test_session.py``; these tests check what an attacker
gets out of the whole pump.
"""

from __future__ import annotations

import binascii
import random
from collections.abc import Iterator

import pytest

from emulator.capture import Direction
from firmware_model.telemetry import SECURITY_LOG_INTERVAL_S
from protocol import docgen
from protocol import messages as m
from protocol.client import PumpClient
from protocol.codec import Deframer
from protocol.enums import MAX_PAYLOAD, BolusKind, ErrorCode, EventCode, Op, Role
from protocol.errors import AuthenticationError, NakError, SequenceExhaustedError
from protocol.frames import HEADER_SIZE, MAX_FRAME_SIZE, Frame, encode_frame
from protocol.session import (
    DEFAULT_LOCKOUT_S,
    DEFAULT_MAX_FAILURES,
    MAX_SEQ,
    ROLE_OPS,
    ProgrammerSession,
    build_frame,
    programmer_proof,
)
from tests.hardening.fuzz import DeviceHarness, capture_chunks, therapy
from tests.support import DEMO_KEYS, InprocPump, inproc_pump

BOLUS = m.StartBolusRequest(
    kind=BolusKind.THERAPEUTIC, dose_ng=50_000, volume_nl=0, duration_s=600
)  # 50 mcg = 0.1 mL of the 500 mcg/mL drug


def _security_events(
    harness_or_pump: DeviceHarness | InprocPump, since: int
) -> list[tuple[int, int]]:
    pump = (
        harness_or_pump.pump
        if isinstance(harness_or_pump, DeviceHarness)
        else (harness_or_pump.virtual.pump)
    )
    return [(e.a, e.b) for e in pump.event_log.read(since, 10_000) if e.code is EventCode.SECURITY]


def _naks(frames: list[Frame]) -> list[ErrorCode]:
    codes = []
    for frame in frames:
        message = m.decode_response(frame.op, frame.payload)
        assert isinstance(message, m.Nak), message
        codes.append(message.code)
    return codes


def _plain(seq: int, message: m.Message) -> bytes:
    frame = build_frame(response=False, seq=seq, op=message.op, payload=m.encode_payload(message))
    return encode_frame(frame)


def _recrc(data: bytearray) -> bytes:
    """The frame bytes with the CRC recomputed: an attacker's bit flip, not line noise."""
    body = bytes(data[:-2])
    return body + binascii.crc_hqx(body[2:], 0xFFFF).to_bytes(2, "big")


@pytest.fixture
def harness() -> DeviceHarness:
    return DeviceHarness(seed=11)


# --- replays ---------------------------------------------------------------------------------


def test_a_captured_session_replayed_to_the_pump_is_refused_and_logged(
    harness: DeviceHarness,
) -> None:
    """The whole demo capture, replayed on a new link: only DEVICE_INFO is answered."""
    before, since = therapy(harness.pump, harness.head), harness.pump.event_log.total_written
    link = harness.head.open_link()
    answers: list[Frame] = []
    for direction, data in capture_chunks():
        if direction is Direction.TO_PUMP:
            out = link.receive(data, t=harness.t, now_s=harness.now_s)
            answers += Deframer().feed(out)
    ops = [a.op for a in answers]
    assert ops[:2] == [Op.DEVICE_INFO, Op.SESSION_OPEN]  # public answers, fresh pump nonce
    codes = _naks(answers[2:])
    assert codes[0] is ErrorCode.AUTH_FAILED  # the captured proof answers another nonce
    assert set(codes[1:]) == {ErrorCode.NO_SESSION}  # every captured command
    assert link.requests_executed == 1  # DEVICE_INFO
    assert therapy(harness.pump, harness.head) == before
    events = _security_events(harness, since)
    assert (ErrorCode.AUTH_FAILED, Op.SESSION_AUTH) in events
    assert any(code == ErrorCode.NO_SESSION for code, _ in events)


def test_captured_frames_replayed_into_a_live_session_lock_the_pump(
    harness: DeviceHarness,
) -> None:
    before, since = therapy(harness.pump, harness.head), harness.pump.event_log.total_written
    stream = b"".join(d for direction, d in capture_chunks() if direction is Direction.TO_PUMP)
    maced = [f for f in Deframer().feed(stream) if f.mac is not None]
    codes: list[ErrorCode] = []
    for frame in maced[:DEFAULT_MAX_FAILURES]:
        codes += _naks(harness.send(encode_frame(frame)))
    assert codes == [ErrorCode.BAD_MAC] * (DEFAULT_MAX_FAILURES - 1) + [ErrorCode.LOCKED_OUT]
    assert therapy(harness.pump, harness.head) == before
    events = _security_events(harness, since)
    assert events.count((ErrorCode.BAD_MAC, maced[0].op)) >= 1
    assert events[-1][0] == ErrorCode.LOCKED_OUT
    harness.probe()  # after the lockout a valid programmer gets in again


def test_old_frames_of_the_same_session_are_replays(harness: DeviceHarness) -> None:
    """Frames recorded earlier in the live session (right MAC, old SEQ) are never executed."""
    harness.seq += 1
    stage_seq = harness.seq
    spec = m.PrescriptionSpec.simple(300_000, concentration_ug_per_ml=500)
    stage = encode_frame(
        harness.maced(
            op=Op.STAGE_PRESCRIPTION,
            payload=m.encode_payload(m.StagePrescriptionRequest(prescription=spec)),
            seq=stage_seq,
        )
    )
    staged = m.decode_response(Op.STAGE_PRESCRIPTION, harness.send(stage)[0].payload)
    assert isinstance(staged, m.StagePrescriptionResponse)
    harness.request(m.CommitPrescriptionRequest(checksum=staged.checksum))
    bolus = harness.request(BOLUS)
    assert bolus[0].op == Op.START_BOLUS
    harness.request(m.CancelBolusRequest())
    before, since = therapy(harness.pump, harness.head), harness.pump.event_log.total_written
    assert _naks(harness.send(stage)) == [ErrorCode.REPLAY]
    assert _security_events(harness, since) == [(ErrorCode.REPLAY, Op.STAGE_PRESCRIPTION)]
    assert therapy(harness.pump, harness.head) == before


# --- tampering -----------------------------------------------------------------------------


def test_no_single_bit_flip_of_a_maced_command_is_executed(harness: DeviceHarness) -> None:
    """Every bit from VER to the end of the MAC, flipped with the CRC fixed up."""
    before = therapy(harness.pump, harness.head)
    executed = harness.link.requests_executed
    since = harness.pump.event_log.total_written
    bad_macs = 0
    size = len(encode_frame(harness.maced(op=Op.START_BOLUS, payload=b"", seq=1)))
    size += len(m.encode_payload(BOLUS))
    for bit in range(16, (size - 2) * 8):
        if harness.security.failures >= DEFAULT_MAX_FAILURES - 1:
            harness.open_session()  # a success resets the count: keep testing, not locked out
        good = harness.maced(op=BOLUS.op, payload=m.encode_payload(BOLUS), seq=harness.seq + 1)
        data = bytearray(encode_frame(good))
        data[bit // 8] ^= 0x80 >> (bit % 8)
        harness._silence()
        codes = _naks(harness.send(_recrc(data)))
        assert all(c is not ErrorCode.LOCKED_OUT for c in codes)
        bad_macs += codes.count(ErrorCode.BAD_MAC)
    assert harness.link.requests_executed == executed
    assert therapy(harness.pump, harness.head) == before
    # Every flip of SEQ, OP, the payload or the MAC reaches the MAC check and fails it.
    assert bad_macs >= (size - 2 - HEADER_SIZE + 3) * 8
    assert _security_events(harness, since).count((ErrorCode.BAD_MAC, BOLUS.op)) >= 1


# --- handshakes ----------------------------------------------------------------------------


def test_truncated_and_out_of_order_handshakes(harness: DeviceHarness) -> None:
    before, since = therapy(harness.pump, harness.head), harness.pump.event_log.total_written
    link = harness.head.open_link()
    now = harness.now_s

    def send(data: bytes) -> list[Frame]:
        return Deframer().feed(link.receive(data, t=harness.t, now_s=now))

    auth = m.SessionAuthRequest(client_proof=bytes(32))
    assert _naks(send(_plain(1, auth))) == [ErrorCode.BAD_HANDSHAKE]  # AUTH without OPEN
    opening = _plain(2, m.SessionOpenRequest(role=Role.CLINICIAN, client_nonce=bytes(16)))
    assert send(opening)[0].op == Op.SESSION_OPEN
    cut = _plain(3, auth)
    assert send(cut[: len(cut) // 2]) == []  # the rest never comes
    now += 1.0  # silence: the half frame is dropped
    short = build_frame(response=False, seq=4, op=Op.SESSION_AUTH, payload=b"\x00" * 5)
    assert _naks(send(encode_frame(short))) == [ErrorCode.MALFORMED]
    command = build_frame(response=False, seq=5, op=Op.STOP_PUMP, payload=b"\x01", key=bytes(32))
    assert _naks(send(encode_frame(command))) == [ErrorCode.NO_SESSION]
    assert therapy(harness.pump, harness.head) == before
    codes = {code for code, _ in _security_events(harness, since)}
    assert {ErrorCode.BAD_HANDSHAKE, ErrorCode.MALFORMED, ErrorCode.NO_SESSION} <= codes


def test_a_wrong_key_is_refused_at_both_ends() -> None:
    with inproc_pump() as pump:
        before = therapy(pump.virtual.pump, pump.virtual.telemetry)
        wrong = bytes(range(32))
        client = PumpClient(
            pump.url, key=wrong, timeout_s=1.0, random_bytes=random.Random(3).randbytes
        )
        with pytest.raises(AuthenticationError):
            client.connect()  # the pump's proof does not verify under the wrong key
        client.close()
        # An attacker who ignores that and answers with a proof under the wrong key:
        since = pump.virtual.pump.event_log.total_written
        endpoint = pump.virtual.endpoint()
        opened = Deframer().feed(
            endpoint.receive(
                _plain(1, m.SessionOpenRequest(role=Role.CLINICIAN, client_nonce=bytes(16)))
            )
        )
        assert opened[0].op == Op.SESSION_OPEN
        response = m.decode_response(Op.SESSION_OPEN, opened[0].payload)
        assert isinstance(response, m.SessionOpenResponse)
        proof = programmer_proof(wrong, Role.CLINICIAN, response.pump_nonce, bytes(16))
        refused = Deframer().feed(
            endpoint.receive(_plain(2, m.SessionAuthRequest(client_proof=proof)))
        )
        assert _naks(refused) == [ErrorCode.AUTH_FAILED]
        endpoint.close()
        assert (ErrorCode.AUTH_FAILED, Op.SESSION_AUTH) in _security_events(pump, since)
        assert therapy(pump.virtual.pump, pump.virtual.telemetry) == before


# --- roles ---------------------------------------------------------------------------------


def _clinician_only_requests() -> Iterator[m.Message]:
    for op, (request, _) in docgen.EXAMPLES.items():
        if request is not None and op not in ROLE_OPS[Role.PATIENT]:
            yield request


def test_a_patient_session_cannot_run_clinician_commands() -> None:
    with inproc_pump() as pump:
        before = therapy(pump.virtual.pump, pump.virtual.telemetry)
        since = pump.virtual.pump.event_log.total_written
        refused: list[Op] = []
        with pump.client(Role.PATIENT) as client:
            for request in _clinician_only_requests():
                with pytest.raises(NakError) as caught:
                    client.call(request, m.Message)
                assert caught.value.code is ErrorCode.FORBIDDEN, request
                refused.append(request.op)
            assert client.status().mode is before[1]  # what a patient may do still works
        assert len(refused) >= 12
        events = _security_events(pump, since)
        assert events == [(ErrorCode.FORBIDDEN, op) for op in refused]
        assert therapy(pump.virtual.pump, pump.virtual.telemetry) == before


# --- sequence numbers ------------------------------------------------------------------------


def test_seq_never_wraps(harness: DeviceHarness) -> None:
    harness.seq = MAX_SEQ - 1
    assert harness.request(m.StatusRequest())[0].op == Op.STATUS  # SEQ 0xFFFF: the last one
    before, since = therapy(harness.pump, harness.head), harness.pump.event_log.total_written
    for wrapped in (0, 1, 2):
        frame = harness.maced(op=BOLUS.op, payload=m.encode_payload(BOLUS), seq=wrapped)
        assert _naks(harness.send(encode_frame(frame))) == [ErrorCode.REPLAY]
    assert _security_events(harness, since) == [(ErrorCode.REPLAY, BOLUS.op)] * 3
    assert therapy(harness.pump, harness.head) == before
    # The programmer side refuses to wrap too: past 0xFFFF it asks for a new session.
    session = ProgrammerSession(
        key=DEMO_KEYS[Role.CLINICIAN],
        role=Role.CLINICIAN,
        random_bytes=random.Random(1).randbytes,
        first_seq=MAX_SEQ,
    )
    session.plain_request(m.DeviceInfoRequest())  # SEQ 0xFFFF
    with pytest.raises(SequenceExhaustedError):
        session.plain_request(m.DeviceInfoRequest())


# --- brute force -----------------------------------------------------------------------------


def test_brute_force_is_locked_out_even_for_the_right_key() -> None:
    with inproc_pump() as pump:
        before = therapy(pump.virtual.pump, pump.virtual.telemetry)
        since = pump.virtual.pump.event_log.total_written
        codes = []
        for guess in range(DEFAULT_MAX_FAILURES + 3):
            key = random.Random(guess).randbytes(32)
            endpoint = pump.virtual.endpoint()  # a new link per guess: reconnecting resets nothing
            cn = bytes([guess]) * 16
            endpoint.receive(_plain(1, m.SessionOpenRequest(role=Role.CLINICIAN, client_nonce=cn)))
            auth = m.SessionAuthRequest(client_proof=key)
            codes += _naks(Deframer().feed(endpoint.receive(_plain(2, auth))))
            endpoint.close()
        locked = [ErrorCode.LOCKED_OUT] * 4
        assert codes == [ErrorCode.AUTH_FAILED] * (DEFAULT_MAX_FAILURES - 1) + locked
        with pytest.raises(NakError) as caught, pump.client():
            pass  # the right key, during the lockout
        assert caught.value.code is ErrorCode.LOCKED_OUT
        events = _security_events(pump, since)
        assert events[:DEFAULT_MAX_FAILURES] == [
            *[(ErrorCode.AUTH_FAILED, Op.SESSION_AUTH)] * (DEFAULT_MAX_FAILURES - 1),
            (ErrorCode.LOCKED_OUT, Op.SESSION_AUTH),
        ]
        assert therapy(pump.virtual.pump, pump.virtual.telemetry) == before
        pump.wall.now += DEFAULT_LOCKOUT_S + 1
        with pump.client() as client:
            assert client.status().mode is before[1]


# --- length --------------------------------------------------------------------------------


def test_frames_of_maximum_length_and_beyond(harness: DeviceHarness) -> None:
    before, since = therapy(harness.pump, harness.head), harness.pump.event_log.total_written
    # Maximum length with a valid MAC: parsed, refused as malformed, answered in the session.
    harness.seq += 1
    biggest = harness.maced(
        op=Op.STAGE_PRESCRIPTION, payload=b"\xff" * MAX_PAYLOAD, seq=harness.seq
    )
    data = encode_frame(biggest)
    assert len(data) == MAX_FRAME_SIZE
    assert _naks(harness.send(data)) == [ErrorCode.MALFORMED]
    # Maximum length from someone without the key: refused and logged.
    forged = build_frame(
        response=False,
        seq=harness.seq + 1,
        op=Op.STOP_PUMP,
        payload=b"\x01" * MAX_PAYLOAD,
        key=bytes(32),
    )
    assert _naks(harness.send(encode_frame(forged))) == [ErrorCode.BAD_MAC]
    plain = build_frame(response=False, seq=9, op=Op.STOP_PUMP, payload=b"\x01" * MAX_PAYLOAD)
    assert _naks(harness.send(encode_frame(plain))) == [ErrorCode.NO_SESSION]
    # Beyond: LEN 1025 is no frame at all. It gets no answer and does not swallow the valid
    # request right behind it; a stream of them never makes the pump hold more than a frame.
    over = bytearray(encode_frame(plain))
    over[7:9] = (MAX_PAYLOAD + 1).to_bytes(2, "big")
    over += b"\x00"
    harness.seq += 1
    status = harness.maced(op=Op.STATUS, payload=b"", seq=harness.seq)
    answers = harness.send(_recrc(over) + encode_frame(status))
    assert [a.op for a in answers] == [Op.STATUS]
    harness.send(bytes(over) * 100)
    assert harness.link.deframer.buffered < MAX_FRAME_SIZE
    assert harness.link.deframer.bad_frames >= 100
    assert therapy(harness.pump, harness.head) == before
    events = _security_events(harness, since)
    assert (ErrorCode.BAD_MAC, Op.STOP_PUMP) in events
    assert (ErrorCode.NO_SESSION, Op.STOP_PUMP) in events


# --- the log itself --------------------------------------------------------------------------


def test_a_flood_of_keyless_attacks_cannot_wipe_the_event_log(harness: DeviceHarness) -> None:
    """An hour of every keyless attack, 20 a second: the log keeps its clinical history."""
    rng = random.Random(5)
    before = therapy(harness.pump, harness.head)
    start = harness.pump.event_log.total_written
    link = harness.head.open_link()
    attacks = [
        _plain(1, m.SessionAuthRequest(client_proof=bytes(32))),
        encode_frame(build_frame(response=False, seq=2, op=Op.STOP_PUMP, payload=b"\x01")),
        encode_frame(
            build_frame(response=False, seq=3, op=Op.STOP_PUMP, payload=b"\x01", key=bytes(32))
        ),
        encode_frame(build_frame(response=False, seq=4, op=Op.SESSION_AUTH, payload=b"")),
        encode_frame(build_frame(response=False, seq=5, op=0x66, payload=b"")),
    ]
    seconds = 3600
    now = harness.now_s
    for step in range(seconds * 20):
        now = harness.now_s + step / 20
        if step % 200 == 0:  # now and then a full handshake with a guessed proof
            cn = rng.randbytes(16)
            link.receive(
                _plain(7, m.SessionOpenRequest(role=Role.CLINICIAN, client_nonce=cn)),
                t=harness.t,
                now_s=now,
            )
            link.receive(
                _plain(8, m.SessionAuthRequest(client_proof=rng.randbytes(32))),
                t=harness.t,
                now_s=now,
            )
        else:
            link.receive(rng.choice(attacks), t=harness.t, now_s=now)
    log = harness.pump.event_log
    added = log.total_written - start
    minutes = seconds / SECURITY_LOG_INTERVAL_S + 1
    lockouts = seconds / DEFAULT_LOCKOUT_S + 1
    # At most one entry per refusal code a minute, plus the failures that lock the pump out.
    assert added <= len(ErrorCode) * minutes + DEFAULT_MAX_FAILURES * lockouts
    assert log.first_index == 0  # POWER_ON and everything since are still there
    assert therapy(harness.pump, harness.head) == before
    assert added > 0
