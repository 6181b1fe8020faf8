"""The codes section (every enum with its values and meanings) and the section on the parsers
generated for other languages and for Wireshark."""

from __future__ import annotations

import enum

from protocol.docgen.markdown import doc_of, join_parts, member_doc, table
from protocol.enums import (
    ALARM_CLASS,
    EVENT_PARAMS,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Mode,
    Origin,
    Role,
    StopReason,
    ValveModel,
)


def _enum_table(cls: type[enum.IntEnum], extra: dict[str, list[str]] | None = None) -> str:
    header = ["value", "name", "meaning", *(extra or {})]
    rows = []
    for member in cls:
        row = [f"{int(member)} (0x{int(member):02X})", member.name, member_doc(member)]
        for column in (extra or {}).values():
            row.append(column[list(cls).index(member)])
        rows.append(row)
    return table(header, rows)


def codes_section() -> str:
    parts = ["## Codes"]
    parts.append("### Error codes (NAK)")
    parts.append(
        "A NAK payload is the error code (u8) then a UTF-8 reason (at most 200 bytes) to "
        "the end of the payload."
    )
    parts.append(_enum_table(ErrorCode))
    for cls in (Role, Mode, BolusKind, StopReason, AlarmClass, ValveModel, Origin):
        parts.append(f"### {cls.__name__}")
        if cls.__doc__:
            parts.append(doc_of(cls))
        parts.append(_enum_table(cls))
    parts.append("### AlarmCode")
    parts.append(doc_of(AlarmCode))
    parts.append(_enum_table(AlarmCode, {"class": [ALARM_CLASS[c].name for c in AlarmCode]}))
    parts.append("### EventCode")
    parts.append(doc_of(EventCode))
    parts.append(
        _enum_table(
            EventCode,
            {
                "a": [EVENT_PARAMS[c][0] for c in EventCode],
                "b": [EVENT_PARAMS[c][1] for c in EventCode],
            },
        )
    )
    return join_parts(parts)


def tools_section() -> str:
    """How programmers in other languages, and Wireshark, get the wire (generated files)."""
    return join_parts(
        [
            "## Parsers for other languages, and Wireshark",
            "Two more files are generated from the same schemas by `make docs` (a test fails "
            "when either is stale) and ship in the wheel beside the demo key:",
            "* `protocol/data/vpump.ksy`: a [Kaitai Struct](https://kaitai.io) description of "
            "the framing and every payload (type `frame`; the payload is typed by OP and the "
            "RESPONSE flag, the prescription by its mode; enums named as here). "
            "`make kaitai` compiles it with `kaitai-struct-compiler` into "
            "`build/kaitai/{csharp,java,cpp_stl,javascript}/`; `make test` compiles it to "
            "Python and to JavaScript and parses every golden vector with both (the latter on "
            "node with the npm runtime `kaitai-struct`).",
            "* `protocol/data/vpump.lua`: a Wireshark dissector for pcapng captures "
            "(`pump-emulator serve --capture-pcap FILE`); see `docs/wireshark.md`.",
            "**A C# team** (a Windows or .NET MAUI programmer) adds `VpumpWire.cs` to its "
            "project with the Kaitai runtime from NuGet (`KaitaiStruct.Runtime.CSharp`, "
            "the version matching the compiler, 0.11), then reads a frame from the bytes "
            "its serial port delivered:",
            "```csharp\n"
            "var wire = new VpumpWire(new KaitaiStream(bytes));   // frames back to back\n"
            "foreach (var frame in wire.Frames) {\n"
            "    if (frame.Opcode == VpumpWire.Op.Status && frame.IsResponse) {\n"
            "        var status = (VpumpWire.StatusResponse) frame.Payload;\n"
            '        Console.WriteLine($"{status.ReservoirNl} nL left");\n'
            "    }\n"
            "}\n"
            "```",
            "**A Java or Kotlin team** (an Android tablet programmer) adds `VpumpWire.java` "
            "(package it as it likes with the compiler's `--java-package`, or move the file) "
            "and the runtime `io.kaitai:kaitai-struct-runtime:0.11` from Maven Central:",
            "```java\n"
            "VpumpWire wire = new VpumpWire(new ByteBufferKaitaiStream(bytes));\n"
            "for (VpumpWire.Frame frame : wire.frames()) {\n"
            "    if (frame.opcode() == VpumpWire.Op.STATUS && frame.isResponse()) {\n"
            "        var status = (VpumpWire.StatusResponse) frame.payload();\n"
            '        System.out.println(status.reservoirNl() + " nL left");\n'
            "    }\n"
            "}\n"
            "```",
            "The generated parsers *read*; they do not check what Kaitai cannot express. "
            "Check the CRC yourself (CRC-16/CCITT-FALSE over `frame.crc_input`, compare with "
            "`frame.crc`) and the MAC with the session key (HMAC-SHA256 over VER..PAYLOAD, "
            "first 16 bytes), as [Framing](#framing) and [Handshake](#handshake) describe; "
            "a frame that fails either must be dropped. Building frames, the handshake and "
            "the sequence rules stay yours: the golden vectors in `tests/protocol/vectors.py` "
            "are the bytes to test against. Unknown opcodes and messages without fields "
            "leave `payload` as raw bytes.",
        ]
    )
