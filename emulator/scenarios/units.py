"""Strict parsing of the values a scenario file writes with their units.

Every number in a scenario carries its unit, written the way domain.md
writes it: ``20 mL``, ``500 mcg/mL``, ``100 mcg/day``, ``0.2 mL/day``,
``50 mcg``, ``90d``, ``6h``, ``30 min``, ``5 %``, ``50 cm``. A bare number,
an unknown unit (``20 ml``) or an exponent is refused with a message that
names the accepted units. Values are exact (``Fraction``) in the base unit
of their kind: nanolitres, mcg/mL, mcg/day, nL/day, mcg, seconds, a ratio
(5 % is 1/20) and centimetres (a length may be written in mm).

Expectations add a comparison and a tolerance: ``2 mL``, ``2 mL ± 0.05 mL``
(``+-`` works too), ``100 mcg/day ± 1 %``, ``<= 2 mL``, ``> 0 mL``. Times are
written relative to the scenario's start or to the current step:
``start``, ``start + 90d``, ``start + 90d 6h``, ``now + 12h``, or as an
absolute UTC date ``2026-12-20T08:00:00Z``; a time expectation may be
``none`` (the pump reports no date).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from emulator.scenarios.errors import UnitError
from protocol import units

__all__ = [
    "Comparison",
    "Expectation",
    "Kind",
    "TimeExpectation",
    "TimeRef",
    "format_quantity",
    "parse_duration_s",
    "parse_expectation",
    "parse_quantity",
    "parse_time",
    "parse_time_expectation",
]

_TOLERANCE_SIGN: Final = re.compile(r"\s*(?:±|\+/-|\+-)\s*")
_COMPARISON: Final = re.compile(r"\s*(<=|>=|<|>|==|=)?\s*")
_TIME: Final = re.compile(r"\s*(start|now)\s*(?:([+-])\s*(.+?))?\s*")


class Kind(enum.Enum):
    """What a value measures: its accepted units and their factors to the base unit."""

    VOLUME = ("a volume", "nL", {"mL": 1_000_000, "µL": 1_000, "uL": 1_000, "nL": 1}, "20 mL")
    CONCENTRATION = ("a concentration", "mcg/mL", {"mcg/mL": 1}, "500 mcg/mL")
    DOSE_RATE = ("a daily dose", "mcg/day", {"mcg/day": 1}, "100 mcg/day")
    VOLUME_RATE = ("a flow rate", "nL/day", {"mL/day": 1_000_000, "mL/h": 24_000_000}, "0.2 mL/day")
    DOSE = ("a dose", "mcg", {"mcg": 1}, "50 mcg")
    DURATION = ("a duration", "s", {"d": 86_400, "h": 3_600, "min": 60, "s": 1}, "90d, 6h, 30 min")
    SHORT_DURATION = ("a short duration", "s", {"ms": Fraction(1, 1000), "s": 1}, "200 ms")
    PERCENT = ("a percentage", "ratio", {"%": Fraction(1, 100)}, "5 %")
    LENGTH = ("a length", "cm", {"cm": 1, "mm": Fraction(1, 10)}, "50 cm")
    LEVEL = ("a spinal-fluid level", "ng/mL", {"ng/mL": 1}, "60 ng/mL")

    def __init__(
        self, label: str, base: str, units: dict[str, int | Fraction], example: str
    ) -> None:
        self.label = label
        self.base = base
        self.units = units
        self.example = example

    def hint(self) -> str:
        """How to write this kind, for error messages."""
        return (
            f"{self.label} is written with its unit, e.g. {self.example} (units: "
            + ", ".join(self.units)
            + ")"
        )


def _fail(text: object, kind: Kind, why: str) -> UnitError:
    return UnitError(f"{text!r}: {why}; {kind.hint()}")


def parse_quantity(text: object, kind: Kind) -> Fraction:
    """``text`` (e.g. ``"20 mL"``) as an exact value in ``kind``'s base unit.

    Durations may be compound (``1d 6h``). Raises :class:`UnitError`.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        if isinstance(text, int | float):
            raise _fail(text, kind, "a bare number has no unit")
        raise _fail(text, kind, f"expected text, got {type(text).__name__}")
    if kind in (Kind.DURATION, Kind.SHORT_DURATION):
        return _parse_duration(text, kind)
    try:
        number, unit = units.split_quantity(text)
    except ValueError:
        raise _fail(text, kind, "not a number followed by a unit") from None
    if unit is None:
        raise _fail(text, kind, "a bare number has no unit")
    if unit not in kind.units:
        near = [u for u in kind.units if u.lower() == unit.lower()]
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise _fail(text, kind, f"{unit!r} is not a unit of {kind.label}{hint}")
    return number * kind.units[unit]


