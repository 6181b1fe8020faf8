"""The decoder's text report, and whole captures decoded (a file, chunks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from emulator.capture import (
    CaptureHeader,
    CaptureReader,
    Chunk,
)
from emulator.decode.decoder import Decoder, _iso, format_fields
from emulator.decode.events import (
    _INDENT,
    DecodeSummary,
    Decoding,
    Event,
    FrameEvent,
    NoiseEvent,
    _op_name,
)
from protocol.enums import (
    Role,
)

# --- the text report -------------------------------------------------------------------------


def _stamp(wall_s: float, pump_s: int) -> str:
    return f"{_iso(wall_s, millis=True)} pump {_iso(pump_s)}"


def format_header(header: CaptureHeader, source: str = "") -> str:
    """One line describing a capture's header."""
    serial = header.pump_serial or "not recorded"
    where = f"{source}: " if source else ""
    return (
        f"{where}vpump capture v{header.version}, pump serial {serial}, "
        f"started {_stamp(header.start_wall_s, header.start_pump_s)}"
    )


def format_event(event: Event, *, show_hex: bool = True) -> str:
    """The text lines of one event (no trailing newline)."""
    stamp = _stamp(event.wall_s, event.pump_s)
    where = f"{event.link} {event.direction.arrow}"
    if isinstance(event, FrameEvent):
        frame = event.frame
        session = f", session {event.session}" if event.session is not None else ""
        lines = [
            f"#{event.number:04d} {stamp} {where}: SEQ {frame.seq} {event.op_name} "
            f"{event.kind}, {len(event.data)} bytes, {event.mac.value}{session}"
        ]
        if show_hex:
            lines.append(f"{_INDENT}hex {event.data.hex()}")
        lines += [f"{_INDENT[:-3]}{note.kind.value} {note.text}" for note in event.notes]
        if event.message is not None:
            lines += format_fields(event.message, _INDENT)
        elif show_hex:
            lines.append(f"{_INDENT}payload {event.frame.payload.hex() or '(empty)'}")
        return "\n".join(lines)
    if isinstance(event, NoiseEvent):
        count = len(event.bad_frames)
        what = f"bad frame{'s' if count != 1 else ''} and noise" if count else "noise"
        lines = [f"!!!! {stamp} {where}: {len(event.data)} bytes of {what} dropped"]
        if show_hex:
            lines.append(f"{_INDENT}hex {event.data.hex()}")
        for bad in event.bad_frames:
            header = ""
            if bad.seq is not None and bad.op is not None:
                header = f" (SEQ {bad.seq}, {_op_name(bad.op)})"
            kind = "CRC failure" if bad.crc else "bad frame"
            lines.append(f"{_INDENT[:-3]}!! {kind} at +{bad.offset}{header}: {bad.reason}")
        return "\n".join(lines)
    lines = [f"!!!! {stamp} {where}: {len(event.data)} bytes of a frame cut off by the end"]
    if show_hex:
        lines.append(f"{_INDENT}hex {event.data.hex()}")
    return "\n".join(lines)


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def format_summary(summary: DecodeSummary) -> str:
    """The totals, a few lines."""
    s = summary
    lines = [
        f"summary: {s.chunks} chunks ({s.bytes_to_pump} bytes to the pump, "
        f"{s.bytes_to_programmer} to the programmer) on {len(s.links)} link(s)",
        f"  frames: {s.frames} good ({s.undecodable_payloads} with a payload that does not parse)",
        f"  frames per op: {_counts_text(s.frames_per_op)}",
        f"  NAKs: {_counts_text(s.naks_per_code)}",
        f"  dropped: {s.bad_frames} bad frames ({s.crc_failures} CRC failures), "
        f"{s.noise_bytes} bytes in all; {s.incomplete_bytes} bytes cut off at the end",
        f"  MACs: {s.macs_verified} verified, {s.mac_failures} FAILED, "
        f"{s.macs_unchecked} not checked",
        f"  sessions: {s.sessions} established, {s.handshake_failures} handshakes failed; "
        f"{s.retransmissions} retransmissions, {s.replays} replays, "
        f"{s.repeated_responses} repeated answers",
    ]
    if s.truncated_line is not None:
        lines.append(f"  line {s.truncated_line} was cut off mid-write (a crash?) and ignored")
    return "\n".join(lines)


# --- whole captures ---------------------------------------------------------------------------


def decode_chunks(
    chunks: Iterable[Chunk], *, keys: Mapping[Role, bytes] | None = None
) -> tuple[list[Event], DecodeSummary]:
    """Decode chunks (e.g. from a :class:`~emulator.capture.CaptureReader`)."""
    decoder = Decoder(keys=keys)
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.finish()
    return events, decoder.summary()


def decode_capture(
    source: str | Path | TextIO,
    *,
    keys: Mapping[Role, bytes] | None = None,
    link: str | None = None,
) -> Decoding:
    """Decode a whole capture file (only ``link``'s chunks, if given).

    Raises:
        CaptureFileError: the file cannot be read, or a line is not capture JSON.
    """
    decoder = Decoder(keys=keys)
    with CaptureReader(source) as reader:
        events: list[Event] = []
        for chunk in reader:
            if link is None or chunk.link == link:
                events += decoder.feed(chunk)
        events += decoder.finish()
        summary = decoder.summary(truncated_line=reader.truncated_line)
        return Decoding(header=reader.header, events=tuple(events), summary=summary)


def decode_file(
    path: str | Path,
    *,
    keys: Mapping[Role, bytes] | None = None,
    out: TextIO,
    show_hex: bool = True,
    frames: bool = True,
    link: str | None = None,
) -> DecodeSummary:
    """Print a capture decoded frame by frame (unless ``frames`` is False), then its summary.

    Streams: the capture is read and printed chunk by chunk, never held whole.

    Raises:
        CaptureFileError: the file cannot be read, or a line is not capture JSON
            (what was decoded before that line has been printed).
    """
    decoder = Decoder(keys=keys)
    with CaptureReader(path) as reader:
        out.write(format_header(reader.header, str(path)) + "\n")
        if keys is None:
            out.write("no key file given: MACs are not checked (no key)\n")
        for chunk in reader:
            if link is not None and chunk.link != link:
                continue
            events = decoder.feed(chunk)
            if frames:
                for event in events:
                    out.write(format_event(event, show_hex=show_hex) + "\n")
        for event in decoder.finish():
            if frames:
                out.write(format_event(event, show_hex=show_hex) + "\n")
        summary = decoder.summary(truncated_line=reader.truncated_line)
    out.write(format_summary(summary) + "\n")
    return summary
