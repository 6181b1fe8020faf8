"""The document's sections on the bytes: framing, payload conventions, the opcode summary,
every command's payload and the nested structures."""

from __future__ import annotations

from protocol import frames, messages, session
from protocol.docgen.examples import EXAMPLE_SESSION_KEY, EXAMPLES, FLEX_EXAMPLE
from protocol.docgen.markdown import (
    doc_of,
    example_frame,
    hex_block,
    join_parts,
    member_doc,
    record_table,
    table,
)
from protocol.enums import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Flags,
    Mode,
    Op,
    Role,
)
from protocol.frames import encode_frame
from protocol.messages import (
    REGISTRY,
    AlarmRecord,
    FlexStep,
    LogEntry,
    PrescriptionSpec,
)
from protocol.session import build_frame


def framing_section() -> str:
    descriptions = {
        "sync": ("2", "SYNC", "`A5 5A`"),
        "ver": ("1", "VER", f"protocol version, `{PROTOCOL_VERSION:02X}`"),
        "flags": ("1", "FLAGS", "bit 0 RESPONSE, bit 1 MAC, bit 2 NOTIFY (reserved); others 0"),
        "seq": ("2", "SEQ", "u16; chosen by the programmer, a response carries its request's"),
        "op": ("1", "OP", "opcode"),
        "len": ("2", "LEN", f"u16 payload length, at most {MAX_PAYLOAD}"),
        "payload": ("LEN", "PAYLOAD", "the message (tables below)"),
        "mac": ("16", "MAC", "only when FLAGS has MAC: first 16 bytes of HMAC-SHA256"),
        "crc": ("2", "CRC", "CRC-16/CCITT-FALSE over VER .. end of MAC, u16"),
    }
    names = [frames.FRAME.subcons[0].name]
    names += [sc.name for sc in frames.FRAME_BODY.subcons] + [frames.FRAME.subcons[2].name]
    if set(names) != set(descriptions):  # the schema changed: the doc must follow
        raise RuntimeError(f"framing fields changed: {names}")
    rows = []
    offset: str = "0"
    for name in names:
        size, field, text = descriptions[name]
        rows.append([offset, size, field, text])
        offset = str(int(offset) + int(size)) if offset.isdigit() and size.isdigit() else ".."
    flag_rows = [[f"0x{int(flag):02X}", str(flag.name), member_doc(flag)] for flag in Flags if flag]
    example = build_frame(response=False, seq=0x0102, op=Op.STATUS, payload=b"", key=None)
    wire = encode_frame(example)
    parts = [
        "## Framing",
        "All integers on the wire are big-endian. A frame:",
        table(["offset", "size", "field", "meaning"], rows),
        table(["FLAGS bit", "name", "meaning"], flag_rows),
        "* The CRC is CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, "
        "no reflection, no final XOR (Python: `binascii.crc_hqx(data, 0xFFFF)`); "
        'the check value of `b"123456789"` is 0x29B1.',
        f"* A frame is at most {frames.MAX_FRAME_SIZE} bytes; "
        f"the shortest is {frames.MIN_FRAME_SIZE}.",
        "* A receiver hunts for SYNC. A bad VER, undefined FLAGS bits, LEN over "
        f"{MAX_PAYLOAD} or a CRC mismatch drops only the first SYNC byte and hunting "
        "resumes, so a corrupt frame never swallows the good frame behind it. "
        "A frame that fails its CRC gets no reply.",
        "* The pump's receiver abandons a partial frame after 0.5 s of silence on the "
        "link, and a partial frame that has not arrived whole within 1 s of its first "
        "byte (a sender trickling bytes): it drops that frame's first SYNC byte and "
        "hunts again through the bytes behind it, so a frame sent meanwhile is found.",
        "* A frame that passes its CRC but cannot be executed gets a NAK (OP 0x7F, "
        "the request's SEQ).",
        "Example: a STATUS request, SEQ 0x0102, no MAC:",
        hex_block(wire),
        table(
            ["bytes", "field"],
            [
                [wire[0:2].hex(" "), "SYNC"],
                [wire[2:3].hex(), "VER"],
                [wire[3:4].hex(), "FLAGS (none)"],
                [wire[4:6].hex(" "), "SEQ 0x0102"],
                [wire[6:7].hex(), "OP STATUS"],
                [wire[7:9].hex(" "), "LEN 0"],
                [wire[9:11].hex(" "), "CRC of `01 00 01 02 10 00 00`"],
            ],
        ),
    ]
    return join_parts(parts)


