"""What the capture decoder reports: frame, noise and incomplete events, their notes,
the MAC check and the summary of a whole capture."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from emulator.capture import (
    CaptureHeader,
    Direction,
)
from emulator.errors import EmulatorUsageError
from protocol.enums import Op
from protocol.frames import (
    Frame,
)
from protocol.messages import (
    Message,
)

_HISTORY: Final = 256
"""Requests and responses remembered per link for retransmission and replay checks."""
_INDENT: Final = "      "


class DecodeUsageError(EmulatorUsageError, ValueError):
    """The decoder was given something unusable (a key of the wrong size)."""


def _op_name(op: int) -> str:
    try:
        return Op(op).name
    except ValueError:
        return f"0x{op:02X}"


# --- what the decoder reports ----------------------------------------------------------------


class MacCheck(enum.Enum):
    """What became of a frame's MAC."""

    ABSENT = "no MAC"
    VERIFIED = "MAC ok"
    FAILED = "MAC FAILED"
    NO_KEY = "MAC not checked (no key)"
    NO_HANDSHAKE = "MAC not checked (the session's handshake is not in the capture)"


class NoteKind(enum.Enum):
    """How a note reads: a plain remark, a session step, or something to look at."""

    INFO = "  "
    SESSION = "=="
    ALERT = "!!"


@dataclass(frozen=True, kw_only=True)
class Note:
    """One remark about a frame."""

    kind: NoteKind
    text: str


@dataclass(frozen=True, kw_only=True)
class FrameEvent:
    """One good frame (its CRC matched), decoded."""

    number: int
    """Frames are numbered from 1 in capture order, across links."""
    link: str
    direction: Direction
    wall_s: float
    """Wall clock of the chunk that completed the frame."""
    pump_s: int
    frame: Frame
    data: bytes
    """The frame's wire bytes."""
    message: Message | None
    """The decoded payload, or None when it does not parse (see ``payload_error``)."""
    payload_error: str | None
    mac: MacCheck
    session: int | None
    """The session (numbered from 1 across the capture) the frame belongs to."""
    answers: int | None
    """For a response: the number of the request frame it answers."""
    notes: tuple[Note, ...]

    @property
    def op_name(self) -> str:
        """The opcode's name, or ``0xNN`` when it is not a known opcode."""
        return _op_name(self.frame.op)

    @property
    def kind(self) -> str:
        """``request``, ``response`` or ``notification``."""
        if self.frame.is_notify:
            return "notification"
        return "response" if self.frame.is_response else "request"


@dataclass(frozen=True, kw_only=True)
class BadFrame:
    """A candidate frame (at a SYNC) that the deframer rejected."""

    offset: int
    """Where its SYNC is in the dropped bytes."""
    reason: str
    crc: bool
    """True for a CRC failure; False for a bad header (VER, FLAGS or LEN)."""
    seq: int | None = None
    op: int | None = None


@dataclass(frozen=True, kw_only=True)
class NoiseEvent:
    """Bytes the deframer dropped: noise, and the bad frames among it."""

    link: str
    direction: Direction
    wall_s: float
    pump_s: int
    data: bytes
    bad_frames: tuple[BadFrame, ...]


@dataclass(frozen=True, kw_only=True)
class IncompleteEvent:
    """The start of a frame still waiting for its end when the capture stopped."""

    link: str
    direction: Direction
    wall_s: float
    pump_s: int
    data: bytes


Event = FrameEvent | NoiseEvent | IncompleteEvent
"""Everything the decoder reports, in stream order."""


def _counts(value: Mapping[str, int]) -> Mapping[str, int]:
    counts = dict(value)
    for key, count in counts.items():
        if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int):
            raise DecodeUsageError(f"counts must map str to int, got {key!r}: {count!r}")
        if count < 0:
            raise DecodeUsageError(f"count of {key} must be >= 0, got {count}")
    return MappingProxyType(counts)


@dataclass(frozen=True, kw_only=True)
class DecodeSummary:
    """What a capture held, in totals."""

    links: tuple[str, ...] = ()
    chunks: int = 0
    bytes_to_pump: int = 0
    bytes_to_programmer: int = 0
    frames: int = 0
    frames_per_op: Mapping[str, int] = field(default_factory=dict)
    """Good frames per opcode name (requests and responses together; NAKs under NAK)."""
    naks_per_code: Mapping[str, int] = field(default_factory=dict)
    undecodable_payloads: int = 0
    """Good frames whose payload does not parse, or whose opcode is unknown."""
    bad_frames: int = 0
    """Candidate frames rejected (CRC failures plus bad headers)."""
    crc_failures: int = 0
    noise_bytes: int = 0
    """Every byte dropped by the deframers, bad frames included."""
    incomplete_bytes: int = 0
    """Bytes of frames cut off by the end of the capture."""
    macs_verified: int = 0
    mac_failures: int = 0
    macs_unchecked: int = 0
    sessions: int = 0
    """Sessions established."""
    handshake_failures: int = 0
    retransmissions: int = 0
    replays: int = 0
    repeated_responses: int = 0
    truncated_line: int | None = None
    """A last capture line cut off mid-write (ignored), if any."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise DecodeUsageError(f"{f.name} must be an int, got {value!r}")
            if f.type == "int" and value < 0:
                raise DecodeUsageError(f"{f.name} must be >= 0, got {value}")
        line = self.truncated_line
        if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            raise DecodeUsageError(f"truncated_line must be None or a line number, got {line!r}")
        object.__setattr__(self, "links", tuple(self.links))
        object.__setattr__(self, "frames_per_op", _counts(self.frames_per_op))
        object.__setattr__(self, "naks_per_code", _counts(self.naks_per_code))


@dataclass(frozen=True, kw_only=True)
class Decoding:
    """A whole capture decoded: its header, the events in order and the totals."""

    header: CaptureHeader
    events: tuple[Event, ...]
    summary: DecodeSummary
