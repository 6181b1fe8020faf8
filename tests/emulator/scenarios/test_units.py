"""Strict units: what parses, to which exact value, and what is refused with which hint."""

from __future__ import annotations

from fractions import Fraction

import pytest

from emulator.scenarios.errors import UnitError
from emulator.scenarios.units import (
    Anchor,
    Comparison,
    Kind,
    format_quantity,
    parse_duration_s,
    parse_expectation,
    parse_quantity,
    parse_time,
    parse_time_expectation,
)

DAY = 86_400


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("20 mL", Kind.VOLUME, Fraction(20_000_000)),
        ("0.33 mL", Kind.VOLUME, Fraction(330_000)),
        ("500 µL", Kind.VOLUME, Fraction(500_000)),
        ("500 uL", Kind.VOLUME, Fraction(500_000)),
        ("7 nL", Kind.VOLUME, Fraction(7)),
        ("20mL", Kind.VOLUME, Fraction(20_000_000)),
        ("500 mcg/mL", Kind.CONCENTRATION, Fraction(500)),
        ("100 mcg/day", Kind.DOSE_RATE, Fraction(100)),
        ("396.875 mcg/day", Kind.DOSE_RATE, Fraction(396_875, 1000)),
        ("0.2 mL/day", Kind.VOLUME_RATE, Fraction(200_000)),
        ("1 mL/h", Kind.VOLUME_RATE, Fraction(24_000_000)),
        ("50 mcg", Kind.DOSE, Fraction(50)),
        ("90d", Kind.DURATION, Fraction(90 * DAY)),
        ("6h", Kind.DURATION, Fraction(21_600)),
        ("30 min", Kind.DURATION, Fraction(1_800)),
        ("1d 6h 30 min 5s", Kind.DURATION, Fraction(DAY + 6 * 3600 + 1800 + 5)),
        ("200 ms", Kind.SHORT_DURATION, Fraction(1, 5)),
        ("5 %", Kind.PERCENT, Fraction(1, 20)),
        ("12.5%", Kind.PERCENT, Fraction(1, 8)),
        ("50 cm", Kind.LENGTH, Fraction(50)),
    ],
)
def test_values_parse_exactly_into_base_units(text: str, kind: Kind, value: Fraction) -> None:
    assert parse_quantity(text, kind) == value


@pytest.mark.parametrize(
    ("text", "kind", "hint"),
    [
        ("20", Kind.VOLUME, "a bare number has no unit"),
        (20, Kind.VOLUME, "a bare number has no unit"),
        ("20 ml", Kind.VOLUME, "did you mean mL?"),
        ("20 L", Kind.VOLUME, "'L' is not a unit of a volume"),
        ("500 mg/mL", Kind.CONCENTRATION, "not a unit of a concentration"),
        ("1e3 mL", Kind.VOLUME, "not a unit"),
        ("twenty mL", Kind.VOLUME, "not a number followed by a unit"),
        ("3 weeks", Kind.DURATION, "cannot read"),
        ("90", Kind.DURATION, "cannot read"),
        ("5 ms", Kind.DURATION, "'ms' is not a unit of a duration"),
        ("", Kind.DURATION, "empty"),
        (None, Kind.DOSE, "expected text"),
    ],
)
def test_malformed_values_are_refused_with_a_hint(text: object, kind: Kind, hint: str) -> None:
    with pytest.raises(UnitError, match=hint) as caught:
        parse_quantity(text, kind)
    assert kind.example in str(caught.value)


def test_durations_in_whole_seconds() -> None:
    assert parse_duration_s("1.5h") == 5400
    with pytest.raises(UnitError, match="whole seconds"):
        parse_duration_s("0.5 s")


@pytest.mark.parametrize(
    ("text", "actual", "passes"),
    [
        ("2 mL", 2_000_000, True),
        ("2 mL", 2_000_001, False),
        ("2 mL ± 0.05 mL", 2_049_999, True),
        ("2 mL +- 0.05 mL", 1_949_999, False),
        ("2 mL +/- 1 %", 2_020_000, True),
        ("2 mL ± 1 %", 2_020_001, False),
        ("<= 2 mL", 2_000_000, True),
        ("<= 2 mL", 2_000_001, False),
        (">= 2 mL ± 0.1 mL", 1_900_000, True),
        ("< 2 mL", 2_000_000, False),
        ("> 0 mL", 1, True),
    ],
)
def test_expectations_compare_with_tolerances(text: str, actual: int, passes: bool) -> None:
    assert parse_expectation(text, Kind.VOLUME).matches(actual) is passes


def test_an_expectation_describes_itself_with_units() -> None:
    expectation = parse_expectation("100 mcg/day ± 1 %", Kind.DOSE_RATE)
    assert expectation.comparison is Comparison.EQUAL
    assert expectation.describe() == "100 mcg/day ± 1 mcg/day"
    assert parse_expectation("< 3 mL", Kind.VOLUME).describe() == "< 3 mL"


@pytest.mark.parametrize("text", ["< 2 mL ± 1 mL", "2 mL ± 1 mL ± 1 mL", "2"])
def test_bad_expectations_are_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_expectation(text, Kind.VOLUME)


def test_times_relative_to_the_start_to_now_or_absolute() -> None:
    start, now = 1_000_000, 2_000_000
    assert parse_time("start").resolve(start_s=start, now_s=now) == start
    assert (
        parse_time("start + 90d 6h").resolve(start_s=start, now_s=now) == start + 90 * DAY + 21_600
    )
    assert parse_time("now + 12h").anchor is Anchor.NOW
    assert parse_time("2026-09-21T08:00:00Z").resolve(start_s=0, now_s=0) == 1_789_977_600
    with pytest.raises(UnitError, match="UTC"):
        parse_time("2026-09-21T08:00:00+02:00")
    with pytest.raises(UnitError, match="start \\+ 90d"):
        parse_time("tomorrow")


def test_date_expectations() -> None:
    expectation = parse_time_expectation("start + 90d ± 1h")
    assert expectation.matches(90 * DAY + 3600, start_s=0, now_s=0)
    assert not expectation.matches(90 * DAY + 3601, start_s=0, now_s=0)
    assert not expectation.matches(None, start_s=0, now_s=0)
    none = parse_time_expectation("none")
    assert none.matches(None, start_s=0, now_s=0)
    assert not none.matches(5, start_s=0, now_s=0)
    assert parse_time_expectation("<= now + 1d").matches(DAY, start_s=0, now_s=0)


def test_values_are_written_back_in_the_readable_unit() -> None:
    assert format_quantity(19_664_000, Kind.VOLUME) == "19.664 mL"
    assert format_quantity(Fraction(1, 20), Kind.PERCENT) == "5 %"
    assert format_quantity(90 * DAY + 3660, Kind.DURATION) == "90d 1h 1min"
    assert format_quantity(Fraction(1, 3), Kind.DOSE) == "0.333333 mcg"
