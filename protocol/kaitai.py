"""Generate the Kaitai Struct description (``.ksy``) of the wire: ``python -m protocol.kaitai``.

``make docs`` writes it to ``protocol/data/vpump.ksy`` (shipped in the wheel;
a test fails when it is stale). Like the Wireshark dissector it knows no
message: it walks :func:`protocol.wiremodel.model` (the message registry and
each field's wire type), so a new message or field needs only ``make docs``.

From the ``.ksy``, ``kaitai-struct-compiler`` generates parsers for C#, Java,
C++, JavaScript, Python and more (``make kaitai``). The description covers the
framing (``frame``: SYNC, VER, FLAGS, SEQ, OP, LEN, the payload typed by OP
and direction, the MAC when FLAGS says so, the CRC) and every payload. Kaitai
has no CRC-16/CCITT-FALSE, so the generated parsers read the CRC and the
caller checks it (``crc_input`` is the span it covers); the MAC needs the
session key and is the caller's too.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from protocol import frames, wiremodel
from protocol.enums import MAX_PAYLOAD, PROTOCOL_VERSION, Flags, Op
from protocol.messages import REGISTRY
from protocol.wiremodel import (
    ArrayNode,
    BytesNode,
    IntNode,
    Node,
    RecordNode,
    SwitchNode,
    TextNode,
)

__all__ = ["RESPONSE_KEY", "generate", "main", "type_id"]

RESPONSE_KEY = 0x100
"""The payload switch key is OP, plus this when FLAGS has RESPONSE."""

_INT_TYPES = {(8, False): "u1", (16, False): "u2", (32, False): "u4", (64, False): "u8"}
_INT_TYPES |= {(8, True): "s1", (16, True): "s2", (32, True): "s4", (64, True): "s8"}


def type_id(name: str) -> str:
    """The .ksy type id of a record (``StatusResponse`` -> ``status_response``)."""
    return wiremodel.snake(name)


def _doc(obj: object) -> str:
    return " ".join((inspect.getdoc(obj) or "").split())


def _field_doc(doc: str, unit: str, extra: str = "") -> str:
    parts = [part for part in (doc, f"unit: {unit}" if unit else "", extra) if part]
    return "; ".join(parts)


@dataclass
class _Builder:
    """Collects the .ksy ``types`` and ``enums`` in a stable order."""

    docs: dict[str, str]
    types: dict[str, dict[str, Any]] = field(default_factory=dict)
    enums: dict[str, type[enum.IntEnum]] = field(default_factory=dict)

    def enum_id(self, cls: type[enum.IntEnum]) -> str:
        self.enums.setdefault(wiremodel.snake(cls.__name__), cls)
        return wiremodel.snake(cls.__name__)

    def record(self, record: RecordNode, name: str | None = None) -> str:
        tid = name or type_id(record.name)
        if tid in self.types:
            return tid
        self.types[tid] = {}  # reserved first: a record may be reached again while building
        seq: list[dict[str, Any]] = []
        for f in record.fields:
            seq.extend(self._attributes(tid, f.name, f.node, f.doc, f.unit))
        body: dict[str, Any] = {}
        if record.name in self.docs:
            body["doc"] = self.docs[record.name]
        body["seq"] = seq
        self.types[tid] = body
        return tid

    def _attributes(
        self, owner: str, name: str, node: Node, doc: str, unit: str
    ) -> Iterator[dict[str, Any]]:
        match node:
            case IntNode():
                attr: dict[str, Any] = {"id": name, "type": _INT_TYPES[node.bits, node.signed]}
                extra = ""
                if node.meaning == "enum" and node.enum is not None:
                    attr["enum"] = self.enum_id(node.enum)
                elif node.meaning == "bool":
                    attr["valid"] = {"any-of": [0, 1]}
                    extra = "boolean: 0 false, 1 true"
                elif node.meaning == "time":
                    extra = "pump time in Unix seconds; 0 means none"
                elif node.meaning == "bits" and node.enum is not None:
                    eid = self.enum_id(node.enum)
                    extra = f"bit n set: {node.enum.__name__} n is in the set (enum {eid})"
                if node.choices:
                    attr["valid"] = {"any-of": list(node.choices)}
                elif node.minimum is not None and node.maximum is not None:
                    attr["valid"] = {"min": node.minimum, "max": node.maximum}
                text = _field_doc(doc, unit, extra)
                if text:
                    attr["doc"] = text
                yield attr
            case BytesNode(size=size):
                yield _with_doc({"id": name, "size": size}, doc, unit)
            case TextNode(greedy=True):
                yield _with_doc(
                    {"id": name, "type": "str", "size-eos": True, "encoding": "UTF-8"}, doc, unit
                )
            case TextNode():
                yield {"id": f"len_{name}", "type": "u1", "valid": {"max": node.max_bytes}}
                yield _with_doc(
                    {"id": name, "type": "str", "size": f"len_{name}", "encoding": "UTF-8"},
                    doc,
                    unit,
                )
            case ArrayNode(element=element, max_count=max_count):
                count: dict[str, Any] = {"id": f"num_{name}", "type": "u1"}
                if max_count < 255:
                    count["valid"] = {"max": max_count}
                yield count
                attr = {"id": name, "repeat": "expr", "repeat-expr": f"num_{name}"}
                attr.update(self._element_type(owner, name, element))
                yield _with_doc(attr, doc, unit)
            case RecordNode():
                yield _with_doc({"id": name, "type": self.record(node)}, doc, unit)
            case SwitchNode(on=on, enum=key_enum, cases=cases):
                switch: dict[str, Any] = {}
                for key, case in cases:
                    if key_enum is not None:
                        label = f"{self.enum_id(key_enum)}::{key_enum(key).name.lower()}"
                    else:
                        label = str(key)
                    switch[label] = self.record(case)
                yield _with_doc(
                    {"id": name, "type": {"switch-on": on, "cases": switch}},
                    doc,
                    f"by {on}; other values carry nothing",
                )
            case _:
                raise TypeError(f"no .ksy for {node!r}")

    def _element_type(self, owner: str, name: str, element: Node) -> dict[str, Any]:
        match element:
            case IntNode():
                attr = next(self._attributes(owner, name, element, "", ""))
                return {k: v for k, v in attr.items() if k not in ("id", "doc")}
            case RecordNode():
                return {"type": self.record(element)}
            case _:
                # An array of arrays (or of text): a type holding one element.
                wrapper = RecordNode(
                    name=f"{owner}_{name}_item",
                    fields=(wiremodel.Field("items", element, "", ""),),
                )
                return {"type": self.record(wrapper, name=f"{owner}_{name}_item")}


def _with_doc(attr: dict[str, Any], doc: str, unit: str) -> dict[str, Any]:
    text = _field_doc(doc, unit) if unit != "" or doc else ""
    if unit.startswith("by "):  # a switch: the note is not a unit
        text = "; ".join(part for part in (doc, unit) if part)
    if text:
        attr["doc"] = text
    return attr


def generate() -> str:
    """The whole .ksy, as YAML text."""
    docs = {
        cls.__name__: _doc(cls)
        for command in REGISTRY.values()
        for cls in (command.request, command.response)
        if cls is not None and _doc(cls)
    }
    builder = _Builder(docs=docs)
    cases: dict[int, str] = {}
    for message in wiremodel.model():
        for record, key in (
            (message.request, int(message.op)),
            (message.response, int(message.op) + RESPONSE_KEY),
        ):
            if record is not None and record.fields:
                cases[key] = builder.record(record)
    op_enum = builder.enum_id(Op)
    frame = {
        "doc": "One frame. The CRC (CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no "
        "reflection) covers `crc_input` (VER to the end of the MAC); check it yourself.",
        "seq": [
            {"id": "sync", "contents": list(frames.SYNC)},
            {"id": "ver", "type": "u1", "valid": PROTOCOL_VERSION},
            {"id": "flags", "type": "u1", "doc": "bit0 RESPONSE, bit1 MAC, bit2 NOTIFY"},
            {"id": "seq", "type": "u2", "doc": "chosen by the programmer; echoed by the answer"},
            {"id": "op", "type": "u1", "doc": f"opcode (enum {op_enum}: see `opcode`)"},
            {"id": "len", "type": "u2", "valid": {"max": MAX_PAYLOAD}},
            {
                "id": "payload",
                "size": "len",
                "type": {
                    "switch-on": f"op + (is_response ? {RESPONSE_KEY} : 0)",
                    "cases": {f"0x{key:03x}": tid for key, tid in sorted(cases.items())},
                },
                "doc": "typed by OP and the RESPONSE flag; raw bytes when that message has "
                "no fields or the opcode is unknown",
            },
            {
                "id": "mac",
                "size": frames.MAC_SIZE,
                "if": "has_mac",
                "doc": "first 16 bytes of HMAC-SHA256(session key, VER .. end of PAYLOAD)",
            },
            {"id": "crc", "type": "u2"},
        ],
        "instances": {
            "is_response": {"value": f"(flags & {int(Flags.RESPONSE)}) != 0"},
            "has_mac": {"value": f"(flags & {int(Flags.MAC)}) != 0"},
            "is_notify": {"value": f"(flags & {int(Flags.NOTIFY)}) != 0"},
            "opcode": {"value": "op", "enum": op_enum},
            "crc_input": {
                "pos": 2,
                "size": f"{frames.HEADER_SIZE - 2} + len + (has_mac ? {frames.MAC_SIZE} : 0)",
                "doc": "the bytes the CRC covers",
            },
        },
    }
    types: dict[str, Any] = {"frame": frame}
    types.update(builder.types)
    enums = {
        eid: {member.value: member.name.lower() for member in cls}
        for eid, cls in sorted(builder.enums.items())
    }
    ksy = {
        "meta": {
            "id": "vpump_wire",
            "title": "vpump implantable pump telemetry",
            "license": "MIT",
            "endian": "be",
        },
        "doc": "Frames of the vpump telemetry protocol, back to back (a capture of one "
        "direction of a link, or one frame). Generated from the construct schemas by "
        "`python -m protocol.kaitai` (`make docs`); do not edit.",
        "seq": [{"id": "frames", "type": "frame", "repeat": "eos"}],
        "types": types,
        "enums": enums,
    }
    header = (
        "# vpump telemetry: Kaitai Struct description, generated from the construct schemas\n"
        "# by `python -m protocol.kaitai` (`make docs`); do not edit. Compile it with\n"
        "# kaitai-struct-compiler (`make kaitai` emits C#, Java, C++ and JavaScript).\n"
    )
    return header + yaml.safe_dump(ksy, sort_keys=False, width=100, allow_unicode=False)


def main() -> int:
    """Print the .ksy to stdout."""
    print(generate(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
