"""The refill workflow: discrepancy, overfill, the pick-list, rescaling, the bridge bolus,
and the action against the in-process pump (order, partial failure, no double refill)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from emulator.presets import PRESETS
from programmer_gui.core import ActionError, PumpDataError
from programmer_gui.core.dose import ConfirmationRequiredError, HardLimitError
from programmer_gui.core.entry import EntryError
from programmer_gui.core.forecast import SECONDS_PER_DAY
from programmer_gui.core.refill import (
    CAUSES_LESS_REMOVED,
    CAUSES_MORE_REMOVED,
    ConcentrationError,
    OverfillError,
    RefillWorkflow,
    rescale_prescription,
)
from programmer_gui.core.review import WarningCode
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind, EventCode, Role
from protocol.errors import LinkTimeout
from tests.programmer_gui.test_core_snapshot import DEMO_FLEX, make_snapshot
from tests.support import T0, InprocPump, inproc_pump

DAY = SECONDS_PER_DAY


def workflow(**kwargs: object) -> RefillWorkflow:
    return RefillWorkflow(make_snapshot(**kwargs))  # type: ignore[arg-type]


def test_discrepancy_over_1_ml_is_flagged_on_a_20_ml_pump() -> None:
    refill = workflow(reservoir_nl=12_000_000)
    assert refill.expected_nl == 12_000_000
    ok = refill.check_removed("11")
    assert (ok.discrepancy_nl, ok.flagged, ok.causes) == (-1_000_000, False, ())
    assert "within the 1.00 mL tolerance" in ok.text
    less = refill.check_removed("10.9")
    assert less.flagged and less.causes == CAUSES_LESS_REMOVED
    assert "pocket fill" in less.text and "incomplete emptying" in less.text
    more = refill.check_removed("13.5")
    assert more.flagged and more.causes == CAUSES_MORE_REMOVED
    assert "+1.50 mL" in more.text and "occlusion" in more.text


def test_discrepancy_over_2_ml_is_flagged_on_a_40_ml_pump() -> None:
    refill = workflow(model=40, reservoir_nl=12_000_000)
    assert refill.threshold_nl == 2_000_000
    assert not refill.check_removed("10").flagged
    assert refill.check_removed("9.99").flagged


def test_no_overfill() -> None:
    refill = workflow(reservoir_nl=5_000_000)
    assert refill.room_nl(5_000_000) == 20_000_000
    assert refill.check_added("20", removed_nl=5_000_000) == 20_000_000
    with pytest.raises(OverfillError) as err:
        refill.check_added("20.01", removed_nl=5_000_000)
    assert err.value.room_nl == 20_000_000
    assert "would overfill" in str(err.value) and "20.00 mL fits" in str(err.value)
    # Removing less than expected leaves less room.
    assert refill.room_nl(4_000_000) == 19_000_000
    with pytest.raises(EntryError):
        refill.check_added("20.", removed_nl=5_000_000)


def test_concentration_pick_list_and_override() -> None:
    refill = workflow()
    assert refill.choose_concentration(2000).changed
    assert not refill.choose_concentration("500").changed
    with pytest.raises(ConcentrationError, match="trial injections only"):
        refill.choose_concentration(50)
    trial = refill.choose_concentration(50, override=True)
    assert trial.nonstandard and trial.concentration_ug_per_ml == 50
    with pytest.raises(ConcentrationError, match=r"not a commercial concentration \(500, 1000"):
        refill.choose_concentration("1500")
    assert refill.choose_concentration("1500", override=True).nonstandard


def test_the_bridge_bolus_is_the_dead_volume_at_the_maximum_rate() -> None:
    bridge = workflow().bridge_bolus()
    assert bridge is not None
    # 0.2 mL tubing + 110 cm x 2.6 uL/cm = 0.486 mL; at 24 mL/day: 1749.6 s, rounded up.
    assert bridge.volume_nl == 486_000
    assert bridge.duration_s == 1_750
    assert bridge.old_drug_ug == 243  # at the old 500 mcg/mL
    assert bridge.text == (
        "0.486 mL over 29 min 10 s at the maximum rate (243 mcg of the old 500 mcg/mL drug)"
    )
    shorter = workflow().bridge_bolus(catheter_length_text="50")
    assert shorter is not None and shorter.volume_nl == 330_000
    assert workflow().bridge_bolus(concentration_changed=False) is None


def test_rescaling_keeps_the_dose_and_changes_the_rate() -> None:
    refill = workflow()  # 100 mcg/day at 500 mcg/mL = 0.2 mL/day
    assert refill.rescaled(2000) == m.PrescriptionSpec.simple(50_000)
    flex = rescale_prescription(DEMO_FLEX, old_ug_per_ml=2000, new_ug_per_ml=1000)
    assert [s.rate_nl_per_day for s in flex.profiles[0]] == [350_000, 425_000, 350_000]
    low = workflow(prescription=m.PrescriptionSpec.simple(180_000))  # 90 mcg/day
    with pytest.raises(HardLimitError, match=r"0\.045 mL/day.*Choose another concentration"):
        low.rescaled(2000)


def test_a_refill_review_with_a_concentration_change_and_bridge() -> None:
    refill = workflow(reservoir_nl=2_400_000)
    review = refill.review(removed_text="2.4", added_text="20", concentration=2000)
    assert review.title == "Review: refill"
    assert review.warning_codes == (WarningCode.CONCENTRATION_CHANGE, WarningCode.BRIDGE_BOLUS)
    assert "100 mcg/day is now 0.050 mL/day instead of 0.200 mL/day" in review.warnings[0].text
    rows = {r.label: (r.current, r.pending) for r in review.rows}
    assert rows["Reservoir"] == ("2.40 mL (estimate)", "20.00 mL")
    assert rows["Rate"] == ("0.200 mL/day", "0.050 mL/day")
    assert rows["Dose"] == ("100 mcg/day", "100 mcg/day")
    assert rows["Concentration"] == ("500 mcg/mL", "2000 mcg/mL")
    assert rows["Bridge bolus"][1].startswith("0.486 mL over 29 min 10 s")
    assert review.change_percent == 0
    # 20 mL less the bridge's 0.486 mL, down to 2 mL, at 0.05 mL/day: after the bolus.
    assert review.forecast is not None
    expected = T0 + 1_750 + (18_000_000 - 486_000) * DAY // 50_000
    assert review.forecast.low_reservoir_alarm_at_s == expected
    assert len(review.action.steps) == 3


def test_declining_the_bridge_warns_how_long_the_old_drug_lasts() -> None:
    refill = workflow(reservoir_nl=2_400_000)
    review = refill.review(
        removed_text="2.4", added_text="20", concentration=2000, bridge_accepted=False
    )
    assert WarningCode.NO_BRIDGE_BOLUS in review.warning_codes
    text = next(w.text for w in review.warnings if w.code == WarningCode.NO_BRIDGE_BOLUS)
    # 0.486 mL at the new 0.05 mL/day: 9.7 days of the old drug.
    assert "declined" in text and "9.7 days" in text
    assert len(review.action.steps) == 2


def test_a_same_concentration_refill_only_records_the_refill() -> None:
    review = workflow(reservoir_nl=8_000_000).review(
        removed_text="6.5", added_text="18", concentration=500
    )
    assert review.warning_codes == (WarningCode.DISCREPANCY,)
    assert len(review.action.steps) == 1
    assert review.forecast is not None
    # 18 mL in the reservoir after it (8 - 6.5 + 18 would overfill? no: 1.5 + 18 = 19.5).
    assert dict(review.details)["Reservoir after refill"] == "19.50 mL"


def test_a_new_dose_at_the_new_concentration() -> None:
    refill = workflow(reservoir_nl=2_400_000)
    review = refill.review(removed_text="2.4", added_text="20", concentration=2000, dose_text="110")
    assert review.pending_daily_dose_ug == 110
    with pytest.raises(ConfirmationRequiredError):
        refill.review(removed_text="2.4", added_text="20", concentration=2000, dose_text="1000")


def test_no_bridge_while_a_bolus_runs() -> None:
    refill = workflow(reservoir_nl=2_400_000, bolus=(BolusKind.THERAPEUTIC, 50_000, T0 + 600))
    assert "bolus is running" in (refill.bridge_unavailable_reason() or "")
    review = refill.review(removed_text="2.4", added_text="20", concentration=2000)
    assert WarningCode.NO_BRIDGE_BOLUS in review.warning_codes
    assert "not possible" in review.warnings[1].text


# --- against the pump --------------------------------------------------------------------------


def read(client: PumpClient) -> PumpSnapshot:
    return PumpSnapshot.read(client, wall_s=float(T0))


def refills(pump: InprocPump) -> int:
    return sum(1 for e in pump.virtual.pump.event_log if e.code is EventCode.REFILLED)


def test_refill_with_a_concentration_change_end_to_end() -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        pump.clock.advance(60 * DAY)  # 20 - 60 x 0.2 = 8 mL left
        snap = read(client)
        refill = RefillWorkflow(snap)
        review = refill.review(removed_text="8", added_text="20", concentration=2000)
        text = review.action.run(client)
        after = read(client)
        # Running it again (a retry after a lost answer) changes nothing.
        review.action.run(client)
        assert refills(pump) == 1
    assert text.startswith("Done: Record the refill")
    assert after.concentration_ug_per_ml == 2000
    assert after.prescription == m.PrescriptionSpec.simple(50_000)
    assert after.dose_ug_per_day == 100
    assert after.status.bolus_kind is BolusKind.BRIDGE
    assert review.action.verify(after)
    assert not review.action.verify(snap)
    assert review.forecast is not None
    assert review.forecast.low_reservoir_alarm_at_s == after.status.low_reservoir_alarm_at_s


class _DropsProgram:
    """A client whose first STAGE answer is lost (the link drops)."""

    def __init__(self, inner: PumpClient) -> None:
        self.inner = inner
        self.dropped = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def program(self, spec: m.PrescriptionSpec) -> m.ReadPrescriptionResponse:
        if not self.dropped:
            self.dropped = True
            raise LinkTimeout("no answer")
        return self.inner.program(spec)


def test_a_link_drop_after_the_refill_says_what_the_pump_runs_and_resumes() -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = read(client)
        review = RefillWorkflow(snap).review(
            removed_text="20", added_text="20", concentration=1000, bridge_accepted=False
        )
        flaky = _DropsProgram(client)
        with pytest.raises(ActionError) as err:
            review.action.run(flaky)  # type: ignore[arg-type]
        assert err.value.completed == (review.action.steps[0],)
        assert err.value.failed_step == review.action.steps[1]
        assert "The refill WAS recorded" in str(err.value)
        assert "may or may not" in str(err.value)
        middle = read(client)
        assert middle.concentration_ug_per_ml == 1000
        assert not review.action.verify(middle)
        # Program again: the refill is not recorded twice, the prescription is programmed.
        review.action.run(client)
        after = read(client)
        assert refills(pump) == 1
    assert review.action.verify(after)
    assert after.prescription == m.PrescriptionSpec.simple(100_000)


def test_a_refused_refill_leaves_everything_as_it_was() -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = read(client)
        review = RefillWorkflow(snap).review(
            removed_text="20",
            added_text="20",
            concentration="5000",  # the pump takes at most 4000 mcg/mL, even with the override
            override=True,
            dose_text="300",
        )
        with pytest.raises(ActionError) as err:
            review.action.run(client)
        assert err.value.completed == ()
        assert "refused" in str(err.value)
        assert "keeps its previous concentration" in str(err.value)
        after = read(client)
        assert refills(pump) == 0
    assert after.concentration_ug_per_ml == 500
    assert after.prescription == snap.prescription


def test_a_patient_session_cannot_refill() -> None:
    with pytest.raises(PumpDataError):
        RefillWorkflow(make_snapshot(role=Role.PATIENT))


def test_volume_fractions_stay_exact() -> None:
    check = workflow(reservoir_nl=12_345_678).check_removed("12.35")
    assert check.discrepancy_nl == 4_322
    assert Fraction(check.removed_nl, 1_000_000) == Fraction(1235, 100)
