"""The review: rows side by side, the 24-hour dose of any prescription, change, warnings,
and the program action against the in-process pump."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.presets import PRESETS
from programmer_gui.core import ActionError
from programmer_gui.core.action import program_action
from programmer_gui.core.review import (
    NOT_SET,
    DailyDose,
    ReviewWarning,
    Warning,
    WarningCode,
    build_prescription_review,
    change_percent,
    daily_dose,
    format_change,
    format_rate_ml_per_day,
    prescription_rows,
    soft_limit_warnings,
)
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind, StopReason
from protocol.errors import LinkTimeout
from tests.programmer_gui.test_core_snapshot import DEMO_FLEX, make_snapshot
from tests.support import T0, inproc_pump


def dose(value: int | Fraction) -> DailyDose:
    v = Fraction(value)
    return DailyDose(
        dose_ug_per_day=v, volume_nl=v * 500, weekday=0, min_ug_per_day=v, max_ug_per_day=v
    )


def test_change_in_percent_and_its_text() -> None:
    assert change_percent(Fraction(400), Fraction(480)) == 20
    assert change_percent(Fraction(400), Fraction(350)) == Fraction(-25, 2)
    assert change_percent(Fraction(0), Fraction(100)) is None
    assert format_change(Fraction(20)) == "+20 %"
    assert format_change(Fraction(-25, 2)) == "-12.5 %"
    assert format_change(Fraction(0)) == "no change"
    assert format_change(None, pending=Fraction(100)) == "new start (from 0 mcg/day)"


def test_rates_show_the_one_rate_precision() -> None:
    # protocol.units.Quantity.RATE: at most 4 decimals, trailing zeros dropped.
    assert format_rate_ml_per_day(200_000) == "0.2 mL/day"
    assert format_rate_ml_per_day(212_500) == "0.2125 mL/day"
    assert format_rate_ml_per_day(198_438) == "0.1984 mL/day"
    assert format_rate_ml_per_day(24_000_000) == "24 mL/day"


def test_simple_rows_side_by_side() -> None:
    rows = prescription_rows(
        m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500),
        m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500),
        current_concentration_ug_per_ml=500,
        pending_concentration_ug_per_ml=500,
        weekday=0,
        minimum_mode_rate_nl_per_day=6_000,
    )
    table = {r.label: (r.current, r.pending, r.changed) for r in rows}
    assert [r.label for r in rows] == [
        "Mode",
        "Concentration",
        "Dose",
        "Rate",
        "24-hour dose",
        "24-hour volume",
    ]
    assert table["Mode"] == ("Simple continuous", "Simple continuous", False)
    assert table["Concentration"] == ("500 mcg/mL", "500 mcg/mL", False)
    assert table["Dose"] == ("100 mcg/day", "120 mcg/day", True)
    assert table["Rate"] == ("0.2 mL/day", "0.24 mL/day", True)


def test_flex_rows_show_every_step_and_the_ones_that_go() -> None:
    pending = m.PrescriptionSpec.flex(
        [
            m.FlexStep(start_min=0, dose_ng_per_day=350_000),
            m.FlexStep(start_min=7 * 60, dose_ng_per_day=450_000),
        ],
        concentration_ug_per_ml=2000,
    )
    rows = prescription_rows(
        DEMO_FLEX,
        pending,
        current_concentration_ug_per_ml=2000,
        pending_concentration_ug_per_ml=2000,
        weekday=0,
        minimum_mode_rate_nl_per_day=6_000,
    )
    table = {r.label: (r.current, r.pending, r.changed) for r in rows}
    assert table["Step 1"] == (
        "from 00:00: 350 mcg/day (0.175 mL/day)",
        "from 00:00: 350 mcg/day (0.175 mL/day)",
        False,
    )
    assert table["Step 2"][1] == "from 07:00: 450 mcg/day (0.225 mL/day)"
    assert table["Step 3"] == ("from 22:00: 350 mcg/day (0.175 mL/day)", NOT_SET, True)
    # (350 x 7 h + 450 x 17 h) / 24 h = 420.83 mcg/day
    assert table["24-hour dose"] == ("396.88 mcg/day", "420.83 mcg/day", True)
    assert [r.label for r in rows][-2:] == ["24-hour dose", "24-hour volume"]


def test_weekly_flex_dose_reports_the_day_shown_and_the_range() -> None:
    days = [[m.FlexStep(start_min=0, dose_ng_per_day=50_000 * (d + 1))] for d in range(7)]
    spec = m.PrescriptionSpec.flex_weekly(days, concentration_ug_per_ml=500)
    shown = daily_dose(spec, 500, weekday=2, minimum_mode_rate_nl_per_day=6_000)
    assert shown.dose_ug_per_day == 150
    assert shown.min_ug_per_day == 50
    assert shown.max_ug_per_day == 350
    assert shown.varies
    assert shown.text == "150 mcg/day on Wednesday (50-350 mcg/day over the week)"
    rows = prescription_rows(
        None,
        spec,
        current_concentration_ug_per_ml=None,
        pending_concentration_ug_per_ml=500,
        weekday=2,
        minimum_mode_rate_nl_per_day=6_000,
    )
    table = {r.label: (r.current, r.pending) for r in rows}
    assert table["Monday"] == (NOT_SET, "00:00 50 mcg/day")
    assert table["Mode"][1] == "Flex (weekly, per weekday)"


def test_minimum_rate_and_stopped_doses() -> None:
    minimum = daily_dose(
        m.PrescriptionSpec.minimum_rate(concentration_ug_per_ml=2000),
        2000,
        weekday=0,
        minimum_mode_rate_nl_per_day=6_000,
    )
    assert minimum.dose_ug_per_day == 12
    stopped = daily_dose(
        m.PrescriptionSpec.stopped(concentration_ug_per_ml=2000),
        2000,
        weekday=0,
        minimum_mode_rate_nl_per_day=6_000,
    )
    assert stopped.dose_ug_per_day == 0


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.integers(0, 1439), st.integers(1, 9_000_000)), min_size=1, max_size=13),
    st.sampled_from([500, 1000, 2000]),
)
def test_flex_24h_dose_is_the_time_weighted_sum(
    raw: list[tuple[int, int]], concentration: int
) -> None:
    starts = sorted({0, *(s for s, _ in raw[1:])})
    rates = [r for _, r in raw] + [raw[-1][1]] * len(starts)
    steps = [
        m.FlexStep(start_min=s, dose_ng_per_day=r) for s, r in zip(starts, rates, strict=False)
    ]
    spec = m.PrescriptionSpec.flex(steps[:13], concentration_ug_per_ml=concentration)
    # Minute by minute: the dose rate in force each minute, averaged over the day.
    per_minute = [
        [s.dose_ng_per_day for s in spec.profiles[0] if s.start_min <= minute][-1]
        for minute in range(1440)
    ]
    expected = Fraction(sum(per_minute), 1440) / 1000
    got = daily_dose(spec, concentration, weekday=3, minimum_mode_rate_nl_per_day=6_000)
    assert got.dose_ug_per_day == expected
    assert not got.varies


def test_soft_limits() -> None:
    assert soft_limit_warnings(dose(400), dose(480)) == ()  # exactly 20 %: no warning
    codes = [w.code for w in soft_limit_warnings(dose(400), dose(481))]
    assert codes == [WarningCode.LARGE_CHANGE]
    codes = [w.code for w in soft_limit_warnings(dose(400), dose(300))]
    assert codes == [WarningCode.LARGE_CHANGE]
    high = soft_limit_warnings(dose(950), dose(1001))
    assert [w.code for w in high] == [WarningCode.HIGH_DOSE]
    assert "1001 mcg/day is above 1000 mcg/day" in high[0].text
    assert [w.code for w in soft_limit_warnings(dose(0), dose(100))] == [WarningCode.NEW_START]
    assert soft_limit_warnings(None, dose(100)) == ()


def test_warning_is_the_contracts_name() -> None:
    assert Warning is ReviewWarning
    assert Warning(code="x", text="y").code == "x"


def test_a_review_of_a_change_on_a_busy_pump() -> None:
    snap = make_snapshot(
        bolus=(BolusKind.THERAPEUTIC, 100_000, T0 + 600),
        stop_reason=StopReason.MRI,
    )
    spec = m.PrescriptionSpec.simple(150_000, concentration_ug_per_ml=500)
    review = build_prescription_review(
        title="t", snapshot=snap, pending=spec, action=program_action(spec, summary="s")
    )
    assert review.current_daily_dose_ug == 100
    assert review.pending_daily_dose_ug == 150
    assert review.change_percent == 50
    assert review.change_text == "+50 %"
    assert review.warning_codes == (
        WarningCode.LARGE_CHANGE,
        WarningCode.BOLUS_RUNNING,
        WarningCode.PUMP_STOPPED,
    )
    assert review.current_daily_dose_text == "100 mcg/day"
    assert review.pending_daily_dose_text == "150 mcg/day"


def test_the_program_action_runs_and_verifies_on_the_pump() -> None:
    spec = m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500)
    action = program_action(spec, summary="simple continuous 120 mcg/day")
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        before = PumpSnapshot.read(client, wall_s=float(T0))
        assert not action.verify(before)
        confirmation = action.run(client)
        after = PumpSnapshot.read(client, wall_s=float(T0))
    assert "simple continuous 120 mcg/day" in confirmation
    assert f"0x{m.prescription_checksum(spec):08X}" in confirmation
    assert action.verify(after)
    assert after.dose_ug_per_day == 120
    assert action.steps == ("Program simple continuous 120 mcg/day",)


def test_a_change_during_a_bridge_says_the_doses_run_at_the_old_drug() -> None:
    snap = make_snapshot(concentration_ug_per_ml=2000, bridge=(330_000, 500))
    spec = m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=2000)
    review = build_prescription_review(
        title="t", snapshot=snap, pending=spec, action=program_action(spec, summary="s")
    )
    assert review.notes[0].startswith(
        "A bridge is running: the new doses are computed at the old 500 mcg/mL drug until it ends ("
    )


class _LosesCommitAnswer:
    """A client whose first COMMIT answer is lost after the pump committed."""

    def __init__(self, inner: PumpClient) -> None:
        self.inner = inner
        self.stages = 0
        self.lost = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def stage(self, spec: m.PrescriptionSpec) -> int:
        self.stages += 1
        return self.inner.stage(spec)

    def commit(self, checksum: int) -> int:
        answer = self.inner.commit(checksum)
        if not self.lost:
            self.lost = True
            raise LinkTimeout("no answer")
        return answer


def test_a_lost_commit_answer_is_looked_up_not_staged_again() -> None:
    spec = m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500)
    action = program_action(spec, summary="simple continuous 120 mcg/day")
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        flaky = _LosesCommitAnswer(client)
        with pytest.raises(ActionError, match="whole or not at all"):
            action.run(flaky)  # type: ignore[arg-type]
        confirmation = action.run(flaky)  # type: ignore[arg-type]
        after = PumpSnapshot.read(client, wall_s=float(T0))
    assert flaky.stages == 1
    assert "found on the pump" in confirmation
    assert action.verify(after)
