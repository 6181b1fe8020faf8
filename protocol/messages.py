"""One typed message per command and per response, and their payload schemas.

Every message is a frozen, keyword-only dataclass validated on construction
(the ranges of its wire types, plus the few structural rules named on the
class), so an invalid command cannot be built. Each field declares its wire
type (``u32()``, ``enum(Mode)``, ``time_or_none()`` ...); the construct
``Struct`` of each payload is assembled from those declarations in field
order, and :func:`payload_schema` returns it. construct ``Container`` objects
never leave this module: :func:`encode_payload`, :func:`decode_request` and
:func:`decode_response` speak dataclasses only.

The schemas are the source of truth (the documentation and the golden vectors
are checked against them), but construct's generic build/parse costs 50-100 us
a message. So the encode and decode functions run a fast codec derived per
class from the same field declarations (see "the fast path" below), which the
tests prove byte- and value-identical to the schema path;
:func:`schema_encode_payload` and :func:`schema_decode_payload` are that
reference path.

Wire integers are big-endian. Times are the pump's clock in Unix seconds
(u64); a forecast time of 0 on the wire means "none" and is ``None`` here.
Units are in the field names: ``_nl`` nanolitres, ``_s`` seconds, ``_min``
minutes after midnight, ``_ug_per_ml`` micrograms per millilitre,
``_nl_per_day`` nanolitres per day, ``_permille`` thousandths.
"""

from __future__ import annotations

import abc
import dataclasses
import io
import itertools
import operator
import struct
import typing
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, ClassVar, Final, Protocol, TypeAlias, TypeVar

from construct import (
    Bytes,
    Construct,
    ConstructError,
    FormatField,
    GreedyString,
    Int8ub,
    Int16ub,
    Int32sb,
    Int32ub,
    Int64ub,
    PascalString,
    Pass,
    PrefixedArray,
    Struct,
    Switch,
    this,
)

from protocol.enums import (
    ALARM_CLASS,
    MAX_PAYLOAD,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Mode,
    Op,
    Origin,
    Role,
    StopReason,
    ValveModel,
)
from protocol.errors import InvalidMessage, MalformedPayload, UnknownOpcodeError

NONCE_SIZE: Final = 16
"""Bytes of each handshake nonce."""
PROOF_SIZE: Final = 32
"""Bytes of each handshake proof (a full HMAC-SHA256)."""
MAX_STRING_BYTES: Final = 16
"""Longest serial number or firmware version, in UTF-8 bytes."""
MAX_NAK_REASON_BYTES: Final = 200
"""Longest NAK reason, in UTF-8 bytes."""
MAX_FLEX_STEPS: Final = 13
"""Most steps in one daily flex profile."""
MINUTES_PER_DAY: Final = 1440
MAX_EVENT_LOG_READ: Final = 32
"""Most event-log entries one READ_EVENT_LOG may ask for (and return)."""
DEVICE_MODELS: Final = (20, 40)
"""Reservoir sizes in mL that name the pump models."""
BOLUS_KINDS_STARTABLE: Final = frozenset({BolusKind.THERAPEUTIC, BolusKind.PRIMING})
"""Bolus kinds START_BOLUS accepts (patient doses go through PATIENT_DOSE; the bridge is
part of a refill transaction, STAGE_REFILL)."""
_STOP_REASONS: Final = frozenset(r for r in StopReason if r is not StopReason.NONE)
MAX_TEXT_BYTES: Final = 32
"""Longest patient identifier, physician or catheter model, in UTF-8 bytes."""
MAX_LOT_BYTES: Final = 16
"""Longest drug lot number, in UTF-8 bytes."""
MAX_RECENT_DOSES: Final = 48
"""Most patient-dose grant times one STATUS lists (the trailing 24 h)."""

_R = TypeVar("_R", bound="Record")


# --- wire types: a construct subcon plus the conversion at the module edge ---


class Wire(abc.ABC):
    """The wire type of one field: its construct subcon, its validation and
    its conversion between the dataclass value and construct's value."""

    subcon: Construct
    doc_type: str

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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class UInt(Wire):
    """Unsigned big-endian integer of 8, 16, 32 or 64 bits."""

    _SUBCONS: ClassVar[dict[int, Construct]] = {8: Int8ub, 16: Int16ub, 32: Int32ub, 64: Int64ub}

    def __init__(
        self,
        bits: int,
        *,
        minimum: int = 0,
        maximum: int | None = None,
        choices: Iterable[int] = (),
    ) -> None:
        self.bits = bits
        self.subcon = self._SUBCONS[bits]
        self.minimum = minimum
        self.maximum = (1 << bits) - 1 if maximum is None else maximum
        self.choices = tuple(choices)
        if self.choices:
            self.doc_type = f"u{bits} (" + " or ".join(map(str, self.choices)) + ")"
        elif minimum != 0 or self.maximum != (1 << bits) - 1:
            self.doc_type = f"u{bits} ({minimum}..{self.maximum})"
        else:
            self.doc_type = f"u{bits}"

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

    subcon = Int32sb
    doc_type = "i32"

    def coerce(self, name: str, value: Any) -> Any:
        if type(value) is int and -(1 << 31) <= value < (1 << 31):
            return value
        if not _is_int(value) or not -(1 << 31) <= value < (1 << 31):
            raise InvalidMessage(f"{name} must be an int in the i32 range, got {value!r}")
        return int(value)


class Bool8(Wire):
    """A u8 that is 0 (false) or 1 (true); any other byte is malformed."""

    subcon = Int8ub
    doc_type = "u8 bool"

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

    def __init__(self, enum: type[IntEnum], *, bits: int = 8, allowed: Iterable[IntEnum] = ()):
        self.enum = enum
        self.subcon = UInt._SUBCONS[bits]
        self.allowed = frozenset(allowed)
        names = ", ".join(member.name for member in enum if member in self.allowed)
        self.doc_type = f"u{bits} {enum.__name__}" + (f" ({names})" if names else "")

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

    subcon = Int64ub
    doc_type = "u64 (0 = none)"

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

    subcon = Int16ub
    doc_type = "u16 AlarmCode bits"

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

    def __init__(self, size: int) -> None:
        self.size = size
        self.subcon = Bytes(size)
        self.doc_type = f"bytes[{size}]"

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, bytes) or len(value) != self.size:
            raise InvalidMessage(f"{name} must be {self.size} bytes, got {value!r}")
        return value

    def from_wire(self, raw: Any) -> Any:
        return bytes(raw)


class Text(Wire):
    """UTF-8 text, either length-prefixed (u8) or running to the end of the payload."""

    def __init__(self, *, max_bytes: int, greedy: bool = False) -> None:
        self.max_bytes = max_bytes
        self.greedy = greedy
        self.subcon = GreedyString("utf8") if greedy else PascalString(Int8ub, "utf8")
        self.doc_type = (
            f"utf8 to end (<= {max_bytes} bytes)"
            if greedy
            else f"u8 length + utf8 (<= {max_bytes})"
        )

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
        self.subcon = PrefixedArray(Int8ub, element.subcon)
        self.doc_type = f"u8 count + {element.doc_type}[count]"

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

    def __init__(self, record: type[Record]) -> None:
        self.record = record
        self.doc_type = record.__name__

    @property
    def subcon(self) -> Construct:
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
TimeOrNoneS: TypeAlias = Annotated[int | None, TimeOrNone()]
AlarmSet: TypeAlias = Annotated[frozenset[AlarmCode], AlarmMask()]


