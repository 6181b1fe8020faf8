"""The refill workflow: empty, reconcile, fill, and on a new concentration the dose and the bridge,
as ONE transaction.

Steps, as the clinician meets them (each a method of :class:`RefillWorkflow`
on one snapshot):

1. the volume expected in the reservoir now (the pump's estimate);
2. the volume removed: :meth:`~RefillWorkflow.check_removed` compares it
   with the expectation and flags a discrepancy over 1 mL (20 mL pumps) or
   2 mL (40 mL), with its possible causes;
3. the volume added: :meth:`~RefillWorkflow.check_added` refuses an
   overfill (the reservoir's capacity);
4. the concentration, CHOSEN from the commercial pick-list 500/1000/2000
   mcg/mL (never defaulted); anything else (50 mcg/mL is for trial injections
   only) needs the explicit override: :meth:`~RefillWorkflow.choose_concentration`;
5. the prescription for the new drug: the same mcg/day (the running
   prescription at the new concentration, ``with_concentration``) or a new
   simple dose; and on a concentration change the bridge
   (:meth:`~RefillWorkflow.bridge`): until the dead volume of the tubing and
   the implant record's catheter has been delivered, the pump computes the
   new prescription's doses at the OLD concentration (the old drug is what
   reaches the spine), then at the new one. Its duration and end come from
   the pump's own forecast (:mod:`protocol.forecast`). Never a push at the
   maximum rate;
6. :meth:`~RefillWorkflow.review`: the one review (the 24-hour dose before
   and after in mcg/day, old and new concentration, the bridge), whose action
   stages the refill with its prescription and bridge, checks the pump's
   read-back, and commits it: the pump never runs the old rate on the new drug.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from fractions import Fraction

from programmer_gui.core import InputError
from programmer_gui.core.action import ProgramAction, StagedChange
from programmer_gui.core.dates import (
    forecast,
    format_pump_date,
)
from programmer_gui.core.dose import (
    ConfirmationRequiredError,
    HardLimitError,
    dose_ng,
    limits_at,
)
from programmer_gui.core.entry import (
    CONCENTRATION,
    DAILY_DOSE,
    VOLUME_ML,
    magnitude_check,
)
from programmer_gui.core.review import (
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
from protocol.enums import AlarmCode, EventCode, Mode
from protocol.schedule import bridge_volume_nl, rate_for_dose
from protocol.units import (
    format_concentration_ug_per_ml,
    format_dose_ug_per_day,
    format_duration,
    format_trimmed,
    format_volume_nl,
    ml_to_nl,
    round_half_even,
)

COMMERCIAL_CONCENTRATIONS_UG_PER_ML = (500, 1000, 2000)
"""The pick-list: baclofen's commercial concentrations."""
TRIAL_CONCENTRATIONS_UG_PER_ML = (50,)
"""For trial injections only; a pump refill at these needs the override."""

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

LOG_LOOKBACK_ENTRIES = 16
"""How many of the latest log entries are searched for a step already carried out."""


