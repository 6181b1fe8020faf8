"""Units: the one place that declares, parses and formats quantities, durations and dates.

:class:`Unit` names what a wire field counts (every field of every message declares
one in its metadata, see :mod:`protocol.wire`); :data:`PRECISION` is the one rule for
how many decimals each quantity shows, used by :mod:`protocol.describe`, ``pumpctl``,
the programmer's pages and its session report. The parsers here (:func:`parse_decimal`,
:func:`parse_quantity`, :func:`parse_duration`) are the strict ones every command line,
scenario file and entry field builds on.

The wire and the pump count integers: nanolitres (nL), nL/day, micrograms
per millilitre (ug/mL). People read millilitres, mL/day and mcg/day. The
conversions here use exact rational arithmetic (``Fraction``), so nothing is
lost to binary floating point; where an integer must come out (nL, nL/day),
the value is rounded to the nearest integer, halves to even, and the rounding
error is at most half a nanolitre (per day).

Inputs may be ``int``, ``Fraction``, ``Decimal`` or ``str`` ("18.5", "1/3");
a ``float`` is taken as the decimal it prints as (``0.1`` is 1/10, not the
binary double nearest to it), which is what a person typed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType
from typing import Final

NL_PER_ML: Final = 1_000_000
"""Nanolitres in one millilitre."""

Number = int | float | str | Decimal | Fraction
"""What the conversions accept (see the module docstring for floats)."""


def exact(value: Number) -> Fraction:
    """``value`` as an exact fraction.

    Raises:
        ValueError: not a finite number (or an unparsable string).
    """
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float):
        value = repr(value)
    try:
        if isinstance(value, str):
            value = value.strip()
            if "/" in value:
                return Fraction(value)
            value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(value)
    except (InvalidOperation, ZeroDivisionError):
        raise ValueError(f"not a number: {value!r}") from None


def round_half_even(value: Fraction) -> int:
    """The nearest integer to ``value``, halves to even (Python's ``round``)."""
    return round(value)


# --- volumes and rates -------------------------------------------------------


def ml_to_nl(ml: Number) -> int:
    """Millilitres to whole nanolitres (exact up to 6 decimals, else rounded)."""
    return round_half_even(exact(ml) * NL_PER_ML)


def nl_to_ml(nl: int) -> Fraction:
    """Nanolitres to millilitres, exactly."""
    return Fraction(nl, NL_PER_ML)


def ml_per_day_to_nl_per_day(ml_per_day: Number) -> int:
    """mL/day to whole nL/day (exact up to 6 decimals, else rounded)."""
    return ml_to_nl(ml_per_day)


def nl_per_day_to_ml_per_day(nl_per_day: int) -> Fraction:
    """nL/day to mL/day, exactly."""
    return nl_to_ml(nl_per_day)


# --- dose, rate and concentration -------------------------------------------


def _check_concentration(concentration_ug_per_ml: Number) -> Fraction:
    concentration = exact(concentration_ug_per_ml)
    if concentration <= 0:
        raise ValueError(f"concentration must be > 0 mcg/mL, got {concentration_ug_per_ml}")
    return concentration


def dose_to_rate_nl_per_day(dose_ug_per_day: Number, concentration_ug_per_ml: Number) -> int:
    """The rate (whole nL/day) that delivers ``dose_ug_per_day`` at a concentration.

    rate = dose / concentration, in mL/day, times 1,000,000; rounded to the
    nearest nL/day, halves to even. The dose error this leaves is at most
    0.5 nL/day x concentration (0.001 mcg/day at 2000 mcg/mL).
    """
    concentration = _check_concentration(concentration_ug_per_ml)
    return round_half_even(exact(dose_ug_per_day) * NL_PER_ML / concentration)


def rate_to_dose_ug_per_day(rate_nl_per_day: int, concentration_ug_per_ml: Number) -> Fraction:
    """The dose (mcg/day, exact) a rate delivers at a concentration."""
    concentration = _check_concentration(concentration_ug_per_ml)
    return Fraction(rate_nl_per_day) * concentration / NL_PER_ML


def volume_to_dose_ug(volume_nl: int, concentration_ug_per_ml: Number) -> Fraction:
    """The drug (mcg, exact) in ``volume_nl`` at a concentration (e.g. a bolus)."""
    return rate_to_dose_ug_per_day(volume_nl, concentration_ug_per_ml)


def dose_to_volume_nl(dose_ug: Number, concentration_ug_per_ml: Number) -> int:
    """The volume (whole nL, rounded half to even) holding ``dose_ug`` at a concentration."""
    return dose_to_rate_nl_per_day(dose_ug, concentration_ug_per_ml)


# --- formatting -------------------------------------------------------------


def format_fixed(value: Number, places: int) -> str:
    """``value`` with exactly ``places`` decimals, rounded half to even (exactly)."""
    if places < 0:
        raise ValueError(f"places must be >= 0, got {places}")
    scaled = round_half_even(exact(value) * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    if places == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def format_trimmed(value: Number, max_places: int) -> str:
    """``value`` with at most ``max_places`` decimals, trailing zeros dropped."""
    text = format_fixed(value, max_places)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_volume_nl(nl: int) -> str:
    """A volume in mL (:attr:`Quantity.VOLUME`): ``format_volume_nl(18_500_000)`` is
    ``"18.5 mL"``."""
    return Quantity.VOLUME.text(nl_to_ml(nl))


def format_rate_nl_per_day(nl_per_day: int) -> str:
    """A rate in mL/day (:attr:`Quantity.RATE`): ``format_rate_nl_per_day(198_438)`` is
    ``"0.1984 mL/day"``."""
    return Quantity.RATE.text(nl_per_day_to_ml_per_day(nl_per_day))


def format_dose_ug_per_day(dose_ug_per_day: Number) -> str:
    """A daily dose (:attr:`Quantity.DOSE_RATE`): ``format_dose_ug_per_day(400)`` is
    ``"400 mcg/day"``."""
    return Quantity.DOSE_RATE.text(dose_ug_per_day)


def format_dose_ug(dose_ug: Number) -> str:
    """A single dose (:attr:`Quantity.DOSE`): ``format_dose_ug(50)`` is ``"50 mcg"``."""
    return Quantity.DOSE.text(dose_ug)


def format_concentration_ug_per_ml(concentration_ug_per_ml: Number) -> str:
    """A concentration: ``format_concentration_ug_per_ml(2000)`` is ``"2000 mcg/mL"``."""
    return Quantity.CONCENTRATION.text(concentration_ug_per_ml)


def format_percent(fraction: Number) -> str:
    """A ratio as a percentage: ``format_percent(Fraction(1, 8))`` is ``"12.5 %"``."""
    return Quantity.PERCENT.text(exact(fraction) * 100)


def format_length_mm(mm: int) -> str:
    """A length in cm (:attr:`Quantity.LENGTH`): ``format_length_mm(955)`` is ``"95.5 cm"``."""
    return Quantity.LENGTH.text(Fraction(mm, 10))


# --- the pump clock --------------------------------------------------------------------

PUMP_CLOCK_MIN_S = 946_684_800
"""The earliest pump-clock time a tool accepts: 2000-01-01T00:00:00Z (a clock set before
this is a slip, e.g. the Unix epoch)."""
PUMP_CLOCK_MAX_S = 2**32 - 1
"""The last second the pump's 32-bit RTC holds: 2106-02-07T06:28:15Z."""


def check_pump_clock(clock_s: int, what: str = "pump clock") -> int:
    """``clock_s`` if within the accepted pump-clock range (the one definition used by
    ``pumpctl clock --set``, scenario ``start`` times and any start option); else ValueError."""
    if not PUMP_CLOCK_MIN_S <= clock_s <= PUMP_CLOCK_MAX_S:
        raise ValueError(
            f"{what} {clock_s} s is outside 2000-01-01T00:00:00Z .. 2106-02-07T06:28:15Z "
            f"({PUMP_CLOCK_MIN_S} .. {PUMP_CLOCK_MAX_S} s)"
        )
    return clock_s


# --- what a wire field counts ------------------------------------------------------------


class Unit(enum.Enum):
    """The unit of a wire field, declared in its metadata next to its description.

    ``wire`` is how docs/protocol.md names the unit of the raw integer; :mod:`protocol.describe`
    turns a value of each unit into words (volumes in mL, doses in mcg, pump-clock dates ...).
    The last members name fields that are not numbers; their wire type implies them.
    """

    NL = ("nL", "a volume")
    NL_PER_DAY = ("nL/day", "a flow rate")
    NL_PER_CM = ("nL/cm", "a catheter's dead volume per length")
    NL_S_PER_DAY = ("nL*s/day", "the sub-nanolitre remainder of a rate integral")
    NG = ("ng", "a dose")
    NG_PER_DAY = ("ng/day", "a daily dose")
    UG_PER_ML = ("mcg/mL", "a drug concentration")
    PERMILLE = ("1/1000", "a fraction in thousandths")
    MM = ("mm", "a length")
    ML = ("mL", "a reservoir size (the pump model)")
    UC = ("uC", "an electric charge")
    UC_PER_S = ("uC/s", "a battery drain per second")
    UC_PER_NL = ("uC/nL", "a battery drain per nanolitre")
    S = ("s", "a duration")
    S_PER_FRAME = ("s per frame", "telemetry time charged per frame")
    CLOCK = ("s (Unix time)", "a pump-clock date")
    MIN = ("min", "a duration in minutes")
    MIN_OF_DAY = ("min after midnight", "a time of day on the pump clock")
    COUNT = ("count", "a number of things")
    INDEX = ("index", "a position in the event log")
    EVENT_PARAM = ("per EVENT_PARAMS", "an event parameter: its unit depends on the event")
    NUMBER = ("", "a plain number (a version)")
    CHECKSUM = ("crc32", "a checksum")
    ENUM = ("enum", "a named value")
    BOOL = ("bool", "yes or no")
    ALARMS = ("alarm set", "a set of alarm codes")
    TEXT = ("text", "UTF-8 text")
    BYTES = ("bytes", "opaque bytes")
    RECORD = ("record", "nested fields")
    PRESCRIPTION = ("prescription", "a basal prescription")

    def __init__(self, wire: str, meaning: str) -> None:
        self.wire = wire
        self.meaning = meaning

    @property
    def symbol(self) -> str:
        """What follows a raw wire value of this unit ("nL", "s (Unix time)"); "" for a
        count, an index, a checksum, a version, an event parameter and non-numbers."""
        return "" if self in _NO_SYMBOL or not self.numeric else self.wire

    @property
    def numeric(self) -> bool:
        """Whether a field of this unit is a number (and so must declare its unit)."""
        return self not in _NOT_NUMBERS


_NOT_NUMBERS: Final = frozenset(
    {
        Unit.ENUM,
        Unit.BOOL,
        Unit.ALARMS,
        Unit.TEXT,
        Unit.BYTES,
        Unit.RECORD,
        Unit.PRESCRIPTION,
    }
)


_NO_SYMBOL: Final = frozenset(
    {Unit.COUNT, Unit.INDEX, Unit.NUMBER, Unit.CHECKSUM, Unit.EVENT_PARAM}
)


# --- precision: one rule per quantity ------------------------------------------------------


class Quantity(enum.Enum):
    """A quantity people read, and the one precision it is shown with everywhere (the
    programmer's pages, its session report, ``pumpctl``): at most ``places`` decimals,
    rounded half to even, trailing zeros dropped (so a value shows every digit it has up
    to that resolution, and never a false one). docs/programmer.md lists them."""

    DOSE_RATE = ("mcg/day", 2)
    """A daily dose: 0.01 mcg/day (10 ng/day): 400, 396.88."""
    DOSE = ("mcg", 2)
    """A single dose (bolus, patient dose): 0.01 mcg: 50, 12.5."""
    RATE = ("mL/day", 4)
    """A flow rate: 0.0001 mL/day (0.1 uL/day; 0.2 mcg/day at 2000 mcg/mL): 0.2, 0.1984."""
    VOLUME = ("mL", 4)
    """A volume: 0.0001 mL (0.1 uL; a 25 mcg patient dose at 2000 mcg/mL is 0.0125 mL):
    18.5, 0.025, 0.0125."""
    CONCENTRATION = ("mcg/mL", 2)
    """A concentration: 0.01 mcg/mL: 2000, 500."""
    PERCENT = ("%", 1)
    """A percentage: 0.1 %: 12.5 %."""
    LENGTH = ("cm", 1)
    """A catheter length: 0.1 cm (1 mm, the wire's resolution): 110, 95.5."""

    def __init__(self, unit: str, places: int) -> None:
        self.unit = unit
        self.places = places

    def number(self, value: Number) -> str:
        """``value`` (in this quantity's unit) with this quantity's precision, no unit."""
        return format_trimmed(value, self.places)

    def text(self, value: Number) -> str:
        """``value`` with this quantity's precision and its unit."""
        return f"{self.number(value)} {self.unit}"


PRECISION: Final[Mapping[Quantity, int]] = MappingProxyType({q: q.places for q in Quantity})
"""The most decimals shown of each quantity."""


# --- strict decimals with a unit -------------------------------------------------------------

# The patterns here are compiled (and cached) by re when first used, not by every import
# (a start-up cost of programs that never parse a value, #16).
_PLAIN_DECIMAL: Final = r"(?:0|[1-9][0-9]*)(?:\.([0-9]+))?"


def parse_decimal(
    text: str, unit: str = "", *, what: str = "value", max_decimals: int | None = None
) -> Fraction:
    """A plain decimal written out in full, optionally followed by ``unit``: no sign, no
    exponent, no separator, no lone or trailing point and no superfluous leading zero
    (``.5``, ``5.`` and ``05`` are refused: decimal slips are a documented cause of
    overdoses), ASCII digits only (never a full-width 5), at most ``max_decimals`` decimals.
    The one grammar of ``pumpctl``'s values and the programmer's entry fields (which put
    friendlier words on each refusal).

    Raises:
        ValueError: naming ``what`` and the unit.
    """
    value = text.strip()
    if unit and value.endswith(unit):
        value = value[: -len(unit)].strip()
    where = f" in {unit}" if unit else ""
    match = re.fullmatch(_PLAIN_DECIMAL, value, re.ASCII)
    if match is None:
        raise ValueError(
            f"{what}: {text!r} is not a plain decimal number{where} (write e.g. 0.5, not .5)"
        )
    if max_decimals is not None and len(match[1] or "") > max_decimals:
        raise ValueError(f"{what}: {text!r} has more than {max_decimals} decimals{where}")
    return Fraction(value)


_QUANTITY_TEXT: Final = r"\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(\S.*?)?\s*"


def split_quantity(text: str) -> tuple[Fraction, str | None]:
    """``"20 mL"`` -> (20, "mL"); the unit is None when none is written.

    Raises:
        ValueError: not a decimal number (optionally negative) followed by a unit.
    """
    match = re.fullmatch(_QUANTITY_TEXT, text, re.ASCII)
    if match is None:
        raise ValueError(f"{text!r}: not a number followed by a unit")
    return Fraction(match[1]), match[2]


# --- durations ------------------------------------------------------------------------------

DURATION_UNITS_S: Final[Mapping[str, int | Fraction]] = MappingProxyType(
    {"d": 86_400, "h": 3_600, "min": 60, "s": 1, "ms": Fraction(1, 1000)}
)
"""Seconds in each unit a duration may be written in."""
_DURATION_PART: Final = r"([0-9]+(?:\.[0-9]+)?)\s*(d|h|min|ms|m|s)(?![A-Za-z])\s*"


def parse_duration(
    text: str,
    *,
    allowed: Mapping[str, int | Fraction] = DURATION_UNITS_S,
    decimals: bool = True,
) -> Fraction:
    """A duration, possibly compound (``90d``, ``4d 16h``, ``1 h 30 min``, ``200 ms``), as
    exact seconds; every part carries one of ``allowed``'s units (and, unless ``decimals``,
    a whole number).

    Raises:
        ValueError: empty, a part without a unit, a unit not allowed, a decimal refused.
    """
    stripped = text.strip()
    position = 0
    total = Fraction(0)
    while position < len(stripped):
        match = re.compile(_DURATION_PART, re.ASCII).match(stripped, position)
        if match is None:
            raise ValueError(f"{text!r}: cannot read {stripped[position:]!r}")
        if match[2] not in allowed:
            raise ValueError(f"{text!r}: {match[2]!r} is not allowed here")
        if not decimals and "." in match[1]:
            raise ValueError(f"{text!r}: write whole numbers ({match[1]!r})")
        total += Fraction(match[1]) * allowed[match[2]]
        position = match.end()
    if position == 0:
        raise ValueError(f"{text!r}: empty")
    return total


def parse_duration_s(text: str) -> int:
    """:func:`parse_duration` in whole seconds (ValueError if it is not whole)."""
    value = parse_duration(text)
    if value.denominator != 1:
        raise ValueError(f"{text!r}: a duration must come to whole seconds")
    return int(value)


DURATION_MINUTES_FROM_S: Final = 3_600
"""The precision of durations: from one hour up, a duration is shown to the minute
(``2 h 5 min``, ``4 d 16 h``); below, to the second (``29 min 10 s``)."""


def format_duration(seconds: int | Fraction, *, compact: bool = False, exact: bool = False) -> str:
    """A duration in days, hours, minutes and seconds, the zero parts left out:
    ``4 d 16 h``, ``2 h 5 min``, ``45 s``; from one hour up rounded to the minute (the
    duration precision, :data:`DURATION_MINUTES_FROM_S`) unless ``exact``. ``compact``
    writes ``4d 16h``, what the parsers read. A negative duration has a leading minus; a
    fractional one (exact, under a minute) is shown in seconds."""
    value = Fraction(seconds)
    space = "" if compact else " "
    if not exact and abs(value) >= DURATION_MINUTES_FROM_S:
        value = Fraction(round(value / 60) * 60)
    elif not exact:
        value = Fraction(round(value))
    if value.denominator != 1:
        return f"{format_trimmed(value, 3)}{space}s"
    sign = "-" if value < 0 else ""
    rest = abs(int(value))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{space}{unit}")
            rest %= size
    return sign + (" ".join(parts) or f"0{space}s")


# --- pump-clock dates and times of day ---------------------------------------------------------


def format_clock(clock_s: float, tz: tzinfo | None = None, *, seconds: bool = True) -> str:
    """A pump-clock time for people, in ``tz`` (None: the machine's local zone):
    ``2026-11-20 09:00:00``. A time no calendar holds is shown in seconds."""
    try:
        moment = datetime.fromtimestamp(clock_s, tz=tz or UTC)
    except (OverflowError, ValueError, OSError):
        return f"{clock_s} s (Unix, out of calendar range)"
    moment = moment.astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def format_clock_utc(clock_s: float) -> str:
    """A pump-clock time in UTC, saying so: ``2026-11-20 08:00:00 UTC`` (``pumpctl``)."""
    text = format_clock(clock_s, UTC)
    return text if text.endswith("range)") else f"{text} UTC"


def format_clock_iso(clock_s: float, *, millis: bool = False) -> str:
    """A pump-clock (or capture) time as ISO 8601 UTC, ``2026-11-20T08:00:00Z``, for
    machine-readable output; a time no calendar holds is shown in seconds."""
    try:
        moment = datetime.fromtimestamp(clock_s, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return f"{clock_s} s (Unix, out of calendar range)"
    return moment.isoformat(timespec="milliseconds" if millis else "seconds").replace("+00:00", "Z")


def parse_clock(text: str, *, utc_only: bool = False) -> int:
    """An ISO 8601 date and time with its zone (``2026-11-20T08:00:00Z``) as a pump-clock
    second, within :func:`check_pump_clock`'s range; ``utc_only`` refuses other zones
    (a scenario file writes the pump's clock, which is UTC).

    Raises:
        ValueError: saying what to write instead.
    """
    example = "2026-11-20T08:00:00Z"
    if not text.isascii():
        raise ValueError(f"{text!r}: not an ISO 8601 date and time such as {example}")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r}: not an ISO 8601 date and time such as {example}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r}: give a time zone (e.g. a trailing Z for UTC)")
    if utc_only and moment.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"{text!r}: write the time in UTC, ending in Z (the pump clock is UTC)")
    return check_pump_clock(int(moment.timestamp()), repr(text))


def format_minute_of_day(minute: int) -> str:
    """Minutes after midnight as ``HH:MM`` (1440 is ``24:00``, a day's end)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"
