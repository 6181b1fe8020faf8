"""Recording every byte that crosses a link: JSON lines, and pcap for Wireshark.

A capture holds *chunks*, not frames: each ``receive(data)`` a transport makes
into the pump's endpoint is one chunk towards the pump, and each answer is one
chunk back. Garbage, partial frames and corrupted bytes are recorded exactly as
they crossed; :mod:`emulator.decode` reassembles the frames afterwards with
the same deframer the pump uses.

**The JSON-lines format (version 1).** UTF-8, one JSON object per line. The
first line is the header::

    {"format": "vpump-capture", "version": 1, "pump_serial": "VP20-000001",
     "start_wall": 1790000000.0, "start_pump_s": 1790000000}

(``pump_serial`` may be null), then one line per chunk::

    {"wall": 1790000000.002, "pump_s": 1790000000, "dir": "to_pump",
     "link": "pty#1", "hex": "a55a01000001010000..."}

``wall`` is the wall clock in Unix seconds, ``pump_s`` the pump's clock,
``dir`` is ``to_pump`` or ``to_programmer``, ``link`` names the link (unique
per connection) and ``hex`` holds the bytes. Readers ignore keys they do not
know. Every line is flushed as it is written, so a crash loses at most the line
being written; :class:`CaptureReader` reports such a cut-off last line instead
of failing on it.

**pcapng.** :class:`PcapngWriter` writes the same traffic as pcapng for
Wireshark, link type ``DLT_USER0`` (147): one interface per link, named by
pump and link (``VP20-000001 pty#1``); one packet per frame, cut with the
pump's own framing rules, and the bytes a receiver would drop as packets of
their own (commented "undecodable bytes"); the direction in the packet flags
(inbound: towards the pump; outbound: towards the programmer). A packet is
exactly the bytes on the wire. The generated dissector
``protocol/data/vpump.lua`` decodes every field
(``tshark -X lua_script:protocol/data/vpump.lua -r FILE.pcapng -V``);
:func:`export_pcapng` converts a JSON-lines capture.

**Where to wrap.** :class:`CapturingEndpoint` records what the endpoint it
wraps receives and answers. Wrapped around the pump's own endpoint, *inside*
any :class:`~emulator.link_faults.ImpairedEndpoint`
(``faults.wrap(capturing_factory(pump.endpoint, writer, "pty"))``), it records
what the pump really saw and sent; wrapped *outside* it, what the programmer
sent and received (late answers of a delayed link included: it forwards the
timed-endpoint calls ``now`` and ``due`` and records what ``due`` releases).
"""

from __future__ import annotations

import collections
import enum
import itertools
import json
import logging
import math
import os
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal, Protocol, Self, TextIO, cast

from emulator.errors import EmulatorError, EmulatorPeerError, EmulatorUsageError
from emulator.transports.base import Endpoint, EndpointFactory
from protocol.errors import FrameError
from protocol.frames import HEADER_SIZE, SYNC, decode_frame, frame_length

__all__ = [
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "DLT_USER0",
    "PCAP_SNAPLEN",
    "CaptureError",
    "CaptureFileError",
    "CaptureFormatError",
    "CaptureHeader",
    "CaptureReader",
    "CaptureValueError",
    "CaptureWriter",
    "CapturingEndpoint",
    "Chunk",
    "ChunkSink",
    "Direction",
    "FrameSplitter",
    "PcapngSink",
    "PcapngWriter",
    "RingCapture",
    "capturing_factory",
    "export_pcapng",
    "read_capture",
]

_log = logging.getLogger(__name__)

CAPTURE_FORMAT: Final = "vpump-capture"
"""The ``format`` value of a capture's header line."""
CAPTURE_VERSION: Final = 1
"""The version this module writes and the newest it reads."""
MAX_LINK_LABEL: Final = 200
"""Longest link label, in characters."""

DLT_USER0: Final = 147
"""pcap link type "User 0": private use, dissected as configured in Wireshark."""
PCAP_SNAPLEN: Final = 65535
"""Largest pcap packet written (direction byte included)."""
PCAPNG_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
"""pcapng section header byte-order magic (files are written little-endian)."""
_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_SHB_USERAPPL, _IF_NAME, _IF_DESCRIPTION, _IF_TSRESOL = 4, 2, 3, 9
_OPT_COMMENT, _EPB_FLAGS = 1, 2
_EPB_INBOUND, _EPB_OUTBOUND = 0b01, 0b10
_PCAPNG_BLOCK_HEAD: Final = struct.Struct("<II")
_PCAPNG_U32: Final = struct.Struct("<I")
_PCAPNG_OPTION: Final = struct.Struct("<HH")
_PCAPNG_SHB: Final = struct.Struct("<IHHq")
_PCAPNG_IDB: Final = struct.Struct("<HHI")
_PCAPNG_EPB: Final = struct.Struct("<IIIII")
_US_PER_S: Final = 1_000_000

