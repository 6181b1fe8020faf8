"""The event-log ring: indices forever, counted overwrites, paging."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.errors import OutOfRangeError, WrongTypeError
from firmware_model.event_log import EventLog, LogEntry
from protocol.enums import EventCode


def filled(capacity: int, count: int) -> EventLog:
    log = EventLog(capacity)
    for i in range(count):
        log.append(1_000 + i, EventCode.SECURITY, i, -i)
    return log


def test_indices_start_at_zero_and_increase() -> None:
    log = filled(4, 3)
    assert [e.index for e in log] == [0, 1, 2]
    assert (log.total_written, log.overwritten, log.first_index, len(log)) == (3, 0, 0, 3)


def test_overwrites_are_counted_never_silent() -> None:
    log = filled(4, 10)
    assert [e.index for e in log] == [6, 7, 8, 9]
    assert (log.total_written, log.overwritten, log.first_index) == (10, 6, 6)


def test_read_pages_from_an_index() -> None:
    log = filled(4, 10)
    assert [e.index for e in log.read(7, 2)] == [7, 8]
    assert [e.index for e in log.read(9, 5)] == [9]
    assert log.read(10, 5) == ()
    assert log.read(7, 0) == ()
    # Already overwritten: paging starts at the oldest entry held; the gap shows in the index.
    assert [e.index for e in log.read(2, 2)] == [6, 7]


@settings(max_examples=50, deadline=None, derandomize=True)
@given(capacity=st.integers(1, 20), count=st.integers(0, 60), page=st.integers(1, 7))
def test_paging_through_the_log_sees_every_held_entry_once(
    capacity: int, count: int, page: int
) -> None:
    log = filled(capacity, count)
    seen: list[int] = []
    nxt = 0
    while True:
        chunk = log.read(nxt, page)
        if not chunk:
            break
        seen.extend(e.index for e in chunk)
        nxt = chunk[-1].index + 1
    assert seen == list(range(max(count - capacity, 0), count))
    assert log.overwritten == max(count - capacity, 0)


def test_parameters_are_signed_32_bit() -> None:
    log = EventLog(4)
    log.append(0, EventCode.CLOCK_SET, 2**31 - 1, -(2**31))
    with pytest.raises(OutOfRangeError):
        log.append(0, EventCode.CLOCK_SET, 2**31, 0)
    with pytest.raises(WrongTypeError):
        log.append(0, 12, 0, 0)  # type: ignore[arg-type]
    assert log.total_written == 1  # the refused entries left no trace


def test_bad_arguments() -> None:
    with pytest.raises(OutOfRangeError):
        EventLog(0)
    log = filled(4, 2)
    with pytest.raises(OutOfRangeError):
        log.read(-1, 1)
    with pytest.raises(OutOfRangeError):
        log.read(0, -1)


def test_restore_and_equality() -> None:
    log = filled(4, 10)
    copy = EventLog.restore(4, list(log), 10)
    assert copy == log
    assert copy != filled(4, 9)
    assert copy != filled(5, 10)
    with pytest.raises(OutOfRangeError):
        EventLog.restore(4, list(log), 11)  # indices would not line up
    with pytest.raises(OutOfRangeError):
        EventLog.restore(3, list(log), 10)  # more entries than the ring holds
    with pytest.raises(OutOfRangeError):
        LogEntry(index=-1, clock_s=0, code=EventCode.POWER_ON, a=0, b=0)