# --- records and messages ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Record:
    """A frozen dataclass whose fields all declare their wire type.

    ``__post_init__`` validates (and normalizes, e.g. int -> enum member)
    every field through its wire type, then runs :meth:`_check` for rules
    that involve several fields.
    """

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


@dataclass(frozen=True, kw_only=True)
class Message(Record):
    """A request or response payload. ``op`` is its opcode; ``response`` tells
    the direction (responses travel pump to programmer with FLAGS RESPONSE)."""

    op: ClassVar[Op]
    response: ClassVar[bool]


@dataclass(frozen=True)
class WireField:
    """One field of a record: its name, wire type and description."""

    name: str
    wire: Wire
    doc: str


_FIELDS: dict[type[Record], tuple[WireField, ...]] = {}
_SCHEMAS: dict[type[Record], Construct] = {}
# Per class, (name, wire.coerce) of each field: what __post_init__ runs, looked up once.
_COERCERS: dict[type[Record], tuple[tuple[str, Callable[[str, Any], Any]], ...]] = {}


def wire_fields(record: type[Record]) -> tuple[WireField, ...]:
    """The fields of ``record`` in wire order, with the wire type each declares
    (the :class:`Wire` in its ``Annotated`` type; a ``str`` there is its description)."""
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
            specs.append(WireField(name=f.name, wire=wires[0], doc=doc))
        found = _FIELDS[record] = tuple(specs)
    return found


def payload_schema(record: type[Record]) -> Construct:
    """The construct ``Struct`` of ``record``'s payload, one subcon per field."""
    schema = _SCHEMAS.get(record)
    if schema is None:
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


# --- the prescription: a Switch on the mode ---------------------------------


@dataclass(frozen=True, kw_only=True)
class FlexStep(Record):
    """One step of a flex profile: from ``start_min`` (minutes after midnight, pump
    clock) until the next step's start (or midnight), the dose rate ``dose_ng_per_day``."""

    start_min: Annotated[int, UInt(16, maximum=MINUTES_PER_DAY - 1), "minutes after midnight"]
    dose_ng_per_day: Annotated[U32, "dose rate in ng/day (1 mcg/day = 1000)"]


FLEX_STEP: Final = payload_schema(FlexStep)
_MODE: Final = EnumWire(Mode)
_DOSE: Final = UInt(32)
_CONCENTRATION: Final = UInt(32, minimum=1)
_WEEKLY: Final = Bool8()
_PROFILES: Final = ArrayOf(
    ArrayOf(RecordWire(FlexStep), max_count=MAX_FLEX_STEPS, min_count=1), max_count=7
)

PRESCRIPTION: Final = Struct(
    "mode" / Int8ub,
    "concentration_ug_per_ml" / Int32ub,
    "params"
    / Switch(
        this.mode,
        {
            int(Mode.SIMPLE): Struct("dose_ng_per_day" / Int32ub),
            int(Mode.FLEX): Struct(
                "weekly" / Int8ub,
                "profiles" / PrefixedArray(Int8ub, PrefixedArray(Int8ub, FLEX_STEP)),
            ),
        },
        Pass,
    ),
)
"""mode u8 (Mode), concentration_ug_per_ml u32 (the drug the prescription is for:
it must be the drug in the pump), then: SIMPLE dose_ng_per_day u32; FLEX weekly u8
(0: one profile for every day, 1: seven, Monday first) and u8-counted profiles of
u8-counted steps; MINIMUM_RATE and STOPPED nothing."""


@dataclass(frozen=True, kw_only=True)
class PrescriptionSpec:
    """A basal prescription as the wire carries it: a dose of the drug the pump holds.

    Doses are in ng/day (1 mcg/day = 1000 ng/day). ``concentration_ug_per_ml``
    names the drug the doses are of; the pump refuses a prescription for any
    other drug than the one it holds (CONCENTRATION_MISMATCH), so a dose can
    never be silently run at the wrong strength.

    Validation is structural only (clinical limits are the pump's job):
    SIMPLE has a dose and no profiles; FLEX has one profile (``weekly`` False)
    or seven (Monday first), each of 1 to 13 steps whose starts rise strictly
    from 0 (midnight) and stay under 1440; MINIMUM_RATE and STOPPED carry
    nothing. Build one with :meth:`simple`, :meth:`flex`, :meth:`flex_weekly`,
    :meth:`minimum_rate` or :meth:`stopped`.
    """

    mode: Mode
    concentration_ug_per_ml: int
    dose_ng_per_day: int | None = None
    weekly: bool = False
    profiles: tuple[tuple[FlexStep, ...], ...] = ()

    def __post_init__(self) -> None:
        mode = _MODE.coerce("mode", self.mode)
        object.__setattr__(self, "mode", mode)
        _CONCENTRATION.coerce("concentration_ug_per_ml", self.concentration_ug_per_ml)
        if mode is Mode.SIMPLE:
            _DOSE.coerce("dose_ng_per_day", self.dose_ng_per_day)
        elif self.dose_ng_per_day is not None:
            raise InvalidMessage(f"dose_ng_per_day is only for SIMPLE, not {mode.name}")
        _WEEKLY.coerce("weekly", self.weekly)
        profiles = _PROFILES.coerce("profiles", self.profiles)
        object.__setattr__(self, "profiles", profiles)
        if mode is Mode.FLEX:
            wanted = 7 if self.weekly else 1
            if len(profiles) != wanted:
                raise InvalidMessage(f"a FLEX prescription with weekly={self.weekly} has {wanted}")
            for day, profile in enumerate(profiles):
                starts = [step.start_min for step in profile]
                if starts[0] != 0:
                    raise InvalidMessage(f"profile {day} must start at minute 0 (midnight)")
                if any(b <= a for a, b in itertools.pairwise(starts)):
                    raise InvalidMessage(f"profile {day} step starts must rise strictly")
        elif profiles or self.weekly:
            raise InvalidMessage(f"profiles and weekly are only for FLEX, not {mode.name}")

    @classmethod
    def simple(cls, dose_ng_per_day: int, *, concentration_ug_per_ml: int) -> PrescriptionSpec:
        """One dose rate all day."""
        return cls(
            mode=Mode.SIMPLE,
            concentration_ug_per_ml=concentration_ug_per_ml,
            dose_ng_per_day=dose_ng_per_day,
        )

    @classmethod
    def flex(cls, steps: Iterable[FlexStep], *, concentration_ug_per_ml: int) -> PrescriptionSpec:
        """The same daily profile every day."""
        return cls(
            mode=Mode.FLEX,
            concentration_ug_per_ml=concentration_ug_per_ml,
            weekly=False,
            profiles=(tuple(steps),),
        )

    @classmethod
    def flex_weekly(
        cls, profiles: Iterable[Iterable[FlexStep]], *, concentration_ug_per_ml: int
    ) -> PrescriptionSpec:
        """Seven daily profiles, Monday first."""
        days = tuple(tuple(steps) for steps in profiles)
        return cls(
            mode=Mode.FLEX,
            concentration_ug_per_ml=concentration_ug_per_ml,
            weekly=True,
            profiles=days,
        )

    @classmethod
    def minimum_rate(cls, *, concentration_ug_per_ml: int) -> PrescriptionSpec:
        """Keep-open flow only (a volume rate set by the pump model, not a dose)."""
        return cls(mode=Mode.MINIMUM_RATE, concentration_ug_per_ml=concentration_ug_per_ml)

    @classmethod
    def stopped(cls, *, concentration_ug_per_ml: int) -> PrescriptionSpec:
        """No delivery."""
        return cls(mode=Mode.STOPPED, concentration_ug_per_ml=concentration_ug_per_ml)

    def with_concentration(self, concentration_ug_per_ml: int) -> PrescriptionSpec:
        """The same doses, for another drug concentration (a refill's "same dose")."""
        return dataclasses.replace(self, concentration_ug_per_ml=concentration_ug_per_ml)

    def profile_for_weekday(self, weekday: int) -> tuple[FlexStep, ...]:
        """The FLEX steps that apply on ``weekday`` (0 = Monday)."""
        if self.mode is not Mode.FLEX:
            raise InvalidMessage(f"a {self.mode.name} prescription has no profiles")
        if not 0 <= weekday <= 6:
            raise InvalidMessage(f"weekday must be 0..6, got {weekday}")
        return self.profiles[weekday if self.weekly else 0]