def _parse_duration(text: str, kind: Kind) -> Fraction:
    try:
        return units.parse_duration(text, allowed=kind.units)
    except ValueError as exc:
        why = str(exc).partition(": ")[2] or str(exc)
        raise _fail(text, kind, why.replace("allowed here", f"a unit of {kind.label}")) from None


def parse_duration_s(text: object) -> int:
    """A duration in whole seconds (``90d``, ``1d 6h``, ``30 min``); raises :class:`UnitError`."""
    value = parse_quantity(text, Kind.DURATION)
    if value.denominator != 1:
        raise UnitError(f"{text!r}: a duration must come to whole seconds")
    return int(value)


def whole(value: Fraction, text: object, what: str) -> int:
    """``value`` as an int, or a :class:`UnitError` naming ``what`` (e.g. ``nL``)."""
    if value.denominator != 1:
        raise UnitError(f"{text!r}: must come to a whole number of {what}")
    return int(value)


def format_quantity(value: Fraction | int, kind: Kind) -> str:
    """A base-unit value written back in the first (most readable) unit of its kind, as a
    scenario file writes it (every digit kept to the micro-unit; durations ``1d 6h``)."""
    unit, factor = next(iter(kind.units.items()))
    if kind is Kind.DURATION:
        return units.format_duration(Fraction(value), compact=True, exact=True)
    return f"{units.format_trimmed(Fraction(value) / factor, 6)} {unit}"


# --- expectations ----------------------------------------------------------------------------


class Comparison(enum.Enum):
    EQUAL = "="
    AT_MOST = "<="
    AT_LEAST = ">="
    BELOW = "<"
    ABOVE = ">"


_COMPARISONS: Final = {
    None: Comparison.EQUAL,
    "=": Comparison.EQUAL,
    "==": Comparison.EQUAL,
    "<=": Comparison.AT_MOST,
    ">=": Comparison.AT_LEAST,
    "<": Comparison.BELOW,
    ">": Comparison.ABOVE,
}


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """An expected value: a comparison, a value and a tolerance (all in base units)."""

    kind: Kind
    comparison: Comparison
    value: Fraction
    tolerance: Fraction = Fraction(0)
    """Absolute tolerance in the base unit (a relative one is resolved on construction)."""
    text: str
    """As written in the file."""

    def __post_init__(self) -> None:
        if self.tolerance < 0:
            raise UnitError(f"{self.text!r}: a tolerance must be >= 0")

    def matches(self, actual: Fraction | int) -> bool:
        """Whether ``actual`` (base unit) meets this expectation."""
        a = Fraction(actual)
        match self.comparison:
            case Comparison.EQUAL:
                return abs(a - self.value) <= self.tolerance
            case Comparison.AT_MOST:
                return a <= self.value + self.tolerance
            case Comparison.AT_LEAST:
                return a >= self.value - self.tolerance
            case Comparison.BELOW:
                return a < self.value
            case Comparison.ABOVE:
                return a > self.value

    def describe(self) -> str:
        """The expectation in words with units (``2 mL ± 0.05 mL``)."""
        op = "" if self.comparison is Comparison.EQUAL else f"{self.comparison.value} "
        tolerance = f" ± {format_quantity(self.tolerance, self.kind)}" if self.tolerance else ""
        return f"{op}{format_quantity(self.value, self.kind)}{tolerance}"


def _split_comparison(text: str) -> tuple[Comparison, str]:
    match = _COMPARISON.match(text)
    assert match is not None  # the pattern matches the empty string
    return _COMPARISONS[match[1]], text[match.end() :]


