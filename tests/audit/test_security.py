"""docs/protocol.md's security rules from the outside: a wrong key, the per-link back-off and
its clock, a displaced session. A server of its own, so these failures count alone."""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator

import pytest

from tests.audit.docclient import (
    AUTH_FAILED,
    BAD_HANDSHAKE,
    BAD_MAC,
    CLINICIAN,
    DEVICE_INFO,
    EV_SECURITY,
    LOCKED_OUT,
    NAK,
    PATIENT,
    SESSION_AUTH,
    SESSION_DISPLACED,
    SESSION_OPEN,
    STATUS,
    Link,
    NakError,
    ProtocolViolationError,
    Pump,
    Session,
    build_frame,
    client_proof,
    decode_device_info,
    decode_status,
    last_entries,
    serve,
)


@pytest.fixture(scope="module")
def pump() -> Iterator[Pump]:
    with serve("--preset", "default") as served:
        yield served


def test_wrong_key_is_caught_both_ways(pump: Pump) -> None:
    wrong = bytes(32 * [0x11])
    # The programmer checks the pump's proof first: with a wrong key it does not verify.
    session = Session(Link(pump.address))
    try:
        with pytest.raises(ProtocolViolationError, match="pump proof"):
            session.open(CLINICIAN, wrong)
        # A client proof made with the wrong key (after a good SESSION_OPEN): AUTH_FAILED,
        # and the next SESSION_AUTH needs a new SESSION_OPEN.
        cn = os.urandom(16)
        session.link.send_raw(build_frame(10, SESSION_OPEN, bytes([CLINICIAN]) + cn))
        opened = session.link.recv_frame()
        assert opened is not None and opened.op == SESSION_OPEN
        pn = opened.payload[:16]
        proof = client_proof(wrong, CLINICIAN, cn, pn)
        session.link.send_raw(build_frame(11, SESSION_AUTH, proof))
        refused = session.link.recv_frame()
        assert refused is not None and refused.op == NAK and refused.payload[0] == AUTH_FAILED
        session.link.send_raw(build_frame(12, SESSION_AUTH, proof))
        again = session.link.recv_frame()
        assert again is not None and again.op == NAK and again.payload[0] == BAD_HANDSHAKE
        # The patient key does not open a clinician session either.
        with pytest.raises(ProtocolViolationError, match="pump proof"):
            session.open(CLINICIAN, pump.keys[PATIENT])
    finally:
        session.link.close()


def test_back_off_after_four_bad_macs_runs_on_link_time(pump: Pump) -> None:
    victim = pump.session(CLINICIAN)
    bystander = pump.session(CLINICIAN)
    try:
        forged = bytes(32)
        codes = []
        for _ in range(5):
            victim.link.send_raw(build_frame(victim.next_seq(), STATUS, b"", key=forged))
            frame = victim.link.recv_frame()
            assert frame is not None and frame.op == NAK
            codes.append(frame.payload[0])
        # "The first 4 are answered with their own code; each further one makes that link
        # back off, for 15 s"
        assert codes == [BAD_MAC] * 4 + [LOCKED_OUT]
        # Everything but DEVICE_INFO gets LOCKED_OUT with the seconds left in the reason,
        # and the link's own session ended.
        try:
            victim.request(STATUS)
            raise AssertionError("STATUS answered during the back-off")
        except NakError as nak:
            assert nak.code == LOCKED_OUT
            seconds = int(re.findall(r"\d+", nak.reason)[0])
            assert 0 < seconds <= 15
        victim.link.send_raw(build_frame(victim.next_seq(), DEVICE_INFO, b""))
        info = victim.link.recv_frame()
        assert info is not None and info.op == DEVICE_INFO
        assert decode_device_info(info.payload)["model"] == 20
        # The back-off is a link timer: a day of pump time does not end it.
        pump.advance(86_400)
        with pytest.raises(NakError) as locked:
            victim.open(CLINICIAN, pump.keys[CLINICIAN])
        assert locked.value.code == LOCKED_OUT
        # Failures on one link never touch a session on another.
        assert decode_status(bystander.request(STATUS))["delivering"] == 1
        # SECURITY entries are aggregated: at most one per error code within the hour, so
        # four BAD_MACs wrote one
        security = [e for e in last_entries(bystander) if e["code"] == EV_SECURITY]
        assert [e["a"] for e in security].count(BAD_MAC) == 1
        assert len({e["a"] for e in security}) == len(security)
    finally:
        victim.link.close()
        bystander.link.close()


def test_displaced_session_gets_session_displaced_macd_with_its_key(pump: Pump) -> None:
    session = pump.session(CLINICIAN)
    try:
        old_key = session.key
        assert old_key is not None
        session.open(CLINICIAN, pump.keys[CLINICIAN])  # a new handshake on the same link
        seq = session.next_seq()
        session.link.send_raw(build_frame(seq, STATUS, b"", key=old_key))
        frame = session.link.recv_frame()
        assert frame is not None and frame.op == NAK and frame.payload[0] == SESSION_DISPLACED
        session.key = old_key
        session.check(frame, seq)  # its MAC verifies with the displaced session's key
        assert frame.mac is not None
        # the new session goes on
        session.key = None
        session.open(CLINICIAN, pump.keys[CLINICIAN])
        assert struct.unpack(">Q", session.request(STATUS)[:8])[0] > 0
    finally:
        session.link.close()
