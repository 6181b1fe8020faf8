"""Issue 13, item 11: a frame trickled a byte at a time cannot hold the link.

A LEN-1024 header then one byte every 0.3 s never lets the 0.5 s silence timer fire; the
frame-arrival bound (1 s of link time from a partial frame's first byte) abandons it, and
the clinician's STATUS sent meanwhile, swallowed into the attacker's partial frame, is
found and answered.
"""

from __future__ import annotations

from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import Op
from protocol.frames import encode_frame
from tests.hardening.fuzz import DeviceHarness

LONG_HEADER = bytes.fromhex("a55a 01 00 0001 10 0400")  # SYNC VER FLAGS SEQ OP=STATUS LEN=1024


def test_a_trickled_frame_is_abandoned_and_the_clinician_is_answered() -> None:
    harness = DeviceHarness(seed=5)
    link, start = harness.link, harness.now_s + 10
    assert link.receive(LONG_HEADER, t=harness.t, now_s=start) == b""
    harness.seq += 1
    status = encode_frame(harness.maced(op=Op.STATUS, payload=b"", seq=harness.seq))
    answered_at = None
    for tick in range(1, 40):  # one byte every 0.3 s, as long as 12 s
        now = start + 0.3 * tick
        data = b"\x00" if tick != 2 else status  # the clinician's STATUS, mid-trickle
        answer = link.receive(data, t=harness.t, now_s=now)
        if answer and answered_at is None:
            (frame,) = Deframer().feed(answer)
            assert frame.op == Op.STATUS and frame.seq == harness.seq
            assert isinstance(m.decode_response(frame.op, frame.payload), m.StatusResponse)
            answered_at = now
    assert answered_at is not None
    assert answered_at - (start + 0.6) <= 1.0  # within the bound of the STATUS being sent
    assert link.deframer.bad_frames >= 1
    # The link is clean afterwards: the next request is answered at once.
    assert harness.request(m.StatusRequest())[0].op == Op.STATUS


def test_a_frame_written_at_once_is_never_abandoned() -> None:
    harness = DeviceHarness(seed=6)
    harness.seq += 1
    frame = encode_frame(
        harness.maced(op=Op.STAGE_PRESCRIPTION, payload=b"\x00" * 1000, seq=harness.seq)
    )
    # Split in two reads 0.9 s apart (within the bound): still one frame.
    link = harness.link
    assert link.receive(frame[:500], t=harness.t, now_s=harness.now_s + 1) == b""
    answer = link.receive(frame[500:], t=harness.t, now_s=harness.now_s + 1.4)
    (reply,) = Deframer().feed(answer)
    assert reply.seq == harness.seq  # answered (a MALFORMED NAK: the payload is nonsense)
