"""Unit conversions: exact arithmetic, documented rounding, formatting."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.units import (
    NL_PER_ML,
    PRECISION,
    Quantity,
    dose_to_rate_nl_per_day,
    dose_to_volume_nl,
    exact,
    format_clock,
    format_clock_iso,
    format_clock_utc,
    format_concentration_ug_per_ml,
    format_dose_ug,
    format_dose_ug_per_day,
    format_duration,
    format_fixed,
    format_percent,
    format_rate_nl_per_day,
    format_trimmed,
    format_volume_nl,
    ml_per_day_to_nl_per_day,
    ml_to_nl,
    nl_per_day_to_ml_per_day,
    nl_to_ml,
    parse_clock,
    parse_decimal,
    parse_duration,
    parse_duration_s,
    rate_to_dose_ug_per_day,
    volume_to_dose_ug,
)

PROFILE = settings(max_examples=200, derandomize=True, deadline=None)


def test_the_examples_of_the_brief() -> None:
    assert format_rate_nl_per_day(200_000) == "0.2 mL/day"
    assert format_rate_nl_per_day(198_438) == "0.1984 mL/day"
    assert format_dose_ug_per_day(400) == "400 mcg/day"
    assert format_volume_nl(18_500_000) == "18.5 mL"
    assert format_volume_nl(25_000) == "0.025 mL"


def test_volume_conversions_are_exact() -> None:
    assert ml_to_nl("18.5") == 18_500_000
    assert ml_to_nl(0.1) == 100_000  # the decimal typed, not the nearest binary double
    assert ml_to_nl(Decimal("0.048")) == 48_000
    assert ml_to_nl(Fraction(1, 3)) == 333_333
    assert ml_to_nl(40) == 40_000_000
    assert nl_to_ml(6_000) == Fraction(3, 500)
    assert ml_per_day_to_nl_per_day("0.006") == 6_000
    assert nl_per_day_to_ml_per_day(24_000_000) == 24


def test_dose_and_rate() -> None:
    # rate = dose / concentration: 400 mcg/day at 2000 mcg/mL is 0.2 mL/day.
    assert dose_to_rate_nl_per_day(400, 2000) == 200_000
    assert rate_to_dose_ug_per_day(200_000, 2000) == 400
    assert dose_to_rate_nl_per_day("62.5", 500) == 125_000
    # 100 mcg/day at 3000 mcg/mL is 33333.33 nL/day: rounded to the nearest nL/day.
    assert dose_to_rate_nl_per_day(100, 3000) == 33_333
    assert rate_to_dose_ug_per_day(33_333, 3000) == Fraction(99_999, 1000)
    assert volume_to_dose_ug(50_000, 2000) == 100
    assert dose_to_volume_nl(60, 2000) == 30_000


def test_rounding_is_half_to_even() -> None:
    # 1 mcg at 2,000,000 mcg/mL is exactly 0.5 nL; 3 mcg is 1.5 nL.
    assert dose_to_volume_nl(1, 2_000_000) == 0
    assert dose_to_volume_nl(3, 2_000_000) == 2
    assert ml_to_nl("0.0000005") == 0
    assert ml_to_nl("0.0000015") == 2
    assert format_fixed(Fraction(5, 1000), 2) == "0.00"
    assert format_fixed(Fraction(15, 1000), 2) == "0.02"


@given(st.integers(0, 2**32 - 1))
@PROFILE
def test_nanolitres_survive_a_trip_through_millilitres(nl: int) -> None:
    assert ml_to_nl(nl_to_ml(nl)) == nl
    assert ml_to_nl(format_fixed(nl_to_ml(nl), 6)) == nl


@given(
    st.fractions(min_value=0, max_value=5000, max_denominator=1000),
    st.sampled_from([50, 500, 1000, 2000, 3000]),
)
@PROFILE
def test_dose_to_rate_error_is_at_most_half_a_nanolitre(dose: Fraction, concentration: int) -> None:
    rate = dose_to_rate_nl_per_day(dose, concentration)
    exact_rate = dose * NL_PER_ML / concentration
    assert abs(rate - exact_rate) <= Fraction(1, 2)
    assert abs(rate_to_dose_ug_per_day(rate, concentration) - dose) <= Fraction(
        concentration, 2 * NL_PER_ML
    )


def test_formatting() -> None:
    assert format_dose_ug_per_day(Fraction(100, 3)) == "33.33 mcg/day"
    assert format_dose_ug_per_day("62.50") == "62.5 mcg/day"
    assert format_dose_ug(50) == "50 mcg"
    assert format_concentration_ug_per_ml(2000) == "2000 mcg/mL"
    assert format_percent(Fraction(1, 8)) == "12.5 %"
    assert format_percent(Fraction(-3, 10)) == "-30 %"
    assert format_volume_nl(0) == "0 mL"
    assert format_volume_nl(-1_400_000) == "-1.4 mL"
    assert format_rate_nl_per_day(48_000) == "0.048 mL/day"
    assert format_fixed(-5, 0) == "-5"
    assert format_fixed(Fraction(-1, 1000), 2) == "0.00"  # never "-0.00"
    assert format_trimmed(Fraction(-1, 1000), 2) == "0"


@pytest.mark.parametrize(
    "bad", ["", "abc", "1e", "nan", "inf", float("nan"), float("inf"), True, "1/0"]
)
def test_bad_numbers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        exact(bad)  # type: ignore[arg-type]


def test_bad_concentrations_and_places_are_refused() -> None:
    with pytest.raises(ValueError):
        dose_to_rate_nl_per_day(100, 0)
    with pytest.raises(ValueError):
        rate_to_dose_ug_per_day(100, -5)
    with pytest.raises(ValueError):
        format_fixed(1, -1)


# --- the one units module: strict decimals, durations, dates, precision ---------------------


def test_parse_decimal_is_strict() -> None:
    assert parse_decimal("0.5") == Fraction(1, 2)
    assert parse_decimal("400 mcg/day", "mcg/day") == 400
    assert parse_decimal("18.25", max_decimals=2) == Fraction(73, 4)
    for bad in (".5", "5.", "05", "-1", "1e3", "1,5", "\uff15", "", "nan"):
        with pytest.raises(ValueError, match="plain decimal"):
            parse_decimal(bad, "mL", what="--volume")
    with pytest.raises(ValueError, match="more than 1 decimals"):
        parse_decimal("0.25", max_decimals=1)


def test_durations_compound_parse_and_format_round_trip() -> None:
    assert parse_duration_s("4d 16h") == 4 * 86_400 + 16 * 3_600
    assert parse_duration("1 h 30 min") == 5_400
    assert parse_duration("200 ms") == Fraction(1, 5)
    assert format_duration(4 * 86_400 + 16 * 3_600) == "4 d 16 h"
    assert format_duration(3_700, compact=True, exact=True) == "1h 1min 40s"
    assert format_duration(3_700) == "1 h 2 min"  # the duration precision: the minute
    assert format_duration(-3_700, exact=True) == "-1 h 1 min 40 s"
    assert format_duration(0) == "0 s"
    for seconds in (1, 59, 61, 3_600, 86_399, 90 * 86_400 + 6 * 3_600 + 7):
        assert parse_duration_s(format_duration(seconds, compact=True, exact=True)) == seconds
    for bad in ("", "90", "4d 16", "1.5x", "3 weeks"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError, match="whole"):
        parse_duration("1.5h", decimals=False)
    with pytest.raises(ValueError, match="not allowed"):
        parse_duration("200 ms", allowed={"s": 1})


def test_pump_clock_dates() -> None:
    t0 = 1_790_000_000
    assert format_clock_iso(t0) == "2026-09-21T14:13:20Z"
    assert format_clock_utc(t0) == "2026-09-21 14:13:20 UTC"
    assert format_clock(t0, UTC, seconds=False) == "2026-09-21 14:13"
    assert format_clock(t0, timezone(timedelta(hours=2))) == "2026-09-21 16:13:20"
    assert format_clock_iso(2**64 - 1).endswith("(Unix, out of calendar range)")


def test_one_precision_per_quantity() -> None:
    assert PRECISION == {
        Quantity.DOSE_RATE: 2,
        Quantity.DOSE: 2,
        Quantity.RATE: 4,
        Quantity.VOLUME: 4,
        Quantity.CONCENTRATION: 2,
        Quantity.PERCENT: 1,
        Quantity.LENGTH: 1,
    }
    # The figures of issue 14: one dose text on every page, a rate without six decimals.
    assert format_dose_ug_per_day(Fraction(396_875, 1000)) == "396.88 mcg/day"
    assert format_rate_nl_per_day(198_438) == "0.1984 mL/day"
    assert format_volume_nl(12_500) == "0.0125 mL"
    assert Quantity.LENGTH.text(Fraction(955, 10)) == "95.5 cm"


def test_pump_clock_dates_parse_once_for_every_tool() -> None:
    assert parse_clock("2026-09-21T14:13:20Z") == 1_790_000_000
    assert parse_clock("2026-09-21T16:13:20+02:00") == 1_790_000_000
    with pytest.raises(ValueError, match="UTC"):
        parse_clock("2026-09-21T16:13:20+02:00", utc_only=True)
    with pytest.raises(ValueError, match="time zone"):
        parse_clock("2026-09-21T14:13:20")
    with pytest.raises(ValueError, match="outside 2000-01-01"):
        parse_clock("1970-01-01T00:00:00Z")
    for bad in ("yesterday", "2026-09-21T14:13:20Z\u00a0", "\uff12\uff10\uff12\uff16-09-21T00:00Z"):
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_clock(bad)
