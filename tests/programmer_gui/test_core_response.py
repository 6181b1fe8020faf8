"""The response in the educator's window, without Qt: changes, markers, the lesson's numbers."""

from __future__ import annotations

import dataclasses

import pytest

from programmer_gui.core.educator import (
    SCENARIOS,
    TITRATING_A_DOSE,
    SampleHistory,
    TrueSample,
)
from programmer_gui.core.response import (
    MarkerKind,
    ResponseChange,
    describe_tone,
    response_markers,
    risk_detail,
    titration_lesson,
)
from tests.programmer_gui.test_core_educator import sample
from tests.support import T0

HOUR = 3_600
DAY = 86_400


def change(at_h: float, old: float, new: float, *, start: float = 300.0) -> ResponseChange:
    at = T0 + at_h * HOUR
    return ResponseChange(
        at_s=at,
        from_ug_per_day=old,
        to_ug_per_day=new,
        start_response_ng_per_ml=start,
        final_response_ng_per_ml=start * new / old,
        onset_at_s=at + 5.1 * HOUR,
        full_effect_at_s=at + 23.9 * HOUR,
    )


def with_changes(*changes: ResponseChange, now_h: float, response: float = 330.0) -> TrueSample:
    return dataclasses.replace(
        sample(),
        pump_time_s=T0 + round(now_h * HOUR),
        patient_response_ng_per_ml=response,
        muscle_tone=1.3,
        response_changes=changes,
    )


def test_a_change_knows_its_percent_label_and_progress() -> None:
    c = change(2, 400, 480)
    assert c.change_percent == pytest.approx(20)
    assert c.label == "400 \u2192 480 mcg/day (+20 %)"
    assert c.progress(300.0) == 0
    assert c.progress(330.0) == pytest.approx(0.5)
    assert c.progress(360.0) == pytest.approx(1)
    start = dataclasses.replace(c, from_ug_per_day=0)
    assert start.change_percent is None
    assert start.label == "0 \u2192 480 mcg/day"
    assert dataclasses.replace(c, final_response_ng_per_ml=300.0).progress(310) is None
    with pytest.raises(ValueError, match="before the change"):
        dataclasses.replace(c, onset_at_s=c.at_s - 1)
    with pytest.raises(ValueError):
        dataclasses.replace(c, to_ug_per_day=float("nan"))


def test_daily_steps_keep_their_milestones() -> None:
    markers = response_markers(
        [change(0, 400, 480), change(24, 480, 576), change(48, 576, 691)], start_pump_s=T0
    )
    assert [m.kind for m in markers] == [
        MarkerKind.CHANGE,
        MarkerKind.ONSET,
        MarkerKind.FULL_EFFECT,
    ] * 3
    assert not any(m.superseded or m.label_left for m in markers)
    assert [round(m.x_days * 24, 1) for m in markers[:3]] == [0, 5.1, 23.9]
    assert [m.label for m in markers[1:3]] == ["onset", "full effect"]


def test_a_change_stacked_on_the_last_supersedes_its_milestones() -> None:
    first, second = change(0, 400, 480), change(3, 480, 576)
    markers = response_markers([first, second], start_pump_s=T0)
    superseded = [m.label for m in markers if m.superseded]
    assert superseded == ["onset (superseded)", "full effect (superseded)"]
    # Labels of the first change go left of their lines, the second's right.
    assert [m.label_left for m in markers] == [True, True, True, False, False, False]
    # Only the full effect is superseded when the next change comes between the two.
    markers = response_markers([first, change(12, 480, 576)], start_pump_s=T0)
    assert [m.kind for m in markers if m.superseded] == [MarkerKind.FULL_EFFECT]


def test_the_lesson_numbers_follow_the_last_change() -> None:
    assert titration_lesson(with_changes(now_h=1), start_pump_s=T0) == [
        "No dose change yet: change the dose in the programmer.",
        "Now: tone 1.3 of 4 (Ashworth-like, a teaching aid).",
    ]
    lines = titration_lesson(with_changes(change(2, 400, 480), now_h=12), start_pump_s=T0)
    assert lines == [
        "Last change: 400 \u2192 480 mcg/day (+20 %), 10.0 h ago.",
        "Onset (25 %) d0 07:06 (+5.1 h, \u2713); full effect (90 %) d1 01:54 (+23.9 h, due).",
        "Now: the response has gone 50 % of the way; "
        "tone 1.3 of 4 (Ashworth-like, a teaching aid).",
    ]


def test_the_lesson_says_when_a_change_was_stacked() -> None:
    lines = titration_lesson(
        with_changes(change(2, 400, 480), change(5, 480, 576), now_h=20), start_pump_s=T0
    )
    assert lines[-1] == (
        "STACKED: made 3.0 h after the previous change, before its onset: "
        "what shows is both changes together."
    )
    later = titration_lesson(
        with_changes(change(2, 400, 480), change(14, 480, 576), now_h=20), start_pump_s=T0
    )
    assert "before its full effect" in later[-1]
    daily = titration_lesson(
        with_changes(change(2, 400, 480), change(26, 480, 576), now_h=30), start_pump_s=T0
    )
    assert not any(line.startswith("STACKED") for line in daily)


def test_the_lesson_is_offered_and_the_history_plots_the_response() -> None:
    assert SCENARIOS[-1] is TITRATING_A_DOSE
    assert TITRATING_A_DOSE.key == "titration"
    assert describe_tone(None) == "\u2014"
    assert describe_tone(1.04) == "1.0 of 4"
    history = SampleHistory(start_pump_s=T0)
    history.add(with_changes(now_h=1, response=300.0))
    history.add(dataclasses.replace(sample(), pump_time_s=T0 + 2 * HOUR))  # no response
    series = history.series()
    assert series.patient_response_ng_per_ml[0] == 300.0
    assert series.patient_response_ng_per_ml[1] != series.patient_response_ng_per_ml[1]  # NaN


def test_the_risk_detail_names_the_response_it_is_judged_on() -> None:
    stalled = dataclasses.replace(
        sample(), patient_level_ng_per_ml=0.0, patient_response_ng_per_ml=150.0
    )
    assert risk_detail(stalled) == "response 25 %\nlevel 0 %\n(established: 600 ng/mL)"
    assert risk_detail(sample()) == "100 % of the established level (600 ng/mL)"
