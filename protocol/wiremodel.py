"""The wire as plain data: every frame field and every message's payload, read off the schemas.

The generators of the tools protocol engineers use (the Wireshark dissector,
:mod:`protocol.dissector`; the Kaitai Struct description, :mod:`protocol.kaitai`)
do not know any message: they walk :func:`model`, which is built by walking
the message registry (:data:`~protocol.messages.REGISTRY`) and the wire type
each field declares (:class:`~protocol.messages.Wire` subclasses). A new
message, field or opcode therefore reaches every generated file by
regenerating (``make docs``); a new *kind* of wire type makes :func:`node_for`
raise, naming it, instead of being skipped.

Units come from the field's description or, failing that, its name (the
suffix conventions of :mod:`protocol.messages`), until fields declare them.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeAlias

from construct import Array, Construct, FocusedSeq, FormatField, Struct, Switch

from protocol.enums import AlarmCode, Op
from protocol.messages import (
    REGISTRY,
    AlarmMask,
    ArrayOf,
    Bool8,
    EnumWire,
    Message,
    PrescriptionSpec,
    PrescriptionWire,
    RawBytes,
    Record,
    RecordWire,
    SInt32,
    Text,
    TimeOrNone,
    UInt,
    Wire,
    payload_schema,
    wire_fields,
)
from protocol.prescription import PRESCRIPTION_UNITS
from protocol.units import Unit

__all__ = [
    "ArrayNode",
    "BytesNode",
    "Field",
    "IntNode",
    "MessageModel",
    "Node",
    "RecordNode",
    "SwitchNode",
    "TextNode",
    "model",
    "node_for",
    "record_node",
    "snake",
    "unit_for",
]


@dataclass(frozen=True)
class IntNode:
    """A big-endian integer. ``meaning``: ``int``, ``bool`` (0 or 1), ``enum`` (members of
    ``enum``), ``time`` (Unix seconds, 0 = none) or ``bits`` (bit n set: ``enum`` member n)."""

    bits: int
    signed: bool = False
    meaning: str = "int"
    enum: type[IntEnum] | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[int, ...] = ()


@dataclass(frozen=True)
class BytesNode:
    """A fixed number of opaque bytes."""

    size: int


@dataclass(frozen=True)
class TextNode:
    """UTF-8 text: a u8 length then the bytes, or (``greedy``) the rest of the payload."""

    max_bytes: int
    greedy: bool


@dataclass(frozen=True)
class ArrayNode:
    """A u8 count, then that many elements."""

    element: Node
    max_count: int


@dataclass(frozen=True)
class Field:
    """One named field: its node, its description and its unit ("" when it has none)."""

    name: str
    node: Node
    doc: str
    unit: str


@dataclass(frozen=True)
class RecordNode:
    """Fields laid out one after another (a message payload or a nested record)."""

    name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class SwitchNode:
    """A record chosen by the value of an earlier field ``on`` (of ``enum``); any other
    value carries nothing."""

    on: str
    enum: type[IntEnum] | None
    cases: tuple[tuple[int, RecordNode], ...]


Node: TypeAlias = IntNode | BytesNode | TextNode | ArrayNode | RecordNode | SwitchNode


@dataclass(frozen=True)
class MessageModel:
    """One opcode: its request payload (None for NAK) and its response payload."""

    op: Op
    summary: str
    request: RecordNode | None
    response: RecordNode


def unit_for(unit: Unit | None) -> str:
    """What follows a raw value of a declared unit (as docs/protocol.md names it), "" when
    none does (not a number, or a count, an index, a checksum)."""
    return "" if unit is None else unit.symbol


def snake(name: str) -> str:
    """``StatusResponse`` -> ``status_response``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _bits(subcon: Construct) -> int:
    return 8 * int(subcon.sizeof())


def node_for(wire: Wire) -> Node:
    """The node of one wire type (TypeError for a kind of wire type this module lacks)."""
    match wire:
        case UInt():
            full = wire.full_range
            return IntNode(
                bits=wire.bits,
                minimum=None if full else wire.minimum,
                maximum=None if full else wire.maximum,
                choices=wire.choices,
            )
        case SInt32():
            return IntNode(bits=32, signed=True)
        case Bool8():
            return IntNode(bits=8, meaning="bool")
        case EnumWire():
            return IntNode(bits=_bits(wire.subcon), meaning="enum", enum=wire.enum)
        case TimeOrNone():
            return IntNode(bits=64, meaning="time")
        case AlarmMask():
            return IntNode(bits=16, meaning="bits", enum=AlarmCode)
        case RawBytes():
            return BytesNode(size=wire.size)
        case Text():
            return TextNode(max_bytes=wire.max_bytes, greedy=wire.greedy)
        case ArrayOf():
            return ArrayNode(element=node_for(wire.element), max_count=wire.max_count)
        case RecordWire():
            return record_node(wire.record)
        case PrescriptionWire():
            return _prescription_node(wire)
    raise TypeError(f"no wire model for {type(wire).__name__}: teach protocol.wiremodel it")


