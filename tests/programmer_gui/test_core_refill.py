"""The refill workflow: discrepancy, overfill, the chosen concentration, the same dose at the
new drug, the bridge (implant record, bounds, the pump's forecast), the one transaction against
the in-process pump (a lost answer, a refusal, no double refill)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from emulator.presets import PRESETS
from programmer_gui.core import ActionError, InputError, PumpDataError
from programmer_gui.core.dates import SECONDS_PER_DAY
from programmer_gui.core.dose import ConfirmationRequiredError, HardLimitError
from programmer_gui.core.entry import EntryError
from programmer_gui.core.refill import (
    CAUSES_LESS_REMOVED,
    CAUSES_MORE_REMOVED,
    OverfillError,
    RefillWorkflow,
)
from programmer_gui.core.review import WarningCode
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind, EventCode, Role
from protocol.errors import LinkTimeout
from tests.programmer_gui.test_core_snapshot import (
    DEMO_FLEX,
    IMPLANT_110,
    SIMPLE_100,
    make_snapshot,
)
from tests.support import T0, InprocPump, inproc_pump

DAY = SECONDS_PER_DAY


def workflow(**kwargs: object) -> RefillWorkflow:
    return RefillWorkflow(make_snapshot(**kwargs))  # type: ignore[arg-type]


def test_discrepancy_over_1_ml_is_flagged_on_a_20_ml_pump() -> None:
    refill = workflow(reservoir_nl=12_000_000)
    assert refill.expected_nl == 12_000_000
    ok = refill.check_removed("11")
    assert (ok.discrepancy_nl, ok.flagged, ok.causes) == (-1_000_000, False, ())
    assert "within the 1 mL tolerance" in ok.text
    less = refill.check_removed("10.9")
    assert less.flagged and less.causes == CAUSES_LESS_REMOVED
    assert "pocket fill" in less.text and "incomplete emptying" in less.text
    more = refill.check_removed("13.5")
    assert more.flagged and more.causes == CAUSES_MORE_REMOVED
    assert "+1.5 mL" in more.text and "occlusion" in more.text


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
    assert "would overfill" in str(err.value) and "holds 20 mL once emptied" in str(err.value)
    # The reservoir is emptied completely: removing less than expected (a discrepancy)
    # leaves no drug behind, so the room is the same (issue 14, item 9).
    assert refill.room_nl(4_000_000) == 20_000_000
    with pytest.raises(EntryError):
        refill.check_added("20.", removed_nl=5_000_000)


def test_concentration_pick_list_and_override() -> None:
    refill = workflow()
    assert refill.choose_concentration(2000).changed
    assert not refill.choose_concentration("500").changed
    with pytest.raises(InputError, match="trial injections only"):
        refill.choose_concentration(50)
    trial = refill.choose_concentration(50, override=True)
    assert trial.nonstandard and trial.concentration_ug_per_ml == 50
    with pytest.raises(InputError, match=r"not a commercial concentration \(500, 1000"):
        refill.choose_concentration("1500")
    assert refill.choose_concentration("1500", override=True).nonstandard


def test_the_concentration_is_never_defaulted() -> None:
    refill = workflow()
    for nothing in (None, "", "  "):
        with pytest.raises(InputError, match="choose the concentration"):
            refill.choose_concentration(nothing)
    with pytest.raises(InputError):
        refill.review(removed_text="18", added_text="18", concentration=None)


def test_same_dose_is_the_running_prescription_at_the_new_concentration() -> None:
    refill = workflow()  # 100 mcg/day of 500 mcg/mL
    assert refill.same_dose(2000) == SIMPLE_100.with_concentration(2000)
    flex = RefillWorkflow(make_snapshot(model=40, prescription=DEMO_FLEX)).same_dose(1000)
    assert [s.dose_ng_per_day for s in flex.profiles[0]] == [350_000, 425_000, 350_000]
    assert flex.concentration_ug_per_ml == 1000
    low = workflow(prescription=m.PrescriptionSpec.simple(90_000, concentration_ug_per_ml=500))
    with pytest.raises(HardLimitError, match=r"0\.045 mL/day.*Choose another concentration"):
        low.same_dose(2000)


def test_the_bridge_uses_the_implant_record_and_the_pump_forecast() -> None:
    # domain.md: 0.33 mL of 500 mcg/mL at 100 mcg/day is 1.65 days (142,560 s). A 50 cm
    # catheter: 0.2 mL tubing + 50 x 2.6 uL = 0.33 mL.
    implant = dataclasses.replace(IMPLANT_110, catheter_length_mm=500)
    refill = workflow(reservoir_nl=2_400_000, implant=implant)
    pending = refill.same_dose(2000)
    bridge = refill.bridge(concentration_ug_per_ml=2000, pending=pending, after_nl=20_000_000)
    assert bridge.volume_nl == 330_000
    assert bridge.duration_s == 142_560
    assert bridge.ends_at_s == T0 + 142_560
    assert bridge.duration_text == "1 d 15 h 36 min (1.65 days)"


def test_the_dead_volume_bounds_with_an_uncertain_catheter_length() -> None:
    # 110 +/- 10 cm: 0.2 + 100 x 0.0026 = 0.46 mL to 0.2 + 120 x 0.0026 = 0.512 mL.
    implant = dataclasses.replace(IMPLANT_110, catheter_length_uncertainty_mm=100)
    rise = workflow(implant=implant)
    up = rise.bridge(concentration_ug_per_ml=2000, pending=rise.same_dose(2000), after_nl=10**7)
    assert (up.low_nl, up.high_nl, up.volume_nl) == (460_000, 512_000, 460_000)
    assert "the lower bound, as the concentration rises" in up.bound_text
    assert "0.46 mL to 0.512 mL" in up.bound_text
    fall = RefillWorkflow(
        make_snapshot(prescription=SIMPLE_100.with_concentration(2000), implant=implant)
    )
    down = fall.bridge(concentration_ug_per_ml=500, pending=fall.same_dose(500), after_nl=10**7)
    assert down.volume_nl == 512_000
    assert "the upper bound, as the concentration falls" in down.bound_text


def test_no_implant_record_no_bridge_and_never_a_default_length() -> None:
    refill = workflow(implant=None)
    assert "no implant record" in (refill.bridge_unavailable_reason(2000) or "")
    with pytest.raises(InputError, match="implant record"):
        refill.review(removed_text="18", added_text="18", concentration=2000)
    # Declining the bridge is still possible (with its warning).
    review = refill.review(
        removed_text="18", added_text="18", concentration=2000, bridge_accepted=False
    )
    assert WarningCode.NO_BRIDGE in review.warning_codes


def test_a_refill_review_500_to_2000_keeps_400_mcg_per_day_with_the_bridge() -> None:
    refill = workflow(
        model=40,
        prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=500),
        reservoir_nl=4_000_000,
    )
    review = refill.review(removed_text="4", added_text="20", concentration=2000)
    assert review.title == "Review: refill"
    assert review.warning_codes[:2] == (WarningCode.CONCENTRATION_CHANGE, WarningCode.BRIDGE)
    assert (review.current_daily_dose_text, review.pending_daily_dose_text) == (
        "400 mcg/day",
        "400 mcg/day",
    )
    assert review.change_percent == 0
    text = review.warnings[0].text
    assert "400 mcg/day before and 400 mcg/day after" in text
    assert "0.2 mL/day of the new drug instead of 0.8 mL/day of the old" in text
    rows = {r.label: (r.current, r.pending) for r in review.rows}
    assert rows["Concentration"] == ("500 mcg/mL", "2000 mcg/mL")
    assert rows["Dose"] == ("400 mcg/day", "400 mcg/day")
    assert rows["Rate"] == ("0.8 mL/day", "0.2 mL/day")
    # 0.486 mL at the old drug's 0.8 mL/day: 0.6075 days (52,488 s) = 14 h 34 min 48 s.
    assert rows["Bridge"][1] == "runs 14 h 35 min (0.61 days)"
    assert rows["During the bridge"][1].startswith("Simple continuous 400 mcg/day (0.8 mL/day)")
    assert rows["Dead volume"][1] == "0.486 mL"
    assert not any("maximum rate" in r.pending for r in review.rows)
    assert len(review.action.steps) == 1 and "one transaction" in review.action.steps[0]


def test_declining_the_bridge_warns_of_the_wrong_dose_for_days() -> None:
    refill = workflow(reservoir_nl=2_400_000)
    review = refill.review(
        removed_text="2.4", added_text="20", concentration=2000, bridge_accepted=False
    )
    text = next(w.text for w in review.warnings if w.code == WarningCode.NO_BRIDGE)
    assert "declined" in text and "25 % of the prescribed dose, an underdose" in text
    rows = {r.label: r.pending for r in review.rows}
    assert rows["Bridge"] == "declined"


def test_a_same_concentration_refill_keeps_the_prescription() -> None:
    review = workflow(reservoir_nl=8_000_000).review(
        removed_text="6.5", added_text="18", concentration=500
    )
    assert review.warning_codes == (WarningCode.DISCREPANCY,)
    assert len(review.action.steps) == 1
    assert review.forecast is not None
    # 8 mL expected, 6.5 mL measured out (a discrepancy), but the reservoir was emptied
    # completely: it holds exactly the 18 mL added.
    assert review.details == (
        ("Reservoir after refill", "18 mL (all added: the old drug is drawn out)"),
    )
    # Expected and removed stand once, in the reconciliation sentence (a warning here, as
    # the discrepancy is flagged), not again as details.
    texts = [*review.notes, *(w.text for w in review.warnings)]
    assert sum("expected 8 mL" in text for text in texts) == 1
    assert "Bridge" not in {r.label for r in review.rows}


def test_a_new_dose_at_the_new_concentration() -> None:
    refill = workflow(reservoir_nl=2_400_000)
    review = refill.review(removed_text="2.4", added_text="20", concentration=2000, dose_text="110")
    assert review.pending_daily_dose_ug == 110
    with pytest.raises(ConfirmationRequiredError):
        refill.review(removed_text="2.4", added_text="20", concentration=2000, dose_text="1000")


def test_no_new_drug_while_a_bridge_runs() -> None:
    refill = workflow(concentration_ug_per_ml=2000, bridge=(300_000, 500))
    with pytest.raises(InputError, match="bridge is running"):
        refill.review(removed_text="18", added_text="18", concentration=1000)


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
        review = refill.review(
            removed_text="8", added_text="20", concentration=2000, drug_lot="L123"
        )
        text = review.action.run(client)
        after = read(client)
        # Running it again (a retry after a lost answer) changes nothing.
        review.action.run(client)
        assert refills(pump) == 1
    assert text.startswith("Done: Refill")
    assert "The bridge runs for 0.486 mL of delivery" in text
    assert after.concentration_ug_per_ml == 2000
    assert after.prescription == SIMPLE_100.with_concentration(2000)
    assert after.dose_ug_per_day == 100
    assert after.bridging and after.status.bridge_concentration_ug_per_ml == 500
    assert after.status.bolus_kind is BolusKind.NONE  # the bridge is not a bolus
    assert after.implant is not None and after.implant.drug_lot == "L123"
    assert review.action.verify(after)
    assert not review.action.verify(snap)
    assert review.forecast is not None
    assert review.forecast.low_reservoir_alarm_at_s == after.status.low_reservoir_alarm_at_s
    assert review.forecast.bridge_ends_at_s == after.status.bridge_ends_at_s


class _DropsCommit:
    """A client whose first COMMIT_REFILL answer is lost (the link drops after the pump
    committed)."""

    def __init__(self, inner: PumpClient) -> None:
        self.inner = inner
        self.dropped = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def commit_refill(self, checksum: int) -> m.CommitRefillResponse:
        answer = self.inner.commit_refill(checksum)
        if not self.dropped:
            self.dropped = True
            raise LinkTimeout("no answer")
        return answer


def test_a_lost_commit_answer_is_looked_up_and_never_refilled_twice() -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = read(client)
        review = RefillWorkflow(snap).review(
            removed_text="20", added_text="20", concentration=1000, bridge_accepted=False
        )
        flaky = _DropsCommit(client)
        with pytest.raises(ActionError) as err:
            review.action.run(flaky)  # type: ignore[arg-type]
        assert "whole or not at all" in str(err.value)
        middle = read(client)
        # Never the old rate on the new drug: the transaction committed whole.
        assert middle.concentration_ug_per_ml == 1000
        assert middle.prescription == SIMPLE_100.with_concentration(1000)
        review.action.run(client)
        after = read(client)
        assert refills(pump) == 1
    assert review.action.verify(after)


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
        assert "keeps its drug and prescription" in str(err.value)
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


def test_nothing_is_committed_when_the_pump_would_bridge_another_volume() -> None:
    # Another programmer rewrote the implant record after this review was built: the pump
    # would run the bridge for another dead volume than the one reviewed, so the staged
    # transaction is not committed.
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = read(client)
        review = RefillWorkflow(snap).review(removed_text="20", added_text="20", concentration=2000)
        shorter = dataclasses.replace(IMPLANT_110, catheter_length_mm=500)
        client.set_implant(shorter)
        with pytest.raises(ActionError, match="other than what was reviewed"):
            review.action.run(client)
        after = read(client)
        assert refills(pump) == 0
    assert after.concentration_ug_per_ml == 500 and not after.bridging
    assert after.prescription == snap.prescription
