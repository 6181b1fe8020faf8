"""Markdown building blocks of the generated document: paragraphs, tables, hex dumps, the
docstrings and field tables read off the code."""

from __future__ import annotations

import enum
import inspect
import itertools
from collections.abc import Iterable, Sequence

from construct import Construct, SizeofError

from protocol.frames import encode_frame
from protocol.messages import (
    ArrayOf,
    Message,
    Record,
    RecordWire,
    WireField,
    encode_payload,
    wire_fields,
)
from protocol.session import build_frame


def join_parts(parts: Sequence[str]) -> str:
    """Paragraphs apart by a blank line; consecutive bullets as one list."""
    out = parts[0] if parts else ""
    for before, part in itertools.pairwise(parts):
        bullets = before.startswith("* ") and part.startswith("* ")
        out += ("\n" if bullets else "\n\n") + part
    return out


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def hex_block(data: bytes, per_line: int = 32) -> str:
    lines = [data[i : i + per_line].hex(" ") for i in range(0, len(data), per_line)] or ["(none)"]
    return "```\n" + "\n".join(lines) + "\n```"


def doc_of(obj: object) -> str:
    text = inspect.getdoc(obj) or ""
    return " ".join(text.split()).replace("``", "`")


def member_doc(member: enum.Enum) -> str:
    """The docstring written under an enum member in enums.py (if any)."""
    source = inspect.getsource(type(member))
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(f"{member.name} = ") and i + 1 < len(lines):
            following = lines[i + 1].strip()
            if not following.startswith('"""'):
                return ""
            text = [following]
            j = i + 1
            while not (text[-1].endswith('"""') and (len(text) > 1 or len(text[0]) > 3)):
                j += 1
                if j >= len(lines):
                    break
                text.append(lines[j].strip())
            return " ".join(text).strip('"').strip()  # a docstring over several lines, whole
    return ""


def _unit(spec: WireField) -> str:
    """The unit the field declares (none shown for enums, flags, text, bytes and records)."""
    if spec.unit is None or not spec.unit.numeric:
        return ""
    return spec.unit.wire


def _size(subcon: Construct) -> int | None:
    try:
        size: int = subcon.sizeof()
    except SizeofError:
        return None
    return size


def record_table(record: type[Record]) -> str:
    rows = []
    offset: int | None = 0
    for spec in wire_fields(record):
        size = _size(spec.wire.subcon)
        notes = spec.doc
        wire = spec.wire
        if isinstance(wire, ArrayOf) and isinstance(wire.element, RecordWire):
            notes = f"{notes}; each is a {wire.element.record.__name__} (below)".lstrip("; ")
        rows.append(
            [
                "-" if offset is None else str(offset),
                "var" if size is None else str(size),
                f"`{spec.name}`",
                wire.doc_type,
                _unit(spec),
                notes,
            ]
        )
        offset = None if offset is None or size is None else offset + size
    if not rows:
        return "Empty payload (LEN = 0)."
    return table(["offset", "size", "field", "type", "unit", "notes"], rows)


def example_frame(message: Message, *, seq: int, key: bytes | None) -> bytes:
    frame = build_frame(
        response=message.response, seq=seq, op=message.op, payload=encode_payload(message), key=key
    )
    return encode_frame(frame)
