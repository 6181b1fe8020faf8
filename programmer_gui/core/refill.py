"""The refill workflow: empty, reconcile, fill, and (on a new concentration) re-dose and bridge.

Steps, as the clinician meets them (each a method of :class:`RefillWorkflow`
on one snapshot):

1. the volume expected in the reservoir now (the pump's estimate);
2. the volume removed: :meth:`~RefillWorkflow.check_removed` compares it
   with the expectation and flags a discrepancy over 1 mL (20 mL pumps) or
   2 mL (40 mL), with its possible causes;
3. the volume added: :meth:`~RefillWorkflow.check_added` refuses an
   overfill (the reservoir's capacity);
4. the concentration from the commercial pick-list 500/1000/2000 mcg/mL;
   anything else (50 mcg/mL is for trial injections only) needs the explicit
   override: :meth:`~RefillWorkflow.choose_concentration`;
5. on a concentration change: the same mcg/day needs a new mL/day, so the
   prescription is rescaled (or a new dose entered) and reviewed, and a
   bridge bolus is offered (:meth:`~RefillWorkflow.bridge_bolus`): the
   tubing plus catheter dead volume, at the pump's maximum rate;
6. :meth:`~RefillWorkflow.review`: the one review, whose action records the
   refill, programs the new prescription and starts the bridge bolus, in
   that order (the pump runs a prescription committed before the bolus once
   the bolus ends, so the new rate starts when the new drug reaches the
   catheter tip).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from programmer_gui.core import ActionError, InputError
from programmer_gui.core.bolus import duration_at_max_rate_s, line_volume_nl
from programmer_gui.core.dose import (
    ConfirmationRequiredError,
    HardLimitError,
    limits_at,
)
from programmer_gui.core.entry import (
    CATHETER_LENGTH_CM,
    CONCENTRATION,
    DAILY_DOSE,
    VOLUME_ML,
    magnitude_check,
)
from programmer_gui.core.forecast import (
    HALTING_ALARMS,
    PlannedBolus,
    daily_volume_nl,
    forecast_pending,
    running_bolus,
)
from programmer_gui.core.review import (
    ProgramAction,
    Review,
    ReviewRow,
    ReviewWarning,
    WarningCode,
    build_prescription_review,
    describe_prescription,
    format_rate_ml_per_day,
)
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, BolusKind, EventCode, Mode
from protocol.errors import LinkClosed, LinkTimeout, ProtocolError
from protocol.units import (
    NL_PER_ML,
    format_concentration_ug_per_ml,
    format_dose_ug,
    format_dose_ug_per_day,
    format_volume_nl,
    ml_to_nl,
    round_half_even,
    volume_to_dose_ug,
)

COMMERCIAL_CONCENTRATIONS_UG_PER_ML = (500, 1000, 2000)
"""The pick-list: baclofen's commercial concentrations."""
TRIAL_CONCENTRATIONS_UG_PER_ML = (50,)
"""For trial injections only; a pump refill at these needs the override."""

DEFAULT_CATHETER_LENGTH_CM = Fraction(110)
"""The catheter length offered when none is entered (a typical trimmed length)."""

DISCREPANCY_THRESHOLDS_NL = {20: 1_000_000, 40: 2_000_000}
"""A removed volume further than this from the expected one is flagged, per model (mL size)."""
DISCREPANCY_FRACTION_OF_CAPACITY = Fraction(1, 20)
"""For a model not in the table: 5 % of the capacity (what both known models use)."""

CAUSES_LESS_REMOVED = (
    "a pocket fill at the last refill: drug injected outside the reservoir, into the "
    "tissue around the pump (watch for overdose signs)",
    "incomplete emptying of the reservoir (needle position, aspiration stopped early)",
    "an inaccurate estimate: the pump delivered more than programmed, or the last refill "
    "volume was recorded wrongly",
)
"""Possible causes when less came out than the pump expected."""

CAUSES_MORE_REMOVED = (
    "under-delivery: a catheter occlusion or kink, or a motor stall, so less drug reached "
    "the patient than programmed (watch for withdrawal signs)",
    "an inaccurate estimate: the pump delivered less than programmed, or more was added at "
    "the last refill than recorded",
    "fluid aspirated from the pocket around the pump (needle outside the reservoir)",
)
"""Possible causes when more came out than the pump expected."""

