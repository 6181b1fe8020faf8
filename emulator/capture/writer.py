"""Writing a capture: JSON lines flushed chunk by chunk (with a pcapng beside them), a pcapng
alone, or the last chunks in memory for live inspectors."""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Protocol, TextIO, cast

from emulator.capture.pcapng import PcapngWriter
from emulator.capture.records import (
    CaptureFileError,
    CaptureHeader,
    CaptureValueError,
    Chunk,
    ClosedOnExit,
    Direction,
    Target,
    _label,
    _sync,
)

_log = logging.getLogger(__name__)


class CaptureWriter(ClosedOnExit):
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