def _prescription_to_container(spec: PrescriptionSpec) -> Any:
    params: Any = None
    if spec.mode is Mode.SIMPLE:
        params = {"dose_ng_per_day": spec.dose_ng_per_day}
    elif spec.mode is Mode.FLEX:
        profiles = [[_to_container(step) for step in profile] for profile in spec.profiles]
        params = {"weekly": int(spec.weekly), "profiles": profiles}
    return {
        "mode": int(spec.mode),
        "concentration_ug_per_ml": spec.concentration_ug_per_ml,
        "params": params,
    }


def _prescription_from_container(raw: Any) -> PrescriptionSpec:
    mode = Mode(raw.mode)
    concentration = raw.concentration_ug_per_ml
    if mode is Mode.SIMPLE:
        return PrescriptionSpec.simple(
            raw.params.dose_ng_per_day, concentration_ug_per_ml=concentration
        )
    if mode is Mode.FLEX:
        weekly = Bool8().from_wire(raw.params.weekly)
        profiles = tuple(
            tuple(_from_container(FlexStep, step) for step in profile)
            for profile in raw.params.profiles
        )
        return PrescriptionSpec(
            mode=mode, concentration_ug_per_ml=concentration, weekly=weekly, profiles=profiles
        )
    return PrescriptionSpec(mode=mode, concentration_ug_per_ml=concentration)


class PrescriptionWire(Wire):
    """A :class:`PrescriptionSpec` laid out as :data:`PRESCRIPTION`."""

    subcon = PRESCRIPTION
    doc_type = "Prescription"

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, PrescriptionSpec):
            raise InvalidMessage(f"{name} must be a PrescriptionSpec, got {value!r}")
        return value

    def to_wire(self, value: Any) -> Any:
        return _prescription_to_container(value)

    def from_wire(self, raw: Any) -> Any:
        return _prescription_from_container(raw)


Prescription: TypeAlias = Annotated[PrescriptionSpec, PrescriptionWire()]


def encode_prescription(spec: PrescriptionSpec) -> bytes:
    """The wire bytes of ``spec`` (what :func:`prescription_checksum` covers)."""
    data: bytes = PRESCRIPTION.build(_prescription_to_container(spec))
    return data


def prescription_checksum(spec: PrescriptionSpec) -> int:
    """zlib.crc32 of the prescription's wire bytes: what STAGE returns and COMMIT names."""
    return zlib.crc32(encode_prescription(spec))


# --- nested records of responses --------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AlarmRecord(Record):
    """One alarm in READ_ALARMS. ``alarm_class`` must be the code's class."""

    code: Annotated[AlarmCode, EnumWire(AlarmCode)]
    alarm_class: Annotated[AlarmClass, EnumWire(AlarmClass)]
    raised_at_s: U64
    silenced: Bool
    condition_present: Bool

    def _check(self) -> None:
        if ALARM_CLASS[self.code] is not self.alarm_class:
            raise InvalidMessage(f"{self.code.name} is {ALARM_CLASS[self.code].name}")


@dataclass(frozen=True, kw_only=True)
class LogEntry(Record):
    """One event-log entry; ``a`` and ``b`` mean what ``EVENT_PARAMS[code]`` says."""

    index: Annotated[U32, "position in the log since it was created"]
    clock_s: U64
    code: Annotated[EventCode, EnumWire(EventCode, bits=16)]
    a: I32
    b: I32


# --- the messages, in opcode order ------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeviceInfoRequest(Message):
    """Identify the pump. Works without a session."""

    op = Op.DEVICE_INFO
    response = False


@dataclass(frozen=True, kw_only=True)
class DeviceInfoResponse(Message):
    """Who the pump is and the limits of its model."""

    op = Op.DEVICE_INFO
    response = True
    model: Annotated[int, UInt(8, choices=DEVICE_MODELS), "reservoir size in mL names the model"]
    serial: Annotated[str, Text(max_bytes=MAX_STRING_BYTES)]
    firmware_version: Annotated[str, Text(max_bytes=MAX_STRING_BYTES)]
    capacity_nl: U32
    protocol_version: U8
    min_rate_nl_per_day: Annotated[U32, "lowest programmable rate"]
    max_rate_nl_per_day: Annotated[U32, "highest rate (boluses)"]
    minimum_mode_rate_nl_per_day: Annotated[U32, "keep-open rate of MINIMUM_RATE mode"]
    empty_threshold_nl: Annotated[U32, "at or below this the reservoir is empty"]
    tubing_volume_nl: Annotated[U32, "dead volume of the pump's internal tubing"]
    catheter_volume_nl_per_cm: Annotated[
        U32, "default catheter dead volume per cm (the implant record names its own)"
    ]
    battery_capacity_uc: Annotated[U64, "charge of a new battery, microcoulombs"]
    battery_quiescent_drain_uc_per_s: Annotated[U32, "drain every second"]
    battery_drain_uc_per_nl: Annotated[U32, "drain per nanolitre commanded"]
    battery_telemetry_drain_uc_per_s: Annotated[U32, "drain per second of telemetry"]
    telemetry_s_per_frame: Annotated[U16, "telemetry seconds charged per frame answered"]
    eri_lead_s: Annotated[U32, "ERI holds while projected battery life is below this"]
    forecast_horizon_s: Annotated[U32, "forecasts further ahead than this are none (0)"]
    min_bolus_volume_nl: Annotated[U32, "smallest bolus or patient dose volume"]
    max_bolus_duration_s: Annotated[U32, "longest therapeutic bolus"]


@dataclass(frozen=True, kw_only=True)
class SessionOpenRequest(Message):
    """Handshake step 1: the role wanted and the programmer's fresh nonce."""

    op = Op.SESSION_OPEN
    response = False
    role: Annotated[Role, EnumWire(Role)]
    client_nonce: Annotated[bytes, RawBytes(NONCE_SIZE)]


@dataclass(frozen=True, kw_only=True)
class SessionOpenResponse(Message):
    """Handshake step 2: the pump's fresh nonce and its proof of the role key."""

    op = Op.SESSION_OPEN
    response = True
    pump_nonce: Annotated[bytes, RawBytes(NONCE_SIZE)]
    pump_proof: Annotated[
        bytes, RawBytes(PROOF_SIZE), "HMAC-SHA256(K, 'vpump/pump' + role + cn + pn)"
    ]


