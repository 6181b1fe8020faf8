"""The capture's records: its header, its chunks, their direction, and the capture errors.

See :mod:`emulator.capture` for the JSON-lines format they are written in.
"""

from __future__ import annotations

import abc
import enum
import math
import os
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Final, Literal, Self

from emulator.errors import EmulatorError, EmulatorPeerError, EmulatorUsageError

CAPTURE_FORMAT: Final = "vpump-capture"
"""The ``format`` value of a capture's header line."""
CAPTURE_VERSION: Final = 1
"""The version this module writes and the newest it reads."""
MAX_LINK_LABEL: Final = 200
"""Longest link label, in characters."""

Target = str | os.PathLike[str]
"""A capture file: a path."""


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


def _sync(stream: IO[Any]) -> None:
    """Flush ``stream`` and fsync it when it is a real file."""
    stream.flush()
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # an in-memory stream: nothing to sync
    os.fsync(fd)


class ClosedOnExit(abc.ABC):
    """A ``with`` block closes it: the capture files' writers and reader."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and close what is open; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
