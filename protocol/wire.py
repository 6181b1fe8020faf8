"""The wire type system: what a message field is on the wire, and records built of them.

Every field of a :class:`Record` declares its wire type (``u32()``-like :class:`UInt`,
:class:`EnumWire`, :class:`TimeOrNone` ...), its unit (a :class:`~protocol.units.Unit`:
nL, ng/day, a pump-clock date ...) and its description in its ``Annotated`` metadata;
:func:`wire_fields` reads them back. The construct ``Struct`` of each payload is assembled
from those declarations in field order (:func:`payload_schema`), the first time it is
asked for: construct is imported by the reference path and the documentation only, never
by the fast codec (:mod:`protocol.payload`). construct ``Container`` objects never leave
this module and :mod:`protocol.payload`.

Wire integers are big-endian. Times are the pump's clock in Unix seconds (u64); a
forecast time of 0 on the wire means "none" and is ``None`` here.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import operator
import reprlib
import typing
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias, TypeVar, dataclass_transform

from protocol.enums import AlarmCode, Op
from protocol.errors import InvalidMessage
from protocol.frozen import dataclass_init, document, frozen, process_fields
from protocol.units import Unit

if TYPE_CHECKING:
    from construct import Construct

_R = TypeVar("_R", bound="Record")
_T = TypeVar("_T")


# --- wire types: a construct subcon plus the conversion at the module edge ---


class Wire(abc.ABC):
    """The wire type of one field: its construct subcon, its validation and
    its conversion between the dataclass value and construct's value."""

    doc_type: str
    struct_code: str | None = None
    """The big-endian ``struct`` code of a fixed-size field (what its subcon packs; a test
    checks they agree), None where the size varies."""
    _built: Construct | None = None

    @property
    def subcon(self) -> Construct:
        """The construct subcon, built (and construct imported) the first time it is
        asked for."""
        built = self._built
        if built is None:
            built = self._built = self._build_subcon()
        return built

    @abc.abstractmethod
    def _build_subcon(self) -> Construct:
        """The construct subcon of this wire type."""

    implied_unit: ClassVar[Unit | None] = None
    """The unit every field of this wire type has (None: a number, which declares its own)."""

    @abc.abstractmethod
    def coerce(self, name: str, value: Any) -> Any:
        """Validate ``value`` for field ``name``; return it (normalized).

        Raises InvalidMessage."""

    def to_wire(self, value: Any) -> Any:
        """The value construct builds from."""
        return value

    def from_wire(self, raw: Any) -> Any:
        """The dataclass value for construct's parsed ``raw`` (ValueError if off)."""
        return raw


def _int_subcon(bits: int) -> Construct:
    """construct's unsigned big-endian integer of ``bits`` bits."""
    import construct  # noqa: PLC0415 - the reference path only

    subcons = {8: construct.Int8ub, 16: construct.Int16ub, 32: construct.Int32ub}
    subcons[64] = construct.Int64ub
    return subcons[bits]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FastWire(Wire):
    """A variable-size wire type with a fast codec of its own beside its construct subcon
    (the payload codec uses it; the tests prove the two equal)."""

    @abc.abstractmethod
    def pack(self, value: Any) -> bytes:
        """The wire bytes of ``value``."""

    @abc.abstractmethod
    def unpack_from(self, data: bytes, offset: int) -> tuple[Any, int]:
        """The value read at ``offset`` and the offset after it; ValueError where the
        subcon's reading would fail."""


