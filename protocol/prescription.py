"""The basal prescription as the wire carries it: a construct Switch on the mode.

:data:`PRESCRIPTION` (and :data:`FLEX_STEP`) are built, and construct imported, the first
time they are named: the fast path (:func:`encode_prescription`,
:meth:`PrescriptionWire.unpack_from`) packs and reads the same bytes with ``struct``, and
the tests prove the two alike."""

from __future__ import annotations

import dataclasses
import itertools
import struct
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias

from protocol.enums import Mode
from protocol.errors import InvalidMessage
from protocol.frozen import frozen
from protocol.units import Unit
from protocol.wire import (
    U32,
    ArrayOf,
    Bool8,
    EnumWire,
    FastWire,
    Record,
    RecordWire,
    UInt,
    _from_container,
    _to_container,
    payload_schema,
    record,
)

if TYPE_CHECKING:
    from construct import Construct

    FLEX_STEP: Construct
    """The construct schema of one :class:`FlexStep`."""
    PRESCRIPTION: Construct
    """The construct schema of a prescription (see :func:`prescription_schema`)."""

MAX_FLEX_STEPS: Final = 13
"""Most steps in one daily flex profile."""
MINUTES_PER_DAY: Final = 1440


# --- the prescription: a Switch on the mode ---------------------------------


@record
class FlexStep(Record):
    """One step of a flex profile: from ``start_min`` (minutes after midnight, pump
    clock) until the next step's start (or midnight), the dose rate ``dose_ng_per_day``."""

    start_min: Annotated[
        int, UInt(16, maximum=MINUTES_PER_DAY - 1), Unit.MIN_OF_DAY, "minutes after midnight"
    ]
    dose_ng_per_day: Annotated[U32, Unit.NG_PER_DAY, "dose rate in ng/day (1 mcg/day = 1000)"]


_MODE: Final = EnumWire(Mode)
_DOSE: Final = UInt(32)
_CONCENTRATION: Final = UInt(32, minimum=1)
_WEEKLY: Final = Bool8()
_PROFILES: Final = ArrayOf(
    ArrayOf(RecordWire(FlexStep), max_count=MAX_FLEX_STEPS, min_count=1), max_count=7
)
_SCHEMA: list[Construct] = []


def prescription_schema() -> Construct:
    """:data:`PRESCRIPTION`: mode u8 (Mode), concentration_ug_per_ml u32 (the drug the
    prescription is for: it must be the drug in the pump), then: SIMPLE dose_ng_per_day
    u32; FLEX weekly u8 (0: one profile for every day, 1: seven, Monday first) and
    u8-counted profiles of u8-counted steps; MINIMUM_RATE and STOPPED nothing. Built (and
    construct imported) the first time it is asked for."""
    if not _SCHEMA:
        from construct import (  # noqa: PLC0415 - the reference path and the docs only
            Int8ub,
            Int32ub,
            Pass,
            PrefixedArray,
            Struct,
            Switch,
            this,
        )

        flex_step = payload_schema(FlexStep)
        _SCHEMA.append(
            Struct(
                "mode" / Int8ub,
                "concentration_ug_per_ml" / Int32ub,
                "params"
                / Switch(
                    this.mode,
                    {
                        int(Mode.SIMPLE): Struct("dose_ng_per_day" / Int32ub),
                        int(Mode.FLEX): Struct(
                            "weekly" / Int8ub,
                            "profiles" / PrefixedArray(Int8ub, PrefixedArray(Int8ub, flex_step)),
                        ),
                    },
                    Pass,
                ),
            )
        )
    return _SCHEMA[0]


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """:data:`PRESCRIPTION` and :data:`FLEX_STEP`, built when first named."""
        if name == "PRESCRIPTION":
            return prescription_schema()
        if name == "FLEX_STEP":
            return payload_schema(FlexStep)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PRESCRIPTION_UNITS: Final[dict[str, Unit]] = {
    "mode": Unit.ENUM,
    "concentration_ug_per_ml": Unit.UG_PER_ML,
    "dose_ng_per_day": Unit.NG_PER_DAY,
    "weekly": Unit.BOOL,
    "profiles": Unit.RECORD,
}
"""The unit of each field of :data:`PRESCRIPTION` (a construct Struct, so declared here)."""


@frozen
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