@dataclass(frozen=True, kw_only=True)
class SessionAuthRequest(Message):
    """Handshake step 3: the programmer's proof of the role key."""

    op = Op.SESSION_AUTH
    response = False
    client_proof: Annotated[
        bytes, RawBytes(PROOF_SIZE), "HMAC-SHA256(K, 'vpump/prog' + role + pn + cn)"
    ]


@dataclass(frozen=True, kw_only=True)
class SessionAuthResponse(Message):
    """Handshake step 4 (the first MAC'd frame): the session is open."""

    op = Op.SESSION_AUTH
    response = True
    role: Annotated[Role, EnumWire(Role)]
    idle_timeout_s: Annotated[U16, "the session ends after this long without a request"]


@dataclass(frozen=True, kw_only=True)
class SessionCloseRequest(Message):
    """End the session."""

    op = Op.SESSION_CLOSE
    response = False


@dataclass(frozen=True, kw_only=True)
class SessionCloseResponse(Message):
    """The session is closed."""

    op = Op.SESSION_CLOSE
    response = True


@dataclass(frozen=True, kw_only=True)
class LimitsRequest(Message):
    """Read the limits the pump enforces (so a programmer can check values before sending)."""

    op = Op.LIMITS
    response = False


@dataclass(frozen=True, kw_only=True)
class LimitsResponse(Message):
    """The limits of this pump's model; rates and volumes of the model are in DEVICE_INFO.
    A value outside them is refused with OUT_OF_RANGE."""

    op = Op.LIMITS
    response = True
    min_alarm_volume_nl: Annotated[U32, "lowest low-reservoir alarm volume"]
    max_alarm_volume_nl: Annotated[U32, "highest low-reservoir alarm volume"]
    min_bolus_volume_nl: Annotated[U32, "smallest bolus (any kind)"]
    max_bolus_volume_nl: Annotated[U32, "largest clinician bolus (the reservoir's capacity)"]
    max_bolus_duration_s: Annotated[
        U32, "longest therapeutic bolus; the shortest runs at the maximum rate"
    ]
    max_patient_dose_volume_nl: Annotated[U32, "largest patient-activated dose"]
    min_patient_lockout_s: Annotated[U32, "shortest lockout between patient doses"]
    max_patient_lockout_s: Annotated[U32, "longest lockout between patient doses"]
    max_patient_doses_per_24h: Annotated[U8, "highest maximum of patient doses in 24 h"]
    min_concentration_ug_per_ml: Annotated[U32, "lowest concentration with allow_nonstandard"]
    max_concentration_ug_per_ml: Annotated[U32, "highest concentration with allow_nonstandard"]
    standard_concentrations_ug_per_ml: Annotated[
        tuple[int, ...],
        ArrayOf(UInt(32), max_count=16),
        "accepted without allow_nonstandard",
    ]
    max_flex_steps: Annotated[U8, "steps in one flex day profile, at most"]
    flex_step_granularity_min: Annotated[U8, "flex steps start on multiples of this"]


@dataclass(frozen=True, kw_only=True)
class StatusRequest(Message):
    """Read the pump's state."""

    op = Op.STATUS
    response = False


@dataclass(frozen=True, kw_only=True)
class DoseGrant(Record):
    """A patient dose granted in the last 24 h (STATUS lists them for forecasts)."""

    at_s: Annotated[U64, "pump clock of the grant"]


@dataclass(frozen=True, kw_only=True)
class StatusResponse(Message):
    """The pump's state and forecasts at ``clock_s``.

    ``mode`` is STOPPED whenever the clinician stopped therapy (STOP_PUMP, with
    ``stop_reason``, or a committed STOPPED prescription, with ``stop_reason``
    NONE). ``delivering`` is true only while drug moves: never in STOPPED, and
    false while a fault halts delivery (``halted_by``: empty reservoir, end of
    service, motor stall, critical memory error); a fault's recovery restores
    delivery by itself without touching the mode. Every ``*_at_s`` is pump
    clock; the forecasts follow :mod:`protocol.forecast` and a programmer that
    runs it on this STATUS (with READ_PRESCRIPTION, READ_PATIENT_SETTINGS and
    DEVICE_INFO) gets the same seconds.
    """

    op = Op.STATUS
    response = True
    clock_s: Annotated[U64, "pump clock, Unix seconds"]
    mode: Annotated[Mode, EnumWire(Mode), "STOPPED while therapy is stopped"]
    stop_reason: Annotated[StopReason, EnumWire(StopReason), "why STOP_PUMP stopped it"]
    delivering: Annotated[Bool, "drug is moving now"]
    halted_by: Annotated[AlarmSet, "faults stopping delivery now"]
    bolus_kind: Annotated[BolusKind, EnumWire(BolusKind), "NONE when no bolus runs"]
    bolus_dose_ng: Annotated[U32, "dose of the running bolus (0: priming, a volume)"]
    bolus_volume_nl: Annotated[U32, "volume of the running bolus (its part since a bridge ended)"]
    bolus_duration_s: U32
    bolus_started_at_s: TimeOrNoneS
    bolus_remaining_nl: U32
    bolus_ends_at_s: TimeOrNoneS
    basal_rate_nl_per_day: Annotated[U32, "the programmed basal rate at this instant"]
    current_rate_nl_per_day: Annotated[U32, "what moves now (a bolus's mean rate; 0 if not)"]
    daily_dose_ng: Annotated[U32, "today's basal dose over 24 h (00:00-24:00 pump clock)"]
    daily_volume_nl: Annotated[U32, "today's basal volume over 24 h at the rates in force"]
    concentration_ug_per_ml: Annotated[U32, "the drug in the reservoir"]
    bridge_remaining_nl: Annotated[U32, "volume left to deliver at the old concentration"]
    bridge_concentration_ug_per_ml: Annotated[U32, "the old drug the bridge computes at (0: none)"]
    bridge_ends_at_s: Annotated[TimeOrNoneS, "forecast end of the bridge"]
    basal_remainder: Annotated[U32, "sub-nanolitre remainder of the basal integral (nL*s/day)"]
    reservoir_nl: Annotated[U32, "estimated volume in the reservoir"]
    capacity_nl: U32
    alarm_volume_nl: Annotated[U32, "low-reservoir alarm volume"]
    alarms_active: AlarmSet
    alarms_silenced: AlarmSet
    low_reservoir_alarm_at_s: TimeOrNoneS
    empty_at_s: TimeOrNoneS
    battery_permille: Annotated[int, UInt(16, maximum=1000)]
    battery_uc: Annotated[U64, "remaining battery charge, microcoulombs"]
    eri_at_s: Annotated[TimeOrNoneS, "elective replacement indicator date"]
    prescription_checksum: Annotated[U32, "checksum of the active prescription"]
    recent_doses: Annotated[
        tuple[DoseGrant, ...],
        ArrayOf(RecordWire(DoseGrant), max_count=MAX_RECENT_DOSES),
        "patient doses granted in the last 24 h, oldest first",
    ]


@dataclass(frozen=True, kw_only=True)
class ReadPrescriptionRequest(Message):
    """Read the active prescription."""

    op = Op.READ_PRESCRIPTION
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadPrescriptionResponse(Message):
    """The active prescription and its checksum."""

    op = Op.READ_PRESCRIPTION
    response = True
    prescription: Prescription
    checksum: Annotated[U32, "prescription_checksum(prescription)"]