class OverfillError(InputError):
    """The volume added would overfill the reservoir."""

    def __init__(self, message: str, *, room_nl: int) -> None:
        super().__init__(message)
        self.room_nl = room_nl


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
class BridgePlan:
    """The bridge after a concentration change, as the pump will run it.

    ``volume_nl`` is the dead volume the pump uses (tubing plus the implant
    record's catheter at the lower bound of its length when the concentration
    rises, the upper when it falls); ``low_nl`` and ``high_nl`` are both bounds.
    """

    old_concentration_ug_per_ml: int
    new_concentration_ug_per_ml: int
    volume_nl: int
    low_nl: int
    high_nl: int
    catheter_length_mm: int
    catheter_length_uncertainty_mm: int
    ends_at_s: int | None
    """Forecast end (pump clock), from the pump's maths on the STATUS after the refill."""
    starts_at_s: int

    @property
    def rising(self) -> bool:
        return self.new_concentration_ug_per_ml > self.old_concentration_ug_per_ml

    @property
    def duration_s(self) -> int | None:
        return None if self.ends_at_s is None else self.ends_at_s - self.starts_at_s

    @property
    def duration_text(self) -> str:
        duration = self.duration_s
        if duration is None:
            return "beyond the forecast horizon"
        return f"{format_duration(duration)} ({format_days(Fraction(duration, 86_400))})"

    @property
    def bound_text(self) -> str:
        """Which bound of the dead volume is used, and both bounds."""
        length = format_trimmed(Fraction(self.catheter_length_mm, 10), 1)
        if self.catheter_length_uncertainty_mm == 0:
            return (
                f"dead volume {format_volume_nl(self.volume_nl)} (tubing and a "
                f"{length} cm catheter)"
            )
        unc = format_trimmed(Fraction(self.catheter_length_uncertainty_mm, 10), 1)
        which = "lower" if self.rising else "upper"
        why = "rises" if self.rising else "falls"
        return (
            f"dead volume {format_volume_nl(self.low_nl)} to "
            f"{format_volume_nl(self.high_nl)} (catheter {length} ± {unc} cm); the bridge "
            f"uses {format_volume_nl(self.volume_nl)}, the {which} bound, as the "
            f"concentration {why} (both err towards underdose)"
        )

    def text(self, snapshot: PumpSnapshot) -> str:
        end = format_pump_date(snapshot, self.ends_at_s)
        old = format_concentration_ug_per_ml(self.old_concentration_ug_per_ml)
        new = format_concentration_ug_per_ml(self.new_concentration_ug_per_ml)
        return (
            f"{self.duration_text}, ends {end}; {self.bound_text}. Until then the doses are "
            f"computed at the old {old} drug, then at {new}."
        )


def dead_volume_bounds_nl(
    *, device: m.DeviceInfoResponse, implant: m.ImplantFields
) -> tuple[int, int]:
    """The dead volume (tubing plus catheter) at the lower and upper bound of the implant
    record's catheter length (protocol.schedule.bridge_volume_nl, as the pump)."""

    def at(old: int, new: int) -> int:
        return bridge_volume_nl(
            old_concentration_ug_per_ml=old,
            new_concentration_ug_per_ml=new,
            tubing_volume_nl=device.tubing_volume_nl,
            catheter_volume_nl_per_cm=implant.catheter_volume_nl_per_cm,
            catheter_length_mm=implant.catheter_length_mm,
            catheter_length_uncertainty_mm=implant.catheter_length_uncertainty_mm,
        )

    return at(1, 2), at(2, 1)


@dataclass(frozen=True, kw_only=True)
class RefillEntries:
    """What the clinician entered, checked."""

    check: DiscrepancyCheck
    added_nl: int
    choice: ConcentrationChoice
    pending: m.PrescriptionSpec
    dose_warning: ReviewWarning | None
    after_nl: int