class UInt(Wire):
    """Unsigned big-endian integer of 8, 16, 32 or 64 bits."""

    _CODES: ClassVar[dict[int, str]] = {8: "B", 16: "H", 32: "L", 64: "Q"}

    def __init__(
        self,
        bits: int,
        *,
        minimum: int = 0,
        maximum: int | None = None,
        choices: Iterable[int] = (),
    ) -> None:
        self.bits = bits
        self.struct_code = self._CODES[bits]
        self.minimum = minimum
        self.maximum = (1 << bits) - 1 if maximum is None else maximum
        self.choices = tuple(choices)
        if self.choices:
            self.doc_type = f"u{bits} (" + " or ".join(map(str, self.choices)) + ")"
        elif minimum != 0 or self.maximum != (1 << bits) - 1:
            self.doc_type = f"u{bits} ({minimum}..{self.maximum})"
        else:
            self.doc_type = f"u{bits}"

    def _build_subcon(self) -> Construct:
        return _int_subcon(self.bits)

    @property
    def full_range(self) -> bool:
        """Every value of the wire integer is valid (no minimum, maximum or choices)."""
        return not self.choices and self.minimum == 0 and self.maximum == (1 << self.bits) - 1

    def coerce(self, name: str, value: Any) -> Any:
        # The common case first: an exact int in range is returned as it is.
        if (
            type(value) is int
            and self.minimum <= value <= self.maximum
            and (not self.choices or value in self.choices)
        ):
            return value
        if not _is_int(value):
            raise InvalidMessage(f"{name} must be an int, got {value!r}")
        if self.choices and value not in self.choices:
            raise InvalidMessage(f"{name} must be one of {self.choices}, got {value}")
        if not self.minimum <= value <= self.maximum:
            raise InvalidMessage(f"{name} must be in {self.minimum}..{self.maximum}, got {value}")
        return int(value)


class SInt32(Wire):
    """Signed big-endian 32-bit integer (two's complement)."""

    struct_code = "l"
    doc_type = "i32"

    def _build_subcon(self) -> Construct:
        from construct import Int32sb  # noqa: PLC0415 - the reference path only

        return Int32sb

    def coerce(self, name: str, value: Any) -> Any:
        if type(value) is int and -(1 << 31) <= value < (1 << 31):
            return value
        if not _is_int(value) or not -(1 << 31) <= value < (1 << 31):
            raise InvalidMessage(f"{name} must be an int in the i32 range, got {value!r}")
        return int(value)


class Bool8(Wire):
    """A u8 that is 0 (false) or 1 (true); any other byte is malformed."""

    implied_unit = Unit.BOOL

    struct_code = "B"
    doc_type = "u8 bool"

    def _build_subcon(self) -> Construct:
        return _int_subcon(8)

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, bool):
            raise InvalidMessage(f"{name} must be a bool, got {value!r}")
        return value

    def to_wire(self, value: Any) -> Any:
        return int(value)

    def from_wire(self, raw: Any) -> Any:
        if raw not in (0, 1):
            raise ValueError(f"a boolean byte must be 0 or 1, got {raw}")
        return raw == 1


class EnumWire(Wire):
    """An IntEnum member carried as an unsigned integer; other values are malformed."""

    implied_unit = Unit.ENUM

    def __init__(self, enum: type[IntEnum], *, bits: int = 8, allowed: Iterable[IntEnum] = ()):
        self.enum = enum
        self.bits = bits
        self.struct_code = UInt._CODES[bits]
        self.allowed = frozenset(allowed)
        names = ", ".join(member.name for member in enum if member in self.allowed)
        self.doc_type = f"u{bits} {enum.__name__}" + (f" ({names})" if names else "")

    def _build_subcon(self) -> Construct:
        return _int_subcon(self.bits)

    def coerce(self, name: str, value: Any) -> Any:
        # A member of the enum is returned as it is (calling the enum costs ~0.5 us).
        if type(value) is self.enum and (not self.allowed or value in self.allowed):
            return value
        try:
            member = self.enum(value)
        except ValueError:
            raise InvalidMessage(f"{name} must be a {self.enum.__name__}, got {value!r}") from None
        if isinstance(value, bool) or (self.allowed and member not in self.allowed):
            raise InvalidMessage(f"{name} may not be {member!r}")
        return member

    def to_wire(self, value: Any) -> Any:
        return int(value)

    def from_wire(self, raw: Any) -> Any:
        return self.enum(raw)


