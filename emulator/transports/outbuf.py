"""A bounded output buffer for non-blocking writes, with back-pressure.

A transport never blocks on a write: what the descriptor does not take now
waits here until it becomes writable. Nothing is ever dropped: once the
buffer holds ``limit_bytes`` or more it is :attr:`~OutputBuffer.full`, and the
transport stops reading that link until it drains below the bound, so the
programmer's own writes block (TCP flow control, the tty's buffer) instead of
its answers being lost. A pipelined batch of thousands of requests is answered
completely, in order, however slowly the programmer reads. The buffer holds at
most the bound plus the answers to one read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["DEFAULT_LIMIT_BYTES", "OutputBuffer"]

DEFAULT_LIMIT_BYTES = 64 * 1024
"""Default bound: far above one answer (a frame is at most ~1 KiB), far below trouble."""


class OutputBuffer:
    """Answers waiting to be written, oldest first; :attr:`full` says stop reading."""

    def __init__(self, *, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        if limit_bytes <= 0:
            raise ValueError(f"limit_bytes must be positive, got {limit_bytes}")
        self._limit_bytes = limit_bytes
        self._chunks: deque[bytes] = deque()
        self._head_sent = 0  # bytes of _chunks[0] already written
        self.pending_bytes = 0
        """Bytes still waiting to be written (read only: a plain attribute, so a transport
        asks whether anything waits without a call on every request)."""

    @property
    def limit_bytes(self) -> int:
        """The bound at which the transport stops reading the link."""
        return self._limit_bytes

    @property
    def full(self) -> bool:
        """Whether the link must not be read until the programmer takes some answers."""
        return self.pending_bytes >= self._limit_bytes

    def __bool__(self) -> bool:
        return self.pending_bytes > 0

    def push(self, data: bytes) -> None:
        """Queue one answer (never dropped: the caller stops reading while :attr:`full`)."""
        if not data:
            return
        self._chunks.append(bytes(data))
        self.pending_bytes += len(data)

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
            self.pending_bytes -= n
            if self._head_sent + n >= len(head):
                self._chunks.popleft()
                self._head_sent = 0
            else:
                self._head_sent += n
                break
        return written

    def clear(self) -> None:
        """Forget everything pending (the link is gone)."""
        self._chunks.clear()
        self._head_sent = 0
        self.pending_bytes = 0