Target = str | os.PathLike[str]


# --- errors --------------------------------------------------------------------------------


class CaptureError(EmulatorError):
    """Root of the capture errors (each is also a usage or a peer error of the emulator)."""


class CaptureValueError(CaptureError, EmulatorUsageError, ValueError):
    """A chunk, header or argument built with a value outside its rules (``reason``
    "value"), or a writer used after it was closed ("closed": a ValueError, as Python's
    own files raise on a closed file)."""

    def __init__(self, message: str, *, reason: Literal["value", "closed"] = "value") -> None:
        self.reason = reason
        super().__init__(message)


class CaptureFileError(CaptureError, EmulatorPeerError, OSError):
    """A capture file cannot be written or read as one (the file or the disk is at fault):
    ``reason`` "write" (writing or syncing failed: disk full, file gone), "read" (it cannot
    be opened or read) or "format" (a :class:`CaptureFormatError`)."""

    def __init__(self, message: str, *, reason: Literal["write", "read", "format"]) -> None:
        self.reason = reason
        super().__init__(message)


class CaptureFormatError(CaptureFileError, ValueError):
    """A capture file holds a line that is not valid capture JSON; names the line."""

    def __init__(self, message: str, *, line: int, source: str = "<capture>") -> None:
        self.line = line
        self.source = source
        super().__init__(f"{source}:{line}: {message}", reason="format")


# --- the records ---------------------------------------------------------------------------


class Direction(enum.StrEnum):
    """Which way a chunk crossed; the values are the ``dir`` field of a capture line."""

    TO_PUMP = "to_pump"
    TO_PROGRAMMER = "to_programmer"

    @property
    def arrow(self) -> str:
        """``programmer -> pump`` or ``pump -> programmer``."""
        return "programmer -> pump" if self is Direction.TO_PUMP else "pump -> programmer"


