"""The patient's response in the educator's window, without Qt: the dose changes with their
forecast onset and full effect, the plot's markers, and the "titrating a dose" lesson.

The emulator's patient model (a teaching model) lets the response lag the spinal-fluid
level: after a change of the continuous dose it reaches 25 % of its change (onset) after
about 5 h and 90 % (full effect) after about a day. Each change of the prescribed 24-h dose
comes with that forecast (:class:`ResponseChange`, in the true sample); a change made
before an earlier one's milestones supersedes them, which is what stacking two changes in
one afternoon looks like on the plot.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from protocol.response import ResponseChange
from protocol.timebase import SECONDS_PER_DAY, SECONDS_PER_HOUR

if TYPE_CHECKING:
    from programmer_gui.core.educator import TrueSample

__all__ = [
    "TITRATION_STEPS",
    "TITRATION_TITLE",
    "MarkerKind",
    "ResponseChange",
    "ResponseMarker",
    "describe_tone",
    "response_markers",
    "risk_detail",
    "titration_lesson",
]


class MarkerKind(enum.Enum):
    """What a vertical line on the patient plot marks."""

    CHANGE = "change"
    ONSET = "onset"
    FULL_EFFECT = "full effect"


@dataclass(frozen=True, kw_only=True)
class ResponseMarker:
    """A vertical line on the patient plot, at ``x_days`` since the start."""

    x_days: float
    kind: MarkerKind
    label: str
    superseded: bool = False
    """A later change came before this milestone: it no longer holds as forecast."""
    label_left: bool = False
    """Write the label left of the line (so the labels of close lines do not collide)."""


def response_markers(
    changes: Sequence[ResponseChange], *, start_pump_s: int
) -> tuple[ResponseMarker, ...]:
    """The change, onset and full-effect lines of each change, oldest first. A milestone
    that a later change came before is marked superseded (and says so). Labels go right of
    their lines, except a superseded milestone's and that of a change followed by another
    within 12 h (left), so two changes in one afternoon stay readable."""
    out: list[ResponseMarker] = []
    for i, change in enumerate(changes):
        next_at = changes[i + 1].at_s if i + 1 < len(changes) else None
        out.append(
            ResponseMarker(
                x_days=(change.at_s - start_pump_s) / SECONDS_PER_DAY,
                kind=MarkerKind.CHANGE,
                label=change.label,
                label_left=next_at is not None and next_at - change.at_s < SECONDS_PER_DAY / 2,
            )
        )
        for kind, at in (
            (MarkerKind.ONSET, change.onset_at_s),
            (MarkerKind.FULL_EFFECT, change.full_effect_at_s),
        ):
            if at is None:
                continue
            superseded = next_at is not None and next_at < at
            out.append(
                ResponseMarker(
                    x_days=(at - start_pump_s) / SECONDS_PER_DAY,
                    kind=kind,
                    label=kind.value + (" (superseded)" if superseded else ""),
                    superseded=superseded,
                    label_left=superseded,
                )
            )
    return tuple(out)


def describe_tone(muscle_tone: float | None) -> str:
    """``1.5 of 4`` (Ashworth-like, a teaching aid); a dash when the model gives none."""
    if muscle_tone is None:
        return "\u2014"
    return f"{muscle_tone:.1f} of 4"


def risk_detail(sample: TrueSample) -> str:
    """What the risk verdict is judged on: the response (and the level) as shares of the
    established level, one per line: ``response 25 %``, ``level 0 %``,
    ``(established: 239 ng/mL)``."""
    reference = sample.reference_ng_per_ml

    def share(value: float) -> str:
        return f"{value / reference * 100:.0f} %" if reference else "\u2014"

    level = share(sample.patient_level_ng_per_ml)
    response = sample.patient_response_ng_per_ml
    if response is None:
        return f"{level} of the established level ({reference:.0f} ng/mL)"
    return f"response {share(response)}\nlevel {level}\n(established: {reference:.0f} ng/mL)"


TITRATION_TITLE: Final = "Titrating a dose"

TITRATION_STEPS: Final = (
    "Why a change is judged after 24-48 h. Press x10,000, or use +1 day.",
    "In the programmer, change the dose by +20 %. Here the level (black) moves within hours; "
    "the response (green) starts at the \u201conset\u201d line (about 5 h) and reaches "
    "\u201cfull effect\u201d (90 %) after about a day. Repeat daily: three steps.",
    "Then make two changes in one afternoon: the review warns; the first change's "
    "milestones are superseded, and the next day shows both together.",
)


def _hours(seconds: float) -> str:
    return f"{seconds / SECONDS_PER_HOUR:.1f} h"


def titration_lesson(sample: TrueSample, *, start_pump_s: int) -> list[str]:
    """The live numbers of the lesson: the last change, its milestones, how far the
    response has gone and the tone, and whether it was stacked on the previous change."""
    changes = sample.response_changes
    tone = f"tone {describe_tone(sample.muscle_tone)} (Ashworth-like, a teaching aid)"
    if not changes:
        return ["No dose change yet: change the dose in the programmer.", f"Now: {tone}."]
    last = changes[-1]
    now = sample.pump_time_s

    def when(at: float | None) -> str:
        if at is None:
            return "not within two weeks"
        day, rest = divmod(round(at) - start_pump_s, SECONDS_PER_DAY)
        mark = "\u2713" if at <= now else "due"
        return (
            f"d{day} {rest // SECONDS_PER_HOUR:02d}:{rest % SECONDS_PER_HOUR // 60:02d} "
            f"(+{_hours(at - last.at_s)}, {mark})"
        )

    lines = [
        f"Last change: {last.label}, {_hours(now - last.at_s)} ago.",
        f"Onset (25 %) {when(last.onset_at_s)}; full effect (90 %) {when(last.full_effect_at_s)}.",
    ]
    response = sample.patient_response_ng_per_ml
    progress = None if response is None else last.progress(response)
    shown = "" if progress is None else f"the response has gone {progress * 100:.0f} % of the way; "
    lines.append(f"Now: {shown}{tone}.")
    if len(changes) >= 2:
        before = changes[-2]
        gap = last.at_s - before.at_s
        if gap < SECONDS_PER_DAY:
            if before.onset_at_s is not None and last.at_s < before.onset_at_s:
                unjudged = "before its onset"
            elif before.full_effect_at_s is None or last.at_s < before.full_effect_at_s:
                unjudged = "before its full effect"
            else:
                unjudged = "less than a day later"
            lines.append(
                f"STACKED: made {_hours(gap)} after the previous change, {unjudged}: "
                "what shows is both changes together."
            )
    return lines