_UNCERTAIN = (LinkTimeout, LinkClosed)
"""Failures after which the pump may or may not have carried the step out."""

LOG_LOOKBACK_ENTRIES = 16
"""How many of the latest log entries are searched for a step already carried out."""


class OverfillError(InputError):
    """The volume added would overfill the reservoir."""

    def __init__(self, message: str, *, room_nl: int) -> None:
        super().__init__(message)
        self.room_nl = room_nl


class ConcentrationError(InputError):
    """A concentration that needs the explicit override (or is not usable at all)."""


def discrepancy_threshold_nl(device: m.DeviceInfoResponse) -> int:
    """The refill discrepancy tolerance of the pump's model (1 mL for 20 mL, 2 mL for 40 mL)."""
    known = DISCREPANCY_THRESHOLDS_NL.get(device.model)
    if known is not None:
        return known
    return round_half_even(device.capacity_nl * DISCREPANCY_FRACTION_OF_CAPACITY)


@dataclass(frozen=True, kw_only=True)
class DiscrepancyCheck:
    """The volume removed against the pump's expectation."""

    expected_nl: int
    removed_nl: int
    threshold_nl: int

    @property
    def discrepancy_nl(self) -> int:
        """removed - expected: negative when less came out than expected."""
        return self.removed_nl - self.expected_nl

    @property
    def flagged(self) -> bool:
        """Over the model's tolerance: drug may have gone outside the pump."""
        return abs(self.discrepancy_nl) > self.threshold_nl

    @property
    def causes(self) -> tuple[str, ...]:
        """Possible causes of a flagged discrepancy (empty when not flagged)."""
        if not self.flagged:
            return ()
        return CAUSES_LESS_REMOVED if self.discrepancy_nl < 0 else CAUSES_MORE_REMOVED

    @property
    def text(self) -> str:
        """The comparison in one sentence, with the causes when flagged."""
        diff = self.discrepancy_nl
        sign = "+" if diff > 0 else "-" if diff < 0 else ""
        base = (
            f"Removed {format_volume_nl(self.removed_nl)}, expected "
            f"{format_volume_nl(self.expected_nl)}: a difference of "
            f"{sign}{format_volume_nl(abs(diff))}"
        )
        if not self.flagged:
            return f"{base}, within the {format_volume_nl(self.threshold_nl)} tolerance."
        more_or_less = "less" if diff < 0 else "more"
        return (
            f"{base}, {more_or_less} than expected by over the "
            f"{format_volume_nl(self.threshold_nl)} tolerance. Possible causes: "
            + "; ".join(self.causes)
            + "."
        )


@dataclass(frozen=True, kw_only=True)
class ConcentrationChoice:
    """A concentration accepted for the refill."""

    concentration_ug_per_ml: int
    previous_ug_per_ml: int
    nonstandard: bool
    """Outside the commercial pick-list (the override was given)."""

    @property
    def changed(self) -> bool:
        return self.concentration_ug_per_ml != self.previous_ug_per_ml


