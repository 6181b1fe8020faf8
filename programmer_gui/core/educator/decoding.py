"""The wire, decoded for the inspector: frames back from chunks of bytes (with a
:class:`~protocol.codec.Deframer`, exactly as a receiver would), each described in one
line plus its fields with units (:mod:`protocol.describe`), and its bytes laid out."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Final

from programmer_gui.core.educator.backend import DAY_S, HOUR_S, WireChunk, WireDirection
from protocol import describe
from protocol import messages as m
from protocol.codec import Deframer, Dropped, Received, decode_message
from protocol.enums import Flags, Op
from protocol.errors import FrameError, MalformedPayload, UnknownOpcodeError
from protocol.frames import (
    CRC_SIZE,
    HEADER_SIZE,
    MAC_SIZE,
    Frame,
    frame_length,
)
from protocol.units import (
    Unit,
    format_clock,
)

# --- the wire: frames back from chunks -------------------------------------------------------


class EntryKind(enum.Enum):
    """What an inspector row holds."""

    REQUEST = "request"
    RESPONSE = "response"
    NAK = "NAK"
    NOTIFY = "notification"
    DROPPED = "dropped bytes"
    """Bytes the receiver threw away: noise, or a frame that failed its checks."""


@dataclass(frozen=True, kw_only=True)
class WireEntry:
    """One inspector row: a frame (decoded) or bytes the receiver dropped."""

    number: int
    """Rows are numbered from 1 in arrival order."""
    wall_s: float
    pump_s: int
    direction: WireDirection
    link: str
    kind: EntryKind
    data: bytes
    """The frame's bytes on the wire (or the dropped bytes)."""
    frame: Frame | None
    message: m.Message | None
    """The decoded payload (None for dropped bytes or a payload that does not parse)."""
    summary: str
    """One line: what the frame says."""
    fields: tuple[tuple[str, str], ...]
    """The payload's fields in wire order as (name, value with units); nested records
    are indented by two spaces per level."""
    error: str | None = None
    """Why the payload does not decode, or why the bytes were dropped."""

    @property
    def op_name(self) -> str:
        if self.frame is None:
            return "(dropped)"
        return _op_name(self.frame.op)

    @property
    def seq(self) -> int | None:
        return None if self.frame is None else self.frame.seq

    @property
    def payload_length(self) -> int:
        """LEN of a frame; the byte count of dropped bytes."""
        return len(self.data) if self.frame is None else len(self.frame.payload)


def _op_name(op: int) -> str:
    try:
        return Op(op).name
    except ValueError:
        return f"0x{op:02X}"


class WireDecoder:
    """Chunks in, inspector entries out: one deframer per (link, direction), as a receiver.

    Frames protected by a MAC decode too: the MAC travels after the payload and is shown
    apart (the inspector holds no session key, so it does not check MACs; the pump does).
    Nothing a chunk holds makes this raise.
    """

    def __init__(self, *, tz: tzinfo | None = None) -> None:
        self._deframers: dict[tuple[str, WireDirection], Deframer] = {}
        self._number = 0
        self._tz = tz

    def feed(self, chunk: WireChunk) -> list[WireEntry]:
        """The entries ``chunk`` completes, in stream order."""
        key = (chunk.link, chunk.direction)
        deframer = self._deframers.get(key)
        if deframer is None:
            deframer = self._deframers[key] = Deframer()
        return [
            self._frame(chunk, segment.frame, segment.data)
            if isinstance(segment, Received)
            else self._dropped(chunk, segment)
            for segment in deframer.follow(chunk.data)
        ]

    def feed_all(self, chunks: Iterable[WireChunk]) -> list[WireEntry]:
        return [entry for chunk in chunks for entry in self.feed(chunk)]

    def _next(self) -> int:
        self._number += 1
        return self._number

    def _dropped(self, chunk: WireChunk, dropped: Dropped) -> WireEntry:
        data = dropped.data
        reason = _drop_reason(dropped)
        return WireEntry(
            number=self._next(),
            wall_s=chunk.wall_s,
            pump_s=chunk.pump_s,
            direction=chunk.direction,
            link=chunk.link,
            kind=EntryKind.DROPPED,
            data=data,
            frame=None,
            message=None,
            summary=f"{len(data)} bytes dropped by the receiver: {reason}",
            fields=(),
            error=reason,
        )

    def _frame(self, chunk: WireChunk, frame: Frame, raw: bytes) -> WireEntry:
        message: m.Message | None = None
        error: str | None = None
        try:
            message = decode_message(frame)
        except (MalformedPayload, UnknownOpcodeError) as exc:
            error = str(exc)
        if frame.is_notify:
            kind = EntryKind.NOTIFY
        elif isinstance(message, m.Nak) or (frame.is_response and frame.op == Op.NAK):
            kind = EntryKind.NAK
        elif frame.is_response:
            kind = EntryKind.RESPONSE
        else:
            kind = EntryKind.REQUEST
        if message is None:
            summary = f"payload does not decode: {error}"
            fields: tuple[tuple[str, str], ...] = ()
        else:
            summary = describe_message(message, tz=self._tz)
            fields = tuple(message_fields(message, tz=self._tz))
        return WireEntry(
            number=self._next(),
            wall_s=chunk.wall_s,
            pump_s=chunk.pump_s,
            direction=chunk.direction,
            link=chunk.link,
            kind=kind,
            data=raw,
            frame=frame,
            message=message,
            summary=summary,
            fields=fields,
            error=error,
        )


