"""Bytes in, frames out: the receiver's deframer, with resynchronisation.

The deframer hunts for SYNC. A header with a bad VER, undefined FLAGS bits or
an oversize LEN, or a whole frame whose CRC does not match, costs only its
first SYNC byte: hunting resumes at the next byte, so a corrupt frame never
swallows the good frame behind it. A partial frame waits for more bytes.
Nothing it is fed can make it raise, and it never holds more than one
maximum-size frame (1051 bytes) between calls.

This is the one frame follower of the project: the pump and the programmer
receive with :meth:`Deframer.feed` (frames only), and the tools that show a
link byte for byte (the capture's pcapng writer, the capture decoder, the
educator's wire inspector) follow it with :meth:`Deframer.follow`, which also
returns the bytes a receiver drops, with why each candidate frame among them
was rejected.
"""

from __future__ import annotations

from protocol.errors import FrameError, FrameFault
from protocol.frames import (
    HEADER_SIZE,
    SYNC,
    Frame,
    decode_frame,
    frame_length,
    whole_frame,
)
from protocol.frozen import frozen
from protocol.messages import Message, decode_request, decode_response

__all__ = ["Deframer", "Dropped", "Received", "Rejected", "Segment", "decode_message"]

_SYNC0 = SYNC[0]


@frozen(kw_only=False, slots=True)
class Rejected:
    """A candidate frame the receiver rejected (it dropped the first SYNC byte and hunted on).

    ``offset`` is where its SYNC stands in the :class:`Dropped` run; ``seq`` and ``op``
    are read from its header as they came (they may be corrupt themselves).
    """

    offset: int
    error: FrameError
    in_header: bool
    """True when the header itself was bad (VER, FLAGS, LEN): the frame was not awaited."""
    seq: int
    op: int

    @property
    def fault(self) -> FrameFault:
        return self.error.reason

    @property
    def reason(self) -> str:
        """The error in words, prefixed ``bad header:`` when the header was rejected."""
        return f"bad header: {self.error}" if self.in_header else str(self.error)


@frozen(kw_only=False, slots=True)
class Received:
    """A frame the receiver accepted, with its exact bytes on the wire."""

    frame: Frame
    data: bytes


@frozen(kw_only=False, slots=True)
class Dropped:
    """A run of bytes the receiver dropped while hunting: noise, and rejected candidates."""

    data: bytes
    rejected: tuple[Rejected, ...]


Segment = Received | Dropped
"""What :meth:`Deframer.follow` returns, in stream order."""


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
        # While following (:meth:`follow`): the dropped run being gathered and its rejects.
        self._junk: bytearray | None = None
        self._rejected: list[Rejected] = []

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a frame (at most 1050)."""
        return len(self._buffer)

    @property
    def held(self) -> bytes:
        """The bytes held (a partial frame, or a lone first SYNC byte)."""
        return bytes(self._buffer)

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
        self.bad_frames += 1
        self._drop(1)
        return self.feed(b"")

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame they complete, in order."""
        frame = self.whole_frame(data)
        if frame is not None:
            return [frame]
        return [segment.frame for segment in self._hunt(data) if type(segment) is Received]

    def whole_frame(self, data: bytes) -> Frame | None:
        """The common case of :meth:`feed`: nothing held, and ``data`` is exactly one good
        frame. Then that frame, counted as :meth:`feed` counts it; otherwise None, with
        nothing taken or counted (feed ``data`` then)."""
        if self._buffer:
            return None
        # When data is one valid frame exactly, hunting would find that same frame and
        # nothing else (tests/protocol/test_codec.py proves the two paths equal).
        frame = whole_frame(data if type(data) is bytes else bytes(data))
        if frame is not None:
            self.frames += 1
        return frame

    def follow(self, data: bytes) -> list[Segment]:
        """Add received bytes; return what they complete, in stream order: each frame with
        its bytes, and each run of bytes dropped before it (and after the last one), with
        the candidate frames rejected in that run. The bytes of a partial frame are held
        (see :attr:`held`) until the rest arrives."""
        self._junk = bytearray()
        try:
            return self._hunt(data)
        finally:
            self._junk = None
            self._rejected = []

    def _hunt(self, data: bytes) -> list[Segment]:
        """Hunt byte by byte: find SYNC, check the header, wait for the rest."""
        buffer = self._buffer
        buffer += data
        out: list[Segment] = []
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
            header = bytes(buffer[:HEADER_SIZE])
            try:
                total = frame_length(header)
            except FrameError as error:
                self._reject(header, error, in_header=True)
                continue
            if len(buffer) < total:
                break
            data = bytes(buffer[:total])
            try:
                frame = decode_frame(data)
            except FrameError as error:
                self._reject(header, error, in_header=False)
                continue
            del buffer[:total]
            self.frames += 1
            self._close_run(out)
            out.append(Received(frame, data))
        self._close_run(out)
        return out

    def _drop(self, count: int) -> None:
        if count > 0:
            if self._junk is not None:
                self._junk += self._buffer[:count]
            del self._buffer[:count]
            self.dropped_bytes += count

    def _reject(self, header: bytes, error: FrameError, *, in_header: bool) -> None:
        # Only the first SYNC byte: the next frame may start inside this one.
        self.bad_frames += 1
        if self._junk is not None:
            seq = (header[4] << 8) | header[5]
            self._rejected.append(Rejected(len(self._junk), error, in_header, seq, header[6]))
        self._drop(1)

    def _close_run(self, out: list[Segment]) -> None:
        if self._junk:
            out.append(Dropped(bytes(self._junk), tuple(self._rejected)))
            self._junk.clear()
            self._rejected = []


def decode_message(frame: Frame) -> Message:
    """The message a received frame carries, whichever way it went: a response's or a
    notification's payload by the responses' table, a request's by the requests'.

    Raises:
        MalformedPayload: the payload does not parse for its opcode.
        UnknownOpcodeError: the opcode is not one of that direction.
    """
    if frame.is_response or frame.is_notify:
        return decode_response(frame.op, frame.payload)
    return decode_request(frame.op, frame.payload)
