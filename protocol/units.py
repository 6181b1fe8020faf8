"""Unit conversions and formatting for the programmer and the CLI.

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

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

NL_PER_ML: Final = 1_000_000
"""Nanolitres in one millilitre."""
S_PER_DAY: Final = 86_400

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


def format_volume_nl(nl: int, places: int = 2) -> str:
    """A volume in mL: ``format_volume_nl(18_500_000)`` is ``"18.50 mL"``."""
    return f"{format_fixed(nl_to_ml(nl), places)} mL"


def format_rate_nl_per_day(nl_per_day: int, places: int = 3) -> str:
    """A rate in mL/day: ``format_rate_nl_per_day(200_000)`` is ``"0.200 mL/day"``."""
    return f"{format_fixed(nl_per_day_to_ml_per_day(nl_per_day), places)} mL/day"


def format_dose_ug_per_day(dose_ug_per_day: Number, max_places: int = 2) -> str:
    """A daily dose: ``format_dose_ug_per_day(400)`` is ``"400 mcg/day"``."""
    return f"{format_trimmed(dose_ug_per_day, max_places)} mcg/day"


def format_dose_ug(dose_ug: Number, max_places: int = 2) -> str:
    """A single dose: ``format_dose_ug(50)`` is ``"50 mcg"``."""
    return f"{format_trimmed(dose_ug, max_places)} mcg"


def format_concentration_ug_per_ml(concentration_ug_per_ml: Number) -> str:
    """A concentration: ``format_concentration_ug_per_ml(2000)`` is ``"2000 mcg/mL"``."""
    return f"{format_trimmed(concentration_ug_per_ml, 2)} mcg/mL"


def format_percent(fraction: Number, max_places: int = 1) -> str:
    """A ratio as a percentage: ``format_percent(Fraction(1, 8))`` is ``"12.5 %"``."""
    return f"{format_trimmed(exact(fraction) * 100, max_places)} %"


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
