"""The educator's MRI lessons: "an MRI without the post-scan check" beside "with the check"
(domain.md, "MRI and the emergency visit"). Pure: the steps, the hour-by-hour record of the
same patient through the same scan twice (:class:`MriLessonHour`, which
:func:`emulator.mri_lesson.post_scan_check_comparison` computes on the emulator and the
educator's window shows), and its numbers as text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "MRI_WITHOUT_CHECK_STEPS",
    "MRI_WITHOUT_CHECK_TITLE",
    "MRI_WITH_CHECK_STEPS",
    "MRI_WITH_CHECK_TITLE",
    "MriLessonHour",
    "mri_lesson_numbers",
]

MRI_WITHOUT_CHECK_TITLE: Final = "An MRI without the post-scan check"
MRI_WITH_CHECK_TITLE: Final = "An MRI with the post-scan check"

MRI_WITHOUT_CHECK_STEPS: Final = (
    "A 45 min MRI stops the rotor (a motor stall, critical alarm). Its interference left the "
    "pump in telemetry mode: after the scan infusion stays suspended until someone "
    "interrogates the pump.",
    "Nobody does. The numbers below follow this patient hour by hour after the scan: the "
    "spinal-fluid level falls with the drug's half-life, and the teaching patient model "
    "drifts toward withdrawal within hours.",
    "In the programmer the banner still shows the motor stall at the next poll, but only a "
    "new session (an interrogation) lets the pump resume: the rule is to interrogate after "
    "every MRI and confirm delivery.",
)

MRI_WITH_CHECK_STEPS: Final = (
    "The same 45 min MRI, the same telemetry mode.",
    "One hour after the scan the clinician opens the programmer's MRI page and runs the "
    "post-MRI check: it opens a new session (an interrogation), which ends telemetry mode; "
    "delivery resumes on that second.",
    "The check shows the stall and its recovery in the log, the volume missed and the new "
    "alarm date, and asks to interrogate again while the recovery is not yet logged.",
    "The numbers below: the level dips for the hours without drug, then returns; the "
    "patient model stays normal.",
)


@dataclass(frozen=True, kw_only=True)
class MriLessonHour:
    """The two patients ``hour`` hours after the scan began."""

    hour: int
    with_check_share: float
    """Spinal-fluid level as a share of the established level (1.0 = as before the scan)."""
    without_check_share: float
    with_check_state: str
    """The teaching patient model's state: normal, withdrawal_risk or overdose_risk."""
    without_check_state: str
    with_check_delivering: bool
    without_check_delivering: bool


_STATE_WORDS = {
    "normal": "normal",
    "withdrawal_risk": "WITHDRAWAL RISK",
    "overdose_risk": "OVERDOSE RISK",
}
SHOWN_HOURS: Final = (1, 2, 4, 8, 14, 24)


def mri_lesson_numbers(hours: Sequence[MriLessonHour], *, with_check: bool) -> str:
    """The lesson's numbers: the level and the patient's state at a few hours after the
    scan, for the patient of this lesson beside the other one, and when withdrawal began."""
    lines = ["Spinal-fluid level (share of before) and state, with | without the check:"]
    for h in hours:
        if h.hour not in SHOWN_HOURS:
            continue
        lines.append(
            f"{h.hour} h: {h.with_check_share:.0%} "
            f"{_STATE_WORDS.get(h.with_check_state, h.with_check_state)} | "
            f"{h.without_check_share:.0%} "
            f"{_STATE_WORDS.get(h.without_check_state, h.without_check_state)}"
        )
    resumed = next((h.hour for h in hours if h.with_check_delivering), None)
    first_risk = next((h.hour for h in hours if h.without_check_state == "withdrawal_risk"), None)
    if with_check:
        lines.append(
            "With the check delivery resumed "
            + (f"within {resumed} h" if resumed is not None else "not yet")
            + "; the patient stays normal."
        )
    else:
        lines.append(
            "Without the check nothing is delivered all along; "
            + (
                f"withdrawal risk from {first_risk} h after the scan."
                if first_risk is not None
                else "the level keeps falling."
            )
        )
    return "\n".join(lines)
