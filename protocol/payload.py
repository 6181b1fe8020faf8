"""Encoding and decoding payloads: the construct reference path and the fast codec.

The schemas (:func:`protocol.wire.payload_schema`) are the source of truth (the
documentation and the golden vectors are checked against them), but construct's generic
build/parse costs 50-100 us a message. So :func:`encode_payload` and
:func:`decode_payload` run a fast codec derived per class from the same field
declarations, built the first time a class is seen, which the tests prove byte- and
value-identical to the schema path; :func:`schema_encode_payload` and
:func:`schema_decode_payload` are that reference path.
"""

from __future__ import annotations

import io
import re
import struct
import typing
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeAlias

from protocol.enums import MAX_PAYLOAD
from protocol.errors import InvalidMessage, MalformedPayload
from protocol.wire import (
    AlarmMask,
    ArrayOf,
    Bool8,
    EnumWire,
    FastWire,
    Message,
    RawBytes,
    Record,
    RecordWire,
    SInt32,
    Text,
    TimeOrNone,
    UInt,
    Wire,
    WireField,
    _from_container,
    _to_container,
    payload_schema,
    wire_fields,
)

# --- the fast path ------------------------------------------------------------
#
# A codec per class, derived from the same wire_fields as the schema: each run
# of fixed-size fields is one precompiled big-endian struct.Struct whose format
# is read off the fields' construct subcons; length-prefixed and greedy text
# and u8-counted arrays of fixed-size records are sliced by hand, nested records by
# their own codec and a prescription by its wire type's own (FastWire). Values go
# through each field's own Wire (from_wire then coerce, and to_wire), except
# where struct already does the same thing, and the results for one- and
# two-byte fields are cached per wire value. A class holding anything else
# has no fast codec and stays on construct. Nothing here imports construct: the
# fast path runs without it (tests/protocol/test_messages_fastpath.py proves it).

_Convert: TypeAlias = Callable[[Any], Any]


class _Known(dict[Any, Any]):
    """Wire value -> field value, filled on a miss by the field's reference
    conversion. That raises (ValueError) on whatever the schema path rejects,
    and a rejected value is never stored, so the table holds at most the valid
    values of a one- or two-byte field."""

    __slots__ = ("_convert",)

    def __init__(self, convert: _Convert) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, raw: Any) -> Any:
        value = self[raw] = self._convert(raw)
        return value


def _struct_code(wire: Wire) -> str | None:
    """The struct code of a fixed-size field (None if not fixed)."""
    if isinstance(wire, RecordWire):
        return None  # a record is never flattened into its parent's struct
    return wire.struct_code


def _decoder(spec: WireField, code: str) -> _Convert | None:
    """Unpacked wire value -> field value, as the schema path converts it
    (None: struct's value already is the field's value)."""
    wire, name = spec.wire, spec.name
    if type(wire) in (SInt32, RawBytes) or (type(wire) is UInt and wire.full_range):
        return None  # coerce accepts every value struct yields, unchanged
    if type(wire) is TimeOrNone:
        return wire.from_wire  # 0 -> None; coerce accepts every other u64 unchanged

    def reference(raw: Any) -> Any:
        return wire.coerce(name, wire.from_wire(raw))

    return _Known(reference).__getitem__ if struct.calcsize(code) <= 2 else reference


def _encoder(wire: Wire) -> _Convert | None:
    """Field value -> value struct packs (None: the field's value as it is)."""
    if type(wire).to_wire is Wire.to_wire or type(wire) in (Bool8, EnumWire):
        return None  # to_wire is identity, or int(value), which struct.pack does itself
    if type(wire) is AlarmMask:
        # A field value is a valid (normalized) set, so at most 2 ** len(AlarmCode) keys.
        return _Known(wire.to_wire).__getitem__
    return wire.to_wire