class TimeOrNone(Wire):
    """A u64 pump time in Unix seconds where 0 means "none" (``None``)."""

    struct_code = "Q"
    doc_type = "u64 (0 = none)"

    def _build_subcon(self) -> Construct:
        return _int_subcon(64)

    def coerce(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if type(value) is int and 0 < value < (1 << 64):
            return value
        if not _is_int(value) or not 0 < value < (1 << 64):
            raise InvalidMessage(f"{name} must be None or an int in 1..2^64-1, got {value!r}")
        return int(value)

    def to_wire(self, value: Any) -> Any:
        return 0 if value is None else value

    def from_wire(self, raw: Any) -> Any:
        return None if raw == 0 else raw


class AlarmMask(Wire):
    """A u16 whose bit n is set when alarm code n is in the set."""

    implied_unit = Unit.ALARMS

    struct_code = "H"
    doc_type = "u16 AlarmCode bits"

    def _build_subcon(self) -> Construct:
        return _int_subcon(16)

    # Every valid set seen so far, normalized (members are AlarmCode): at most
    # 2 ** len(AlarmCode) entries. A frozenset equal to one of them (its members
    # equal and hash as the codes' ints) normalizes to it without a rebuild.
    _normalized: ClassVar[dict[frozenset[Any], frozenset[AlarmCode]]] = {}

    def coerce(self, name: str, value: Any) -> Any:
        if type(value) is frozenset:
            known = self._normalized.get(value)
            if known is not None:
                return known
        if not isinstance(value, (set, frozenset, tuple, list)):
            raise InvalidMessage(f"{name} must be a set of AlarmCode, got {value!r}")
        try:
            codes = frozenset(AlarmCode(code) for code in value)
        except ValueError:
            raise InvalidMessage(f"{name} holds a value that is not an AlarmCode") from None
        return self._normalized.setdefault(codes, codes)

    def to_wire(self, value: Any) -> Any:
        return sum(1 << code for code in value)

    def from_wire(self, raw: Any) -> Any:
        codes = frozenset(code for code in AlarmCode if raw & (1 << code))
        if sum(1 << code for code in codes) != raw:
            raise ValueError(f"alarm mask 0x{raw:04X} has bits that name no alarm")
        return codes


class RawBytes(Wire):
    """A fixed number of opaque bytes."""

    implied_unit = Unit.BYTES

    def __init__(self, size: int) -> None:
        self.size = size
        self.struct_code = f"{size}s"
        self.doc_type = f"bytes[{size}]"

    def _build_subcon(self) -> Construct:
        from construct import Bytes  # noqa: PLC0415 - the reference path only

        return Bytes(self.size)

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, bytes) or len(value) != self.size:
            raise InvalidMessage(f"{name} must be {self.size} bytes, got {value!r}")
        return value

    def from_wire(self, raw: Any) -> Any:
        return bytes(raw)


class Text(Wire):
    """UTF-8 text, either length-prefixed (u8) or running to the end of the payload."""

    implied_unit = Unit.TEXT

    def __init__(self, *, max_bytes: int, greedy: bool = False) -> None:
        self.max_bytes = max_bytes
        self.greedy = greedy
        self.doc_type = (
            f"utf8 to end (<= {max_bytes} bytes)"
            if greedy
            else f"u8 length + utf8 (<= {max_bytes})"
        )

    def _build_subcon(self) -> Construct:
        from construct import GreedyString, Int8ub, PascalString  # noqa: PLC0415

        return GreedyString("utf8") if self.greedy else PascalString(Int8ub, "utf8")

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise InvalidMessage(f"{name} must be a str, got {value!r}")
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidMessage(f"{name} is not encodable as UTF-8") from None
        if size > self.max_bytes:
            raise InvalidMessage(f"{name} is {size} UTF-8 bytes, at most {self.max_bytes}")
        return value


class ArrayOf(Wire):
    """A u8 count, then that many elements."""

    def __init__(self, element: Wire, *, max_count: int, min_count: int = 0) -> None:
        self.element = element
        self.max_count = max_count
        self.min_count = min_count
        self.doc_type = f"u8 count + {element.doc_type}[count]"

    def _build_subcon(self) -> Construct:
        from construct import Int8ub, PrefixedArray  # noqa: PLC0415 - the reference path only

        return PrefixedArray(Int8ub, self.element.subcon)

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, (tuple, list)):
            raise InvalidMessage(f"{name} must be a tuple, got {value!r}")
        if not self.min_count <= len(value) <= self.max_count:
            raise InvalidMessage(
                f"{name} must hold {self.min_count}..{self.max_count} items, got {len(value)}"
            )
        coerce = self.element.coerce
        try:
            return tuple(map(coerce, itertools.repeat(name), value))
        except InvalidMessage:
            # Coercion is deterministic: run it again with each item's index in its name.
            return tuple(coerce(f"{name}[{i}]", item) for i, item in enumerate(value))

    def to_wire(self, value: Any) -> Any:
        return [self.element.to_wire(item) for item in value]

    def from_wire(self, raw: Any) -> Any:
        return tuple(self.element.from_wire(item) for item in raw)


