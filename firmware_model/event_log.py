"""The pump's event log: a bounded ring of typed entries that never loses count.

Each entry gets an ``index`` that increases forever from 0. When the ring
is full the oldest entry is overwritten, and that is counted
(``overwritten``), never silent: a reader paging with :meth:`EventLog.read`
sees the gap in the indices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import Protocol

from firmware_model.errors import OutOfRangeError, WrongTypeError
from protocol.enums import EventCode
from protocol.frozen import frozen
from protocol.timebase import INT32_MAX, INT32_MIN


@frozen(slots=True)
class LogEntry:
    """One event: its index, the RTC second it happened, its code and two int32 parameters.

    The meaning of ``a`` and ``b`` per code is ``protocol.enums.EVENT_PARAMS``.
    """

    index: int
    clock_s: int
    code: EventCode
    a: int
    b: int

    def __post_init__(self) -> None:
        if not isinstance(self.code, EventCode):
            raise WrongTypeError(field="code", value=self.code, expected="an EventCode")
        for name in ("index", "clock_s", "a", "b"):
            if type(getattr(self, name)) is not int:
                raise WrongTypeError(field=name, value=getattr(self, name), expected="an int")
        if self.index < 0:
            raise OutOfRangeError(field="index", value=self.index, limit=0, rule="at least")
        for name in ("a", "b"):
            value = getattr(self, name)
            if not INT32_MIN <= value <= INT32_MAX:
                raise OutOfRangeError(
                    field=name, value=value, limit=(INT32_MIN, INT32_MAX), rule="within"
                )


class EventLogReader(Protocol):
    """The read side of an event log (what the pump hands out)."""

    @property
    def capacity(self) -> int: ...
    @property
    def total_written(self) -> int: ...
    @property
    def overwritten(self) -> int: ...
    @property
    def first_index(self) -> int: ...
    def read(self, first_index: int, max_count: int) -> tuple[LogEntry, ...]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[LogEntry]: ...


class EventLog:
    """A ring of at most ``capacity`` entries."""

    def __init__(self, capacity: int) -> None:
        if type(capacity) is not int or capacity < 1:
            raise OutOfRangeError(field="capacity", value=capacity, limit=1, rule="at least")
        self._capacity = capacity
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._total_written = 0

    @classmethod
    def restore(cls, capacity: int, entries: list[LogEntry], total_written: int) -> EventLog:
        """Rebuild a log from stored entries; raises ValueError if they are inconsistent."""
        log = cls(capacity)
        if len(entries) > capacity or total_written < len(entries):
            raise OutOfRangeError(
                field="len(entries)", value=len(entries), limit=capacity, rule="at most"
            )
        first = total_written - len(entries)
        for offset, entry in enumerate(entries):
            if entry.index != first + offset:
                raise OutOfRangeError(
                    field=f"entries[{offset}].index",
                    value=entry.index,
                    limit=first + offset,
                    rule="equal to",
                )
        log._entries.extend(entries)
        log._total_written = total_written
        return log

    @property
    def capacity(self) -> int:
        """Most entries held at once."""
        return self._capacity

    @property
    def total_written(self) -> int:
        """Entries ever written; also the index the next entry gets."""
        return self._total_written

    @property
    def overwritten(self) -> int:
        """Entries lost to the ring wrapping."""
        return self._total_written - len(self._entries)

    @property
    def first_index(self) -> int:
        """Index of the oldest entry still held (== total_written when empty)."""
        return self.overwritten

    def append(self, clock_s: int, code: EventCode, a: int = 0, b: int = 0) -> LogEntry:
        """Write an entry; the oldest is overwritten (and counted) when the ring is full."""
        # IntEnum parameters (an AlarmCode, an ErrorCode) are stored as plain ints.
        a, b = (int(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in (a, b))
        entry = LogEntry(index=self._total_written, clock_s=clock_s, code=code, a=a, b=b)
        self._entries.append(entry)
        self._total_written += 1
        return entry

    def read(self, first_index: int, max_count: int) -> tuple[LogEntry, ...]:
        """Up to ``max_count`` entries with index >= ``first_index``, oldest first.

        Asking for an index already overwritten starts at the oldest entry held;
        the caller sees the gap in the indices.
        """
        if type(first_index) is not int or first_index < 0:
            raise OutOfRangeError(field="first_index", value=first_index, limit=0, rule="at least")
        if type(max_count) is not int or max_count < 0:
            raise OutOfRangeError(field="max_count", value=max_count, limit=0, rule="at least")
        start = max(first_index - self.first_index, 0)
        return tuple(islice(self._entries, start, start + max_count))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(tuple(self._entries))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventLog):
            return NotImplemented
        return (
            self.capacity == other.capacity
            and self._total_written == other._total_written
            and self._entries == other._entries
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"EventLog(capacity={self.capacity}, total_written={self._total_written}, "
            f"held={len(self._entries)})"
        )