def _converters(
    fields: Sequence[WireField], codes: Sequence[str]
) -> tuple[tuple[tuple[int, _Convert], ...], tuple[tuple[int, _Convert], ...]]:
    """(index, encoder) and (index, decoder) of the fields that need one."""
    encoders = tuple(
        (i, enc) for i, spec in enumerate(fields) if (enc := _encoder(spec.wire)) is not None
    )
    decoders = tuple(
        (i, dec)
        for i, (spec, code) in enumerate(zip(fields, codes, strict=True))
        if (dec := _decoder(spec, code)) is not None
    )
    return encoders, decoders


class _Builder:
    """Makes a record from its converted field values without running
    ``__post_init__`` again: every value is already what ``coerce`` returns, so
    only the cross-field ``_check`` is left. Classes that replace
    ``Record.__post_init__`` are built through their constructor. The codecs write
    this out in their compiled code (:meth:`lines`)."""

    def __init__(self, cls: type[Record]) -> None:
        self.cls = cls
        self.names = tuple(spec.name for spec in wire_fields(cls))
        self.direct = cls.__post_init__ is Record.__post_init__
        self.check = None if cls._check is Record._check else cls._check

    def lines(self, values: Sequence[str], namespace: dict[str, Any]) -> list[str]:
        """Generated code binding ``_rec`` to the record whose fields are the expressions
        ``values`` (what :meth:`__call__` does, written out); puts its names in
        ``namespace``."""
        namespace["_cls"] = self.cls
        pairs = [f"{name}={value}" for name, value in zip(self.names, values, strict=True)]
        if not self.direct:
            return [f" _rec = _cls({', '.join(pairs)})"]
        namespace["_new"] = _new_record
        namespace["_set"] = object.__setattr__
        items = ", ".join(
            f"{name!r}: {value}" for name, value in zip(self.names, values, strict=True)
        )
        # The fields' dict built whole (presized, no copy) and made the record's __dict__.
        lines = [" _rec = _new(_cls)", f" _set(_rec, '__dict__', {{{items}}})"]
        if self.check is not None:
            namespace["_check"] = self.check
            lines.append(" _check(_rec)")
        return lines


_new_record: Final = object.__new__


def _compile(name: str, lines: Sequence[str], namespace: dict[str, Any]) -> Any:
    """The function ``name`` defined by ``lines`` (Python source) over ``namespace``."""
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<payload codec: {name}>", "exec"), namespace)
    return namespace[name]


class _Run:
    """Consecutive fixed-size fields: one struct.Struct and their conversions.

    Its functions are compiled once per run from the fields (one ``struct`` call, each
    conversion written out, the fields read by name), so a message costs no per-field
    loop, list or ``zip``: the same values as a loop over :func:`_converters` would give
    (``tests/protocol/test_messages_fastpath.py`` proves the codec equal to the schemas).
    """

    def __init__(self, fields: Sequence[WireField], codes: Sequence[str]) -> None:
        self.struct = struct.Struct(">" + "".join(codes))
        self.size = self.struct.size
        self.names = tuple(spec.name for spec in fields)
        self.encoders, self.decoders = _converters(fields, codes)
        count = len(fields)
        self.raw = tuple(f"_r{i}" for i in range(count))
        """The names the unpacked values are bound to in generated code."""
        namespace: dict[str, Any] = {"_pack": self.struct.pack}
        encoded = [f"_m.{name}" for name in self.names]
        for i, encode in self.encoders:
            if type(fields[i].wire) is TimeOrNone:  # TimeOrNone.to_wire, written out
                encoded[i] = f"(0 if {encoded[i]} is None else {encoded[i]})"
                continue
            namespace[f"_e{i}"] = encode
            encoded[i] = f"_e{i}({encoded[i]})"
        body = f" return _pack({', '.join(encoded)})" if count else ' return b""'
        self.pack: Callable[[Any], bytes] = _compile("pack", ["def pack(_m):", body], namespace)
        self.values = list(self.raw)
        """The expression of each field's value over :attr:`raw`, in generated code."""
        self.statements: list[str] = []
        """What turns :attr:`raw` into :attr:`values` (each decoder once, in field order)."""
        self.namespace: dict[str, Any] = {}
        """The decoders the statements call."""
        time_decoders = {i for i, spec in enumerate(fields) if type(spec.wire) is TimeOrNone}
        for i, decode in self.decoders:
            if i in time_decoders:  # TimeOrNone.from_wire, written out
                self.statements.append(f"_v{i} = None if _r{i} == 0 else _r{i}")
            else:
                self.namespace[f"_d{i}"] = decode
                self.statements.append(f"_v{i} = _d{i}(_r{i})")
            self.values[i] = f"_v{i}"