def parse_expectation(text: object, kind: Kind) -> Expectation:
    """``[<=|>=|<|>] QUANTITY [± TOLERANCE]``; the tolerance may be a percentage of the value."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise _fail(text, kind, "a bare number has no unit")
    comparison, rest = _split_comparison(text)
    parts = _TOLERANCE_SIGN.split(rest)
    if len(parts) > 2:
        raise _fail(text, kind, "more than one tolerance")
    value = parse_quantity(parts[0], kind)
    tolerance = Fraction(0)
    if len(parts) == 2:
        if comparison in (Comparison.BELOW, Comparison.ABOVE):
            raise _fail(text, kind, "a strict comparison takes no tolerance")
        written = parts[1].strip()
        if written.endswith("%") and kind is not Kind.PERCENT:
            tolerance = abs(value) * parse_quantity(written, Kind.PERCENT)
        else:
            tolerance = parse_quantity(written, kind)
    return Expectation(
        kind=kind, comparison=comparison, value=value, tolerance=tolerance, text=text
    )


# --- times -----------------------------------------------------------------------------------


class Anchor(enum.Enum):
    START = "start"
    NOW = "now"
    ABSOLUTE = "absolute"


@dataclass(frozen=True, kw_only=True)
class TimeRef:
    """A pump-clock time: ``start + offset``, ``now + offset`` or an absolute UTC second."""

    anchor: Anchor
    offset_s: int
    """Seconds after the anchor (for ABSOLUTE: the Unix time itself)."""
    text: str

    def resolve(self, *, start_s: int, now_s: int) -> int:
        """The Unix second this names, given the scenario's start and the current time."""
        match self.anchor:
            case Anchor.START:
                return start_s + self.offset_s
            case Anchor.NOW:
                return now_s + self.offset_s
            case Anchor.ABSOLUTE:
                return self.offset_s


def parse_iso_utc(text: str) -> int:
    """``2026-09-21T08:00:00Z`` (UTC, ``Z`` or ``+00:00`` required) as Unix seconds
    (:func:`protocol.units.parse_clock`)."""
    try:
        return units.parse_clock(text, utc_only=True)
    except ValueError as exc:
        raise UnitError(str(exc)) from None


def parse_time(text: object) -> TimeRef:
    """``start``, ``start + 90d 6h``, ``now + 12h`` or ``2026-12-20T08:00:00Z``."""
    if not isinstance(text, str):
        raise UnitError(f"{text!r}: a time is written start + 90d, now + 6h or an ISO UTC date")
    match = _TIME.fullmatch(text)
    if match is None:
        if re.match(r"\s*\d{4}-\d\d-\d\d", text):
            return TimeRef(anchor=Anchor.ABSOLUTE, offset_s=parse_iso_utc(text), text=text)
        raise UnitError(f"{text!r}: a time is written start + 90d, now + 6h or an ISO UTC date")
    offset = 0 if match[3] is None else parse_duration_s(match[3])
    if match[2] == "-":
        offset = -offset
    return TimeRef(anchor=Anchor(match[1]), offset_s=offset, text=text)


@dataclass(frozen=True, kw_only=True)
class TimeExpectation:
    """An expected date: None (the pump reports none) or a time with a comparison and tolerance."""

    time: TimeRef | None
    comparison: Comparison = Comparison.EQUAL
    tolerance_s: int = 0
    text: str

    def matches(self, actual_s: int | None, *, start_s: int, now_s: int) -> bool:
        if self.time is None or actual_s is None:
            return self.time is None and actual_s is None
        expected = Expectation(
            kind=Kind.DURATION,
            comparison=self.comparison,
            value=Fraction(self.time.resolve(start_s=start_s, now_s=now_s)),
            tolerance=Fraction(self.tolerance_s),
            text=self.text,
        )
        return expected.matches(actual_s)


def parse_time_expectation(text: object) -> TimeExpectation:
    """``none``, or ``[<=|>=|<|>] TIME [± DURATION]`` (e.g. ``start + 90d ± 1h``)."""
    if text is None or text == "none":
        return TimeExpectation(time=None, text="none")
    if not isinstance(text, str):
        raise UnitError(f"{text!r}: a date is written start + 90d ± 1h, or none")
    comparison, rest = _split_comparison(text)
    parts = _TOLERANCE_SIGN.split(rest)
    if len(parts) > 2:
        raise UnitError(f"{text!r}: more than one tolerance")
    tolerance = parse_duration_s(parts[1]) if len(parts) == 2 else 0
    return TimeExpectation(
        time=parse_time(parts[0]), comparison=comparison, tolerance_s=tolerance, text=text
    )