def conventions_section() -> str:
    return join_parts(
        [
            "## Payload conventions",
            "* Integers are unsigned big-endian unless the type says `i32` (two's complement).",
            "* `u8 bool` is 0 or 1; any other value is malformed.",
            "* `uN Enum` carries the enum's value (tables at the end); an unknown value "
            "is malformed.",
            "* Times are the pump's clock, Unix seconds, u64. In fields typed "
            "`u64 (0 = none)` (forecasts) 0 means there is none.",
            "* `u16 AlarmCode bits`: bit n set means alarm code n.",
            "* `u8 length + utf8`: one length byte, then that many bytes of UTF-8.",
            "* `u8 count + X[count]`: one count byte, then that many X.",
            "* An offset `-` follows a field of variable size: the field starts right "
            "after the previous one.",
            "* Each field declares its unit (the `unit` column, from `protocol.units.Unit` "
            "in the field's metadata; the names follow it: `_nl` nanolitres, `_ng` nanograms "
            "(doses: 1 mcg = 1000 ng), `_ug_per_ml` micrograms (mcg) per mL, `_mm` "
            "millimetres, `_uc` microcoulombs, `_s` seconds, `_permille` thousandths). "
            "`s (Unix time)` is a pump-clock date, `min after midnight` a time of day, "
            "`count`, `index` and `crc32` are dimensionless.",
            "* Any payload that is short, has trailing bytes, or holds a value outside "
            "its type is refused with NAK MALFORMED.",
        ]
    )


def _roles_for(op: Op) -> str:
    return ", ".join(role.name.lower() for role in Role if op in session.ROLE_OPS[role])


def opcode_section() -> str:
    rows = []
    for op, command in REGISTRY.items():
        rows.append(
            [
                f"0x{int(op):02X}",
                f"[{op.name}](#{op.name.lower()})",
                "no" if op in (Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH, Op.NAK) else "yes",
                _roles_for(op) if op is not Op.NAK else "(pump only)",
                command.summary.replace("``", "`"),
            ]
        )
    return join_parts(
        [
            "## Opcodes",
            table(["OP", "name", "needs a session", "roles", "what it does"], rows),
        ]
    )


def commands_section() -> str:
    parts = ["## Commands"]
    seq = 0x0010
    for op, command in REGISTRY.items():
        request, response = EXAMPLES[op]
        parts.append(f"### {op.name}")
        parts.append(f"OP `0x{int(op):02X}`.")
        in_session = op not in (Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH)
        key = EXAMPLE_SESSION_KEY if in_session else None
        if op is Op.SESSION_AUTH:
            key = None  # the request is plain; its response is the first MAC'd frame
        if command.request is not None and request is not None:
            parts.append(f"**Request** (`{command.request.__name__}`): {doc_of(command.request)}")
            parts.append(record_table(command.request))
            parts.append("Example request frame:")
            parts.append(hex_block(example_frame(request, seq=seq, key=key)))
        parts.append(f"**Response** (`{command.response.__name__}`): {doc_of(command.response)}")
        parts.append(record_table(command.response))
        response_key = EXAMPLE_SESSION_KEY if op is Op.SESSION_AUTH else key
        parts.append("Example response frame:")
        parts.append(hex_block(example_frame(response, seq=seq, key=response_key)))
        seq += 1
    parts.append(
        "Example frames inside a session carry the MAC computed with the example "
        "session key of the [handshake example](#handshake); those outside it carry none."
    )
    return join_parts(parts)


def records_section() -> str:
    parts = ["## Nested structures"]
    parts.append("### Prescription")
    parts.append(doc_of(PrescriptionSpec))
    parts.append(
        table(
            ["mode (u8), then `concentration_ug_per_ml` (u32)", "followed by"],
            [
                [f"{int(Mode.SIMPLE)} SIMPLE", "`dose_ng_per_day` u32 (ng/day)"],
                [
                    f"{int(Mode.FLEX)} FLEX",
                    "`weekly` u8 bool (0: one profile for every day, 1: seven, Monday "
                    "first); `profiles`: u8 count, then per profile a u8 count of "
                    "FlexStep (1..13)",
                ],
                [f"{int(Mode.MINIMUM_RATE)} MINIMUM_RATE", "nothing"],
                [f"{int(Mode.STOPPED)} STOPPED", "nothing"],
            ],
        )
    )
    parts.append(
        "The prescription checksum (STAGE, COMMIT, READ_PRESCRIPTION, STATUS) is "
        "`zlib.crc32` (CRC-32/ISO-HDLC) of these prescription bytes."
    )
    example = messages.encode_prescription(FLEX_EXAMPLE)
    parts.append(
        "Example: FLEX of 2000 mcg/mL, one profile, steps 00:00 120 mcg/day, 08:00 "
        "200 mcg/day, 20:00 120 mcg/day (160 mcg/day in all); checksum "
        f"0x{messages.prescription_checksum(FLEX_EXAMPLE):08X}:"
    )
    parts.append(hex_block(example))
    for record in (FlexStep, messages.DoseGrant, messages.ImplantFields, AlarmRecord, LogEntry):
        parts.append(f"### {record.__name__}")
        parts.append(doc_of(record))
        parts.append(record_table(record))
    return join_parts(parts)