class _Codec(Protocol):
    """The fast codec of one message class."""

    def encode(self, message: Message) -> bytes: ...

    def decode(self, payload: bytes) -> Message:
        """The message; ValueError (any text) if the payload is not valid."""
        ...


class _FixedCodec:
    """A class whose fields are all fixed-size: the payload is one struct."""

    def __init__(self, cls: type[Record], codes: Sequence[str]) -> None:
        self.run = run = _Run(wire_fields(cls), codes)
        self.size = run.size
        self.build = _Builder(cls)
        namespace = dict(run.namespace)
        namespace.update(_unpack=run.struct.unpack, ValueError=ValueError, len=len)
        body = [f" {line}" for line in run.statements]
        body += self.build.lines(run.values, namespace)
        body.append(" return _rec")
        unpacked = f" ({', '.join(run.raw)},) = " if run.raw else " "
        self.from_raw: Callable[[tuple[Any, ...]], Any] = _compile(
            "from_raw", ["def from_raw(_raw):", unpacked + "_raw", *body], dict(namespace)
        )
        """The record of a tuple of unpacked wire values."""
        check = [
            f" if len(_payload) != {self.size}:",
            f'  raise ValueError(f"{{len(_payload)}} bytes, the payload is {self.size}")',
        ]
        unpack = [unpacked + "_unpack(_payload)"] if run.raw else []
        self.decode: Callable[[bytes], Any] = _compile(
            "decode", ["def decode(_payload):", *check, *unpack, *body], namespace
        )
        """The record of a whole payload (ValueError if it is not one)."""
        self.encode: Callable[[Any], bytes] = run.pack

    def read_at(self, payload: bytes, offset: int) -> tuple[Any, int]:
        """The record at ``offset`` and the offset after it."""
        end = offset + self.size
        if end > len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        return self.from_raw(self.run.struct.unpack_from(payload, offset)), end

    def decode_from(self, records: bytes) -> tuple[Any, ...]:
        """Every record packed back to back in ``records`` (a multiple of ``size``)."""
        return tuple(map(self.from_raw, self.run.struct.iter_unpack(records)))


class _Part(Protocol):
    """A piece of a variable-size payload: some of its fields, in order."""

    def write(self, message: Any, out: list[bytes]) -> None:
        """Append the bytes of this part's fields of ``message`` to ``out``."""

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        """Append this part's field values read at ``offset``; return the offset
        after them. ValueError if the payload is short or a value invalid."""
        ...


class _RunPart:
    """A run of fixed-size fields inside a variable-size payload (the
    :class:`_PartsCodec` writes its code inline)."""

    def __init__(self, fields: Sequence[WireField], codes: Sequence[str]) -> None:
        self.run = _Run(fields, codes)


class _TextPart:
    """:class:`Text`: a u8 length and UTF-8, or UTF-8 to the end (greedy)."""

    def __init__(self, spec: WireField, wire: Text) -> None:
        self.name = spec.name
        self.wire = wire

    def write(self, message: Any, out: list[bytes]) -> None:
        data = getattr(message, self.name).encode("utf-8")
        if not self.wire.greedy:
            out.append(bytes((len(data),)))  # coerce keeps it under 256
        out.append(data)

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        if self.wire.greedy:
            start, end = offset, len(payload)
        else:
            if offset >= len(payload):
                raise ValueError(f"short: {len(payload)} bytes")
            start = offset + 1
            end = start + payload[offset]
            if end > len(payload):
                raise ValueError(f"short: {len(payload)} bytes")
        # A UnicodeDecodeError and coerce's InvalidMessage are both ValueErrors.
        values.append(self.wire.coerce(self.name, payload[start:end].decode("utf-8")))
        return end


