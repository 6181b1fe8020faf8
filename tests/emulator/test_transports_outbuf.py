"""OutputBuffer: non-blocking writes with a bound that applies back-pressure, never drops."""

from __future__ import annotations

import pytest

from emulator.transports.outbuf import OutputBuffer


class Sink:
    """A descriptor stand-in that takes at most ``room`` bytes per call (0: would block)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.got = b""

    def __call__(self, view: memoryview) -> int:
        if self.room == 0:
            raise BlockingIOError
        n = min(self.room, len(view))
        self.got += bytes(view[:n])
        return n


def test_everything_goes_out_when_the_sink_takes_it() -> None:
    buf = OutputBuffer(limit_bytes=100)
    buf.push(b"abc")
    buf.push(b"")
    buf.push(b"def")
    assert buf.pending_bytes == 6
    sink = Sink(room=1000)
    assert buf.write_to(sink) == 6
    assert sink.got == b"abcdef"
    assert not buf
    assert buf.write_to(sink) == 0


def test_short_writes_resume_where_they_stopped() -> None:
    buf = OutputBuffer(limit_bytes=100)
    buf.push(b"0123456789")
    sink = Sink(room=4)
    assert buf.write_to(sink) == 4
    assert buf.pending_bytes == 6
    sink.room = 0
    assert buf.write_to(sink) == 0
    sink.room = 100
    buf.write_to(sink)
    assert sink.got == b"0123456789"


def test_past_the_bound_it_is_full_and_keeps_everything() -> None:
    buf = OutputBuffer(limit_bytes=10)
    buf.push(b"aaaa")
    buf.push(b"bbbb")
    assert not buf.full
    buf.push(b"cccc")
    buf.push(b"far too long for the bound")
    assert buf.full and buf.limit_bytes == 10
    sink = Sink(room=100)
    buf.write_to(sink)
    assert sink.got == b"aaaabbbbccccfar too long for the bound"
    assert not buf.full and not buf


def test_other_errors_propagate_and_clear_forgets() -> None:
    buf = OutputBuffer(limit_bytes=10)
    buf.push(b"abc")

    def broken(view: memoryview) -> int:
        raise BrokenPipeError

    with pytest.raises(BrokenPipeError):
        buf.write_to(broken)
    assert buf.pending_bytes == 3
    buf.clear()
    assert not buf


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OutputBuffer(limit_bytes=0)