@dataclass(frozen=True, kw_only=True)
class StagePrescriptionRequest(Message):
    """Stage a prescription (not yet running) for COMMIT."""

    op = Op.STAGE_PRESCRIPTION
    response = False
    prescription: Prescription


@dataclass(frozen=True, kw_only=True)
class StagePrescriptionResponse(Message):
    """The checksum of what the pump staged, to compare before COMMIT."""

    op = Op.STAGE_PRESCRIPTION
    response = True
    checksum: U32


@dataclass(frozen=True, kw_only=True)
class CommitPrescriptionRequest(Message):
    """Run the staged prescription, named by its checksum."""

    op = Op.COMMIT_PRESCRIPTION
    response = False
    checksum: U32


@dataclass(frozen=True, kw_only=True)
class CommitPrescriptionResponse(Message):
    """The checksum of the prescription now running."""

    op = Op.COMMIT_PRESCRIPTION
    response = True
    checksum: U32


@dataclass(frozen=True, kw_only=True)
class ReadDeliveryRequest(Message):
    """Is drug moving, since when, and when was the pump last refilled (the patient role may
    read this: what an emergency department needs beyond STATUS)."""

    op = Op.READ_DELIVERY
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadDeliveryResponse(Message):
    """Delivering now or not, since which pump-clock second, and the last refill."""

    op = Op.READ_DELIVERY
    response = True
    delivering: Annotated[Bool, "drug is moving now (as STATUS)"]
    since_s: Annotated[U64, "delivering since (or not delivering since), pump clock"]
    last_refill_at_s: Annotated[TimeOrNoneS, "pump clock of the last refill"]


@dataclass(frozen=True, kw_only=True)
class StartBolusRequest(Message):
    """Start a bolus: THERAPEUTIC, a dose (``dose_ng``) over ``duration_s``; PRIMING, a
    volume (``volume_nl``) at the maximum rate (``duration_s`` 0). The other field is 0."""

    op = Op.START_BOLUS
    response = False
    kind: Annotated[BolusKind, EnumWire(BolusKind, allowed=BOLUS_KINDS_STARTABLE)]
    dose_ng: Annotated[U32, "THERAPEUTIC: the dose (0 for PRIMING)"]
    volume_nl: Annotated[U32, "PRIMING: the volume (0 for THERAPEUTIC)"]
    duration_s: Annotated[U32, "THERAPEUTIC: over how long; PRIMING: 0 (maximum rate)"]

    def _check(self) -> None:
        if self.kind is BolusKind.THERAPEUTIC:
            if self.duration_s == 0 or self.dose_ng == 0 or self.volume_nl != 0:
                raise InvalidMessage(
                    "a THERAPEUTIC bolus needs dose_ng > 0, duration_s > 0 and volume_nl 0"
                )
        elif self.volume_nl == 0 or self.dose_ng != 0 or self.duration_s != 0:
            raise InvalidMessage(
                "a PRIMING bolus needs volume_nl > 0, dose_ng 0 and duration_s 0 (maximum rate)"
            )


@dataclass(frozen=True, kw_only=True)
class StartBolusResponse(Message):
    """The bolus as the pump will deliver it (its volume at the concentration in force)."""

    op = Op.START_BOLUS
    response = True
    dose_ng: U32
    volume_nl: U32
    duration_s: U32
    ends_at_s: U64


@dataclass(frozen=True, kw_only=True)
class CancelBolusRequest(Message):
    """Cancel the running bolus."""

    op = Op.CANCEL_BOLUS
    response = False


@dataclass(frozen=True, kw_only=True)
class CancelBolusResponse(Message):
    """What the cancelled bolus had delivered."""

    op = Op.CANCEL_BOLUS
    response = True
    delivered_nl: U32


@dataclass(frozen=True, kw_only=True)
class StopPumpRequest(Message):
    """Stop delivery, with the reason for the event log."""

    op = Op.STOP_PUMP
    response = False
    reason: Annotated[StopReason, EnumWire(StopReason, allowed=_STOP_REASONS)]


@dataclass(frozen=True, kw_only=True)
class StopPumpResponse(Message):
    """The pump is stopped."""

    op = Op.STOP_PUMP
    response = True


@dataclass(frozen=True, kw_only=True)
class ResumePumpRequest(Message):
    """Resume the therapy that STOP_PUMP interrupted (a STOPPED prescription is changed by
    programming, not resumed)."""

    op = Op.RESUME_PUMP
    response = False


@dataclass(frozen=True, kw_only=True)
class ResumePumpResponse(Message):
    """The mode now running."""

    op = Op.RESUME_PUMP
    response = True
    mode: Annotated[Mode, EnumWire(Mode)]


@dataclass(frozen=True, kw_only=True)
class CancelBridgeRequest(Message):
    """End a running bridge now: rates use the new concentration from this second."""

    op = Op.CANCEL_BRIDGE
    response = False


@dataclass(frozen=True, kw_only=True)
class CancelBridgeResponse(Message):
    """What the cancelled bridge had delivered and what it left."""

    op = Op.CANCEL_BRIDGE
    response = True
    delivered_nl: U32
    remaining_nl: U32


@dataclass(frozen=True, kw_only=True)
class ReadValveRequest(Message):
    """How the pump meters drug as far as an MRI is concerned (a motor, or one of the two
    valve models), and whether a flow-activated valve has closed."""

    op = Op.READ_VALVE
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadValveResponse(Message):
    """The pump's valve model and the state of its flow-activated valve."""

    op = Op.READ_VALVE
    response = True
    valve_model: Annotated[ValveModel, EnumWire(ValveModel), "motor or valve model"]
    closed: Annotated[Bool, "a flow-activated valve closed: no delivery until RESET_VALVE"]
    closed_since_s: Annotated[TimeOrNoneS, "pump clock the valve closed"]


@dataclass(frozen=True, kw_only=True)
class ResetValveRequest(Message):
    """Reopen a closed flow-activated valve: delivery resumes from this second."""

    op = Op.RESET_VALVE
    response = False


@dataclass(frozen=True, kw_only=True)
class ResetValveResponse(Message):
    """How long the valve had been closed (no drug delivered)."""

    op = Op.RESET_VALVE
    response = True
    closed_for_s: Annotated[U32, "seconds the valve was closed"]


@dataclass(frozen=True, kw_only=True)
class StageRefillRequest(Message):
    """Stage a refill as one transaction: the reservoir emptied (``removed_nl``) and
    refilled (``added_nl`` of ``concentration_ug_per_ml``), the prescription to run on
    the new drug (it must name the new concentration) and, when the concentration
    changes, whether to bridge. Nothing changes until COMMIT_REFILL names the checksum."""

    op = Op.STAGE_REFILL
    response = False
    removed_nl: Annotated[U32, "everything drawn out of the reservoir"]
    added_nl: U32
    concentration_ug_per_ml: Annotated[U32, "of the drug added"]
    allow_nonstandard: Annotated[Bool, "accept a concentration outside the standard ones"]
    bridge: Annotated[Bool, "run the bridge (required false when the concentration is kept)"]
    drug_lot: Annotated[str, Text(max_bytes=MAX_LOT_BYTES), "lot number of the drug added"]
    prescription: Prescription