class PrescriptionWire(FastWire):
    """A :class:`PrescriptionSpec` laid out as :data:`PRESCRIPTION`."""

    implied_unit = Unit.PRESCRIPTION

    doc_type = "Prescription"

    def _build_subcon(self) -> Construct:
        return prescription_schema()

    def pack(self, value: Any) -> bytes:
        return encode_prescription(value)

    def unpack_from(self, data: bytes, offset: int) -> tuple[Any, int]:
        return _read_prescription(data, offset)

    def coerce(self, name: str, value: Any) -> Any:
        if not isinstance(value, PrescriptionSpec):
            raise InvalidMessage(f"{name} must be a PrescriptionSpec, got {value!r}")
        return value

    def to_wire(self, value: Any) -> Any:
        return _prescription_to_container(value)

    def from_wire(self, raw: Any) -> Any:
        return _prescription_from_container(raw)


Prescription: TypeAlias = Annotated[PrescriptionSpec, PrescriptionWire()]


_HEAD: Final = struct.Struct(">BL")
"""mode, concentration_ug_per_ml."""
_U32: Final = struct.Struct(">L")
_STEP: Final = struct.Struct(">HL")
"""One flex step: start_min, dose_ng_per_day."""


def encode_prescription(spec: PrescriptionSpec) -> bytes:
    """The wire bytes of ``spec`` (what :func:`prescription_checksum` covers): what
    :data:`PRESCRIPTION` builds (:func:`schema_encode_prescription`), packed by ``struct``."""
    head = _HEAD.pack(spec.mode, spec.concentration_ug_per_ml)
    if spec.mode is Mode.SIMPLE:
        return head + _U32.pack(spec.dose_ng_per_day)
    if spec.mode is not Mode.FLEX:
        return head
    out = [head, bytes((int(spec.weekly), len(spec.profiles)))]
    for profile in spec.profiles:  # a valid spec has 1 or 7 profiles of 1 to 13 steps
        out.append(bytes((len(profile),)))
        out.extend(_STEP.pack(step.start_min, step.dose_ng_per_day) for step in profile)
    return b"".join(out)


def schema_encode_prescription(spec: PrescriptionSpec) -> bytes:
    """The wire bytes of ``spec`` built by :data:`PRESCRIPTION` (the reference)."""
    data: bytes = prescription_schema().build(_prescription_to_container(spec))
    return data


def decode_prescription(data: bytes) -> PrescriptionSpec:
    """The prescription whose wire bytes are exactly ``data`` (what
    :func:`encode_prescription` wrote), read without construct; ValueError (an
    InvalidMessage among them) for anything :data:`PRESCRIPTION` would not read back,
    and for trailing bytes."""
    spec, end = _read_prescription(data, 0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} trailing bytes after the prescription")
    return spec


def _read_prescription(data: bytes, offset: int) -> tuple[PrescriptionSpec, int]:
    """The prescription at ``offset`` and the offset after it; ValueError (an
    InvalidMessage among them) for whatever :data:`PRESCRIPTION` and
    :class:`PrescriptionSpec` reject."""
    end = offset + _HEAD.size
    if end > len(data):
        raise ValueError(f"short: {len(data)} bytes")
    raw_mode, concentration = _HEAD.unpack_from(data, offset)
    mode = Mode(raw_mode)  # ValueError for a mode the Switch has no case for
    if mode is Mode.SIMPLE:
        if end + _U32.size > len(data):
            raise ValueError(f"short: {len(data)} bytes")
        (dose,) = _U32.unpack_from(data, end)
        spec = PrescriptionSpec.simple(dose, concentration_ug_per_ml=concentration)
        return spec, end + _U32.size
    if mode is not Mode.FLEX:
        return PrescriptionSpec(mode=mode, concentration_ug_per_ml=concentration), end
    if end + 2 > len(data):
        raise ValueError(f"short: {len(data)} bytes")
    weekly = _WEEKLY.from_wire(data[end])
    count = data[end + 1]
    offset = end + 2
    profiles = []
    for _ in range(count):
        if offset >= len(data):
            raise ValueError(f"short: {len(data)} bytes")
        steps = data[offset]
        offset += 1
        stop = offset + steps * _STEP.size
        if stop > len(data):
            raise ValueError(f"short: {len(data)} bytes")
        profiles.append(
            tuple(
                FlexStep(start_min=start, dose_ng_per_day=dose)
                for start, dose in _STEP.iter_unpack(data[offset:stop])
            )
        )
        offset = stop
    spec = PrescriptionSpec(
        mode=mode, concentration_ug_per_ml=concentration, weekly=weekly, profiles=tuple(profiles)
    )
    return spec, offset


def prescription_checksum(spec: PrescriptionSpec) -> int:
    """zlib.crc32 of the prescription's wire bytes: what STAGE returns and COMMIT names."""
    return zlib.crc32(encode_prescription(spec))
