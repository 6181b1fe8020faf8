"""Bytes in, frames out: the receiver's deframer, with resynchronisation.

The deframer hunts for SYNC. A header with a bad VER, undefined FLAGS bits or
an oversize LEN, or a whole frame whose CRC does not match, costs only its
first SYNC byte: hunting resumes at the next byte, so a corrupt frame never
swallows the good frame behind it. A partial frame waits for more bytes.
Nothing it is fed can make it raise, and it never holds more than one
maximum-size frame (1051 bytes) between calls.
"""

from __future__ import annotations

from protocol.enums import Flags
from protocol.errors import FrameError
from protocol.frames import (
    CRC_SIZE,
    HEADER_SIZE,
    MAC_SIZE,
    SYNC,
    Frame,
    decode_frame,
    frame_length,
)

_SYNC0 = SYNC[0]
_MAC_BIT = int(Flags.MAC)


def _whole_length(data: bytes) -> int:
    """The length of the frame a header announces (unchecked: :func:`decode_frame` checks)."""
    flags = data[3]
    length = (data[7] << 8) | data[8]
    return HEADER_SIZE + length + (MAC_SIZE if flags & _MAC_BIT else 0) + CRC_SIZE


class Deframer:
    """Turns a byte stream into :class:`~protocol.frames.Frame` objects.

    Counters: ``frames`` (good frames returned), ``dropped_bytes`` (bytes
    discarded while hunting, including the first SYNC byte of each bad
    frame), ``bad_frames`` (candidate frames rejected: bad header or CRC).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.frames = 0
        self.dropped_bytes = 0
        self.bad_frames = 0

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a frame (at most 1050)."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget any partial frame (the counters stay)."""
        self.dropped_bytes += len(self._buffer)
        self._buffer.clear()

    def abandon(self) -> list[Frame]:
        """Give up on the partial frame held (it took too long to arrive): drop its first
        SYNC byte, as for a bad frame, and hunt again through the bytes behind it; returns
        the frames found there."""
        if not self._buffer:
            return []
        self._reject()
        return self.feed(b"")

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame they complete, in order."""
        if (
            not self._buffer
            and len(data) >= HEADER_SIZE
            and data[:2] == SYNC
            and _whole_length(data) == len(data)
        ):
            # The common case: nothing held, and ``data`` is exactly one frame. When
            # :func:`decode_frame` takes it, hunting would find that same frame and nothing
            # else (tests/protocol/test_codec.py proves the two paths equal).
            try:
                frame = decode_frame(data)
            except FrameError:
                pass
            else:
                self.frames += 1
                return [frame]
        return self._hunt(data)

    def _hunt(self, data: bytes) -> list[Frame]:
        """:meth:`feed` byte by byte: hunt for SYNC, check the header, wait for the rest."""
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        while True:
            start = buffer.find(SYNC)
            if start < 0:
                # Keep a trailing first SYNC byte: its partner may come next.
                keep = 1 if buffer and buffer[-1] == _SYNC0 else 0
                self._drop(len(buffer) - keep)
                break
            if start:
                self._drop(start)
            if len(buffer) < HEADER_SIZE:
                break
            try:
                total = frame_length(bytes(buffer[:HEADER_SIZE]))
            except FrameError:
                self._reject()
                continue
            if len(buffer) < total:
                break
            try:
                frame = decode_frame(bytes(buffer[:total]))
            except FrameError:
                self._reject()
                continue
            del buffer[:total]
            self.frames += 1
            frames.append(frame)
        return frames

    def _drop(self, count: int) -> None:
        if count > 0:
            del self._buffer[:count]
            self.dropped_bytes += count

    def _reject(self) -> None:
        # Only the first SYNC byte: the next frame may start inside this one.
        self.bad_frames += 1
        self._drop(1)