@dataclass(frozen=True, kw_only=True)
class StageRefillResponse(Message):
    """The staged refill: its checksum (crc32 of the request payload) and what it will do."""

    op = Op.STAGE_REFILL
    response = True
    checksum: U32
    expected_nl: Annotated[U32, "volume the pump expects to be removed"]
    discrepancy_nl: Annotated[I32, "removed - expected"]
    discrepancy_flagged: Annotated[Bool, "over the model's threshold (possible pocket fill)"]
    bridge_volume_nl: Annotated[U32, "dead volume the bridge runs for (0: no bridge)"]


@dataclass(frozen=True, kw_only=True)
class CommitRefillRequest(Message):
    """Apply the staged refill, named by its checksum, all at once."""

    op = Op.COMMIT_REFILL
    response = False
    checksum: U32


@dataclass(frozen=True, kw_only=True)
class CommitRefillResponse(Message):
    """The refill's reconciliation, the new reservoir state and the bridge."""

    op = Op.COMMIT_REFILL
    response = True
    expected_nl: Annotated[U32, "volume the pump expected to be removed"]
    discrepancy_nl: Annotated[I32, "removed - expected"]
    discrepancy_flagged: Annotated[Bool, "over the model's threshold (possible pocket fill)"]
    reservoir_nl: U32
    prescription_checksum: Annotated[U32, "checksum of the prescription now running"]
    bridge_volume_nl: Annotated[U32, "dead volume the bridge runs for (0: no bridge)"]
    bridge_ends_at_s: Annotated[TimeOrNoneS, "forecast end of the bridge"]
    low_reservoir_alarm_at_s: TimeOrNoneS


@dataclass(frozen=True, kw_only=True)
class ImplantFields(Record):
    """The implant record: the clinician's record of what was implanted (it may differ
    from the real catheter: the emulator keeps that apart)."""

    catheter_model: Annotated[str, Text(max_bytes=MAX_TEXT_BYTES)]
    catheter_volume_nl_per_cm: Annotated[
        int, UInt(32, minimum=1, maximum=100_000), "dead volume per cm of this catheter model"
    ]
    catheter_length_mm: Annotated[int, UInt(16, minimum=1, maximum=3_000), "after trimming"]
    catheter_length_uncertainty_mm: Annotated[
        int, UInt(16, maximum=1_000), "+/- on the length (0: exact)"
    ]
    implanted_at_s: Annotated[TimeOrNoneS, "implant date, pump clock"]
    patient_id: Annotated[str, Text(max_bytes=MAX_TEXT_BYTES)]
    origin: Annotated[Origin, EnumWire(Origin), "of the spasticity"]
    physician: Annotated[str, Text(max_bytes=MAX_TEXT_BYTES)]

    def _check(self) -> None:
        if self.catheter_length_uncertainty_mm >= self.catheter_length_mm:
            raise InvalidMessage("catheter_length_uncertainty_mm must be below the length")


@dataclass(frozen=True, kw_only=True)
class ReadImplantRequest(Message):
    """Read the implant record and the drug in the pump."""

    op = Op.READ_IMPLANT
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadImplantResponse(Message):
    """The implant record (``recorded`` false: none written yet, the other implant fields
    are then empty) and the drug in the pump (its lot and last refill)."""

    op = Op.READ_IMPLANT
    response = True
    recorded: Bool
    implant: Annotated[ImplantFields, RecordWire(ImplantFields)]
    concentration_ug_per_ml: Annotated[U32, "the drug in the reservoir"]
    drug_lot: Annotated[str, Text(max_bytes=MAX_LOT_BYTES)]
    last_refill_at_s: Annotated[TimeOrNoneS, "pump clock of the last refill"]


@dataclass(frozen=True, kw_only=True)
class SetImplantRequest(Message):
    """Write the implant record (bridge and priming volumes are computed from it)."""

    op = Op.SET_IMPLANT
    response = False
    implant: Annotated[ImplantFields, RecordWire(ImplantFields)]


@dataclass(frozen=True, kw_only=True)
class SetImplantResponse(Message):
    """The record as stored."""

    op = Op.SET_IMPLANT
    response = True
    implant: Annotated[ImplantFields, RecordWire(ImplantFields)]


@dataclass(frozen=True, kw_only=True)
class SetAlarmVolumeRequest(Message):
    """Set the low-reservoir alarm volume."""

    op = Op.SET_ALARM_VOLUME
    response = False
    volume_nl: U32


@dataclass(frozen=True, kw_only=True)
class SetAlarmVolumeResponse(Message):
    """The alarm volume now set."""

    op = Op.SET_ALARM_VOLUME
    response = True
    volume_nl: U32


@dataclass(frozen=True, kw_only=True)
class ReadAlarmsRequest(Message):
    """Read the alarms."""

    op = Op.READ_ALARMS
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadAlarmsResponse(Message):
    """Every alarm the pump holds, each code at most once."""

    op = Op.READ_ALARMS
    response = True
    alarms: Annotated[
        tuple[AlarmRecord, ...], ArrayOf(RecordWire(AlarmRecord), max_count=len(AlarmCode))
    ]

    def _check(self) -> None:
        codes = [alarm.code for alarm in self.alarms]
        if len(set(codes)) != len(codes):
            raise InvalidMessage("an alarm code appears twice")


@dataclass(frozen=True, kw_only=True)
class SilenceAlarmRequest(Message):
    """Silence an alarm's tones (it stays raised)."""

    op = Op.SILENCE_ALARM
    response = False
    code: Annotated[AlarmCode, EnumWire(AlarmCode)]


@dataclass(frozen=True, kw_only=True)
class SilenceAlarmResponse(Message):
    """The alarm is silenced."""

    op = Op.SILENCE_ALARM
    response = True


@dataclass(frozen=True, kw_only=True)
class ClearAlarmRequest(Message):
    """Clear an alarm whose condition is gone."""

    op = Op.CLEAR_ALARM
    response = False
    code: Annotated[AlarmCode, EnumWire(AlarmCode)]


@dataclass(frozen=True, kw_only=True)
class ClearAlarmResponse(Message):
    """The alarm is cleared."""

    op = Op.CLEAR_ALARM
    response = True


@dataclass(frozen=True, kw_only=True)
class ReadEventLogRequest(Message):
    """Read up to ``max_count`` entries from ``first_index`` on."""

    op = Op.READ_EVENT_LOG
    response = False
    first_index: U32
    max_count: Annotated[int, UInt(8, minimum=1, maximum=MAX_EVENT_LOG_READ)]


@dataclass(frozen=True, kw_only=True)
class ReadEventLogResponse(Message):
    """Entries of the log (oldest first) and the log's counters."""

    op = Op.READ_EVENT_LOG
    response = True
    total_written: Annotated[U32, "entries written since the log was created"]
    overwritten: Annotated[U32, "oldest entries lost to the ring buffer"]
    entries: Annotated[
        tuple[LogEntry, ...], ArrayOf(RecordWire(LogEntry), max_count=MAX_EVENT_LOG_READ)
    ]


@dataclass(frozen=True, kw_only=True)
class ReadClockRequest(Message):
    """Read the pump's clock."""

    op = Op.READ_CLOCK
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadClockResponse(Message):
    """The pump's clock."""

    op = Op.READ_CLOCK
    response = True
    clock_s: U64


@dataclass(frozen=True, kw_only=True)
class SetClockRequest(Message):
    """Set the pump's clock."""

    op = Op.SET_CLOCK
    response = False
    clock_s: U64