@dataclass(frozen=True, kw_only=True)
class BridgeBolus:
    """The bridge bolus after a concentration change: the dead volume at the maximum rate."""

    volume_nl: int
    duration_s: int
    catheter_length_cm: Fraction
    old_concentration_ug_per_ml: int

    @property
    def old_drug_ug(self) -> Fraction:
        """The old drug the bolus pushes into the patient, mcg."""
        return volume_to_dose_ug(self.volume_nl, self.old_concentration_ug_per_ml)

    @property
    def duration_text(self) -> str:
        minutes, seconds = divmod(self.duration_s, 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"

    @property
    def text(self) -> str:
        """``0.49 mL over 29 min 10 s (972 mcg of the old 2000 mcg/mL drug)``."""
        return (
            f"{format_volume_nl(self.volume_nl, 3)} over {self.duration_text} at the maximum rate "
            f"({format_dose_ug(self.old_drug_ug)} of the old "
            f"{format_concentration_ug_per_ml(self.old_concentration_ug_per_ml)} drug)"
        )

    def planned(self) -> PlannedBolus:
        return PlannedBolus(volume_nl=self.volume_nl, duration_s=self.duration_s)


def rescale_prescription(
    spec: m.PrescriptionSpec, *, old_ug_per_ml: int, new_ug_per_ml: int
) -> m.PrescriptionSpec:
    """The same mcg/day at a new concentration: every rate times old/new (whole nL/day).

    Minimum-rate and stopped prescriptions carry no rate and are returned as they are.
    """
    factor = Fraction(old_ug_per_ml, new_ug_per_ml)

    def scale(rate: int) -> int:
        return round_half_even(rate * factor)

    if spec.mode is Mode.SIMPLE:
        assert spec.rate_nl_per_day is not None
        return m.PrescriptionSpec.simple(scale(spec.rate_nl_per_day))
    if spec.mode is Mode.FLEX:
        profiles = tuple(
            tuple(
                m.FlexStep(start_min=step.start_min, rate_nl_per_day=scale(step.rate_nl_per_day))
                for step in profile
            )
            for profile in spec.profiles
        )
        return m.PrescriptionSpec(
            mode=Mode.FLEX, rate_nl_per_day=None, weekly=spec.weekly, profiles=profiles
        )
    return spec


def _rates(spec: m.PrescriptionSpec) -> list[tuple[str, int]]:
    if spec.mode is Mode.SIMPLE:
        assert spec.rate_nl_per_day is not None
        return [("the dose", spec.rate_nl_per_day)]
    if spec.mode is Mode.FLEX:
        return [
            (f"profile {day + 1} step {i + 1}", step.rate_nl_per_day)
            for day, profile in enumerate(spec.profiles)
            for i, step in enumerate(profile)
        ]
    return []


class RefillWorkflow:
    """The refill against one snapshot (immutable: every method is a pure check)."""

    removed_entry = VOLUME_ML.with_label("Volume removed")
    added_entry = VOLUME_ML.with_label("Volume added")
    concentration_entry = CONCENTRATION
    catheter_entry = CATHETER_LENGTH_CM
    dose_entry = DAILY_DOSE.with_label("Daily dose at the new concentration")

    def __init__(self, snapshot: PumpSnapshot) -> None:
        self._snapshot = snapshot
        self._current_spec = snapshot.require_prescription()

    @property
    def snapshot(self) -> PumpSnapshot:
        return self._snapshot

    def with_snapshot(self, snapshot: PumpSnapshot) -> RefillWorkflow:
        """The same workflow against a newer snapshot (the entries are checked again)."""
        return RefillWorkflow(snapshot)

    # --- 1-3: volumes ------------------------------------------------------------------------

    @property
    def expected_nl(self) -> int:
        """The volume the pump expects in the reservoir now (its estimate)."""
        return self._snapshot.status.reservoir_nl

    @property
    def capacity_nl(self) -> int:
        return self._snapshot.device.capacity_nl

    @property
    def threshold_nl(self) -> int:
        return discrepancy_threshold_nl(self._snapshot.device)

    def check_removed(self, text: str) -> DiscrepancyCheck:
        """The volume removed (mL text) against the expected volume; EntryError if malformed."""
        removed = ml_to_nl(self.removed_entry.parse(text))
        return DiscrepancyCheck(
            expected_nl=self.expected_nl, removed_nl=removed, threshold_nl=self.threshold_nl
        )

    def room_nl(self, removed_nl: int) -> int:
        """The most that can be added after removing ``removed_nl`` (no overfill)."""
        left = max(self.expected_nl - removed_nl, 0)
        return max(self.capacity_nl - left, 0)

    def check_added(self, text: str, *, removed_nl: int) -> int:
        """The volume added (mL text) in nL; EntryError, or OverfillError over the room left."""
        added = ml_to_nl(self.added_entry.parse(text))
        room = self.room_nl(removed_nl)
        if added > room:
            raise OverfillError(
                f"{self.added_entry.label}: {format_volume_nl(added)} would overfill the "
                f"reservoir: {format_volume_nl(room)} fits after removing "
                f"{format_volume_nl(removed_nl)} (capacity {format_volume_nl(self.capacity_nl)}).",
                room_nl=room,
            )
        if added == 0:
            raise InputError(f"{self.added_entry.label}: type the volume put into the reservoir.")
        return added

    def reservoir_after_nl(self, *, removed_nl: int, added_nl: int) -> int:
        """The pump's estimate after the refill (it never goes below 0 before the fill)."""
        return max(self.expected_nl - removed_nl, 0) + added_nl

    # --- 4: concentration --------------------------------------------------------------------

    def choose_concentration(
        self, value: int | str, *, override: bool = False
    ) -> ConcentrationChoice:
        """A pick-list value, or another one with ``override``; ConcentrationError otherwise."""
        conc = value if isinstance(value, int) else int(self.concentration_entry.parse(value))
        if conc <= 0:
            raise ConcentrationError("Concentration: must be above 0 mcg/mL.")
        shown = format_concentration_ug_per_ml(conc)
        listed = ", ".join(str(c) for c in COMMERCIAL_CONCENTRATIONS_UG_PER_ML)
        nonstandard = conc not in COMMERCIAL_CONCENTRATIONS_UG_PER_ML
        if nonstandard and not override:
            if conc in TRIAL_CONCENTRATIONS_UG_PER_ML:
                raise ConcentrationError(
                    f"Concentration: {shown} is for trial injections only, not for refilling a "
                    "pump. Use it only with the explicit override."
                )
            raise ConcentrationError(
                f"Concentration: {shown} is not a commercial concentration ({listed} mcg/mL). "
                "Use it only with the explicit override."
            )
        return ConcentrationChoice(
            concentration_ug_per_ml=conc,
            previous_ug_per_ml=self._snapshot.concentration_ug_per_ml,
            nonstandard=nonstandard,
        )

    # --- 5: new concentration: dose and bridge -----------------------------------------------

    def rescaled(self, concentration_ug_per_ml: int) -> m.PrescriptionSpec:
        """The current prescription at the same mcg/day at a new concentration; HardLimitError
        when a rate falls outside the pump's limits."""
        spec = rescale_prescription(
            self._current_spec,
            old_ug_per_ml=self._snapshot.concentration_ug_per_ml,
            new_ug_per_ml=concentration_ug_per_ml,
        )
        self._check_limits(spec, concentration_ug_per_ml)
        return spec

    def _check_limits(self, spec: m.PrescriptionSpec, concentration: int) -> None:
        limits = limits_at(self._snapshot, concentration)
        for name, rate in _rates(spec):
            dose = rate * Fraction(concentration, NL_PER_ML)
            if not limits.min_rate_nl_per_day <= rate <= limits.max_rate_nl_per_day:
                try:
                    limits.check(dose, label=f"At the new concentration, {name}")
                except HardLimitError as refusal:
                    raise HardLimitError(
                        f"{refusal} Choose another concentration or dose.",
                        limit=refusal.limit,
                        rate_nl_per_day=refusal.rate_nl_per_day,
                        limit_rate_nl_per_day=refusal.limit_rate_nl_per_day,
                        limit_dose_ug_per_day=refusal.limit_dose_ug_per_day,
                    ) from None

    def bridge_unavailable_reason(self) -> str | None:
        """Why the pump could not start a bridge bolus after the refill (None: it can)."""
        snap = self._snapshot
        if snap.bolus_running:
            return (
                f"a {snap.status.bolus_kind.name.lower()} bolus is running; the pump starts "
                "no other bolus until it ends"
            )
        halts = snap.alarm_codes & HALTING_ALARMS
        if halts - {AlarmCode.EMPTY_RESERVOIR}:
            return "the pump is halted by a critical alarm"
        if not snap.status.delivering and not halts:
            return "the pump is stopped; resume it first"
        if self._current_spec.mode is Mode.STOPPED:
            return "the programmed mode is Stopped"
        return None

    def bridge_bolus(
        self, *, catheter_length_text: str | None = None, concentration_changed: bool = True
    ) -> BridgeBolus | None:
        """The bridge bolus for the entered catheter length (default 110 cm), or None when the
        concentration does not change. EntryError on a malformed length."""
        if not concentration_changed:
            return None
        device = self._snapshot.device
        length = (
            DEFAULT_CATHETER_LENGTH_CM
            if catheter_length_text is None or not catheter_length_text.strip()
            else self.catheter_entry.parse(catheter_length_text)
        )
        volume = line_volume_nl(device, length)
        if volume <= 0:
            return None
        return BridgeBolus(
            volume_nl=volume,
            duration_s=duration_at_max_rate_s(volume, device.max_rate_nl_per_day),
            catheter_length_cm=length,
            old_concentration_ug_per_ml=self._snapshot.concentration_ug_per_ml,
        )

    # --- 6: the review -----------------------------------------------------------------------

    def review(
        self,
        *,
        removed_text: str,
        added_text: str,
        concentration: int | str,
        override: bool = False,
        catheter_length_text: str | None = None,
        bridge_accepted: bool = True,
        dose_text: str | None = None,
        confirmed: bool = False,
    ) -> Review:
        """The refill review. Raises EntryError, OverfillError, ConcentrationError,
        HardLimitError, or ConfirmationRequiredError (a new dose 10x / 0.1x unconfirmed).

        ``dose_text`` (mcg/day) replaces the prescription by a simple dose at the new
        concentration; otherwise a concentration change keeps the same mcg/day.
        """
        snap = self._snapshot
        check = self.check_removed(removed_text)
        added = self.check_added(added_text, removed_nl=check.removed_nl)
        choice = self.choose_concentration(concentration, override=override)
        conc = choice.concentration_ug_per_ml
        after_nl = self.reservoir_after_nl(removed_nl=check.removed_nl, added_nl=added)
        warnings: list[ReviewWarning] = []
        notes: list[str] = []

        pending, dose_warning = self._pending_prescription(conc, dose_text, confirmed=confirmed)
        if dose_warning is not None:
            warnings.append(dose_warning)
        if check.flagged:
            warnings.append(ReviewWarning(code=WarningCode.DISCREPANCY, text=check.text))
        else:
            notes.append(check.text)
        if choice.nonstandard:
            trial = conc in TRIAL_CONCENTRATIONS_UG_PER_ML
            warnings.append(
                ReviewWarning(
                    code=WarningCode.NONSTANDARD_CONCENTRATION,
                    text=f"{format_concentration_ug_per_ml(conc)} is "
                    + ("a trial-injection concentration" if trial else "not a commercial one")
                    + "; it is used with the explicit override.",
                )
            )
        bridge: BridgeBolus | None = None
        if choice.changed:
            warnings.append(self._concentration_warning(choice, pending))
            bridge = self.bridge_bolus(
                catheter_length_text=catheter_length_text, concentration_changed=True
            )
            unavailable = self.bridge_unavailable_reason()
            deliverable = after_nl - snap.device.empty_threshold_nl
            if bridge is not None and unavailable is None and bridge.volume_nl > deliverable:
                unavailable = "the reservoir would not hold enough above its empty threshold"
            if bridge is not None and (not bridge_accepted or unavailable is not None):
                warnings.append(self._no_bridge_warning(bridge, pending, conc, unavailable))
                bridge = None
            elif bridge is not None:
                warnings.append(
                    ReviewWarning(
                        code=WarningCode.BRIDGE_BOLUS,
                        text=f"Bridge bolus: {bridge.text}, for a "
                        f"{format_trimmed_cm(bridge.catheter_length_cm)} catheter. The new "
                        "prescription starts when it ends.",
                    )
                )

        delivering = snap.status.delivering or (
            snap.alarm_codes & HALTING_ALARMS == {AlarmCode.EMPTY_RESERVOIR}
        )
        boluses = tuple(
            b for b in (running_bolus(snap), None if bridge is None else bridge.planned()) if b
        )
        forecast = forecast_pending(
            snap, pending, reservoir_nl=after_nl, boluses_first=boluses, delivering=delivering
        )
        action = self._action(
            removed_nl=check.removed_nl,
            added_nl=added,
            choice=choice,
            pending=pending,
            bridge=bridge,
            after_nl=after_nl,
        )
        review = build_prescription_review(
            title="Review: refill",
            snapshot=snap,
            pending=pending,
            pending_concentration_ug_per_ml=conc,
            action=action,
            warnings=warnings,
            notes=notes,
            forecast=forecast,
            details=(
                ("Expected volume", format_volume_nl(check.expected_nl)),
                ("Volume removed", format_volume_nl(check.removed_nl)),
                ("Volume added", format_volume_nl(added)),
                ("Reservoir after refill", format_volume_nl(after_nl)),
            ),
        )
        refill_rows = (
            ReviewRow(
                label="Reservoir",
                current=f"{format_volume_nl(check.expected_nl)} (estimate)",
                pending=format_volume_nl(after_nl),
                changed=after_nl != check.expected_nl,
            ),
            ReviewRow(
                label="Volume removed",
                current=f"{format_volume_nl(check.expected_nl)} expected",
                pending=format_volume_nl(check.removed_nl),
                changed=check.flagged,
            ),
            ReviewRow(
                label="Volume added",
                current="\u2014",
                pending=format_volume_nl(added),
                changed=True,
            ),
            ReviewRow(
                label="Bridge bolus",
                current="\u2014",
                pending=bridge.text if bridge is not None else "none",
                changed=bridge is not None,
            ),
        )
        return dataclasses.replace(review, rows=refill_rows + review.rows)

    def _pending_prescription(
        self, conc: int, dose_text: str | None, *, confirmed: bool
    ) -> tuple[m.PrescriptionSpec, ReviewWarning | None]:
        if dose_text is None or not dose_text.strip():
            return self.rescaled(conc), None
        dose = self.dose_entry.parse(dose_text)
        rate = limits_at(self._snapshot, conc).check(dose, label=self.dose_entry.label)
        check = magnitude_check(dose, self._snapshot.dose_ug_per_day, entry=self.dose_entry)
        if check is not None and not confirmed:
            raise ConfirmationRequiredError(check)
        warning = (
            None
            if check is None
            else ReviewWarning(code=WarningCode.MAGNITUDE, text=check.statement)
        )
        return m.PrescriptionSpec.simple(rate), warning

    def _concentration_warning(
        self, choice: ConcentrationChoice, pending: m.PrescriptionSpec
    ) -> ReviewWarning:
        snap = self._snapshot
        minimum = snap.device.minimum_mode_rate_nl_per_day
        old_volume = snap.daily_volume_nl
        new_volume = daily_volume_nl(pending, snap.weekday, minimum_mode_rate_nl_per_day=minimum)
        new_dose = new_volume * choice.concentration_ug_per_ml / NL_PER_ML
        return ReviewWarning(
            code=WarningCode.CONCENTRATION_CHANGE,
            text=f"The concentration changes from "
            f"{format_concentration_ug_per_ml(choice.previous_ug_per_ml)} to "
            f"{format_concentration_ug_per_ml(choice.concentration_ug_per_ml)}: "
            f"{format_dose_ug_per_day(new_dose)} is now {format_rate_ml_per_day(new_volume)} "
            f"instead of {format_rate_ml_per_day(old_volume)}. Review the dose at the new "
            "concentration.",
        )

    def _no_bridge_warning(
        self,
        bridge: BridgeBolus,
        pending: m.PrescriptionSpec,
        conc: int,
        unavailable: str | None,
    ) -> ReviewWarning:
        snap = self._snapshot
        volume = daily_volume_nl(
            pending,
            snap.weekday,
            minimum_mode_rate_nl_per_day=snap.device.minimum_mode_rate_nl_per_day,
        )
        why = "declined" if unavailable is None else f"not possible: {unavailable}"
        lag = ""
        if volume > 0:
            days = Fraction(bridge.volume_nl) / volume
            lag = (
                f" For about {format_days(days)} the patient keeps receiving the old "
                f"{format_concentration_ug_per_ml(bridge.old_concentration_ug_per_ml)} drug at the "
                f"new rate ({format_rate_ml_per_day(volume)}), not "
                f"{format_concentration_ug_per_ml(conc)}."
            )
        return ReviewWarning(
            code=WarningCode.NO_BRIDGE_BOLUS,
            text=f"No bridge bolus ({why}): the tubing and catheter hold "
            f"{format_volume_nl(bridge.volume_nl, 3)} of the old drug.{lag}",
        )

    def _action(
        self,
        *,
        removed_nl: int,
        added_nl: int,
        choice: ConcentrationChoice,
        pending: m.PrescriptionSpec,
        bridge: BridgeBolus | None,
        after_nl: int,
    ) -> ProgramAction:
        return RefillAction(
            snapshot=self._snapshot,
            removed_nl=removed_nl,
            added_nl=added_nl,
            choice=choice,
            pending=pending,
            bridge=bridge,
            after_nl=after_nl,
        ).as_program_action()


def format_trimmed_cm(length_cm: Fraction) -> str:
    """``110 cm``, ``95.5 cm``."""
    return CATHETER_LENGTH_CM.show(length_cm)


def format_days(days: Fraction) -> str:
    """``9.7 days``, ``1 day``."""
    rounded = round_half_even(days * 10)
    if rounded == 10:
        return "1 day"
    return f"{rounded // 10}.{rounded % 10} days" if rounded % 10 else f"{rounded // 10} days"


class RefillAction:
    """The refill's program action: refill, then the new prescription, then the bridge bolus.

    Safe to run again after a failure (e.g. once the link is back): steps
    already carried out are skipped, and a step whose answer was lost (a
    timeout, a dropped link) is looked up on the pump (its event log, or the
    prescription it runs) before being sent again, so a refill is never
    recorded twice nor a bridge bolus started twice.
    """

    def __init__(
        self,
        *,
        snapshot: PumpSnapshot,
        removed_nl: int,
        added_nl: int,
        choice: ConcentrationChoice,
        pending: m.PrescriptionSpec,
        bridge: BridgeBolus | None,
        after_nl: int,
    ) -> None:
        self._snapshot = snapshot
        self.removed_nl = removed_nl
        self.added_nl = added_nl
        self.choice = choice
        self.pending = pending
        self.bridge = bridge
        self.after_nl = after_nl
        self.program_needed = pending != snapshot.prescription
        self._done: set[str] = set()
        self._uncertain: set[str] = set()
        conc = format_concentration_ug_per_ml(choice.concentration_ug_per_ml)
        minimum = snapshot.device.minimum_mode_rate_nl_per_day
        self.refill_step = (
            f"Record the refill: removed {format_volume_nl(removed_nl)}, added "
            f"{format_volume_nl(added_nl)} at {conc}"
        )
        self.program_step = "Program " + describe_prescription(
            pending, choice.concentration_ug_per_ml, minimum_mode_rate_nl_per_day=minimum
        )
        self.bridge_step = "" if bridge is None else f"Start the bridge bolus: {bridge.text}"

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps in order, in words."""
        steps = [self.refill_step]
        if self.program_needed:
            steps.append(self.program_step)
        if self.bridge is not None:
            steps.append(self.bridge_step)
        return tuple(steps)

    @property
    def completed(self) -> tuple[str, ...]:
        """Steps the pump has confirmed so far."""
        return tuple(step for step in self.steps if step in self._done)

    def as_program_action(self) -> ProgramAction:
        """This action in the contract's shape (run, verify, steps)."""
        return ProgramAction(
            description="; ".join(self.steps),
            run=self.run,
            verify=self.verify,
            steps=self.steps,
        )

    def _logged_since(self, client: PumpClient, code: EventCode, a: int, b: int) -> bool:
        """An event ``code`` with params (a, b) at or after the snapshot, in the latest entries."""
        head = client.event_log_page(0, 1)
        first = max(head.total_written - LOG_LOOKBACK_ENTRIES, head.overwritten, 0)
        page = client.event_log_page(first, LOG_LOOKBACK_ENTRIES)
        since = self._snapshot.status.clock_s
        return any(
            e.code is code and e.a == a and e.b == b and e.clock_s >= since for e in page.entries
        )

    def _step(self, step: str, do: Callable[[], None], done_already: Callable[[], bool]) -> None:
        """Run one step unless done; after a lost answer, ask the pump whether it was done."""
        if step in self._done:
            return
        if step in self._uncertain and done_already():
            self._done.add(step)
            return
        try:
            do()
        except _UNCERTAIN as exc:
            self._uncertain.add(step)
            raise self._failure(step, exc, uncertain=True) from exc
        except ProtocolError as exc:
            raise self._failure(step, exc, uncertain=False) from exc
        self._uncertain.discard(step)
        self._done.add(step)

    def run(self, client: PumpClient) -> str:
        """Carry out every step not yet done; the confirmation text, or ActionError."""
        conc = self.choice.concentration_ug_per_ml
        self._step(
            self.refill_step,
            lambda: self._refill(client),
            lambda: self._logged_since(client, EventCode.REFILLED, self.added_nl, conc),
        )
        if self.program_needed:
            self._step(
                self.program_step,
                lambda: self._program(client),
                lambda: client.read_prescription().prescription == self.pending,
            )
        bridge = self.bridge
        if bridge is not None:
            self._step(
                self.bridge_step,
                lambda: self._start_bridge(client, bridge),
                lambda: self._logged_since(
                    client, EventCode.BOLUS_STARTED, int(BolusKind.BRIDGE), bridge.volume_nl
                ),
            )
        return "Done: " + "; ".join(self.steps) + "."

    def _refill(self, client: PumpClient) -> None:
        client.refill(
            removed_nl=self.removed_nl,
            added_nl=self.added_nl,
            concentration_ug_per_ml=self.choice.concentration_ug_per_ml,
            allow_nonstandard=self.choice.nonstandard,
        )

    def _program(self, client: PumpClient) -> None:
        client.program(self.pending)

    def _start_bridge(self, client: PumpClient, bridge: BridgeBolus) -> None:
        # duration 0: the pump runs a bridge bolus at its maximum rate.
        client.start_bolus(BolusKind.BRIDGE, bridge.volume_nl, 0)

    def _failure(self, step: str, exc: Exception, *, uncertain: bool) -> ActionError:
        done = self.completed
        snap = self._snapshot
        conc = format_concentration_ug_per_ml(self.choice.concentration_ug_per_ml)
        if uncertain:
            outcome = (
                f"The link failed during this step ({exc}); the pump may or may not have "
                "carried it out. Reconnect and program again: a step the pump already "
                "carried out is not repeated."
            )
        else:
            outcome = f"The pump refused it ({exc})."
        if step == self.refill_step:
            state = (
                "The pump keeps its previous concentration and prescription."
                if not uncertain
                else ""
            )
        elif step == self.program_step:
            old = describe_prescription(
                snap.require_prescription(),
                self.choice.concentration_ug_per_ml,
                minimum_mode_rate_nl_per_day=snap.device.minimum_mode_rate_nl_per_day,
            )
            state = (
                f"The refill WAS recorded ({format_volume_nl(self.added_nl)} at {conc}), but the "
                f"new prescription was not confirmed: the pump may still run its previous rates "
                f"with the NEW drug: {old}. Program the dose now."
            )
        else:
            state = (
                "The refill was recorded and the new prescription programmed, but the bridge "
                "bolus was not confirmed: the old drug in the catheter reaches the patient at "
                "the new rate."
            )
        message = f"{step}: failed. {outcome} {state}".strip()
        return ActionError(message, completed=done, failed_step=step)

    def verify(self, snapshot: PumpSnapshot) -> bool:
        """The pump reports the new concentration, the pending prescription, a reservoir no
        fuller than just after the refill, and the bridge bolus (running or delivered)."""
        status = snapshot.status
        if status.concentration_ug_per_ml != self.choice.concentration_ug_per_ml:
            return False
        if snapshot.prescription != self.pending:
            return False
        if status.reservoir_nl > self.after_nl:
            return False
        if self.bridge is not None:
            running = status.bolus_kind is BolusKind.BRIDGE
            delivered = self.after_nl - status.reservoir_nl >= self.bridge.volume_nl
            return running or delivered
        return True