class _RecordPart:
    """:class:`RecordWire`: a nested record laid out by its own fast codec."""

    def __init__(self, spec: WireField, codec: _FixedCodec | _PartsCodec) -> None:
        self.name = spec.name
        self.codec = codec

    def write(self, message: Any, out: list[bytes]) -> None:
        out.append(self.codec.encode(getattr(message, self.name)))

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        record, end = self.codec.read_at(payload, offset)
        values.append(record)  # RecordWire.coerce accepts every record of its class
        return end


class _WirePart:
    """A variable-size wire type with its own fast codec (:class:`~protocol.wire.FastWire`)."""

    def __init__(self, spec: WireField, wire: FastWire) -> None:
        self.name = spec.name
        self.wire = wire

    def write(self, message: Any, out: list[bytes]) -> None:
        out.append(self.wire.pack(getattr(message, self.name)))

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        value, end = self.wire.unpack_from(payload, offset)
        values.append(self.wire.coerce(self.name, value))
        return end


class _RecordArrayPart:
    """:class:`ArrayOf` fixed-size records: a u8 count, then the records."""

    def __init__(self, spec: WireField, wire: ArrayOf, element: _FixedCodec) -> None:
        self.name = spec.name
        self.wire = wire
        self.element = element

    def write(self, message: Any, out: list[bytes]) -> None:
        items = getattr(message, self.name)
        out.append(bytes((len(items),)))  # coerce keeps it under 256
        out.extend(map(self.element.encode, items))

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        if offset >= len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        count = payload[offset]
        start = offset + 1
        end = start + count * self.element.size
        if end > len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        wire = self.wire
        if not wire.min_count <= count <= wire.max_count:  # the count bounds of coerce
            raise ValueError(f"{self.name} must hold {wire.min_count}..{wire.max_count} items")
        # Each item is a record of the element's class, which its coerce returns as it is.
        values.append(self.element.decode_from(payload[start:end]) if count else ())
        return end


class _IntArrayPart:
    """:class:`ArrayOf` plain integers: a u8 count, then the integers (one struct code)."""

    def __init__(self, spec: WireField, wire: ArrayOf, code: str) -> None:
        self.name = spec.name
        self.wire = wire
        self.code = code
        self.size = struct.calcsize(">" + code)

    def write(self, message: Any, out: list[bytes]) -> None:
        items = getattr(message, self.name)
        out.append(bytes((len(items),)))  # coerce keeps it under 256
        out.append(struct.pack(f">{len(items)}{self.code}", *items))

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        if offset >= len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        count = payload[offset]
        start = offset + 1
        end = start + count * self.size
        if end > len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        items = struct.unpack(f">{count}{self.code}", payload[start:end])
        values.append(self.wire.coerce(self.name, items))  # the count and value bounds
        return end