@dataclass(frozen=True, kw_only=True)
class SetClockResponse(Message):
    """The pump's clock after setting it."""

    op = Op.SET_CLOCK
    response = True
    clock_s: U64


@dataclass(frozen=True, kw_only=True)
class PatientSettingsFields(Record):
    """The patient-activated dose settings (shared by three messages)."""

    enabled: Bool
    dose_ng: Annotated[U32, "dose of one patient dose"]
    duration_s: Annotated[U32, "time to deliver one dose"]
    lockout_s: Annotated[U32, "minimum time between doses"]
    max_per_24h: U8


@dataclass(frozen=True, kw_only=True)
class ReadPatientSettingsRequest(Message):
    """Read the patient-activated dose settings."""

    op = Op.READ_PATIENT_SETTINGS
    response = False


@dataclass(frozen=True, kw_only=True)
class ReadPatientSettingsResponse(PatientSettingsFields, Message):
    """The patient-activated dose settings."""

    op = Op.READ_PATIENT_SETTINGS
    response = True


@dataclass(frozen=True, kw_only=True)
class SetPatientSettingsRequest(PatientSettingsFields, Message):
    """Set the patient-activated dose settings."""

    op = Op.SET_PATIENT_SETTINGS
    response = False


@dataclass(frozen=True, kw_only=True)
class SetPatientSettingsResponse(PatientSettingsFields, Message):
    """The settings as the pump stored them."""

    op = Op.SET_PATIENT_SETTINGS
    response = True


@dataclass(frozen=True, kw_only=True)
class PatientDoseRequest(Message):
    """The patient asks for a dose."""

    op = Op.PATIENT_DOSE
    response = False


@dataclass(frozen=True, kw_only=True)
class PatientDoseResponse(Message):
    """The dose granted (its volume at the concentration in force)."""

    op = Op.PATIENT_DOSE
    response = True
    dose_ng: U32
    volume_nl: U32
    ends_at_s: U64
    doses_in_24h: Annotated[U8, "doses granted in the last 24 h, this one included"]
    next_allowed_at_s: U64


@dataclass(frozen=True, kw_only=True)
class Nak(Message):
    """A refusal: the request's SEQ, OP 0x7F, an error code and a UTF-8 reason."""

    op = Op.NAK
    response = True
    code: Annotated[ErrorCode, EnumWire(ErrorCode)]
    reason: Annotated[str, Text(max_bytes=MAX_NAK_REASON_BYTES, greedy=True)]


