"""Guarded number entry: strict parsing, clinician-readable refusals, the 10x / 0.1x check."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programmer_gui.core import InputError
from programmer_gui.core.entry import (
    CATHETER_LENGTH_CM,
    CONCENTRATION,
    DAILY_DOSE,
    VOLUME_ML,
    EntryError,
    EntryProblem,
    NumberEntry,
    magnitude_check,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("400", Fraction(400)),
        ("0", Fraction(0)),
        ("0.5", Fraction(1, 2)),
        ("12.25", Fraction(49, 4)),
        ("  7 ", Fraction(7)),
        ("10.50", Fraction(21, 2)),
        ("99999", Fraction(99_999)),
    ],
)
def test_valid_doses_parse_exactly(text: str, value: Fraction) -> None:
    assert DAILY_DOSE.parse(text) == value


@pytest.mark.parametrize(
    ("text", "problem", "hint"),
    [
        ("", EntryProblem.EMPTY, "type a value in mcg/day"),
        ("   ", EntryProblem.EMPTY, "for example 400"),
        (".5", EntryProblem.LEADING_POINT, "0.5, not .5"),
        ("5.", EntryProblem.TRAILING_POINT, "5, not 5."),
        ("1,000", EntryProblem.SEPARATOR, "without commas"),
        ("1 000", EntryProblem.SEPARATOR, "spaces"),
        ("1,5", EntryProblem.SEPARATOR, "use a point for decimals"),
        ("+5", EntryProblem.SIGN, "without a sign"),
        ("-5", EntryProblem.SIGN, "without a sign"),
        ("05", EntryProblem.LEADING_ZERO, "5, not 05"),
        ("00.5", EntryProblem.LEADING_ZERO, "0.5, not 00.5"),
        ("12.345", EntryProblem.TOO_MANY_DECIMALS, "at most 2 decimals"),
        ("1e3", EntryProblem.NOT_A_NUMBER, "not a number"),
        ("5..0", EntryProblem.NOT_A_NUMBER, "one decimal point"),
        ("1.2.3", EntryProblem.NOT_A_NUMBER, "one decimal point"),
        (".", EntryProblem.NOT_A_NUMBER, "not a number"),
        ("abc", EntryProblem.NOT_A_NUMBER, "not a number"),
        ("\u0664\u0660\u0660", EntryProblem.NOT_A_NUMBER, "not a number"),  # Arabic-Indic 400
        ("100000", EntryProblem.ABOVE_MAXIMUM, "99999 mcg/day"),
    ],
)
def test_refusals_say_what_to_type(text: str, problem: EntryProblem, hint: str) -> None:
    with pytest.raises(EntryError) as err:
        DAILY_DOSE.parse(text)
    assert err.value.problem is problem
    assert err.value.text == text
    assert err.value.message.startswith("Daily dose: ")
    assert hint in err.value.message
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)


def test_whole_numbers_only_where_the_wire_carries_integers() -> None:
    with pytest.raises(EntryError, match="whole number of mcg/mL") as err:
        CONCENTRATION.parse("2000.5")
    assert err.value.problem is EntryProblem.TOO_MANY_DECIMALS
    assert CONCENTRATION.parse("2000") == 2000
    with pytest.raises(EntryError) as low:
        CONCENTRATION.parse("0")
    assert low.value.problem is EntryProblem.BELOW_MINIMUM
    assert "1 mcg/mL" in low.value.message


def test_labels_and_units_follow_the_field() -> None:
    removed = VOLUME_ML.with_label("Volume removed")
    with pytest.raises(EntryError, match=r"^Volume removed: put a 0 before"):
        removed.parse(".5")
    assert removed.show(Fraction(25, 2)) == "12.5 mL"
    assert CATHETER_LENGTH_CM.parse("95.5") == Fraction(191, 2)
    with pytest.raises(EntryError, match="at most 1 decimal "):
        CATHETER_LENGTH_CM.parse("95.55")


def test_a_field_cannot_be_built_inconsistent() -> None:
    with pytest.raises(ValueError, match="max_decimals"):
        NumberEntry(label="x", unit="u", max_decimals=-1)
    with pytest.raises(ValueError, match="below minimum"):
        NumberEntry(label="x", unit="u", max_decimals=0, minimum=Fraction(5), maximum=Fraction(1))


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=99_999 * 100))
def test_format_then_parse_round_trips(hundredths: int) -> None:
    value = Fraction(hundredths, 100)
    assert DAILY_DOSE.parse(DAILY_DOSE.format(value)) == value


@settings(max_examples=300)
@given(st.text(alphabet="0123456789.,+- e", max_size=8))
def test_any_text_parses_to_its_decimal_value_or_is_refused(text: str) -> None:
    entry = NumberEntry(label="Value", unit="u", max_decimals=3)
    try:
        value = entry.parse(text)
    except EntryError as err:
        assert err.message.startswith("Value: ")
        return
    stripped = text.strip()
    # Accepted texts are plain: digits, one inner point, no superfluous zero.
    assert not stripped.startswith(".") and not stripped.endswith(".")
    assert stripped == "0" or not stripped.startswith("0") or stripped.startswith("0.")
    assert value == Fraction(Decimal(stripped))


def test_magnitude_check_asks_at_ten_times_and_a_tenth() -> None:
    up = magnitude_check(Fraction(4000), Fraction(400), entry=DAILY_DOSE)
    assert up is not None
    assert up.ratio == 10
    assert "4000 mcg/day is 10 times the current 400 mcg/day" in up.text
    assert "decimal point" in up.text
    down = magnitude_check(Fraction(40), Fraction(400), entry=DAILY_DOSE)
    assert down is not None
    assert "40 mcg/day is 1/10 of the current 400 mcg/day" in down.text
    far = magnitude_check(Fraction(4), Fraction(400), entry=DAILY_DOSE)
    assert far is not None and "1/100 of" in far.text
    assert "confirmed" in up.statement


@pytest.mark.parametrize(
    ("value", "current"),
    [(3999, 400), (41, 400), (400, 0), (0, 400), (500, None)],
)
def test_no_magnitude_check_inside_the_band_or_without_a_current_value(
    value: int, current: int | None
) -> None:
    base = None if current is None else Fraction(current)
    assert magnitude_check(Fraction(value), base, entry=DAILY_DOSE) is None