def _drop_reason(dropped: Dropped) -> str:
    if not dropped.rejected:
        return "no frame start (SYNC) in them: line noise"
    return f"{dropped.rejected[0].error} (a corrupted frame gets no answer)"


def _clock_style(tz: tzinfo | None) -> describe.Style:
    return describe.Style(clinical=False, clock=lambda clock_s: format_clock(clock_s, tz))


def _clinical(value: int, unit: Unit) -> str:
    return describe.describe_number(value, unit, describe.CLINICAL)


def _time_text(clock_s: int, tz: tzinfo | None) -> str:
    return format_clock(clock_s, tz)


def message_fields(
    record: m.Record, *, tz: tzinfo | None = None, indent: str = ""
) -> list[tuple[str, str]]:
    """``record``'s fields in wire order as (name, value) pairs with units, pump-clock
    times in ``tz`` (the machine's local time by default); nested records follow their
    parent field, indented (:func:`protocol.describe.field_pairs`)."""
    return describe.field_pairs(record, _clock_style(tz), indent)


def describe_message(message: m.Message, *, tz: tzinfo | None = None) -> str:
    """What a message says, in one line."""
    special = _SUMMARIES.get(type(message))
    if special is not None:
        return special(message, tz)
    fields = [
        (name, value) for name, value in message_fields(message, tz=tz) if not name.startswith(" ")
    ]
    if not message.response:
        headline = m.REGISTRY[message.op].summary.rstrip(".").replace("``", "")
        if not fields:
            return headline
        return headline + ": " + ", ".join(f"{n} {v}" for n, v in fields[:3])
    if not fields:
        return "acknowledged (no payload)"
    return ", ".join(f"{n} {v}" for n, v in fields[:3])


def _status(message: m.Message, tz: tzinfo | None) -> str:
    assert isinstance(message, m.StatusResponse)
    alarms = describe.describe_value(message.alarms_active)
    return (
        f"{message.mode.name}, reservoir {_clinical(message.reservoir_nl, Unit.NL)}, "
        f"{_clinical(message.current_rate_nl_per_day, Unit.NL_PER_DAY)} now, "
        f"alarms: {alarms}"
    )


def _nak(message: m.Message, tz: tzinfo | None) -> str:
    assert isinstance(message, m.Nak)
    return f"REFUSED {message.code.name}: {message.reason}"


def _device_info(message: m.Message, tz: tzinfo | None) -> str:
    if isinstance(message, m.DeviceInfoResponse):
        return f"{message.serial}: {message.model} mL model, firmware {message.firmware_version}"
    return "Who are you? (the one command that needs no session)"


def _session_open(message: m.Message, tz: tzinfo | None) -> str:
    if isinstance(message, m.SessionOpenRequest):
        return f"open a {message.role.name} session: here is my fresh nonce"
    return "pump's nonce and its proof that it holds the key"


def _session_auth(message: m.Message, tz: tzinfo | None) -> str:
    if isinstance(message, m.SessionAuthResponse):
        return (
            f"session open as {message.role.name}; every frame from now on carries a MAC "
            f"(idle timeout {message.idle_timeout_s} s)"
        )
    return "programmer's proof that it holds the key"


_SUMMARIES: Final[dict[type[m.Message], Callable[[m.Message, tzinfo | None], str]]] = {
    m.StatusResponse: _status,
    m.Nak: _nak,
    m.DeviceInfoRequest: _device_info,
    m.DeviceInfoResponse: _device_info,
    m.SessionOpenRequest: _session_open,
    m.SessionOpenResponse: _session_open,
    m.SessionAuthRequest: _session_auth,
    m.SessionAuthResponse: _session_auth,
}


# --- hex -------------------------------------------------------------------------------------


def _flag_names(flags: int) -> str:
    names = [f.name for f in (Flags.RESPONSE, Flags.MAC, Flags.NOTIFY) if flags & f and f.name]
    if flags & (Flags.RESPONSE | Flags.NOTIFY):
        return ", ".join(names)
    return ", ".join([*names, "(a request)"]) if names else "none (a request)"