# --- the registry -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Command:
    """An opcode with its request and response classes (no request for NAK)."""

    op: Op
    request: type[Message] | None
    response: type[Message]

    @property
    def summary(self) -> str:
        """The first paragraph of the request's (or NAK's) docstring, on one line."""
        cls = self.request or self.response
        paragraph = (cls.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(paragraph.split())


def _build_registry(classes: Iterable[type[Message]]) -> dict[Op, Command]:
    requests: dict[Op, type[Message]] = {}
    responses: dict[Op, type[Message]] = {}
    for cls in classes:
        table = responses if cls.response else requests
        if cls.op in table:
            raise RuntimeError(f"two messages for {cls.op!r}")  # a defect in this module
        table[cls.op] = cls
    return {
        op: Command(op=op, request=requests.get(op), response=responses[op])
        for op in Op
        if op in responses
    }


MESSAGE_CLASSES: Final[tuple[type[Message], ...]] = (
    DeviceInfoRequest,
    DeviceInfoResponse,
    SessionOpenRequest,
    SessionOpenResponse,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionCloseRequest,
    SessionCloseResponse,
    LimitsRequest,
    LimitsResponse,
    StatusRequest,
    StatusResponse,
    ReadPrescriptionRequest,
    ReadPrescriptionResponse,
    StagePrescriptionRequest,
    StagePrescriptionResponse,
    CommitPrescriptionRequest,
    CommitPrescriptionResponse,
    ReadDeliveryRequest,
    ReadDeliveryResponse,
    StartBolusRequest,
    StartBolusResponse,
    CancelBolusRequest,
    CancelBolusResponse,
    StopPumpRequest,
    StopPumpResponse,
    ResumePumpRequest,
    ResumePumpResponse,
    CancelBridgeRequest,
    CancelBridgeResponse,
    ReadValveRequest,
    ReadValveResponse,
    ResetValveRequest,
    ResetValveResponse,
    StageRefillRequest,
    StageRefillResponse,
    SetAlarmVolumeRequest,
    SetAlarmVolumeResponse,
    CommitRefillRequest,
    CommitRefillResponse,
    ReadImplantRequest,
    ReadImplantResponse,
    SetImplantRequest,
    SetImplantResponse,
    ReadAlarmsRequest,
    ReadAlarmsResponse,
    SilenceAlarmRequest,
    SilenceAlarmResponse,
    ClearAlarmRequest,
    ClearAlarmResponse,
    ReadEventLogRequest,
    ReadEventLogResponse,
    ReadClockRequest,
    ReadClockResponse,
    SetClockRequest,
    SetClockResponse,
    ReadPatientSettingsRequest,
    ReadPatientSettingsResponse,
    SetPatientSettingsRequest,
    SetPatientSettingsResponse,
    PatientDoseRequest,
    PatientDoseResponse,
    Nak,
)

REGISTRY: Final[Mapping[Op, Command]] = _build_registry(MESSAGE_CLASSES)
"""Every opcode with its request class (None for NAK) and response class."""


# --- the fast path ------------------------------------------------------------
#
# A codec per class, derived from the same wire_fields as the schema: each run
# of fixed-size fields is one precompiled big-endian struct.Struct whose format
# is read off the fields' construct subcons; length-prefixed and greedy text
# and u8-counted arrays of fixed-size records are sliced by hand. Values go
# through each field's own Wire (from_wire then coerce, and to_wire), except
# where struct already does the same thing, and the results for one- and
# two-byte fields are cached per wire value. A class holding anything else
# (a prescription) has no fast codec and stays on construct.

_Convert: TypeAlias = Callable[[Any], Any]
_FAST_CODES: Final = frozenset("BHLQbhlq")
"""The struct codes of construct's integer FormatFields (always used big-endian here)."""


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
    """The struct code of a fixed-size field, from its construct subcon (None if not fixed)."""
    if isinstance(wire, RecordWire):
        return None  # a record is never flattened into its parent's struct
    subcon = wire.subcon
    if type(subcon) is FormatField and subcon.fmtstr[0] == ">" and subcon.fmtstr[1:] in _FAST_CODES:
        return str(subcon.fmtstr[1:])
    if type(subcon) is Bytes and type(subcon.length) is int:
        return f"{subcon.length}s"
    return None


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


def _getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function of a record returning the tuple of its ``names`` fields."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda record: (get_one(record),)
    return lambda record: ()


class _Builder:
    """Makes a record from its converted field values without running
    ``__post_init__`` again: every value is already what ``coerce`` returns, so
    only the cross-field ``_check`` is left. Classes that replace
    ``Record.__post_init__`` are built through their constructor."""

    def __init__(self, cls: type[Record]) -> None:
        self.cls = cls
        self.names = tuple(spec.name for spec in wire_fields(cls))
        self.direct = cls.__post_init__ is Record.__post_init__
        self.check = None if cls._check is Record._check else cls._check

    def __call__(self, values: Iterable[Any]) -> Any:
        """The record of ``values``, one per field in wire order (the codecs
        always read exactly that many)."""
        if not self.direct:
            return self.cls(**dict(zip(self.names, values, strict=True)))
        record = _new_record(self.cls)
        # Records are frozen, not slotted: their fields live in __dict__.
        record.__dict__.update(zip(self.names, values, strict=False))
        if self.check is not None:
            self.check(record)
        return record


_new_record: Final = object.__new__


class _Run:
    """Consecutive fixed-size fields: one struct.Struct and their conversions."""

    def __init__(self, fields: Sequence[WireField], codes: Sequence[str]) -> None:
        self.struct = struct.Struct(">" + "".join(codes))
        self.size = self.struct.size
        self.get = _getter([spec.name for spec in fields])
        self.encoders, self.decoders = _converters(fields, codes)

    def pack(self, record: Any) -> bytes:
        values: Sequence[Any] = self.get(record)
        if self.encoders:
            values = list(values)
            for i, encode in self.encoders:
                values[i] = encode(values[i])
        return self.struct.pack(*values)

    def convert(self, raw: tuple[Any, ...]) -> Sequence[Any]:
        if not self.decoders:
            return raw
        values = list(raw)
        for i, decode in self.decoders:
            values[i] = decode(values[i])
        return values


class _Codec(Protocol):
    """The fast codec of one message class."""

    def encode(self, message: Message) -> bytes: ...

    def decode(self, payload: bytes) -> Message:
        """The message; ValueError (any text) if the payload is not valid."""
        ...


class _FixedCodec:
    """A class whose fields are all fixed-size: the payload is one struct."""

    def __init__(self, cls: type[Record], codes: Sequence[str]) -> None:
        self.run = _Run(wire_fields(cls), codes)
        self.size = self.run.size
        self.build = _Builder(cls)
        if self.size != payload_schema(cls).sizeof():
            raise RuntimeError(f"{cls.__name__}: struct and schema sizes differ")  # a defect

    def encode(self, message: Any) -> bytes:
        return self.run.pack(message)

    def decode(self, payload: bytes) -> Any:
        if len(payload) != self.size:
            raise ValueError(f"{len(payload)} bytes, the payload is {self.size}")
        return self.build(self.run.convert(self.run.struct.unpack(payload)))

    def decode_from(self, records: bytes) -> tuple[Any, ...]:
        """Every record packed back to back in ``records`` (a multiple of ``size``)."""
        convert, build = self.run.convert, self.build
        return tuple(build(convert(raw)) for raw in self.run.struct.iter_unpack(records))


class _Part(Protocol):
    """A piece of a variable-size payload: some of its fields, in order."""

    def write(self, message: Any, out: list[bytes]) -> None:
        """Append the bytes of this part's fields of ``message`` to ``out``."""

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        """Append this part's field values read at ``offset``; return the offset
        after them. ValueError if the payload is short or a value invalid."""
        ...


class _RunPart:
    def __init__(self, fields: Sequence[WireField], codes: Sequence[str]) -> None:
        self.run = _Run(fields, codes)

    def write(self, message: Any, out: list[bytes]) -> None:
        out.append(self.run.pack(message))

    def read(self, payload: bytes, offset: int, values: list[Any]) -> int:
        end = offset + self.run.size
        if end > len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        values.extend(self.run.convert(self.run.struct.unpack_from(payload, offset)))
        return end


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
        start = offset + 1
        end = start + payload[offset] * self.element.size
        if end > len(payload):
            raise ValueError(f"short: {len(payload)} bytes")
        items = self.element.decode_from(payload[start:end])
        values.append(self.wire.coerce(self.name, items))  # the count bounds
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
    """A variable-size class: its payload is a sequence of parts."""

    def __init__(self, cls: type[Record], parts: Sequence[_Part]) -> None:
        self.parts = tuple(parts)
        self.build = _Builder(cls)

    def encode(self, message: Any) -> bytes:
        out: list[bytes] = []
        for part in self.parts:
            part.write(message, out)
        return b"".join(out)

    def decode(self, payload: bytes) -> Any:
        values: list[Any] = []
        offset = 0
        for part in self.parts:
            offset = part.read(payload, offset, values)
        if offset != len(payload):
            raise ValueError(f"{len(payload) - offset} trailing bytes")
        return self.build(values)


def _fixed_codes(record: type[Record]) -> list[str] | None:
    codes = [_struct_code(spec.wire) for spec in wire_fields(record)]
    return None if None in codes else typing.cast(list[str], codes)


def _fast_codec(cls: type[Record]) -> _FixedCodec | _PartsCodec | None:
    """The fast codec of ``cls``, or None where only construct will do."""
    codes = _fixed_codes(cls)
    if codes is not None:
        return _FixedCodec(cls, codes)
    fields = wire_fields(cls)
    parts: list[_Part] = []
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
        else:
            return None
    if run:
        parts.append(_RunPart([f for f, _ in run], [c for _, c in run]))
    return _PartsCodec(cls, parts)


_FAST: Final[Mapping[type[Record], _Codec]] = {
    cls: codec for cls in MESSAGE_CLASSES if (codec := _fast_codec(cls)) is not None
}
# Opcode (as a plain int key, which an Op finds too) -> class, without calling Op().
_REQUESTS: Final[dict[int, type[Message]]] = {
    int(op): c.request for op, c in REGISTRY.items() if c.request is not None
}
_RESPONSES: Final[dict[int, type[Message]]] = {int(op): c.response for op, c in REGISTRY.items()}


def has_fast_codec(cls: type[Record]) -> bool:
    """Whether :func:`encode_payload` and the decoders take the fast path for ``cls``
    (every message except those holding a prescription)."""
    return cls in _FAST


# --- encoding and decoding --------------------------------------------------


def encode_payload(message: Message) -> bytes:
    """The payload bytes of ``message`` (identical to :func:`schema_encode_payload`).

    Raises:
        InvalidMessage: the encoding would exceed MAX_PAYLOAD.
    """
    codec = _FAST.get(type(message))
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


def _decode(cls: type[Message], payload: bytes) -> Message:
    codec = _FAST.get(cls)
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


def _command(op: int) -> Command:
    try:
        return REGISTRY[Op(op)]
    except (ValueError, KeyError):
        raise UnknownOpcodeError(op) from None


def request_class(op: int) -> type[Message]:
    """The request class of opcode ``op``; UnknownOpcodeError if there is none."""
    request = _REQUESTS.get(op) if isinstance(op, int) else None
    if request is None:
        request = _command(op).request
    if request is None:
        raise UnknownOpcodeError(op)
    return request


def response_class(op: int) -> type[Message]:
    """The response class of opcode ``op`` (``Nak`` for 0x7F); UnknownOpcodeError if none."""
    response = _RESPONSES.get(op) if isinstance(op, int) else None
    return _command(op).response if response is None else response


def decode_request(op: int, payload: bytes) -> Message:
    """The request message of opcode ``op`` from its payload.

    Raises:
        UnknownOpcodeError: ``op`` names no request.
        MalformedPayload: short data, trailing bytes, a value outside its
            enum or range, bad UTF-8.
    """
    return _decode(request_class(op), payload)


def decode_response(op: int, payload: bytes) -> Message:
    """The response message (or :class:`Nak`) of opcode ``op`` from its payload.

    Raises:
        UnknownOpcodeError: ``op`` names no response.
        MalformedPayload: as for :func:`decode_request`.
    """
    return _decode(response_class(op), payload)
