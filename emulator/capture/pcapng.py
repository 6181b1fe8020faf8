"""pcapng for Wireshark: one interface per link, one packet per frame (link type DLT_USER0).

Packets are cut by the receiver's own frame follower (:meth:`protocol.codec.Deframer.follow`):
a frame is one packet, each run of bytes a receiver drops is one more.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import IO, Final, TextIO

from emulator.capture.reader import CaptureReader
from emulator.capture.records import (
    CaptureFileError,
    CaptureValueError,
    Chunk,
    ClosedOnExit,
    Direction,
    Target,
    _label,
    _sync,
    _wall,
)
from protocol.codec import Deframer, Received

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


class FrameSplitter:
    """Cuts one direction of one link into frames and undecodable bytes, as a receiver would.

    It follows the link with the pump's own deframer (:meth:`protocol.codec.Deframer.follow`):
    a CRC-valid frame is one segment; bytes a receiver would drop while hunting (garbage,
    and the bytes of a frame that fails its header or CRC) are gathered into one
    undecodable segment per run. A partial frame is held until its rest arrives (or
    :meth:`flush`).
    """

    def __init__(self) -> None:
        self._deframer = Deframer()

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Add bytes; return the segments they complete as ``(bytes, is_frame)``, in order."""
        return [
            (segment.data, isinstance(segment, Received)) for segment in self._deframer.follow(data)
        ]

    def flush(self) -> bytes:
        """The bytes still held (a frame cut off by the end of the capture); empties it."""
        held = self._deframer.held
        self._deframer.reset()
        return held


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    size = len(body) + 12
    return _PCAPNG_BLOCK_HEAD.pack(block_type, size) + body + _PCAPNG_U32.pack(size)


def _option(code: int, value: bytes) -> bytes:
    return _PCAPNG_OPTION.pack(code, len(value)) + value + b"\0" * (-len(value) % 4)


_END_OF_OPTIONS: Final = _PCAPNG_OPTION.pack(0, 0)


class PcapngWriter(ClosedOnExit):
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


def _interface_name(serial: str | None, link: str) -> str:
    return f"{serial} {link}" if serial else link


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