def hex_layout(data: bytes) -> list[tuple[str, bytes, str]]:
    """A frame's bytes split into its fields as (field, bytes, meaning), in wire order.

    Bytes that are not one whole frame come back as one ``bytes`` row.
    """
    try:
        total = frame_length(data[:HEADER_SIZE])
    except FrameError:
        total = -1
    if total != len(data):
        return [("bytes", data, "not one whole frame")]
    flags, seq, op, length = data[3], (data[4] << 8) | data[5], data[6], (data[7] << 8) | data[8]
    payload_end = HEADER_SIZE + length
    rows: list[tuple[str, bytes, str]] = [
        ("SYNC", data[0:2], "frame start"),
        ("VER", data[2:3], f"protocol version {data[2]}"),
        ("FLAGS", data[3:4], _flag_names(flags)),
        ("SEQ", data[4:6], f"{seq}"),
        ("OP", data[6:7], _op_name(op)),
        ("LEN", data[7:9], f"{length} payload bytes"),
        ("PAYLOAD", data[HEADER_SIZE:payload_end], "the message (fields on the right)"),
    ]
    if flags & Flags.MAC:
        rows.append(
            (
                "MAC",
                data[payload_end : payload_end + MAC_SIZE],
                "HMAC-SHA256 of VER..PAYLOAD under the session key, first 16 bytes",
            )
        )
    crc = data[-CRC_SIZE:]
    rows.append(("CRC", crc, f"CRC-16/CCITT-FALSE 0x{crc.hex().upper()}"))
    return rows


def hex_text(data: bytes, *, per_line: int = 16) -> str:
    """``data`` as an annotated hex dump: each field of a frame on its own lines."""
    lines: list[str] = []
    for name, chunk, meaning in hex_layout(data):
        pieces = [chunk[i : i + per_line] for i in range(0, len(chunk), per_line)] or [b""]
        for i, piece in enumerate(pieces):
            label = name if i == 0 else ""
            text = piece.hex(" ") if piece else "(empty)"
            note = f"  {meaning}" if i == 0 and name not in ("PAYLOAD", "bytes", "MAC") else ""
            lines.append(f"{label:<8} {text}{note}")
    return "\n".join(lines)


def entry_details(entry: WireEntry, *, tz: tzinfo | None = None) -> str:
    """Everything about one row, for the detail pane: header, fields, MAC note."""
    lines = [
        f"#{entry.number}  {entry.direction.words}  ({entry.link})",
        f"pump time {_time_text(entry.pump_s, tz)}",
        f"{entry.kind.value}: {entry.summary}",
    ]
    if entry.frame is not None:
        lines.append(
            f"{entry.op_name}  SEQ {entry.frame.seq}  LEN {len(entry.frame.payload)}  "
            f"frame {len(entry.data)} bytes"
        )
        if entry.frame.mac is not None:
            lines.append("MAC present (checked by the pump; the inspector holds no session key)")
    if entry.fields:
        lines.append("")
        lines.append("Fields:")
        width = max(len(name) for name, _ in entry.fields)
        lines.extend(f"  {name:<{width}}  {value}" for name, value in entry.fields)
    if entry.error is not None and entry.frame is not None:
        lines.append(f"Payload error: {entry.error}")
    return "\n".join(lines)


def short_time(pump_s: int, start_pump_s: int) -> str:
    """``d3 14:02:07``: days since the start and the time of day of pump time (UTC-free)."""
    elapsed = max(0, pump_s - start_pump_s)
    days, rest = divmod(elapsed, DAY_S)
    hours, rest = divmod(rest, HOUR_S)
    minutes, secs = divmod(rest, 60)
    return f"d{days} {hours:02d}:{minutes:02d}:{secs:02d}"


ROUTINE_OPS: Final = frozenset(
    {
        Op.DEVICE_INFO,
        Op.STATUS,
        Op.READ_PRESCRIPTION,
        Op.READ_ALARMS,
        Op.READ_CLOCK,
        Op.READ_PATIENT_SETTINGS,
        Op.READ_EVENT_LOG,
    }
)
"""Read-only commands the programmer repeats while it polls."""


def is_routine(entry: WireEntry) -> bool:
    """A read-only request or its answer (the inspector can hide them); NAKs and dropped
    bytes are never routine."""
    if entry.kind not in (EntryKind.REQUEST, EntryKind.RESPONSE) or entry.frame is None:
        return False
    return entry.frame.op in ROUTINE_OPS


def summarize_chunks(entries: Sequence[WireEntry]) -> dict[EntryKind, int]:
    """How many rows of each kind (the inspector's status line)."""
    counts: dict[EntryKind, int] = dict.fromkeys(EntryKind, 0)
    for entry in entries:
        counts[entry.kind] += 1
    return counts
