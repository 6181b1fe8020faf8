"""A bounded output buffer for non-blocking writes.

A transport never blocks on a write: what the descriptor does not take now
waits here until it becomes writable. If the programmer never reads, the
buffer would grow without end, so it is bounded and, when full, drops the
*oldest* whole answers first. Rationale: a programmer that stopped reading and
comes back wants the answers to its new requests, not replies to requests it
has long given up on; and dropping whole answers (never the tail of an answer
already half written) keeps every frame that does go out intact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["DEFAULT_LIMIT_BYTES", "OutputBuffer"]

DEFAULT_LIMIT_BYTES = 64 * 1024
"""Default bound: far above one answer (a frame is at most ~1 KiB), far below trouble."""


class OutputBuffer:
    """Answers waiting to be written, oldest first.

    Holds at most ``limit_bytes``, except that the answer already being
    written is never cut, so the total can exceed the bound by that one answer.
    """

    def __init__(self, *, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        if limit_bytes <= 0:
            raise ValueError(f"limit_bytes must be positive, got {limit_bytes}")
        self._limit_bytes = limit_bytes
        self._chunks: deque[bytes] = deque()
        self._head_sent = 0  # bytes of _chunks[0] already written
        self._pending_bytes = 0
        self.dropped_bytes = 0
        """Bytes discarded because the buffer was full (never sent)."""
        self.dropped_answers = 0
        """Whole answers discarded because the buffer was full."""

    @property
    def pending_bytes(self) -> int:
        """Bytes still waiting to be written."""
        return self._pending_bytes

    def __bool__(self) -> bool:
        return self._pending_bytes > 0

    def push(self, data: bytes) -> None:
        """Queue one answer, dropping the oldest unstarted answers if over the bound."""
        if not data:
            return
        if len(data) > self._limit_bytes:
            # An answer that can never fit is dropped itself rather than flushing everything.
            self._count_drop(len(data))
            return
        self._chunks.append(bytes(data))
        self._pending_bytes += len(data)
        first_droppable = 1 if self._head_sent else 0
        while self._pending_bytes > self._limit_bytes and len(self._chunks) > first_droppable + 1:
            if first_droppable:
                victim = self._chunks[1]
                del self._chunks[1]
            else:
                victim = self._chunks.popleft()
            self._pending_bytes -= len(victim)
            self._count_drop(len(victim))

    def write_to(self, write: Callable[[memoryview], int]) -> int:
        """Write as much as ``write`` takes; returns the bytes written.

        Stops at the first short write or ``BlockingIOError``; any other
        ``OSError`` propagates to the caller (the link is broken).
        """
        written = 0
        while self._chunks:
            head = self._chunks[0]
            view = memoryview(head)[self._head_sent :]
            try:
                n = write(view)
            except BlockingIOError:
                break
            finally:
                view.release()
            written += n
            self._pending_bytes -= n
            if self._head_sent + n >= len(head):
                self._chunks.popleft()
                self._head_sent = 0
            else:
                self._head_sent += n
                break
        return written

    def clear(self) -> None:
        """Forget everything pending (not counted as dropped: the link is gone)."""
        self._chunks.clear()
        self._head_sent = 0
        self._pending_bytes = 0

    def _count_drop(self, n: int) -> None:
        self.dropped_bytes += n
        self.dropped_answers += 1