class _PartsCodec:
    """A variable-size class: its payload is a sequence of parts.

    Its :meth:`encode` and :meth:`read_at` are compiled once per class from the parts (the
    runs of fixed-size fields unpacked and converted inline, the other parts called), so a
    message costs no loop over its parts or list of its values."""

    def __init__(self, cls: type[Record], parts: Sequence[_Part | _RunPart]) -> None:
        self.parts = tuple(parts)
        self.build = _Builder(cls)
        namespace: dict[str, Any] = {"ValueError": ValueError, "len": len}
        encode = ["def encode(_m):", " _out = []"]
        read = ["def read_at(_payload, _offset):"]
        values: list[str] = []
        for index, part in enumerate(self.parts):
            if isinstance(part, _RunPart):
                run = part.run
                namespace[f"_pack{index}"] = run.pack
                namespace[f"_unpack{index}"] = run.struct.unpack_from
                encode.append(f" _out.append(_pack{index}(_m))")
                raw = [f"_p{index}{name}" for name in run.raw]
                read += [
                    f" _end = _offset + {run.size}",
                    " if _end > len(_payload):",
                    '  raise ValueError(f"short: {len(_payload)} bytes")',
                ]
                if raw:
                    read.append(f" ({', '.join(raw)},) = _unpack{index}(_payload, _offset)")
                read.append(" _offset = _end")
                prefix = f"_p{index}"
                for line in run.statements:  # the run's names, made this part's own
                    read.append(" " + _renamed(line, prefix))
                for name, decode in run.namespace.items():
                    namespace[prefix + name] = decode
                values += [_renamed(value, prefix) for value in run.values]
            else:
                namespace[f"_write{index}"] = part.write
                namespace[f"_read{index}"] = part.read
                general = [
                    f" _got{index} = []",
                    f" _offset = _read{index}(_payload, _offset, _got{index})",
                    f" (_x{index},) = _got{index}",
                ]
                if isinstance(part, _RecordArrayPart) and part.wire.min_count == 0:
                    # The usual empty array (a STATUS without recent doses): its count byte
                    # 0, and the empty tuple its read gives, written out.
                    name = part.name
                    encode += [
                        f" if _m.{name}:",
                        f"  _write{index}(_m, _out)",
                        " else:",
                        '  _out.append(b"\\x00")',
                    ]
                    read += [
                        " if _offset < len(_payload) and not _payload[_offset]:",
                        f"  _x{index} = ()",
                        "  _offset += 1",
                        " else:",
                        *[" " + line for line in general],
                    ]
                else:
                    encode.append(f" _write{index}(_m, _out)")
                    read += general
                values.append(f"_x{index}")
        encode.append(' return b"".join(_out)')
        read += self.build.lines(values, namespace)
        self.encode: Callable[[Any], bytes] = _compile("encode", encode, dict(namespace))
        self.read_at: Callable[[bytes, int], tuple[Any, int]] = _compile(
            "read_at", [*read, " return _rec, _offset"], dict(namespace)
        )
        """The record at an offset of a payload, and the offset after it."""
        whole = [
            "def decode(_payload):",
            " _offset = 0",
            *read[1:],
            " if _offset != len(_payload):",
            '  raise ValueError(f"{len(_payload) - _offset} trailing bytes")',
            " return _rec",
        ]
        self.decode: Callable[[bytes], Any] = _compile("decode", whole, namespace)
        """The record of a whole payload (ValueError if it is not one)."""


def _renamed(code: str, prefix: str) -> str:
    """``code`` (a run's generated expression or statement) with its names ``_r``, ``_v``
    and ``_d`` given ``prefix``, so the runs of one payload do not share names."""
    return re.sub(r"\b(_[rvd]\d+)\b", lambda m: prefix + m[1], code)


def _fixed_codes(record: type[Record]) -> list[str] | None:
    codes = [_struct_code(spec.wire) for spec in wire_fields(record)]
    return None if None in codes else typing.cast(list[str], codes)