class RefillWorkflow:
    """The refill against one snapshot (immutable: every method is a pure check)."""

    removed_entry = VOLUME_ML.with_label("Volume removed")
    added_entry = VOLUME_ML.with_label("Volume added")
    concentration_entry = CONCENTRATION
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
        """The most that can be added: the whole capacity, since a refill empties the
        reservoir completely whatever was measured coming out (``removed_nl`` is kept for
        the call sites' reading)."""
        del removed_nl
        return self.capacity_nl

    def check_added(self, text: str, *, removed_nl: int) -> int:
        """The volume added (mL text) in nL; EntryError, or OverfillError over the room left."""
        added = ml_to_nl(self.added_entry.parse(text))
        room = self.room_nl(removed_nl)
        if added > room:
            raise OverfillError(
                f"{self.added_entry.label}: {format_volume_nl(added)} would overfill the "
                f"reservoir: it holds {format_volume_nl(room)} once emptied.",
                room_nl=room,
            )
        if added == 0:
            raise InputError(f"{self.added_entry.label}: type the volume put into the reservoir.")
        return added

    def reservoir_after_nl(self, *, removed_nl: int, added_nl: int) -> int:
        """The pump's estimate after the refill: what was added (the reservoir was emptied
        completely first)."""
        del removed_nl
        return added_nl

    # --- 4: concentration --------------------------------------------------------------------

    def choose_concentration(
        self, value: int | str | None, *, override: bool = False
    ) -> ConcentrationChoice:
        """A pick-list value, or another one with ``override``; otherwise InputError (reason
        "concentration"), also when none was chosen (the concentration is never defaulted)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError(
                "Concentration: choose the concentration of the drug you put in (it is never "
                "assumed).",
                reason="concentration",
            )
        conc = value if isinstance(value, int) else int(self.concentration_entry.parse(value))
        if conc <= 0:
            raise InputError("Concentration: must be above 0 mcg/mL.", reason="concentration")
        shown = format_concentration_ug_per_ml(conc)
        listed = ", ".join(str(c) for c in COMMERCIAL_CONCENTRATIONS_UG_PER_ML)
        nonstandard = conc not in COMMERCIAL_CONCENTRATIONS_UG_PER_ML
        if nonstandard and not override:
            if conc in TRIAL_CONCENTRATIONS_UG_PER_ML:
                raise InputError(
                    f"Concentration: {shown} is for trial injections only, not for refilling a "
                    "pump. Use it only with the explicit override.",
                    reason="concentration",
                )
            raise InputError(
                f"Concentration: {shown} is not a commercial concentration ({listed} mcg/mL). "
                "Use it only with the explicit override.",
                reason="concentration",
            )
        return ConcentrationChoice(
            concentration_ug_per_ml=conc,
            previous_ug_per_ml=self._snapshot.concentration_ug_per_ml,
            nonstandard=nonstandard,
        )

    # --- 5: the prescription for the new drug, and the bridge --------------------------------

    def same_dose(self, concentration_ug_per_ml: int) -> m.PrescriptionSpec:
        """The running prescription (its mcg/day) for the new drug; HardLimitError when a rate
        falls outside the pump's limits there (or during the bridge at the old drug)."""
        spec = self._current_spec.with_concentration(concentration_ug_per_ml)
        self._check_limits(spec, concentration_ug_per_ml)
        return spec

    def _check_limits(self, spec: m.PrescriptionSpec, concentration: int) -> None:
        concs = [concentration]
        if concentration != self._snapshot.concentration_ug_per_ml:
            concs.append(self._snapshot.concentration_ug_per_ml)  # during the bridge
        for conc in concs:
            limits = limits_at(self._snapshot, conc)
            during = "" if conc == concentration else " (during the bridge, at the old drug)"
            for name, dose in _doses(spec):
                rate = rate_for_dose(dose, conc)
                if limits.min_rate_nl_per_day <= rate <= limits.max_rate_nl_per_day:
                    continue
                try:
                    limits.check(Fraction(dose, 1000), label=f"At {conc} mcg/mL{during}, {name}")
                except HardLimitError as refusal:
                    raise HardLimitError(
                        f"{refusal} Choose another concentration or dose.",
                        limit=refusal.limit,
                        rate_nl_per_day=refusal.rate_nl_per_day,
                        limit_rate_nl_per_day=refusal.limit_rate_nl_per_day,
                        limit_dose_ug_per_day=refusal.limit_dose_ug_per_day,
                    ) from None

    def bridge_unavailable_reason(self, concentration_ug_per_ml: int) -> str | None:
        """Why the pump could not run a bridge after this refill (None: it can)."""
        snap = self._snapshot
        if concentration_ug_per_ml == snap.concentration_ug_per_ml:
            return "the concentration does not change"
        if snap.implant_record is None:
            return (
                "the pump holds no implant record, so the catheter's dead volume is unknown: "
                "write the implant record first (its length is never assumed)"
            )
        return None

    def bridge(
        self,
        *,
        concentration_ug_per_ml: int,
        pending: m.PrescriptionSpec,
        after_nl: int,
    ) -> BridgePlan:
        """The bridge from the pump's concentration to ``concentration_ug_per_ml`` with
        ``pending`` running; InputError (reason "no-implant-record") without an implant record."""
        snap = self._snapshot
        implant = snap.implant_record
        if implant is None:
            raise InputError(
                "The bridge needs the implant record (catheter model and length): write it on "
                "the Implant record page first, or decline the bridge.",
                reason="no-implant-record",
            )
        old = snap.concentration_ug_per_ml
        low, high = dead_volume_bounds_nl(device=snap.device, implant=implant)
        volume = low if concentration_ug_per_ml > old else high
        after = self.status_after(
            after_nl=after_nl,
            concentration_ug_per_ml=concentration_ug_per_ml,
            bridge_volume_nl=volume,
        )
        dates = forecast(snap, prescription=pending, status=after)
        return BridgePlan(
            old_concentration_ug_per_ml=old,
            new_concentration_ug_per_ml=concentration_ug_per_ml,
            volume_nl=volume,
            low_nl=low,
            high_nl=high,
            catheter_length_mm=implant.catheter_length_mm,
            catheter_length_uncertainty_mm=implant.catheter_length_uncertainty_mm,
            ends_at_s=dates.bridge_ends_at_s,
            starts_at_s=snap.status.clock_s,
        )

    def status_after(
        self, *, after_nl: int, concentration_ug_per_ml: int, bridge_volume_nl: int
    ) -> m.StatusResponse:
        """The STATUS as the pump would report it the second the refill commits (for the
        pump's own forecast of the pending refill)."""
        status = self._snapshot.status
        halted = status.halted_by - {AlarmCode.EMPTY_RESERVOIR}
        delivering = status.mode is not Mode.STOPPED and not halted
        changed = concentration_ug_per_ml != status.concentration_ug_per_ml
        if changed:
            bridge_fields = {
                "bridge_remaining_nl": bridge_volume_nl,
                "bridge_concentration_ug_per_ml": (
                    status.concentration_ug_per_ml if bridge_volume_nl else 0
                ),
                "bridge_ends_at_s": None,
            }
        else:
            bridge_fields = {}
        return dataclasses.replace(
            status,
            reservoir_nl=after_nl,
            concentration_ug_per_ml=concentration_ug_per_ml,
            halted_by=halted,
            delivering=delivering,
            **bridge_fields,  # type: ignore[arg-type]
        )

    # --- 6: the review -----------------------------------------------------------------------

    def entries(
        self,
        *,
        removed_text: str,
        added_text: str,
        concentration: int | str | None,
        override: bool = False,
        dose_text: str | None = None,
        confirmed: bool = False,
    ) -> RefillEntries:
        """The entries checked (EntryError, OverfillError, InputError "concentration",
        HardLimitError, ConfirmationRequiredError)."""
        check = self.check_removed(removed_text)
        added = self.check_added(added_text, removed_nl=check.removed_nl)
        choice = self.choose_concentration(concentration, override=override)
        after_nl = self.reservoir_after_nl(removed_nl=check.removed_nl, added_nl=added)
        pending, dose_warning = self._pending_prescription(
            choice.concentration_ug_per_ml, dose_text, confirmed=confirmed
        )
        return RefillEntries(
            check=check,
            added_nl=added,
            choice=choice,
            pending=pending,
            dose_warning=dose_warning,
            after_nl=after_nl,
        )

    def review(
        self,
        *,
        removed_text: str,
        added_text: str,
        concentration: int | str | None,
        override: bool = False,
        bridge_accepted: bool = True,
        dose_text: str | None = None,
        confirmed: bool = False,
        drug_lot: str = "",
    ) -> Review:
        """The refill review. Raises EntryError, OverfillError, InputError (reason "concentration"),
        HardLimitError, ConfirmationRequiredError (a new dose 10x / 0.1x unconfirmed), or
        InputError (reason "no-implant-record") (a bridge asked for without an implant record).

        ``dose_text`` (mcg/day) replaces the prescription by a simple dose of the new drug;
        otherwise the running prescription's doses are kept (same mcg/day).
        """
        snap = self._snapshot
        e = self.entries(
            removed_text=removed_text,
            added_text=added_text,
            concentration=concentration,
            override=override,
            dose_text=dose_text,
            confirmed=confirmed,
        )
        conc = e.choice.concentration_ug_per_ml
        old = snap.concentration_ug_per_ml
        warnings: list[ReviewWarning] = []
        notes: list[str] = []
        if e.dose_warning is not None:
            warnings.append(e.dose_warning)
        if e.check.flagged:
            warnings.append(ReviewWarning(code=WarningCode.DISCREPANCY, text=e.check.text))
        else:
            notes.append(e.check.text)
        if e.choice.nonstandard:
            trial = conc in TRIAL_CONCENTRATIONS_UG_PER_ML
            warnings.append(
                ReviewWarning(
                    code=WarningCode.NONSTANDARD_CONCENTRATION,
                    text=f"{format_concentration_ug_per_ml(conc)} is "
                    + ("a trial-injection concentration" if trial else "not a commercial one")
                    + "; it is used with the explicit override.",
                )
            )
        bridge: BridgePlan | None = None
        if e.choice.changed:
            if snap.bridging:
                raise InputError(
                    "A bridge is running: let it end or cancel it before changing the drug "
                    "again (the pump refuses a new concentration during a bridge)."
                )
            warnings.append(self._concentration_warning(e.choice, e.pending))
            if bridge_accepted:
                bridge = self.bridge(
                    concentration_ug_per_ml=conc, pending=e.pending, after_nl=e.after_nl
                )
                warnings.append(
                    ReviewWarning(
                        code=WarningCode.BRIDGE,
                        text="Bridge: " + bridge.text(snap),
                    )
                )
            else:
                warnings.append(self._no_bridge_warning(e.pending, conc))
        after_status = self.status_after(
            after_nl=e.after_nl,
            concentration_ug_per_ml=conc,
            bridge_volume_nl=0 if bridge is None else bridge.volume_nl,
        )
        pending_forecast = forecast(snap, prescription=e.pending, status=after_status)
        action = refill_action(
            snapshot=snap,
            removed_nl=e.check.removed_nl,
            added_nl=e.added_nl,
            choice=e.choice,
            pending=e.pending,
            bridge=bridge,
            after_nl=e.after_nl,
            drug_lot=drug_lot,
        )
        review = build_prescription_review(
            title="Review: refill",
            snapshot=snap,
            pending=e.pending,
            pending_concentration_ug_per_ml=conc,
            action=action,
            warnings=warnings,
            notes=notes,
            forecast=pending_forecast,
            # Expected and removed are in the reconciliation sentence (a note, or a warning
            # when flagged), and the reservoir is emptied completely, so what it holds after
            # is what was added: one line, never the same volumes twice (#14 item 9).
            details=(
                (
                    "Reservoir after refill",
                    f"{format_volume_nl(e.after_nl)} (all added: the old drug is drawn out)",
                ),
            ),
        )
        bridge_rows: tuple[ReviewRow, ...] = ()
        if e.choice.changed:
            bridge_rows = (
                ReviewRow(
                    label="Bridge",
                    current="\u2014",
                    pending=("declined" if bridge is None else f"runs {bridge.duration_text}"),
                    changed=True,
                ),
            )
            if bridge is not None:
                during = describe_prescription(
                    e.pending,
                    old,
                    minimum_mode_rate_nl_per_day=snap.device.minimum_mode_rate_nl_per_day,
                )
                bridge_rows += (
                    ReviewRow(
                        label="Bridge ends",
                        current="\u2014",
                        pending=format_pump_date(snap, bridge.ends_at_s),
                        changed=True,
                    ),
                    ReviewRow(
                        label="During the bridge",
                        current="\u2014",
                        pending=f"{during} of the old {format_concentration_ug_per_ml(old)} drug",
                        changed=True,
                    ),
                    ReviewRow(
                        label="Dead volume",
                        current="\u2014",
                        pending=(
                            format_volume_nl(bridge.volume_nl)
                            if bridge.low_nl == bridge.high_nl
                            else f"{format_volume_nl(bridge.volume_nl)} used "
                            f"({format_volume_nl(bridge.low_nl)} to "
                            f"{format_volume_nl(bridge.high_nl)})"
                        ),
                        changed=True,
                    ),
                )
        refill_rows = (
            ReviewRow(
                label="Reservoir",
                current=f"{format_volume_nl(e.check.expected_nl)} (estimate)",
                pending=format_volume_nl(e.after_nl),
                changed=e.after_nl != e.check.expected_nl,
            ),
            ReviewRow(
                label="Volume removed",
                current=f"{format_volume_nl(e.check.expected_nl)} expected",
                pending=format_volume_nl(e.check.removed_nl),
                changed=e.check.flagged,
            ),
            ReviewRow(
                label="Volume added",
                current="\u2014",
                pending=format_volume_nl(e.added_nl) + (f" (lot {drug_lot})" if drug_lot else ""),
                changed=True,
            ),
        )
        return dataclasses.replace(review, rows=refill_rows + review.rows + bridge_rows)

    def _pending_prescription(
        self, conc: int, dose_text: str | None, *, confirmed: bool
    ) -> tuple[m.PrescriptionSpec, ReviewWarning | None]:
        if dose_text is None or not dose_text.strip():
            return self.same_dose(conc), None
        dose = self.dose_entry.parse(dose_text)
        spec = m.PrescriptionSpec.simple(dose_ng(dose), concentration_ug_per_ml=conc)
        self._check_limits(spec, conc)
        check = magnitude_check(dose, self._snapshot.dose_ug_per_day, entry=self.dose_entry)
        if check is not None and not confirmed:
            raise ConfirmationRequiredError(check)
        warning = (
            None
            if check is None
            else ReviewWarning(code=WarningCode.MAGNITUDE, text=check.statement)
        )
        return spec, warning

    def _concentration_warning(
        self, choice: ConcentrationChoice, pending: m.PrescriptionSpec
    ) -> ReviewWarning:
        snap = self._snapshot
        before = snap.dose_ug_per_day
        after = review_dose_ug(snap, pending)
        old_volume = snap.daily_volume_nl
        new_volume = review_volume_nl(snap, pending, choice.concentration_ug_per_ml)
        return ReviewWarning(
            code=WarningCode.CONCENTRATION_CHANGE,
            text=f"The concentration changes from "
            f"{format_concentration_ug_per_ml(choice.previous_ug_per_ml)} to "
            f"{format_concentration_ug_per_ml(choice.concentration_ug_per_ml)}. The 24-hour "
            f"dose is {format_dose_ug_per_day(before)} before and "
            f"{format_dose_ug_per_day(after)} after: {format_rate_ml_per_day(new_volume)} of the "
            f"new drug instead of {format_rate_ml_per_day(old_volume)} of the old.",
        )

    def _no_bridge_warning(self, pending: m.PrescriptionSpec, conc: int) -> ReviewWarning:
        snap = self._snapshot
        old = snap.concentration_ug_per_ml
        implant = snap.implant_record
        if implant is None:
            extent = (
                "the old drug in the tubing and catheter (dead volume unknown: no implant record)"
            )
        else:
            low, high = dead_volume_bounds_nl(device=snap.device, implant=implant)
            shown = (
                format_volume_nl(low)
                if low == high
                else f"{format_volume_nl(low)} to {format_volume_nl(high)}"
            )
            extent = f"{shown} of the old drug in the tubing and catheter"
        ratio = Fraction(old, conc)
        effect = "underdose" if ratio < 1 else "overdose"
        return ReviewWarning(
            code=WarningCode.NO_BRIDGE,
            text=f"No bridge (declined): until {extent} has been pushed through, the patient "
            f"receives the old {format_concentration_ug_per_ml(old)} drug at the new rates: "
            f"{format_trimmed(ratio * 100, 0)} % of the prescribed dose, an {effect} that can "
            "last days.",
        )


