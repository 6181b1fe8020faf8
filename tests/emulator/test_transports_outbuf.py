"""OutputBuffer: non-blocking writes with a bound that drops the oldest whole answers."""

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


def test_when_full_the_oldest_whole_answers_are_dropped() -> None:
    buf = OutputBuffer(limit_bytes=10)
    for answer in (b"aaaa", b"bbbb", b"cccc", b"dddd"):
        buf.push(answer)
    assert buf.pending_bytes == 8
    assert (buf.dropped_answers, buf.dropped_bytes) == (2, 8)
    sink = Sink(room=100)
    buf.write_to(sink)
    assert sink.got == b"ccccdddd"


def test_an_answer_half_written_is_never_cut() -> None:
    buf = OutputBuffer(limit_bytes=10)
    buf.push(b"aaaaaaaa")
    sink = Sink(room=3)
    buf.write_to(sink)
    buf.push(b"bbbbbbbb")  # over the bound: the fresh answer stays, the head is finished
    buf.push(b"cccccccc")  # drops "b...", never the rest of "a..."
    assert buf.dropped_bytes == 8
    sink.room = 100
    buf.write_to(sink)
    assert sink.got == b"aaaaaaaa" + b"cccccccc"


def test_an_answer_bigger_than_the_bound_is_dropped_itself() -> None:
    buf = OutputBuffer(limit_bytes=4)
    buf.push(b"ok")
    buf.push(b"far too long")
    assert (buf.dropped_answers, buf.dropped_bytes) == (1, 12)
    assert buf.pending_bytes == 2


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
    assert buf.dropped_bytes == 0


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OutputBuffer(limit_bytes=0)