class RecordWire(Wire):
    """A nested record (a :class:`Record` subclass) laid out field after field."""

    implied_unit = Unit.RECORD

    def __init__(self, record: type[Record]) -> None:
        self.record = record
        self.doc_type = record.__name__

    def _build_subcon(self) -> Construct:
        return payload_schema(self.record)

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, self.record):
            raise InvalidMessage(f"{name} must be a {self.record.__name__}, got {value!r}")
        return value

    def to_wire(self, value: Any) -> Any:
        return _to_container(value)

    def from_wire(self, raw: Any) -> Any:
        return _from_container(self.record, raw)


U8: TypeAlias = Annotated[int, UInt(8)]
U16: TypeAlias = Annotated[int, UInt(16)]
U32: TypeAlias = Annotated[int, UInt(32)]
U64: TypeAlias = Annotated[int, UInt(64)]
I32: TypeAlias = Annotated[int, SInt32()]
Bool: TypeAlias = Annotated[bool, Bool8()]
TimeOrNoneS: TypeAlias = Annotated[int | None, TimeOrNone(), Unit.CLOCK]
AlarmSet: TypeAlias = Annotated[frozenset[AlarmCode], AlarmMask()]


# --- records and messages ---------------------------------------------------


@dataclass_transform(kw_only_default=True, frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """Declare a record class: what ``@dataclass(frozen=True, kw_only=True, eq=False,
    repr=False)`` makes of it (the same fields, ``__init__``, equality, hash, repr, and
    :exc:`dataclasses.FrozenInstanceError` on assignment), at a fraction of the cost.

    A frozen dataclass has ``__init__``, ``__setattr__`` and ``__delattr__`` generated
    from source and compiled for each class, which was most of what importing the
    message catalogue cost (#16). Here the fields are processed as ``dataclass`` processes
    them (:func:`protocol.frozen.process_fields`), :class:`Record` writes ``__setattr__``
    and ``__delattr__`` once, and ``__init__``'s code is shared by shape
    (:func:`protocol.frozen.dataclass_init`). Every field must be an init field (a
    record's fields are on the wire). Immutability is :class:`Record`'s,
    proven equal to a frozen dataclass's by ``tests/protocol/test_record_dunders.py``;
    ``__dataclass_params__`` says frozen, as it did.
    """
    documented = cls.__dict__.get("__doc__") is not None
    processed = process_fields(cls, kw_only=True, document=documented)
    for f in dataclasses.fields(processed):  # type: ignore[arg-type]
        if not f.init:  # a record's fields are on the wire: each one is given
            raise TypeError(f"{cls.__name__}.{f.name}: every field must be an init field")
    params = processed.__dataclass_params__  # type: ignore[attr-defined]
    params.init = params.frozen = True
    processed.__init__ = dataclass_init(processed)  # type: ignore[method-assign]
    if not documented:
        document(processed)
    return processed


@record
class Record:
    """A frozen dataclass whose fields all declare their wire type.

    ``__post_init__`` validates (and normalizes, e.g. int -> enum member)
    every field through its wire type, then runs :meth:`_check` for rules
    that involve several fields.

    ``==``, ``hash`` and ``repr`` are a dataclass's (the same fields, the same results),
    written once here: a subclass declared ``@dataclass(frozen=True, kw_only=True,
    eq=False, repr=False)`` inherits them instead of having three more functions
    generated (and compiled) when it is defined, which is most of what importing the
    message catalogue costs (#16). One declared with the defaults works alike.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        cls = self.__class__
        if other.__class__ is cls:
            compared = _COMPARED.get(cls) or _compared(cls)
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self) -> int:
        cls = self.__class__
        return hash((_HASHED.get(cls) or _hashed(cls))(self))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        names = _shown(type(self))
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    def __post_init__(self) -> None:
        cls = type(self)
        coercers = _COERCERS.get(cls)
        if coercers is None:
            coercers = _COERCERS[cls] = tuple(
                (spec.name, spec.wire.coerce) for spec in wire_fields(cls)
            )
        for name, coerce in coercers:
            value = getattr(self, name)
            normalized = coerce(name, value)
            if normalized is not value:
                object.__setattr__(self, name, normalized)
        self._check()

    def _check(self) -> None:
        """Rules across fields; raise InvalidMessage."""


@record
class Message(Record):
    """A request or response payload. ``op`` is its opcode; ``response`` tells
    the direction (responses travel pump to programmer with FLAGS RESPONSE)."""

    op: ClassVar[Op]
    response: ClassVar[bool]


@frozen(kw_only=False)
class WireField:
    """One field of a record: its name, wire type, description and unit (None only
    where a number forgot to declare one: a test finds those)."""

    name: str
    wire: Wire
    doc: str
    unit: Unit | None = None


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function of a record returning the tuple of its ``names`` fields."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda record: (get_one(record),)
    return lambda record: ()


_COMPARED: dict[type[Record], Callable[[Any], tuple[Any, ...]]] = {}
_HASHED: dict[type[Record], Callable[[Any], tuple[Any, ...]]] = {}
_SHOWN: dict[type[Record], tuple[str, ...]] = {}


def _compared(cls: type[Record]) -> Callable[[Any], tuple[Any, ...]]:
    """What a dataclass's ``__eq__`` compares: the fields with ``compare``."""
    found = _COMPARED.get(cls)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.compare)
        found = _COMPARED[cls] = _tuple_of(names)
    return found