def _doses(spec: m.PrescriptionSpec) -> list[tuple[str, int]]:
    if spec.mode is Mode.SIMPLE:
        assert spec.dose_ng_per_day is not None
        return [("the dose", spec.dose_ng_per_day)]
    if spec.mode is Mode.FLEX:
        return [
            (f"profile {day + 1} step {i + 1}", step.dose_ng_per_day)
            for day, profile in enumerate(spec.profiles)
            for i, step in enumerate(profile)
        ]
    return []


def review_dose_ug(snapshot: PumpSnapshot, spec: m.PrescriptionSpec) -> Fraction:
    """The 24-hour dose of ``spec`` on the pump's today, mcg (protocol.schedule)."""
    from programmer_gui.core.dates import daily_dose_ug  # noqa: PLC0415 - one name, no cycle

    return daily_dose_ug(
        spec,
        snapshot.weekday,
        minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
    )


def review_volume_nl(snapshot: PumpSnapshot, spec: m.PrescriptionSpec, conc: int) -> Fraction:
    """The 24-hour volume of ``spec`` at ``conc`` on the pump's today, nL."""
    from programmer_gui.core.dates import daily_volume_nl  # noqa: PLC0415 - one name, no cycle

    return daily_volume_nl(
        spec,
        snapshot.weekday,
        minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
        concentration_ug_per_ml=conc,
    )