def _wall(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CaptureValueError(f"{name} must be a number of Unix seconds, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise CaptureValueError(f"{name} must be finite and >= 0 s, got {value!r}")
    return float(value)


def _pump_s(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CaptureValueError(f"{name} must be an int >= 0 (Unix seconds), got {value!r}")
    return int(value)


def _label(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LINK_LABEL:
        raise CaptureValueError(
            f"a link label must be a str of 1..{MAX_LINK_LABEL} characters, got {value!r}"
        )
    if not value.isprintable():
        raise CaptureValueError(f"a link label must be printable, got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class CaptureHeader:
    """The first line of a capture."""

    version: int = CAPTURE_VERSION
    pump_serial: str | None = None
    start_wall_s: float
    """Wall clock when the capture started, Unix seconds."""
    start_pump_s: int
    """Pump clock when the capture started, Unix seconds."""

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise CaptureValueError(f"version must be an int, got {self.version!r}")
        if not 1 <= self.version <= CAPTURE_VERSION:
            raise CaptureValueError(
                f"capture version {self.version} is unknown (known: 1..{CAPTURE_VERSION})"
            )
        if self.pump_serial is not None and not isinstance(self.pump_serial, str):
            raise CaptureValueError(f"pump_serial must be a str or None, got {self.pump_serial!r}")
        object.__setattr__(self, "start_wall_s", _wall("start_wall_s", self.start_wall_s))
        object.__setattr__(self, "start_pump_s", _pump_s("start_pump_s", self.start_pump_s))

    def to_json(self) -> dict[str, Any]:
        """The header line's object."""
        return {
            "format": CAPTURE_FORMAT,
            "version": self.version,
            "pump_serial": self.pump_serial,
            "start_wall": self.start_wall_s,
            "start_pump_s": self.start_pump_s,
        }


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """Bytes that crossed one link one way in one piece."""

    wall_s: float
    """Wall clock, Unix seconds."""
    pump_s: int
    """Pump clock, Unix seconds."""
    direction: Direction
    link: str
    data: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "wall_s", _wall("wall_s", self.wall_s))
        object.__setattr__(self, "pump_s", _pump_s("pump_s", self.pump_s))
        try:
            object.__setattr__(self, "direction", Direction(self.direction))
        except ValueError:
            raise CaptureValueError(
                f"direction must be a Direction, got {self.direction!r}"
            ) from None
        _label(self.link)
        if type(self.data) is not bytes:
            raise CaptureValueError(f"data must be bytes, got {type(self.data).__name__}")

    def to_json(self) -> dict[str, Any]:
        """The capture line's object."""
        return {
            "wall": self.wall_s,
            "pump_s": self.pump_s,
            "dir": self.direction.value,
            "link": self.link,
            "hex": self.data.hex(),
        }


# --- writing -------------------------------------------------------------------------------


def _sync(stream: IO[Any]) -> None:
    """Flush ``stream`` and fsync it when it is a real file."""
    stream.flush()
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # an in-memory stream: nothing to sync
    os.fsync(fd)


class FrameSplitter:
    """Cuts one direction of one link into frames and undecodable bytes, as a receiver would.

    Uses the pump's own framing rules (:func:`protocol.frames.frame_length`,
    :func:`protocol.frames.decode_frame`): a CRC-valid frame is one segment; bytes a
    receiver would drop while hunting (garbage, and the bytes of a frame that fails its
    header or CRC) are gathered into one undecodable segment per run. A partial frame is
    held until its rest arrives (or :meth:`flush`).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Add bytes; return the segments they complete as ``(bytes, is_frame)``, in order."""
        buffer = self._buffer
        buffer += data
        out: list[tuple[bytes, bool]] = []
        junk = bytearray()
        while True:
            start = buffer.find(SYNC)
            if start < 0:
                keep = 1 if buffer and buffer[-1] == SYNC[0] else 0
                junk += buffer[: len(buffer) - keep]
                del buffer[: len(buffer) - keep]
                break
            junk += buffer[:start]
            del buffer[:start]
            if len(buffer) < HEADER_SIZE:
                break
            try:
                total = frame_length(bytes(buffer[:HEADER_SIZE]))
                if len(buffer) < total:
                    break
                decode_frame(bytes(buffer[:total]))
            except FrameError:
                junk.append(buffer[0])  # a receiver drops the first SYNC byte and hunts on
                del buffer[:1]
                continue
            if junk:
                out.append((bytes(junk), False))
                junk.clear()
            out.append((bytes(buffer[:total]), True))
            del buffer[:total]
        if junk:
            out.append((bytes(junk), False))
        return out

    def flush(self) -> bytes:
        """The bytes still held (a frame cut off by the end of the capture); empties it."""
        held = bytes(self._buffer)
        self._buffer.clear()
        return held


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    size = len(body) + 12
    return _PCAPNG_BLOCK_HEAD.pack(block_type, size) + body + _PCAPNG_U32.pack(size)


def _option(code: int, value: bytes) -> bytes:
    return _PCAPNG_OPTION.pack(code, len(value)) + value + b"\0" * (-len(value) % 4)


_END_OF_OPTIONS: Final = _PCAPNG_OPTION.pack(0, 0)


class PcapngWriter:
    """Writes captured traffic as pcapng for Wireshark (link type DLT_USER0). Thread-safe.

    One interface per link, named by pump and link (``VP20-000001 pty#1``), added when
    the link first carries bytes; one packet per frame, cut by :class:`FrameSplitter`,
    with the bytes a receiver would drop as their own packets (commented "undecodable");
    the direction in the packet flags (inbound: towards the pump, outbound: towards the
    programmer, i.e. as seen at the pump). Each packet is exactly the bytes on the wire:
    no pseudo-header. The dissector ``protocol/data/vpump.lua`` decodes them
    (``tshark -X lua_script:vpump.lua -r FILE``).

    ``target`` is a path (created or truncated, closed by :meth:`close`) or an open
    binary stream (flushed and synced by :meth:`close`, left open). ``pump_serial``
    names the pump of chunks written without one. Several :class:`CaptureWriter` (a
    fleet) may share one writer: it is closed by whoever opened it.
    """

    def __init__(
        self,
        target: Target | IO[bytes],
        *,
        pump_serial: str | None = None,
        snaplen: int = PCAP_SNAPLEN,
        overwrite: bool = True,
    ) -> None:
        if isinstance(snaplen, bool) or not isinstance(snaplen, int) or not 16 <= snaplen <= 262144:
            raise CaptureValueError(f"snaplen must be an int in 16..262144, got {snaplen!r}")
        self._snaplen = snaplen
        self._pump_serial = pump_serial
        self._lock = threading.Lock()
        self._closed = False
        self._interfaces: dict[tuple[str | None, str], int] = {}
        self._splitters: dict[tuple[int, Direction], tuple[FrameSplitter, float]] = {}
        self.packets = 0
        """Packets written so far."""
        self._owned = isinstance(target, str | os.PathLike)
        try:
            if isinstance(target, str | os.PathLike):
                mode = "wb" if overwrite else "xb"  # "x": an existing file is refused
                self._stream: IO[bytes] = open(target, mode)  # noqa: SIM115 - closed by close()
            else:
                self._stream = target
        except FileExistsError as exc:
            raise CaptureFileError(
                f"capture file {target} exists; give --force to overwrite it", reason="write"
            ) from exc
        except OSError as exc:
            raise CaptureFileError(
                f"cannot write the pcapng file {target!r}: {exc}", reason="write"
            ) from exc
        header = _PCAPNG_SHB.pack(PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1)
        header += _option(_SHB_USERAPPL, b"vpump pump-emulator") + _END_OF_OPTIONS
        try:
            self._stream.write(_block(_SHB, header))
            self._stream.flush()
        except OSError as exc:
            if self._owned:
                self._stream.close()
            raise CaptureFileError(
                f"cannot write the pcapng file {target!r}: {exc}", reason="write"
            ) from exc

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def interfaces(self) -> list[str]:
        """The interface names, in interface-id order."""
        return [_interface_name(serial, link) for serial, link in self._interfaces]

    def _interface(self, serial: str | None, link: str, out: bytearray) -> int:
        key = (serial, link)
        found = self._interfaces.get(key)
        if found is None:
            found = self._interfaces[key] = len(self._interfaces)
            name = _interface_name(serial, link)
            body = _PCAPNG_IDB.pack(DLT_USER0, 0, self._snaplen)
            body += _option(_IF_NAME, name.encode("utf-8"))
            body += _option(
                _IF_DESCRIPTION,
                f"vpump frames of pump {serial or '(unnamed)'} on link {link}".encode(),
            )
            body += _option(_IF_TSRESOL, bytes([6])) + _END_OF_OPTIONS
            out += _block(_IDB, body)
        return found

    def _packet(
        self, interface: int, direction: Direction, data: bytes, wall_s: float, comment: str
    ) -> bytes:
        micros = round(_wall("wall_s", wall_s) * _US_PER_S)
        if micros >= 1 << 64:
            raise CaptureValueError(f"wall_s {wall_s!r} is past what a pcapng time stamp holds")
        out = bytearray()
        step = self._snaplen
        for i in range(0, max(len(data), 1), step):
            piece = data[i : i + step]
            body = _PCAPNG_EPB.pack(
                interface, micros >> 32, micros & 0xFFFFFFFF, len(piece), len(piece)
            )
            body += piece + b"\0" * (-len(piece) % 4)
            flags = _EPB_INBOUND if direction is Direction.TO_PUMP else _EPB_OUTBOUND
            body += _option(_EPB_FLAGS, _PCAPNG_U32.pack(flags))
            if comment:
                body += _option(_OPT_COMMENT, comment.encode("utf-8"))
            out += _block(_EPB, body + _END_OF_OPTIONS)
            self.packets += 1
        return bytes(out)

    def write_chunk(self, chunk: Chunk, *, pump_serial: str | None = None) -> int:
        """Write the frames (and undecodable runs) ``chunk`` completes; returns packets written.

        A partial frame waits for the next chunk of its link and direction.
        """
        serial = pump_serial if pump_serial is not None else self._pump_serial
        with self._lock:
            if self._closed:
                raise CaptureValueError("the pcapng writer is closed", reason="closed")
            before = self.packets
            out = bytearray()
            interface = self._interface(serial, chunk.link, out)
            key = (interface, chunk.direction)
            splitter = self._splitters.get(key, (FrameSplitter(), chunk.wall_s))[0]
            self._splitters[key] = (splitter, chunk.wall_s)
            for segment, is_frame in splitter.feed(chunk.data):
                comment = "" if is_frame else "undecodable bytes (no valid frame)"
                out += self._packet(interface, chunk.direction, segment, chunk.wall_s, comment)
            self._write(out)
            return self.packets - before

    def write_packet(
        self,
        *,
        direction: Direction,
        data: bytes,
        wall_s: float,
        link: str = "link",
        pump_serial: str | None = None,
        comment: str = "",
    ) -> int:
        """Write ``data`` as it is (no splitting) as one packet; returns packets written."""
        serial = pump_serial if pump_serial is not None else self._pump_serial
        with self._lock:
            if self._closed:
                raise CaptureValueError("the pcapng writer is closed", reason="closed")
            before = self.packets
            out = bytearray()
            interface = self._interface(serial, _label(link), out)
            out += self._packet(interface, Direction(direction), bytes(data), wall_s, comment)
            self._write(out)
            return self.packets - before

    def _write(self, out: bytes | bytearray) -> None:
        if not out:
            return
        try:
            self._stream.write(out)
            self._stream.flush()
        except OSError as exc:
            raise CaptureFileError(
                f"writing the pcapng file failed: {exc}", reason="write"
            ) from exc

    def close(self) -> None:
        """Write what is still held as undecodable packets, flush and fsync (and close the
        file if this writer opened it); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                out = bytearray()
                for (interface, direction), (splitter, wall_s) in self._splitters.items():
                    held = splitter.flush()
                    if held:
                        comment = "undecodable bytes (a frame cut off by the end of the capture)"
                        out += self._packet(interface, direction, held, wall_s, comment)
                self._write(out)
                _sync(self._stream)
            except OSError as exc:
                raise CaptureFileError(
                    f"syncing the pcapng file failed: {exc}", reason="write"
                ) from exc
            finally:
                if self._owned:
                    self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _interface_name(serial: str | None, link: str) -> str:
    return f"{serial} {link}" if serial else link


class CaptureWriter:
    """Writes a capture as JSON lines, one per chunk, flushed line by line. Thread-safe.

    ``target`` is a path (created or truncated; closed by :meth:`close`) or an
    open text stream (left open). ``pump_clock`` gives the pump's time in Unix
    seconds (e.g. :meth:`emulator.clock.PumpClock.now`), ``wall_clock`` the
    wall time. ``pcap``, when given, names a pcapng file (or binary stream) that
    receives every chunk too, cut into frames (:class:`PcapngWriter`); this writer closes
    it. A :class:`PcapngWriter` given instead is shared (a fleet's one file) and left open.

    Nothing is held in memory: each chunk is written and flushed before
    :meth:`record` returns. Chunks of any size (even empty) are accepted.
    :meth:`close` flushes and fsyncs.
    """

    def __init__(
        self,
        target: Target | TextIO,
        *,
        pump_clock: Callable[[], int],
        wall_clock: Callable[[], float] = time.time,
        pump_serial: str | None = None,
        pcap: Target | IO[bytes] | PcapngWriter | None = None,
        overwrite: bool = True,
        max_bytes: int | None = None,
    ) -> None:
        """``overwrite=False`` refuses an existing file (``pump-emulator serve`` without
        ``--force``); ``max_bytes`` stops recording (one line on stderr) once the file would
        pass that size; what is not recorded after that is counted in :attr:`chunks_skipped`."""
        if max_bytes is not None and max_bytes < 1:
            raise CaptureValueError(f"max_bytes must be positive, got {max_bytes}")
        self._max_bytes = max_bytes
        self._written = 0
        self.chunks_skipped = 0
        """Chunks not recorded because the size limit was reached."""
        self.full = False
        """Whether the size limit was reached (recording stopped)."""
        self._pump_clock = pump_clock
        self._pump_serial = pump_serial
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._closed = False
        self.chunks = 0
        """Chunks recorded so far."""
        self.bytes = 0
        """Bytes recorded so far (both ways)."""
        header = CaptureHeader(
            pump_serial=pump_serial, start_wall_s=wall_clock(), start_pump_s=pump_clock()
        )
        self.header = header
        self._owned = isinstance(target, str | os.PathLike)
        self._target_name = str(target) if isinstance(target, str | os.PathLike) else "capture"
        try:
            if isinstance(target, str | os.PathLike):
                mode = "w" if overwrite else "x"  # "x": an existing file is refused
                self._stream = cast(
                    TextIO,
                    open(target, mode, encoding="utf-8", newline="\n"),  # noqa: SIM115
                )
            else:
                self._stream = target
        except FileExistsError as exc:
            raise CaptureFileError(
                f"capture file {self._target_name} exists; give --force to overwrite it",
                reason="write",
            ) from exc
        except OSError as exc:
            raise CaptureFileError(
                f"cannot open the capture file {target!r}: {exc}", reason="write"
            ) from exc
        self._pcap: PcapngWriter | None = None
        self._owns_pcap = not isinstance(pcap, PcapngWriter)
        try:
            if isinstance(pcap, PcapngWriter):
                self._pcap = pcap
            elif pcap is not None:
                self._pcap = PcapngWriter(pcap, pump_serial=pump_serial, overwrite=overwrite)
            self._write_line(header.to_json())
        except BaseException:
            if self._owned:
                self._stream.close()
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def _write_line(self, obj: dict[str, Any]) -> bool:
        """Write one line; False (and nothing written) once the size limit is reached."""
        line = json.dumps(obj) + "\n"
        if self._max_bytes is not None and self._written + len(line) > self._max_bytes:
            if not self.full:
                self.full = True
                print(
                    f"vpump: capture {self._target_name} reached its limit of "
                    f"{self._max_bytes} bytes; recording stopped",
                    file=sys.stderr,
                    flush=True,
                )
            self.chunks_skipped += 1
            return False
        try:
            self._stream.write(line)
            self._stream.flush()
            self._written += len(line)
            return True
        except OSError as exc:
            raise CaptureFileError(f"writing the capture failed: {exc}", reason="write") from exc

    def record(self, direction: Direction, link: str, data: bytes) -> Chunk:
        """Record ``data`` crossing ``link`` towards ``direction`` now; returns the chunk.

        Raises:
            CaptureValueError: the writer is closed (reason "closed").
            CaptureValueError: a bad direction or link label.
            CaptureFileError: the file could not be written (reason "write").
        """
        with self._lock:
            if self._closed:
                raise CaptureValueError("the capture writer is closed", reason="closed")
            # Clocks are read under the lock, so lines are in time order across links.
            chunk = Chunk(
                wall_s=self._wall_clock(),
                pump_s=self._pump_clock(),
                direction=direction,
                link=link,
                data=bytes(data),
            )
            if not self._write_line(chunk.to_json()):
                return chunk  # over the size limit: counted, not recorded
            if self._pcap is not None:
                self._pcap.write_chunk(chunk, pump_serial=self._pump_serial)
            self.chunks += 1
            self.bytes += len(chunk.data)
            return chunk

    def close(self) -> None:
        """Flush and fsync the capture (and the pcap); close what this writer opened.

        Idempotent.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                try:
                    _sync(self._stream)
                except OSError as exc:
                    raise CaptureFileError(
                        f"syncing the capture failed: {exc}", reason="write"
                    ) from exc
                finally:
                    if self._owned:
                        self._stream.close()
            finally:
                if self._pcap is not None and self._owns_pcap:
                    self._pcap.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PcapngSink:
    """Records chunks straight into a (shared) :class:`PcapngWriter`, with no JSON-lines
    file: ``pump-emulator serve --capture-pcap FILE`` without ``--capture``."""

    def __init__(
        self,
        writer: PcapngWriter,
        pump_serial: str | None,
        pump_clock: Callable[[], int],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._writer = writer
        self._serial = pump_serial
        self._pump_clock = pump_clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()

    def record(self, direction: Direction, link: str, data: bytes) -> Chunk:
        """Write ``data`` crossing ``link`` now; returns the chunk."""
        with self._lock:
            chunk = Chunk(
                wall_s=self._wall_clock(),
                pump_s=self._pump_clock(),
                direction=direction,
                link=link,
                data=bytes(data),
            )
            self._writer.write_chunk(chunk, pump_serial=self._serial)
            return chunk

    def close(self) -> None:
        """Nothing to do: the writer is closed by whoever opened it."""


class ChunkSink(Protocol):
    """Anything that records chunks: a :class:`CaptureWriter` or a :class:`RingCapture`."""

    def record(self, direction: Direction, link: str, data: bytes) -> Chunk: ...


class RingCapture:
    """The last ``max_chunks`` chunks in memory, for live inspectors and failure reports.

    Thread-safe. Each recorded chunk is also handed to every subscriber (on the
    thread that carried the bytes, under no lock of ours, so a subscriber may
    read :meth:`chunks`); a subscriber that raises is logged and dropped.
    """

    def __init__(
        self,
        *,
        pump_clock: Callable[[], int],
        wall_clock: Callable[[], float] = time.time,
        max_chunks: int = 256,
    ) -> None:
        if not isinstance(max_chunks, int) or isinstance(max_chunks, bool) or max_chunks < 1:
            raise CaptureValueError(f"max_chunks must be an int >= 1, got {max_chunks!r}")
        self._pump_clock = pump_clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._chunks: collections.deque[Chunk] = collections.deque(maxlen=max_chunks)
        self._subscribers: list[Callable[[Chunk], None]] = []
        self.total_chunks = 0
        """Chunks recorded since creation (including those that fell out of the ring)."""

    def record(self, direction: Direction, link: str, data: bytes) -> Chunk:
        """Keep ``data`` crossing ``link`` towards ``direction`` now; returns the chunk."""
        with self._lock:
            chunk = Chunk(
                wall_s=self._wall_clock(),
                pump_s=self._pump_clock(),
                direction=Direction(direction),
                link=_label(link),
                data=bytes(data),
            )
            self._chunks.append(chunk)
            self.total_chunks += 1
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(chunk)
            except Exception:
                _log.exception("capture subscriber %r failed; it is dropped", callback)
                self.unsubscribe(callback)
        return chunk

    def chunks(self) -> list[Chunk]:
        """The retained chunks, oldest first."""
        with self._lock:
            return list(self._chunks)

    def clear(self) -> None:
        """Forget the retained chunks (subscribers stay)."""
        with self._lock:
            self._chunks.clear()

    def subscribe(self, callback: Callable[[Chunk], None]) -> None:
        """Call ``callback(chunk)`` for every chunk recorded from now on."""
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[Chunk], None]) -> None:
        """Stop calling ``callback`` (no error if it was not subscribed)."""
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)


class CapturingEndpoint:
    """An :class:`~emulator.transports.base.Endpoint` that records both directions.

    Bytes pass through unchanged. The link never depends on the capture: when
    recording fails (the writer closed before the link, the disk is full) the
    bytes still pass, the failure is logged once and counted in
    :attr:`capture_failures`.
    """

    def __init__(self, inner: Endpoint, writer: ChunkSink, link_label: str) -> None:
        self._inner = inner
        self._writer = writer
        self._label = _label(link_label)
        self.capture_failures = 0
        """Chunks that crossed but could not be recorded."""

    @property
    def link_label(self) -> str:
        return self._label

    def _record(self, direction: Direction, data: bytes) -> None:
        try:
            self._writer.record(direction, self._label, data)
        except CaptureError as exc:
            self.capture_failures += 1
            if self.capture_failures == 1:
                _log.error(
                    "%s: capture failed; the link carries on unrecorded: %s", self._label, exc
                )

    def receive(self, data: bytes) -> bytes:
        """Record ``data``, hand it to the inner endpoint, record and return its answer."""
        if data:
            self._record(Direction.TO_PUMP, bytes(data))
        answer = self._inner.receive(data)
        if answer:
            self._record(Direction.TO_PROGRAMMER, bytes(answer))
        return answer

    def now(self) -> float:
        """The inner endpoint's release clock, if it is a timed endpoint (else 0)."""
        inner_now = getattr(self._inner, "now", None)
        return 0.0 if inner_now is None else float(inner_now())

    def due(self, now: float) -> bytes:
        """Answers a timed inner endpoint releases by ``now``, recorded as they leave.

        So a capture wrapped around an :class:`~emulator.link_faults.ImpairedEndpoint`
        (a delayed or paced link) still records the late answers; for a plain inner
        endpoint this is always b"".
        """
        inner_due = getattr(self._inner, "due", None)
        if inner_due is None:
            return b""
        answer = bytes(inner_due(now))
        if answer:
            self._record(Direction.TO_PROGRAMMER, answer)
        return answer

    def close(self) -> None:
        """Close the inner endpoint (the writer stays open: other links may use it)."""
        self._inner.close()


def capturing_factory(factory: EndpointFactory, writer: ChunkSink, label: str) -> EndpointFactory:
    """An endpoint factory whose links are recorded by ``writer``.

    Each link is labelled ``LABEL#N``, N counting from 1 in the order links open.
    """
    _label(label)
    if not callable(factory):
        raise CaptureValueError(f"factory must be callable, got {factory!r}")
    numbers = itertools.count(1)
    lock = threading.Lock()

    def make() -> Endpoint:
        with lock:
            number = next(numbers)
        return CapturingEndpoint(factory(), writer, f"{label}#{number}")

    return make


# --- reading -------------------------------------------------------------------------------


def _number(obj: dict[str, Any], key: str, line: int, source: str) -> Any:
    if key not in obj:
        raise CaptureFormatError(f"missing {key!r}", line=line, source=source)
    return obj[key]


MAX_LINE_BYTES = 1024 * 1024
"""Longest capture line read (a chunk of about 500 kB in hex); a longer line is refused
rather than read whole into memory (``decode`` of a 40 MB line took 3 GB)."""


class CaptureReader:
    """Reads a capture: the header on construction, then the chunks by iteration.

    ``source`` is a path or an open text stream (left open). Blank lines are
    skipped; a line longer than :data:`MAX_LINE_BYTES` is refused
    (:class:`CaptureFormatError`). A last line cut off mid-write (no newline,
    not valid JSON) ends the capture and is reported in :attr:`truncated_line`;
    any other bad line raises :class:`CaptureFormatError` naming it.

    Raises:
        CaptureFileError: the file cannot be opened or read (reason "read").
        CaptureFormatError: the first line is not a capture header of a known version.
    """

    def __init__(self, source: Target | TextIO) -> None:
        self.source = str(source) if isinstance(source, str | os.PathLike) else "<stream>"
        self.truncated_line: int | None = None
        """The number of a cut-off last line that was ignored, if any."""
        self._owned = isinstance(source, str | os.PathLike)
        try:
            if isinstance(source, str | os.PathLike):
                self._stream: IO[Any] = open(Path(source), "rb")  # noqa: SIM115 - closed by close()
            else:
                self._stream = source
        except OSError as exc:
            raise CaptureFileError(
                f"cannot open the capture {self.source}: {exc}", reason="read"
            ) from exc
        self._lines = self._numbered_lines()
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def _numbered_lines(self) -> Iterator[tuple[int, str, bool]]:
        """(line number, text, whether it ended with a newline), blank lines skipped."""
        number = 0
        while True:
            try:
                raw = self._stream.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise CaptureFileError(
                    f"reading {self.source} failed: {exc}", reason="read"
                ) from exc
            except UnicodeDecodeError:
                raise CaptureFormatError(
                    "not UTF-8 text", line=number + 1, source=self.source
                ) from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise CaptureFormatError(
                    f"longer than {MAX_LINE_BYTES} bytes: not a capture line",
                    line=number,
                    source=self.source,
                )
            if isinstance(raw, bytes):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    if raw.endswith(b"\n"):
                        raise CaptureFormatError(
                            "not UTF-8 text", line=number, source=self.source
                        ) from None
                    # Perhaps a multibyte character cut off by a crash: the caller judges.
                    text = raw.decode("utf-8", errors="replace")
            else:
                text = raw
            if text.strip():
                yield number, text, text.endswith("\n")

    def _parse(self, number: int, text: str) -> dict[str, Any]:
        try:
            obj = json.loads(text)
        except ValueError as exc:  # json.JSONDecodeError
            raise CaptureFormatError(f"not JSON: {exc}", line=number, source=self.source) from None
        except RecursionError:
            raise CaptureFormatError(
                "JSON nested too deep", line=number, source=self.source
            ) from None
        if not isinstance(obj, dict):
            raise CaptureFormatError("not a JSON object", line=number, source=self.source)
        return obj

    def _read_header(self) -> CaptureHeader:
        first = next(self._lines, None)
        if first is None:
            raise CaptureFormatError("empty file: no capture header", line=1, source=self.source)
        number, text, _ = first
        obj = self._parse(number, text)
        if obj.get("format") != CAPTURE_FORMAT:
            raise CaptureFormatError(
                f"not a {CAPTURE_FORMAT} header (format is {obj.get('format')!r})",
                line=number,
                source=self.source,
            )
        try:
            return CaptureHeader(
                version=_number(obj, "version", number, self.source),
                pump_serial=obj.get("pump_serial"),
                start_wall_s=_number(obj, "start_wall", number, self.source),
                start_pump_s=_number(obj, "start_pump_s", number, self.source),
            )
        except CaptureValueError as exc:
            raise CaptureFormatError(str(exc), line=number, source=self.source) from None

    def _chunk(self, number: int, obj: dict[str, Any]) -> Chunk:
        if "format" in obj:
            raise CaptureFormatError("a second capture header", line=number, source=self.source)
        hexdata = _number(obj, "hex", number, self.source)
        if not isinstance(hexdata, str):
            raise CaptureFormatError("'hex' must be a string", line=number, source=self.source)
        try:
            data = bytes.fromhex(hexdata)
        except ValueError:
            raise CaptureFormatError(
                "'hex' is not hexadecimal", line=number, source=self.source
            ) from None
        try:
            return Chunk(
                wall_s=_number(obj, "wall", number, self.source),
                pump_s=_number(obj, "pump_s", number, self.source),
                direction=_number(obj, "dir", number, self.source),
                link=_number(obj, "link", number, self.source),
                data=data,
            )
        except CaptureValueError as exc:
            raise CaptureFormatError(str(exc), line=number, source=self.source) from None

    def __iter__(self) -> Iterator[Chunk]:
        for number, text, complete in self._lines:
            try:
                obj = self._parse(number, text)
            except CaptureFormatError:
                if complete:
                    raise
                # Only the last line can lack its newline: the writer died mid-line.
                self.truncated_line = number
                return
            yield self._chunk(number, obj)

    def close(self) -> None:
        """Close the file if this reader opened it; idempotent."""
        if self._owned:
            self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_capture(source: Target | TextIO) -> tuple[CaptureHeader, list[Chunk]]:
    """The header and every chunk of a capture (see :class:`CaptureReader`)."""
    with CaptureReader(source) as reader:
        return reader.header, list(reader)


def export_pcapng(
    capture: Target | TextIO, pcapng: Target | IO[bytes], *, link: str | None = None
) -> int:
    """Write the chunks of a JSON-lines capture (only ``link``'s, if given) as pcapng: one
    interface per link, one packet per frame (see :class:`PcapngWriter`).

    Returns the number of packets written.
    """
    with CaptureReader(capture) as reader:
        serial = reader.header.pump_serial
        with PcapngWriter(pcapng, pump_serial=serial) as writer:
            for chunk in reader:
                if link is None or chunk.link == link:
                    writer.write_chunk(chunk)
        return writer.packets