def record_node(record: type[Record]) -> RecordNode:
    """The node of a record or message: its declared fields in wire order."""
    return RecordNode(
        name=record.__name__,
        fields=tuple(
            Field(spec.name, node_for(spec.wire), spec.doc, unit_for(spec.unit))
            for spec in wire_fields(record)
        ),
    )


@functools.cache
def _records() -> dict[int, type[Record]]:
    """Every record class by the id of its payload schema, to recognise them in a schema."""
    found: dict[int, type[Record]] = {}
    pending: list[type[Record]] = [Record]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Record and cls is not Message and dataclasses.fields(cls):
            try:
                found[id(payload_schema(cls))] = cls
            except TypeError:
                continue  # a base whose fields declare no wire type: not a wire record
    return found


def _construct_node(subcon: Construct, name: str, hints: dict[str, Any]) -> Node:
    """The node of a construct subcon inside a schema written by hand (the prescription):
    integers, records, u8-counted arrays; enum and boolean meaning from the value type's
    annotation of the same name (``hints``)."""
    record = _records().get(id(subcon))
    if record is not None:
        return record_node(record)
    if isinstance(subcon, FormatField) and subcon.fmtstr[1:] in "BHLQbhlq":
        hint = hints.get(name)
        bits = 8 * subcon.length
        if isinstance(hint, type) and issubclass(hint, IntEnum):
            return IntNode(bits=bits, meaning="enum", enum=hint)
        if hint is bool:
            return IntNode(bits=bits, meaning="bool")
        return IntNode(bits=bits, signed=subcon.fmtstr[1:].islower())
    if isinstance(subcon, FocusedSeq) and [s.name for s in subcon.subcons] == ["count", "items"]:
        items = subcon.subcons[1].subcon
        if isinstance(items, Array):  # construct's PrefixedArray(Int8ub, element)
            return ArrayNode(element=_construct_node(items.subcon, name, hints), max_count=255)
    raise TypeError(f"no wire model for the prescription field {name!r} ({subcon!r})")


def _prescription_node(wire: PrescriptionWire) -> RecordNode:
    """The prescription: its construct schema walked field by field (a Switch on the mode),
    with the meaning of each field read off :class:`PrescriptionSpec`'s annotations."""
    schema = wire.subcon
    if not isinstance(schema, Struct):
        raise TypeError(f"the prescription schema is a {type(schema).__name__}, not a Struct")
    hints = typing.get_type_hints(PrescriptionSpec)
    fields: list[Field] = []
    for item in schema.subcons:
        subcon = item.subcon
        if isinstance(subcon, Switch):
            found = re.fullmatch(r"this\['(\w+)'\]", str(subcon.keyfunc))
            if found is None:
                raise TypeError(f"the prescription switches on {subcon.keyfunc}, not a field")
            on = found.group(1)
            key_node = next(f.node for f in fields if f.name == on)
            cases = tuple(
                (
                    int(key),
                    RecordNode(
                        name=_case_name(key_node, int(key)),
                        fields=tuple(
                            Field(
                                s.name,
                                _construct_node(s.subcon, s.name, hints),
                                "",
                                unit_for(PRESCRIPTION_UNITS[s.name]),
                            )
                            for s in case.subcons
                        ),
                    ),
                )
                for key, case in sorted(subcon.cases.items())
            )
            enum = key_node.enum if isinstance(key_node, IntNode) else None
            fields.append(Field(item.name, SwitchNode(on=on, enum=enum, cases=cases), "", ""))
        else:
            node = _construct_node(subcon, item.name, hints)
            fields.append(Field(item.name, node, "", unit_for(PRESCRIPTION_UNITS[item.name])))
    return RecordNode(name="Prescription", fields=tuple(fields))


def _case_name(key_node: Node, key: int) -> str:
    if isinstance(key_node, IntNode) and key_node.enum is not None:
        return "Prescription" + key_node.enum(key).name.title().replace("_", "")
    return f"PrescriptionCase{key}"


def model() -> tuple[MessageModel, ...]:
    """Every opcode of the registry, in opcode order, with its payloads as nodes."""
    return tuple(
        MessageModel(
            op=op,
            summary=command.summary,
            request=None if command.request is None else record_node(command.request),
            response=record_node(command.response),
        )
        for op, command in sorted(REGISTRY.items())
    )
