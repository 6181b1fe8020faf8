"""The simple dose change: live figures, hard and soft limits, the decimal-slip confirmation,
and the review's action against the in-process pump."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from emulator.presets import PRESETS, PumpSetup
from programmer_gui.core import ActionError, InputError, PumpDataError
from programmer_gui.core.dates import SECONDS_PER_DAY
from programmer_gui.core.dose import (
    ConfirmationRequiredError,
    DoseChange,
    HardLimitError,
)
from programmer_gui.core.entry import EntryError, EntryProblem
from programmer_gui.core.review import WarningCode
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.enums import Mode, Role
from protocol.errors import NakError
from tests.programmer_gui.test_core_snapshot import DEMO_FLEX, make_snapshot
from tests.support import T0, inproc_pump

DAY = SECONDS_PER_DAY


def at_2000(dose_ug_per_day: int) -> DoseChange:
    """A 40 mL pump at 2000 mcg/mL running ``dose_ug_per_day``, 30 mL left."""
    return DoseChange(
        make_snapshot(
            model=40,
            prescription=m.PrescriptionSpec.simple(
                dose_ug_per_day * 1000, concentration_ug_per_ml=2000
            ),
            concentration_ug_per_ml=2000,
            reservoir_nl=30_000_000,
        )
    )


def test_400_mcg_per_day_at_2000_mcg_per_ml_is_0_2_ml_per_day() -> None:
    preview = at_2000(380).preview("400")
    assert preview.dose_ug_per_day == 400
    assert preview.rate_nl_per_day == 200_000
    assert preview.rate_text == "0.2 mL/day"
    assert preview.dose_text == "400 mcg/day"
    assert preview.prescription == m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000)
    # 30 mL - 2 mL at 0.2 mL/day: 140 days.
    assert preview.forecast.low_reservoir_alarm_at_s == T0 + 140 * DAY
    assert preview.alarm_date_text.endswith("(in 140 days)")
    assert preview.confirmation is None and preview.warnings == ()


def test_the_live_alarm_date_follows_the_dose() -> None:
    change = DoseChange(make_snapshot())  # 20 mL, 500 mcg/mL, 100 mcg/day: day 90
    assert change.preview("100").forecast.low_reservoir_alarm_at_s == T0 + 90 * DAY
    assert change.preview("200").forecast.low_reservoir_alarm_at_s == T0 + 45 * DAY
    assert change.initial_text == "100"
    assert change.current_text == "Simple continuous 100 mcg/day (0.2 mL/day)"


def test_below_the_minimum_rate_is_refused_with_the_limit_in_both_units() -> None:
    with pytest.raises(HardLimitError) as err:
        at_2000(400).preview("90")  # 0.045 mL/day
    assert err.value.limit == "minimum"
    assert err.value.limit_rate_nl_per_day == 48_000
    assert err.value.limit_dose_ug_per_day == 96
    text = str(err.value)
    assert "0.045 mL/day" in text and "minimum rate of 0.048 mL/day" in text
    assert "96 mcg/day at 2000 mcg/mL" in text


def test_above_the_maximum_rate_is_refused_with_the_limit_in_both_units() -> None:
    with pytest.raises(HardLimitError) as err:
        at_2000(400).preview("48001")
    assert err.value.limit == "maximum"
    assert "maximum rate of 24 mL/day" in str(err.value)
    assert "48000 mcg/day at 2000 mcg/mL" in str(err.value)
    limits = at_2000(400).limits
    assert limits.min_dose_ug_per_day == 96
    assert limits.max_dose_ug_per_day == 48_000
    assert limits.text == ("96 mcg/day to 48000 mcg/day (0.048 mL/day to 24 mL/day) at 2000 mcg/mL")


def test_the_limits_are_the_pumps_exactly() -> None:
    change = at_2000(400)
    assert change.preview("96").rate_nl_per_day == 48_000
    assert change.preview("48000").rate_nl_per_day == 24_000_000


def test_malformed_entries_are_refused_before_any_limit() -> None:
    with pytest.raises(EntryError) as err:
        at_2000(400).preview(".4")
    assert err.value.problem is EntryProblem.LEADING_POINT


def test_soft_limits_become_warnings_to_acknowledge() -> None:
    change = at_2000(400)
    assert change.preview("480").warnings == ()
    review = change.review("481")
    assert review.warning_codes == (WarningCode.LARGE_CHANGE,)
    assert "+20.2 %" in review.warnings[0].text  # 20.25, half to even
    review = at_2000(950).review("1050")
    assert review.warning_codes == (WarningCode.HIGH_DOSE,)


def test_ten_times_the_current_dose_needs_a_confirmation() -> None:
    change = at_2000(400)
    preview = change.preview("4000")
    assert preview.confirmation is not None
    with pytest.raises(ConfirmationRequiredError) as err:
        change.review("4000")
    assert "10 times the current 400 mcg/day" in str(err.value)
    review = change.review("4000", confirmed=True)
    assert review.warning_codes == (
        WarningCode.MAGNITUDE,
        WarningCode.LARGE_CHANGE,
        WarningCode.HIGH_DOSE,
    )
    with pytest.raises(ConfirmationRequiredError, match="200 mcg/day is 1/10 of the current"):
        at_2000(2000).review("200")


def test_the_same_prescription_is_nothing_to_program() -> None:
    with pytest.raises(InputError, match="already runs 400 mcg/day"):
        at_2000(400).review("400")


def test_replacing_a_flex_profile_says_so() -> None:
    change = DoseChange(
        make_snapshot(
            model=40, prescription=DEMO_FLEX, concentration_ug_per_ml=2000, reservoir_nl=30_000_000
        )
    )
    assert change.initial_text == ""
    assert change.current_dose_ug_per_day == Fraction(396875, 1000)
    review = change.review("400")
    assert review.warning_codes == (WarningCode.REPLACES_FLEX,)
    assert review.change_text == "+0.8 %"
    labels = [r.label for r in review.rows]
    assert "Step 2" in labels and "Dose" in labels


def test_a_review_of_a_simple_change() -> None:
    review = at_2000(400).review("440")
    assert review.title == "Review: change the dose (simple continuous)"
    assert review.current_daily_dose_ug == 400
    assert review.pending_daily_dose_ug == 440
    assert review.change_percent == 10
    assert review.forecast is not None
    assert any(note.startswith("Low-reservoir alarm: ") for note in review.notes)
    assert any(note.startswith("Refill by: ") for note in review.notes)
    assert review.action.description == (
        "Program simple continuous 440 mcg/day (0.22 mL/day at 2000 mcg/mL)"
    )


def test_dose_change_end_to_end_on_the_pump() -> None:
    setup = PumpSetup(
        model=40,
        serial="VP40-DOSE01",
        reservoir_nl=30_000_000,
        concentration_ug_per_ml=2000,
        prescription=m.PrescriptionSpec.simple(380_000, concentration_ug_per_ml=2000),
    )
    with inproc_pump(setup) as pump, pump.client() as client:
        snap = PumpSnapshot.read(client, wall_s=float(T0))
        change = DoseChange(snap)
        review = change.review("400")
        assert review.current_daily_dose_ug == 380
        text = review.action.run(client)
        after = PumpSnapshot.read(client, wall_s=float(T0))
    assert "400 mcg/day" in text
    assert review.action.verify(after)
    assert after.status.mode is Mode.SIMPLE
    assert after.status.daily_volume_nl == 200_000
    assert review.forecast is not None
    assert after.status.low_reservoir_alarm_at_s == review.forecast.low_reservoir_alarm_at_s
    # After the change, the same text is no change any more; a new snapshot re-validates it.
    with pytest.raises(InputError):
        change.with_snapshot(after).review("400")


def test_a_patient_session_cannot_change_the_dose() -> None:
    with pytest.raises(PumpDataError):
        DoseChange(make_snapshot(role=Role.PATIENT))


def test_a_default_pump_keeps_its_old_prescription_when_the_pump_refuses() -> None:
    # A snapshot whose limits are wider than the pump's: the pump's NAK leaves it unchanged.
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = PumpSnapshot.read(client, wall_s=float(T0))
        wide = dataclasses.replace(snap.device, max_rate_nl_per_day=40_000_000)
        lying = PumpSnapshot(
            device=wide,
            status=snap.status,
            prescription=snap.prescription,
            alarms=snap.alarms,
            patient_settings=snap.patient_settings,
            read_at_wall_s=snap.read_at_wall_s,
        )
        review = DoseChange(lying).review("15000", confirmed=True)  # 30 mL/day at 500 mcg/mL
        with pytest.raises(ActionError, match="keeps its previous prescription") as err:
            review.action.run(client)
        assert isinstance(err.value.__cause__, NakError) and err.value.completed == ()
        after = PumpSnapshot.read(client, wall_s=float(T0))
    assert after.prescription == snap.prescription
    assert not review.action.verify(after)