def _hashed(cls: type[Record]) -> Callable[[Any], tuple[Any, ...]]:
    """What a dataclass's ``__hash__`` hashes: ``hash``, or ``compare`` where it is None."""
    found = _HASHED.get(cls)
    if found is None:
        names = tuple(
            f.name for f in dataclasses.fields(cls) if (f.compare if f.hash is None else f.hash)
        )
        found = _HASHED[cls] = _tuple_of(names)
    return found


def _shown(cls: type[Record]) -> tuple[str, ...]:
    """What a dataclass's ``__repr__`` shows: the fields with ``repr``."""
    found = _SHOWN.get(cls)
    if found is None:
        found = _SHOWN[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.repr)
    return found


_FIELDS: dict[type[Record], tuple[WireField, ...]] = {}
_SCHEMAS: dict[type[Record], Construct] = {}
# Per class, (name, wire.coerce) of each field: what __post_init__ runs, looked up once.
_COERCERS: dict[type[Record], tuple[tuple[str, Callable[[str, Any], Any]], ...]] = {}


def wire_fields(record: type[Record]) -> tuple[WireField, ...]:
    """The fields of ``record`` in wire order, with the wire type each declares
    (the :class:`Wire` in its ``Annotated`` type; a ``str`` there is its description, a
    :class:`~protocol.units.Unit` its unit, else the unit its wire type implies)."""
    found = _FIELDS.get(record)
    if found is None:
        hints = typing.get_type_hints(record, include_extras=True)
        specs = []
        for f in dataclasses.fields(record):
            extras = getattr(hints[f.name], "__metadata__", ())
            wires = [extra for extra in extras if isinstance(extra, Wire)]
            if len(wires) != 1:
                raise TypeError(f"{record.__name__}.{f.name} must declare one wire type")
            doc = " ".join(extra for extra in extras if isinstance(extra, str))
            units = [extra for extra in extras if isinstance(extra, Unit)]
            if len(units) > 1:
                raise TypeError(f"{record.__name__}.{f.name} declares {len(units)} units")
            unit = units[0] if units else implied_unit(wires[0])
            specs.append(WireField(name=f.name, wire=wires[0], doc=doc, unit=unit))
        found = _FIELDS[record] = tuple(specs)
    return found


def implied_unit(wire: Wire) -> Unit | None:
    """The unit ``wire``'s type implies (an array's is its element's), or None for a number."""
    if isinstance(wire, ArrayOf):
        return implied_unit(wire.element)
    return wire.implied_unit


def payload_schema(record: type[Record]) -> Construct:
    """The construct ``Struct`` of ``record``'s payload, one subcon per field."""
    schema = _SCHEMAS.get(record)
    if schema is None:
        from construct import Struct  # noqa: PLC0415 - the reference path only

        fields = wire_fields(record)
        schema = _SCHEMAS[record] = Struct(*(spec.name / spec.wire.subcon for spec in fields))
    return schema


def _to_container(record: Record) -> Any:
    return {
        spec.name: spec.wire.to_wire(getattr(record, spec.name))
        for spec in wire_fields(type(record))
    }


def _from_container(record: type[_R], raw: Any) -> _R:
    values = {spec.name: spec.wire.from_wire(raw[spec.name]) for spec in wire_fields(record)}
    return record(**values)