def _fast_codec(cls: type[Record]) -> _FixedCodec | _PartsCodec | None:
    """The fast codec of ``cls``, or None where only construct will do."""
    codes = _fixed_codes(cls)
    if codes is not None:
        return _FixedCodec(cls, codes)
    fields = wire_fields(cls)
    parts: list[_Part | _RunPart] = []
    run: list[tuple[WireField, str]] = []
    for index, spec in enumerate(fields):
        code = _struct_code(spec.wire)
        if code is not None:
            run.append((spec, code))
            continue
        if run:
            parts.append(_RunPart([f for f, _ in run], [c for _, c in run]))
            run = []
        wire = spec.wire
        if type(wire) is Text and (not wire.greedy or index == len(fields) - 1):
            parts.append(_TextPart(spec, wire))
        elif (
            type(wire) is ArrayOf
            and type(wire.element) is RecordWire
            and (element_codes := _fixed_codes(wire.element.record)) is not None
        ):
            element = _FixedCodec(wire.element.record, element_codes)
            parts.append(_RecordArrayPart(spec, wire, element))
        elif (
            type(wire) is ArrayOf
            and type(wire.element) is UInt
            and (element_code := _struct_code(wire.element)) is not None
        ):
            parts.append(_IntArrayPart(spec, wire, element_code))
        elif type(wire) is RecordWire and (nested := _fast_codec(wire.record)) is not None:
            parts.append(_RecordPart(spec, nested))
        elif isinstance(wire, FastWire):
            parts.append(_WirePart(spec, wire))
        else:
            return None
    if run:
        parts.append(_RunPart([f for f, _ in run], [c for _, c in run]))
    return _PartsCodec(cls, parts)


_CODECS: Final[dict[type[Record], _Codec | None]] = {}
"""Each class's fast codec (None: construct only), built the first time the class is
encoded or decoded, so importing the catalogue builds none."""


def _codec(cls: type[Record]) -> _Codec | None:
    try:
        return _CODECS[cls]
    except KeyError:
        codec = _CODECS[cls] = _fast_codec(cls)
        return codec


def has_fast_codec(cls: type[Record]) -> bool:
    """Whether :func:`encode_payload` and the decoders take the fast path for ``cls``
    (every message)."""
    return _codec(cls) is not None


# --- encoding and decoding --------------------------------------------------


def encode_payload(message: Message) -> bytes:
    """The payload bytes of ``message`` (identical to :func:`schema_encode_payload`).

    Raises:
        InvalidMessage: the encoding would exceed MAX_PAYLOAD.
    """
    cls = type(message)
    codec = _CODECS.get(cls) or _codec(cls)
    data = schema_encode_payload(message) if codec is None else codec.encode(message)
    if len(data) > MAX_PAYLOAD:
        raise InvalidMessage(f"{type(message).__name__} is {len(data)} bytes, over {MAX_PAYLOAD}")
    return data


def schema_encode_payload(message: Message) -> bytes:
    """The payload bytes of ``message`` built by its construct schema (the reference)."""
    data: bytes = payload_schema(type(message)).build(_to_container(message))
    return data


def schema_decode_payload(cls: type[Message], payload: bytes) -> Message:
    """A ``cls`` parsed from ``payload`` by its construct schema (the reference).

    Raises:
        MalformedPayload: as for :func:`decode_request`.
    """
    from construct import ConstructError  # noqa: PLC0415 - the reference path only

    stream = io.BytesIO(payload)
    try:
        raw = payload_schema(cls).parse_stream(stream)
        if stream.tell() != len(payload):
            raise MalformedPayload(f"{cls.__name__}: {len(payload) - stream.tell()} trailing bytes")
        return _from_container(cls, raw)
    except (ConstructError, ValueError) as error:
        # ValueError covers bad enum values, bad UTF-8 and InvalidMessage.
        if isinstance(error, MalformedPayload):
            raise
        raise MalformedPayload(f"{cls.__name__}: {error}") from None


def decode_payload(cls: type[Message], payload: bytes) -> Message:
    """A ``cls`` from its payload bytes (identical to :func:`schema_decode_payload`).

    Raises:
        MalformedPayload: short data, trailing bytes, a value outside its enum or range,
            bad UTF-8.
    """
    codec = _CODECS.get(cls) or _codec(cls)
    if codec is None:
        return schema_decode_payload(cls, payload)
    if type(payload) is not bytes:
        payload = bytes(payload)
    try:
        return codec.decode(payload)
    except ValueError as fault:
        # A peer's fault, so rare: let the schema path name it in its own words
        # (it rejects exactly what the fast path rejects; the tests prove it).
        schema_decode_payload(cls, payload)
        raise MalformedPayload(f"{cls.__name__}: {fault}") from None
