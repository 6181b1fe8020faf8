"""Stopping and resuming delivery, without Qt: the reasons, the warnings, the pump's state.

Stopping an intrathecal baclofen pump is dangerous: withdrawal can start
within hours and severe withdrawal can be fatal within 24-72 h. The stop
workflow therefore always carries a warning the clinician must acknowledge,
asks for a reason (sent to the pump's event log) and a note (kept in the
session record), and says how to resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.action import one_step
from programmer_gui.core.dates import HALTING_WORDS
from programmer_gui.core.review import NOT_SET, Review, ReviewWarning, review_rows
from protocol import units
from protocol.client import PumpClient
from protocol.enums import Mode, StopReason

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

REASON_TEXT: Final[dict[StopReason, str]] = {
    StopReason.CLINICIAN_DECISION: "Clinician decision",
    StopReason.MRI: "MRI scan",
    StopReason.CATHETER_REVISION: "Catheter revision or surgery",
    StopReason.ADVERSE_EFFECT: "Adverse effect (suspected overdose)",
    StopReason.OTHER: "Other (describe in the note)",
}
"""The words for each stop reason, in the order the clinician sees them."""

MODE_TEXT: Final[dict[Mode, str]] = {
    Mode.STOPPED: "Stopped (programmed)",
    Mode.SIMPLE: "Simple continuous",
    Mode.FLEX: "Flex",
    Mode.MINIMUM_RATE: "Minimum rate",
}

WITHDRAWAL_WARNING: Final = (
    "STOPPING DELIVERY CAN CAUSE BACLOFEN WITHDRAWAL. Signs can start within hours: "
    "returning spasticity, itching, fever, low blood pressure, altered mental state; severe "
    "withdrawal can be fatal within 24-72 h. Plan oral baclofen cover and monitoring, and "
    "resume delivery as soon as possible."
)
MAX_NOTE_CHARS: Final = 200


@dataclass(frozen=True, kw_only=True)
class StopPlan:
    """A stop as it would be sent: the reason for the pump, the note for the record."""

    reason: StopReason
    note: str
    daily_dose_ug: str
    """The dose the patient stops receiving, with its unit."""

    @property
    def reason_text(self) -> str:
        return REASON_TEXT[self.reason]

    def record_detail(self) -> str:
        """What the session record keeps: ``reason: note``."""
        return f"{self.reason_text}: {self.note}" if self.note else self.reason_text


def plan_stop(*, reason: StopReason, note: str, snapshot: PumpSnapshot) -> StopPlan:
    """Check a stop request (the pump must be running; OTHER needs a note)."""
    note = " ".join(note.split())
    if len(note) > MAX_NOTE_CHARS:
        raise InputError(f"keep the note under {MAX_NOTE_CHARS} characters", reason="stop")
    if reason is StopReason.OTHER and not note:
        raise InputError("describe the reason in the note when it is 'Other'", reason="stop")
    if snapshot.stopped:
        raise InputError(
            "the pump is already stopped"
            if snapshot.stopped_by_stop_pump
            else "the prescription is Stopped: there is no delivery to stop",
            reason="stop",
        )
    return StopPlan(
        reason=reason,
        note=note,
        daily_dose_ug=units.format_dose_ug_per_day(snapshot.dose_ug_per_day),
    )


def is_stopped(snapshot: PumpSnapshot) -> bool:
    """Stopped by STOP_PUMP (mode STOPPED with a stop reason): RESUME restores it. A STOPPED
    prescription is not "stopped" in this sense: it is changed by programming."""
    return snapshot.stopped_by_stop_pump


def halt_reasons(snapshot: PumpSnapshot) -> str:
    """The faults halting delivery, in a clinician's words (STATUS's halted_by)."""
    codes = sorted(snapshot.status.halted_by, key=int)
    return ", ".join(HALTING_WORDS.get(code, code.name.lower()) for code in codes)


def delivery_state(snapshot: PumpSnapshot) -> str:
    """One line on what the pump is doing: delivering, stopped (and how to restart) or halted."""
    status = snapshot.status
    if status.mode is Mode.STOPPED:
        if status.stop_reason is StopReason.NONE:
            return (
                "STOPPED: the prescription is Stopped (no delivery); program a prescription "
                "to restart therapy"
            )
        return (
            f"STOPPED ({REASON_TEXT.get(status.stop_reason, status.stop_reason.name)}): no drug "
            "is delivered until you resume"
        )
    if not status.delivering:
        reasons = halt_reasons(snapshot) or "a fault"
        return f"NOT DELIVERING: halted because {reasons}. See Alarms"
    text = (
        f"Delivering: {MODE_TEXT[status.mode]}, "
        f"{units.format_dose_ug_per_day(snapshot.dose_ug_per_day)}"
    )
    if snapshot.bridging:
        text += " (bridge running)"
    return text


# --- the reviews ----------------------------------------------------------------------------


def build_stop_review(plan: StopPlan, snapshot: PumpSnapshot) -> Review:
    """The review of stopping: the withdrawal warning to acknowledge, the reason, the note."""
    dose = snapshot.dose_ug_per_day

    def run(client: PumpClient) -> str:
        client.stop(plan.reason)
        return (
            f"The pump is STOPPED ({plan.reason_text}). No drug is delivered until you resume. "
            "Watch for withdrawal."
        )

    def verify(after: PumpSnapshot) -> bool:
        return after.stopped_by_stop_pump

    description = f"Stop delivery ({plan.reason_text})"
    return Review(
        title="Review: STOP delivery",
        rows=review_rows(
            (
                ("Delivery", delivery_state(snapshot), "STOPPED: no drug delivered"),
                ("24-hour dose", plan.daily_dose_ug, units.format_dose_ug_per_day(0)),
                ("Reason (pump log)", NOT_SET, plan.reason_text),
                ("Note (session record)", NOT_SET, plan.note or NOT_SET),
            )
        ),
        current_daily_dose_ug=dose,
        pending_daily_dose_ug=Fraction(0),
        change_percent=Fraction(-100) if dose else None,
        warnings=(ReviewWarning(code="withdrawal", text=WITHDRAWAL_WARNING),),
        action=one_step(description, run, verify),
        notes=("To restart delivery use Resume on the Stop / resume page.",),
    )


def build_resume_review(snapshot: PumpSnapshot) -> Review:
    """The review of resuming the programmed therapy after a stop."""
    if not is_stopped(snapshot):
        if snapshot.stopped:
            raise InputError(
                "the prescription is Stopped: program a prescription to restart therapy "
                "(Resume only undoes a STOP PUMP)",
                reason="stop",
            )
        raise InputError(
            "the pump was not stopped with STOP PUMP: there is nothing to resume", reason="stop"
        )
    dose = snapshot.dose_ug_per_day
    spec = snapshot.prescription
    mode = MODE_TEXT[spec.mode] if spec is not None else "the programmed"

    def run(client: PumpClient) -> str:
        resumed = client.resume()
        return f"Delivery resumed: {MODE_TEXT[resumed.mode]} therapy runs again."

    def verify(after: PumpSnapshot) -> bool:
        return not after.stopped

    description = "Resume delivery"
    warnings: list[ReviewWarning] = []
    if dose > 0:
        warnings.append(
            ReviewWarning(
                code="resume-dose",
                text=f"Delivery restarts at {units.format_dose_ug_per_day(dose)} ({mode}). After "
                "a long stop, consider whether the patient's tolerance has fallen and a lower "
                "restart dose is safer.",
            )
        )
    return Review(
        title="Review: resume delivery",
        rows=review_rows(
            (
                ("Delivery", "STOPPED", f"Delivering: {mode}"),
                (
                    "24-hour dose",
                    units.format_dose_ug_per_day(0),
                    units.format_dose_ug_per_day(dose),
                ),
            )
        ),
        current_daily_dose_ug=Fraction(0),
        pending_daily_dose_ug=dose,
        change_percent=None,
        warnings=tuple(warnings),
        action=one_step(description, run, verify),
    )
