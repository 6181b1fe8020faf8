"""Decoding a capture frame by frame: fields with units, MAC checks, sessions followed.

The decoder runs one :class:`~protocol.codec.Deframer` per (link, direction),
exactly as a receiver would, and reports in stream order:

* every frame, with its time stamps, direction, SEQ, opcode, its bytes in hex
  and its payload field by field in units (volumes in mL, rates in mL/day,
  pump times as ISO 8601 UTC, enums by name);
* the bytes the deframer dropped: noise between frames, and each candidate
  frame it rejected (a CRC failure, a bad VER, FLAGS or LEN) with the reason;
* NAKs with their code and reason;
* sessions: each handshake step, the role, "session N established", closes and
  session-less refusals, retransmissions (same SEQ, same bytes: the pump
  answers from its cache), replays (an old frame sent again, or a SEQ that
  does not move forward), and repeated answers;
* MAC checks: given the pump's role keys, the decoder checks both handshake
  proofs, derives each session's key from the nonces it saw and verifies
  every MAC'd frame; without a key it says "MAC not checked (no key)".

Nothing in a capture's bytes can make it raise: only an unreadable or
malformed capture *file* does (:class:`~emulator.capture.CaptureFileError`,
naming the line). :func:`decode_file` is the ``pump-emulator decode`` command;
:func:`add_arguments` and :func:`run` give it a command line.

The package, one concern a module (everything is re-exported here): :mod:`.events` (what
the decoder reports), :mod:`.decoder` (the decoder), :mod:`.text` (the text report and
whole captures), :mod:`.cli` (the command line). Fields are put into words by
:mod:`protocol.describe`.
"""

from __future__ import annotations

from emulator.decode.cli import (
    add_arguments,
    run,
)
from emulator.decode.decoder import (
    Decoder,
    format_fields,
)
from emulator.decode.events import (
    BadFrame,
    DecodeSummary,
    DecodeUsageError,
    Decoding,
    Event,
    FrameEvent,
    IncompleteEvent,
    MacCheck,
    NoiseEvent,
    Note,
    NoteKind,
)
from emulator.decode.text import (
    decode_capture,
    decode_chunks,
    decode_file,
    format_event,
    format_header,
    format_summary,
)

__all__ = [
    "BadFrame",
    "DecodeSummary",
    "DecodeUsageError",
    "Decoder",
    "Decoding",
    "Event",
    "FrameEvent",
    "IncompleteEvent",
    "MacCheck",
    "NoiseEvent",
    "Note",
    "NoteKind",
    "add_arguments",
    "decode_capture",
    "decode_chunks",
    "decode_file",
    "format_event",
    "format_fields",
    "format_header",
    "format_summary",
    "run",
]
