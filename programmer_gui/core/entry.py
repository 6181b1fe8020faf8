"""Guarded number entry: doses, volumes, concentrations, lengths typed by a clinician.

Decimal slips are a documented cause of intrathecal overdoses, so the
parser is strict and says exactly what is wrong, in words a clinician acts
on:

- digits with at most one decimal point and at most ``max_decimals``
  decimals; a point needs digits on both sides (``0.5``, never ``.5`` or
  ``5.``), and no superfluous leading zero (``05``), so a lost or extra
  point is refused instead of read as a number ten times off;
- no sign, no thousands separator (``1,000`` or ``1 000``; a comma is also
  how half of Europe writes a decimal point), no exponent, no other digits
  than 0-9;
- within the field's typing range (the pump's own limits are checked by the
  workflow, which knows them).

A value that parses but is 10 times (or more) or a tenth (or less) of the
current one needs an explicit confirmation: :func:`magnitude_check`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from programmer_gui.core import InputError
from protocol.units import format_trimmed, parse_decimal

MAGNITUDE_FACTOR = 10
"""A new value this many times the current one (or this fraction of it) needs confirming."""

_SEPARATORS = frozenset(",'_\u00a0\u2009\u202f ")


class EntryProblem(StrEnum):
    """Why a text was refused (stable codes for tests and for the views)."""

    EMPTY = "empty"
    SIGN = "sign"
    SEPARATOR = "separator"
    LEADING_POINT = "leading_point"
    TRAILING_POINT = "trailing_point"
    LEADING_ZERO = "leading_zero"
    TOO_MANY_DECIMALS = "too_many_decimals"
    NOT_A_NUMBER = "not_a_number"
    BELOW_MINIMUM = "below_minimum"
    ABOVE_MAXIMUM = "above_maximum"


class EntryError(InputError):
    """A typed value was refused; ``problem`` says why, the message says what to type."""

    def __init__(self, *, problem: EntryProblem, text: str, label: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.text = text
        self.label = label


@dataclass(frozen=True, kw_only=True)
class NumberEntry:
    """One guarded number field: its label, unit, decimals and typing range."""

    label: str
    """What the field is, for messages ("Daily dose")."""
    unit: str
    """Shown after every value ("mcg/day")."""
    max_decimals: int
    minimum: Fraction = Fraction(0)
    """Smallest value accepted (inclusive)."""
    maximum: Fraction | None = None
    """Largest value accepted (inclusive); None: no typing limit."""
    example: str = "400"
    """A valid entry, quoted in messages."""

    def __post_init__(self) -> None:
        if self.max_decimals < 0:
            raise ValueError(f"max_decimals must be >= 0, got {self.max_decimals}")
        if self.minimum < 0:
            raise ValueError(f"minimum must be >= 0, got {self.minimum}")
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError(f"maximum {self.maximum} is below minimum {self.minimum}")
        object.__setattr__(self, "minimum", Fraction(self.minimum))
        if self.maximum is not None:
            object.__setattr__(self, "maximum", Fraction(self.maximum))

    def with_label(self, label: str) -> NumberEntry:
        """The same field under another label ("Volume removed")."""
        return dataclasses.replace(self, label=label)

    def format(self, value: Fraction | int) -> str:
        """``value`` as the text this field parses back to the same value (no unit)."""
        return format_trimmed(value, self.max_decimals)

    def show(self, value: Fraction | int) -> str:
        """``value`` with its unit, for messages ("400 mcg/day")."""
        return f"{self.format(value)} {self.unit}"

    def _refuse(self, problem: EntryProblem, text: str, detail: str) -> EntryError:
        return EntryError(
            problem=problem,
            text=text,
            label=self.label,
            message=f"{self.label}: {detail}",
        )

    def parse(self, text: str) -> Fraction:
        """The exact value of ``text``, or :class:`EntryError` saying what to type instead."""
        stripped = text.strip()
        unit = self.unit
        if not stripped:
            raise self._refuse(
                EntryProblem.EMPTY, text, f"type a value in {unit} (for example {self.example})."
            )
        if stripped[0] in "+-\u2212":
            raise self._refuse(
                EntryProblem.SIGN,
                text,
                f"type the value without a sign ({self.example}, in {unit}).",
            )
        if any(ch in _SEPARATORS for ch in stripped):
            raise self._refuse(
                EntryProblem.SEPARATOR,
                text,
                "type digits only, without commas, spaces or other separators; "
                f"use a point for decimals (for example {self.example}).",
            )
        try:
            parse_decimal(stripped)
        except ValueError:
            raise self._refuse_shape(stripped, text) from None
        decimals = stripped.partition(".")[2]
        if len(decimals) > self.max_decimals:
            if self.max_decimals == 0:
                detail = f"type a whole number of {unit}, without decimals."
            else:
                plural = "s" if self.max_decimals > 1 else ""
                detail = (
                    f"type at most {self.max_decimals} decimal{plural} (you typed {len(decimals)})."
                )
            raise self._refuse(EntryProblem.TOO_MANY_DECIMALS, text, detail)
        # The grammar and the value are protocol.units' (pumpctl reads the same); the words
        # above and below are this field's.
        value = parse_decimal(stripped, what=self.label, max_decimals=self.max_decimals)
        if value < self.minimum:
            raise self._refuse(
                EntryProblem.BELOW_MINIMUM,
                text,
                f"{self.show(value)} is below the smallest accepted value, "
                f"{self.show(self.minimum)}.",
            )
        if self.maximum is not None and value > self.maximum:
            raise self._refuse(
                EntryProblem.ABOVE_MAXIMUM,
                text,
                f"{self.show(value)} is above the largest accepted value, "
                f"{self.show(self.maximum)}.",
            )
        return value

    def _refuse_shape(self, stripped: str, text: str) -> EntryError:
        """The refusal for a text that is not plain digits with one inner point."""
        if re.fullmatch(r"[0-9.]+", stripped) and stripped.count(".") == 1 and len(stripped) > 1:
            if stripped.startswith("."):
                return self._refuse(
                    EntryProblem.LEADING_POINT,
                    text,
                    f"put a 0 before the decimal point (0{stripped}, not {stripped}).",
                )
            if stripped.endswith("."):
                return self._refuse(
                    EntryProblem.TRAILING_POINT,
                    text,
                    f"remove the decimal point at the end ({stripped[:-1]}, not {stripped}), "
                    "or type the decimals after it.",
                )
        if re.fullmatch(r"0[0-9]+(?:\.[0-9]+)?", stripped):
            fixed = stripped.lstrip("0")
            fixed = "0" + fixed if fixed.startswith(".") or not fixed else fixed
            return self._refuse(
                EntryProblem.LEADING_ZERO,
                text,
                f"remove the leading zero ({fixed}, not {stripped}).",
            )
        return self._refuse(
            EntryProblem.NOT_A_NUMBER,
            text,
            f"{stripped!r} is not a number; type digits with at most one decimal point "
            f"(for example {self.example}, in {self.unit}).",
        )


@dataclass(frozen=True, kw_only=True)
class MagnitudeCheck:
    """A new value 10 times (or a tenth) of the current one: ask before going on."""

    value: Fraction
    current: Fraction
    ratio: Fraction
    """value / current."""
    text: str
    """The question to put to the clinician."""
    statement: str
    """The same fact as a warning to acknowledge on the review."""


def magnitude_check(
    value: Fraction, current: Fraction | None, *, entry: NumberEntry
) -> MagnitudeCheck | None:
    """A confirmation to ask when ``value`` is >= 10x or <= 0.1x ``current``; else None.

    No check when there is no current value (or it is zero): there is
    nothing a slipped decimal point could be measured against.
    """
    if current is None or current <= 0 or value <= 0:
        return None
    ratio = Fraction(value) / Fraction(current)
    if 1 / MAGNITUDE_FACTOR < ratio < MAGNITUDE_FACTOR:
        return None
    if ratio >= 1:
        relation = f"{format_trimmed(ratio, 1)} times"
    else:
        relation = f"1/{format_trimmed(1 / ratio, 1)} of"
    fact = f"{entry.label}: {entry.show(value)} is {relation} the current {entry.show(current)}."
    return MagnitudeCheck(
        value=Fraction(value),
        current=Fraction(current),
        ratio=ratio,
        text=f"{fact} Check the decimal point. Is {entry.show(value)} correct?",
        statement=f"{fact} The decimal point was checked and the value confirmed.",
    )


DAILY_DOSE = NumberEntry(
    label="Daily dose",
    unit="mcg/day",
    max_decimals=2,
    maximum=Fraction(99_999),
    example="400",
)
"""A basal dose in mcg/day (the pump's rate limits are checked by the dose workflow)."""

VOLUME_ML = NumberEntry(
    label="Volume", unit="mL", max_decimals=2, maximum=Fraction(100), example="20"
)
"""A syringe volume in mL (use :meth:`NumberEntry.with_label` for "Volume removed")."""

CONCENTRATION = NumberEntry(
    label="Concentration",
    unit="mcg/mL",
    max_decimals=0,
    minimum=Fraction(1),
    maximum=Fraction(100_000),
    example="2000",
)
"""A drug concentration in whole mcg/mL (what the wire carries)."""

CATHETER_LENGTH_CM = NumberEntry(
    label="Catheter length",
    unit="cm",
    max_decimals=1,
    minimum=Fraction(1),
    maximum=Fraction(300),
    example="110",
)
"""The implanted (trimmed) catheter length in cm."""
