"""The flex editor's core: parsing, coverage, limits, the outlier warning, the review."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programmer_gui.core import InputError
from programmer_gui.core.entry import EntryError
from programmer_gui.core.flex import (
    FlexDraft,
    StepRow,
    build_review,
    coverage_refusals,
    daily_dose_ug,
    day_curve,
    format_minute,
    limit_refusals,
    outlier_warnings,
    parse_dose_ug_per_day,
    parse_time_of_day,
    rows_from_steps,
    steps_from_rows,
    weekday_of,
    wire_daily_dose_ug,
)
from protocol import messages as m
from protocol.enums import Mode
from tests.programmer_gui.pump_support import connected
from tests.programmer_gui.test_core_snapshot import make_device

DEVICE = make_device(40)


def row(start: str, end: str, dose: int | str) -> StepRow:
    return StepRow(
        start_min=parse_time_of_day(start),
        end_min=parse_time_of_day(end, allow_midnight_end=True),
        dose_ug_per_day=Fraction(dose),
    )


DEMO_DAY = [row("00:00", "07:00", 350), row("07:00", "22:00", 425), row("22:00", "24:00", 350)]


def test_times_parse_strictly() -> None:
    assert parse_time_of_day("07:30") == 450
    assert parse_time_of_day("24:00", allow_midnight_end=True) == 1440
    for bad in ("7", "07:60", "24:00", "25:00", "07.30", ""):
        with pytest.raises(InputError):
            parse_time_of_day(bad)
    assert format_minute(1440) == "24:00"


def test_doses_refuse_decimal_slips() -> None:
    assert parse_dose_ug_per_day("425") == 425
    assert parse_dose_ug_per_day("0.5") == Fraction(1, 2)
    for bad in (".5", "5.", "-5", "1,000", "1.234"):
        with pytest.raises(EntryError):
            parse_dose_ug_per_day(bad)


def test_a_row_cannot_end_before_it_starts() -> None:
    with pytest.raises(InputError, match="before it starts"):
        row("08:00", "07:00", 100)


def test_the_demo_day_tiles_and_its_dose_is_the_time_weighted_sum() -> None:
    assert coverage_refusals(DEMO_DAY) == []
    # 350 x 9 h + 425 x 15 h = 9525 mcg*h / 24 h
    assert daily_dose_ug(DEMO_DAY) == Fraction(350 * 9 + 425 * 15, 24)
    assert outlier_warnings(DEMO_DAY) == []


def test_a_gap_is_refused_with_the_uncovered_times() -> None:
    rows = [row("00:00", "07:00", 350), row("08:00", "24:00", 425)]
    [reason] = coverage_refusals(rows)
    assert reason.startswith("gap: no step covers 07:00-08:00")


def test_a_missing_end_of_day_is_a_gap() -> None:
    [reason] = coverage_refusals([row("00:00", "22:00", 350)])
    assert "22:00-24:00" in reason


def test_an_overlap_is_refused_naming_both_steps() -> None:
    rows = [row("00:00", "08:00", 350), row("07:00", "24:00", 425)]
    [reason] = coverage_refusals(rows)
    assert "overlap" in reason
    assert "00:00-08:00" in reason and "07:00-24:00" in reason
    assert "07:00-08:00" in reason


def test_limits_quarter_hours_rates_and_step_count() -> None:
    rows = [row("00:00", "07:10", 350), row("07:10", "24:00", 50)]
    found = limit_refusals(rows, device=DEVICE, concentration_ug_per_ml=2000)
    assert any("07:10 is not on a quarter hour" in r for r in found)
    # 50 mcg/day at 2000 mcg/mL is 0.025 mL/day, under 0.048 mL/day (96 mcg/day).
    assert any("0.025 mL/day" in r and "96 mcg/day" in r for r in found)
    many = [row(format_minute(h * 60), format_minute(h * 60 + 60), 400) for h in range(24)]
    assert any(
        "24 steps" in r for r in limit_refusals(many, device=DEVICE, concentration_ug_per_ml=2000)
    )


def test_a_morning_bolus_entered_as_a_step_warns() -> None:
    # The documented error: 60 mcg meant once at 07:00, entered as a one-hour step at 60 mcg/h.
    rows = [
        row("00:00", "07:00", 350),
        row("07:00", "08:00", 1440),
        row("08:00", "24:00", 350),
    ]
    [warning] = outlier_warnings(rows)
    assert warning.code == "flex-step-outlier"
    assert "07:00-08:00" in warning.text
    assert "60 mcg every day" in warning.text
    assert "4.1 times" in warning.text


def test_no_warning_for_a_modest_step_up() -> None:
    rows = [row("00:00", "07:00", 300), row("07:00", "24:00", 800)]
    assert outlier_warnings(rows) == []


def test_a_zero_neighbour_still_warns() -> None:
    rows = [row("00:00", "12:00", 0), row("12:00", "24:00", 100)]
    [warning] = outlier_warnings(rows)
    assert "far above" in warning.text


@st.composite
def tilings(draw: st.DrawFn) -> list[StepRow]:
    cuts = sorted(draw(st.sets(st.integers(1, 95), max_size=12)))
    bounds = [0, *(c * 15 for c in cuts), 1440]
    return [
        StepRow(
            start_min=a,
            end_min=b,
            dose_ug_per_day=Fraction(draw(st.integers(100, 2000))),
        )
        for a, b in itertools.pairwise(bounds)
    ]


@settings(max_examples=40)
@given(tilings())
def test_any_tiling_round_trips_through_the_wire(rows: list[StepRow]) -> None:
    assert coverage_refusals(rows) == []
    steps = steps_from_rows(rows, 2000)  # doses in whole mcg are exact nL/day at 2000 mcg/mL
    assert rows_from_steps(steps, 2000) == rows
    assert wire_daily_dose_ug(steps, 2000) == daily_dose_ug(rows)
    xs, ys = day_curve(rows)
    assert len(xs) == len(ys) + 1 and xs[0] == 0 and xs[-1] == 24


def test_weekly_drafts_and_their_spec() -> None:
    spec = m.PrescriptionSpec.flex(steps_from_rows(DEMO_DAY, 2000), concentration_ug_per_ml=2000)
    draft = FlexDraft.from_spec(spec, concentration_ug_per_ml=2000)
    assert not draft.weekly and list(draft.day(3)) == DEMO_DAY
    weekly = FlexDraft(weekly=True, days=draft.days * 6 + ((row("00:00", "24:00", 300),),))
    check = weekly.check(device=DEVICE, concentration_ug_per_ml=2000)
    assert check.ok and check.spec is not None and check.spec.weekly
    assert check.daily_doses_ug[6] == 300 and check.daily_doses_ug[0] == daily_dose_ug(DEMO_DAY)
    broken = FlexDraft(
        weekly=True, days=(*weekly.days[:2], (row("00:00", "12:00", 300),), *weekly.days[3:])
    )
    refused = broken.check(device=DEVICE, concentration_ug_per_ml=2000)
    assert not refused.ok and refused.spec is None
    assert refused.refusals[0].startswith("Wednesday: gap")


def test_a_simple_prescription_becomes_one_step() -> None:
    draft = FlexDraft.from_spec(
        m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500), concentration_ug_per_ml=500
    )
    assert draft.days == ((StepRow(start_min=0, end_min=1440, dose_ug_per_day=Fraction(100)),),)


def test_weekday_follows_the_pump_clock_in_utc() -> None:
    assert weekday_of(4 * 86_400) == 0  # 1970-01-05 was a Monday
    assert weekday_of(4 * 86_400 - 1) == 6


def test_review_and_programming_against_the_pump() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        assert snapshot.mode is Mode.FLEX
        draft = FlexDraft(
            weekly=False,
            days=(
                (
                    row("00:00", "07:00", 350),
                    row("07:00", "08:00", 1440),
                    row("08:00", "24:00", 350),
                ),
            ),
        )
        review = build_review(draft, snapshot)
        assert "flex-step-outlier" in review.warning_codes
        assert review.forecast is not None
        assert any(r.label == "Step 2" and r.changed for r in review.rows)
        confirmation = review.action.run(world.client)
        assert "flex" in confirmation
        after = world.snapshot()
        assert review.action.verify(after)
        assert after.dose_ug_per_day == review.pending_daily_dose_ug
        assert not build_review(
            FlexDraft.from_spec(after.require_prescription(), concentration_ug_per_ml=2000),
            after,
        ).action.verify(snapshot)


def test_a_refused_draft_has_no_review() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        draft = FlexDraft(weekly=False, days=((row("00:00", "12:00", 350),),))
        with pytest.raises(InputError, match="gap"):
            build_review(draft, snapshot)


def test_during_a_bridge_the_old_drugs_rates_are_checked_too() -> None:
    # 500 mcg/mL in the pump, a bridge from 2000: 30 mcg/day is 0.06 mL/day of the new drug,
    # but 0.015 mL/day of the old one during the bridge, under the 0.048 mL/day minimum.
    draft = FlexDraft(weekly=False, days=((row("00:00", "24:00", 30),),))
    plain = draft.check(device=DEVICE, concentration_ug_per_ml=500)
    assert plain.refusals == ()
    bridged = draft.check(
        device=DEVICE, concentration_ug_per_ml=500, bridge_concentration_ug_per_ml=2000
    )
    assert bridged.refusals and bridged.refusals[0].startswith("during the bridge, step")
