"""The titration warnings: the 24-h rhythm from the event log, the step per origin, the
reduction limit, and how they join a review."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from programmer_gui.controllers.titration import origin_in_implant_record
from programmer_gui.core.dose import DoseChange
from programmer_gui.core.titration import (
    SpasticityOrigin,
    TitrationWarningCode,
    dose_change_times,
    recorded_origin,
    titration_warnings,
    with_titration_warnings,
)
from protocol import messages as m
from protocol.enums import EventCode, Mode, Origin
from tests.programmer_gui.test_core_snapshot import IMPLANT_110, make_snapshot

HOUR = 3_600
NOW = 1_779_100_200
SPINAL = SpasticityOrigin.SPINAL
CEREBRAL = SpasticityOrigin.CEREBRAL


def codes(
    *,
    current: int = 400,
    pending: int,
    changed_at_s: tuple[int, ...] | None = (),
    origin: SpasticityOrigin | None = None,
) -> list[str]:
    return [
        w.code
        for w in titration_warnings(
            changed_at_s=changed_at_s,
            now_s=NOW,
            current_ug_per_day=Fraction(current),
            pending_ug_per_day=Fraction(pending),
            origin=origin,
        )
    ]


@pytest.mark.parametrize(
    ("hours_ago", "warned"), [(0, True), (3, True), (23.99, True), (24, False), (72, False)]
)
def test_a_change_less_than_24_h_after_the_previous_is_warned(
    hours_ago: float, warned: bool
) -> None:
    changes = (NOW - 10 * 24 * HOUR, NOW - round(hours_ago * HOUR))
    found = codes(pending=440, changed_at_s=changes, origin=SPINAL)
    assert found == ([TitrationWarningCode.TOO_SOON] if warned else [])


def test_the_too_soon_warning_says_how_long_ago_on_the_pump_clock() -> None:
    (warning,) = titration_warnings(
        changed_at_s=(NOW - 3 * HOUR - 20 * 60,),
        now_s=NOW,
        current_ug_per_day=Fraction(400),
        pending_ug_per_day=Fraction(440),
        origin=SPINAL,
    )
    assert "3 h 20 min ago" in warning.text
    assert "pump's clock" in warning.text
    assert "24-48 h" in warning.text


def test_a_change_logged_after_the_pumps_now_is_too_soon() -> None:
    (warning,) = titration_warnings(
        changed_at_s=(NOW + HOUR,),
        now_s=NOW,
        current_ug_per_day=Fraction(400),
        pending_ug_per_day=Fraction(440),
        origin=SPINAL,
    )
    assert warning.code == TitrationWarningCode.TOO_SOON
    assert "clock was set back" in warning.text


def test_no_previous_change_and_an_unread_log() -> None:
    assert codes(pending=440, changed_at_s=(), origin=SPINAL) == []
    assert codes(pending=440, changed_at_s=None, origin=SPINAL) == [
        TitrationWarningCode.HISTORY_UNKNOWN
    ]


@pytest.mark.parametrize(
    ("origin", "pending", "warned"),
    [
        (SPINAL, 440, False),  # +10 %
        (SPINAL, 520, False),  # +30 %
        (SPINAL, 524, True),  # +31 %
        (CEREBRAL, 460, False),  # +15 %
        (CEREBRAL, 464, True),  # +16 %
        (CEREBRAL, 480, True),  # +20 %
        (None, 460, False),
        (None, 464, True),
        (None, 480, True),  # within the spinal range, but the origin is unknown
    ],
)
def test_an_increase_beyond_the_usual_step_for_the_origin_is_warned(
    origin: SpasticityOrigin | None, pending: int, warned: bool
) -> None:
    found = codes(pending=pending, origin=origin)
    assert found == ([TitrationWarningCode.ABOVE_RANGE] if warned else [])


def test_the_range_warning_names_the_origin_or_says_why_cerebral() -> None:
    def text(origin: SpasticityOrigin | None, pending: int) -> str:
        (warning,) = titration_warnings(
            changed_at_s=(),
            now_s=NOW,
            current_ug_per_day=Fraction(400),
            pending_ug_per_day=Fraction(pending),
            origin=origin,
        )
        return warning.text

    assert "+35 %" in text(SPINAL, 540)
    assert "spinal origin is +10-30 %" in text(SPINAL, 540)
    assert "cerebral origin is +5-15 %" in text(CEREBRAL, 480)
    unknown = text(None, 480)
    assert "No origin of the spasticity is recorded" in unknown
    assert "cerebral range applies (+5-15 % a day; spinal origin: +10-30 %)" in unknown


@pytest.mark.parametrize(("pending", "warned"), [(360, False), (320, False), (316, True)])
def test_a_reduction_over_20_percent_is_a_withdrawal_risk(pending: int, warned: bool) -> None:
    for origin in (SPINAL, CEREBRAL, None):
        found = codes(pending=pending, origin=origin)
        assert found == ([TitrationWarningCode.LARGE_REDUCTION] if warned else [])


def test_the_reduction_warning_text() -> None:
    (warning,) = titration_warnings(
        changed_at_s=(),
        now_s=NOW,
        current_ug_per_day=Fraction(400),
        pending_ug_per_day=Fraction(300),
        origin=None,
    )
    assert warning.text.startswith("A reduction of 25 % is more than the usual 20 %")
    assert "withdrawal" in warning.text


def test_all_three_together_and_none_without_a_change() -> None:
    assert codes(pending=480, changed_at_s=(NOW - HOUR,)) == [
        TitrationWarningCode.TOO_SOON,
        TitrationWarningCode.ABOVE_RANGE,
    ]
    assert codes(pending=300, changed_at_s=(NOW - HOUR,)) == [
        TitrationWarningCode.TOO_SOON,
        TitrationWarningCode.LARGE_REDUCTION,
    ]
    # The same dose, a new start and a stop are no titration steps.
    assert codes(pending=400, changed_at_s=(NOW - HOUR,)) == []
    assert codes(current=0, pending=400, changed_at_s=(NOW - HOUR,)) == []
    assert codes(pending=0, changed_at_s=(NOW - HOUR,)) == []


def test_dose_change_times_are_the_programmed_entries_that_changed_the_dose() -> None:
    def entry(index: int, hours_ago: int, code: EventCode, dose_ng: int = 0) -> m.LogEntry:
        return m.LogEntry(
            index=index,
            clock_s=NOW - hours_ago * HOUR,
            code=code,
            a=int(Mode.SIMPLE),
            b=dose_ng,
        )

    entries = [
        entry(0, 50, EventCode.POWER_ON),
        entry(1, 40, EventCode.PROGRAMMED, 400_000),
        entry(2, 30, EventCode.REFILLED),
        entry(3, 30, EventCode.PROGRAMMED, 400_000),  # the refill's, at the same dose
        entry(4, 5, EventCode.PROGRAMMED, 440_000),
        entry(5, 2, EventCode.PROGRAMMED, 440_000),  # same dose, another mode
    ]
    assert dose_change_times(entries) == (NOW - 40 * HOUR, NOW - 5 * HOUR)
    assert dose_change_times(reversed(entries)) == (NOW - 40 * HOUR, NOW - 5 * HOUR)


def test_the_origin_comes_from_the_implant_record() -> None:
    assert recorded_origin(IMPLANT_110) is SpasticityOrigin.SPINAL
    cerebral = dataclasses.replace(IMPLANT_110, origin=Origin.CEREBRAL)
    assert recorded_origin(cerebral) is SpasticityOrigin.CEREBRAL
    assert recorded_origin(dataclasses.replace(IMPLANT_110, origin=Origin.UNKNOWN)) is None
    assert recorded_origin(None) is None
    assert origin_in_implant_record(make_snapshot(implant=cerebral)) is SpasticityOrigin.CEREBRAL
    assert origin_in_implant_record(make_snapshot(implant=None)) is None


def test_the_warnings_join_a_dose_review_after_its_own() -> None:
    snapshot = make_snapshot(
        prescription=m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500)
    )  # 100 mcg/day
    review = DoseChange(snapshot).review("125")  # +25 %
    now = snapshot.pump_clock_s
    joined = with_titration_warnings(review, changed_at_s=(now - 2 * HOUR,), now_s=now, origin=None)
    assert joined.warning_codes == (
        *review.warning_codes,
        TitrationWarningCode.TOO_SOON,
        TitrationWarningCode.ABOVE_RANGE,
    )
    assert joined.rows == review.rows and joined.action is review.action
    spinal = with_titration_warnings(
        review, changed_at_s=(now - 30 * HOUR,), now_s=now, origin=SPINAL
    )
    assert spinal is review  # +25 % a day after the last change: within the spinal range
