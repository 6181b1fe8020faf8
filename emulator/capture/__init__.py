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

**The modules.** :mod:`~emulator.capture.records` (the header, the chunks, the errors),
:mod:`~emulator.capture.writer` (JSON lines, a pcapng alone, the in-memory ring),
:mod:`~emulator.capture.pcapng` (Wireshark's format), :mod:`~emulator.capture.endpoint`
(the recording endpoint) and :mod:`~emulator.capture.reader` (reading a capture back).
Every name is importable from ``emulator.capture`` itself.
"""

from __future__ import annotations

from emulator.capture.endpoint import CapturingEndpoint, capturing_factory
from emulator.capture.pcapng import (
    DLT_USER0,
    PCAP_SNAPLEN,
    PCAPNG_BYTE_ORDER_MAGIC,
    FrameSplitter,
    PcapngWriter,
    export_pcapng,
)
from emulator.capture.reader import MAX_LINE_BYTES, CaptureReader, read_capture
from emulator.capture.records import (
    CAPTURE_FORMAT,
    CAPTURE_VERSION,
    MAX_LINK_LABEL,
    CaptureError,
    CaptureFileError,
    CaptureFormatError,
    CaptureHeader,
    CaptureValueError,
    Chunk,
    Direction,
    Target,
)
from emulator.capture.writer import CaptureWriter, ChunkSink, PcapngSink, RingCapture

__all__ = [
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "DLT_USER0",
    "MAX_LINE_BYTES",
    "MAX_LINK_LABEL",
    "PCAPNG_BYTE_ORDER_MAGIC",
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
    "Target",
    "capturing_factory",
    "export_pcapng",
    "read_capture",
]