def format_days(days: Fraction) -> str:
    """``9.7 days``, ``1 day``."""
    rounded = round_half_even(days * 100)
    if rounded == 100:
        return "1 day"
    return f"{format_trimmed(Fraction(rounded, 100), 2)} days"


def refill_action(
    *,
    snapshot: PumpSnapshot,
    removed_nl: int,
    added_nl: int,
    choice: ConcentrationChoice,
    pending: m.PrescriptionSpec,
    bridge: BridgePlan | None,
    after_nl: int,
    drug_lot: str = "",
) -> ProgramAction:
    """The refill's program action: ONE staged transaction (refill, the prescription for the
    new drug and the bridge), its read-back (checksum and bridge volume) checked, then
    committed, by the one executor (:class:`~programmer_gui.core.action.StagedChange`).

    Safe to run again after a failure (e.g. once the link is back): a commit whose answer
    was lost is looked up in the pump's event log before the transaction is sent again,
    so a refill is never recorded twice.
    """
    conc = choice.concentration_ug_per_ml
    minimum = snapshot.device.minimum_mode_rate_nl_per_day
    parts = [
        f"Refill: removed {format_volume_nl(removed_nl)}, added "
        f"{format_volume_nl(added_nl)} of {format_concentration_ug_per_ml(conc)}",
        "run " + describe_prescription(pending, conc, minimum_mode_rate_nl_per_day=minimum),
    ]
    if bridge is not None:
        parts.append(f"bridge for {bridge.duration_text}")
    request = m.StageRefillRequest(
        removed_nl=removed_nl,
        added_nl=added_nl,
        concentration_ug_per_ml=conc,
        allow_nonstandard=choice.nonstandard,
        bridge=bridge is not None,
        drug_lot=drug_lot,
        prescription=pending,
    )
    expected = zlib.crc32(m.encode_payload(request))
    wanted_bridge = 0 if bridge is None else bridge.volume_nl

    def mismatch(staged: m.StageRefillResponse) -> str | None:
        if staged.checksum == expected and staged.bridge_volume_nl == wanted_bridge:
            return None
        return (
            f"checksum 0x{staged.checksum:08x}, bridge "
            f"{format_volume_nl(staged.bridge_volume_nl)}; expected 0x{expected:08x}, "
            f"{format_volume_nl(wanted_bridge)}"
        )

    def commit(client: PumpClient, staged: m.StageRefillResponse) -> m.CommitRefillResponse:
        return client.commit_refill(staged.checksum)

    def applied(client: PumpClient) -> bool:
        """A REFILLED event with this volume and concentration at or after the snapshot."""
        head = client.event_log_page(0, 1)
        first = max(head.total_written - LOG_LOOKBACK_ENTRIES, head.overwritten, 0)
        page = client.event_log_page(first, LOG_LOOKBACK_ENTRIES)
        since = snapshot.status.clock_s
        return any(
            e.code is EventCode.REFILLED and e.a == added_nl and e.b == conc and e.clock_s >= since
            for e in page.entries
        )

    change: StagedChange[m.StageRefillResponse, m.CommitRefillResponse] = StagedChange(
        step="; ".join(parts) + " (one transaction)",
        kept="its drug and prescription",
        stage=lambda client: client.stage_refill(request),
        mismatch=mismatch,
        commit=commit,
        applied=applied,
        confirmation=lambda committed: _refill_confirmation(change.step, snapshot, committed),
    )

    def verify(status_snapshot: PumpSnapshot) -> bool:
        """The pump reports the new concentration, the pending prescription, a reservoir no
        fuller than just after the refill, and the bridge (running, or already ended)."""
        status = status_snapshot.status
        if status.concentration_ug_per_ml != conc or status_snapshot.prescription != pending:
            return False
        if status.reservoir_nl > after_nl:
            return False
        if bridge is not None:
            running = status.bridge_concentration_ug_per_ml == bridge.old_concentration_ug_per_ml
            delivered = after_nl - status.reservoir_nl >= bridge.volume_nl
            return running or delivered
        return True

    return change.action(verify)


def _refill_confirmation(
    step: str, snapshot: PumpSnapshot, committed: m.CommitRefillResponse | None
) -> str:
    text = f"Done: {step}."
    if committed is not None and committed.bridge_volume_nl:
        text += f" The bridge runs for {format_volume_nl(committed.bridge_volume_nl)} of delivery"
        if committed.bridge_ends_at_s is not None:
            text += f", ends {format_pump_date(snapshot, committed.bridge_ends_at_s)}"
        text += "."
    return text
