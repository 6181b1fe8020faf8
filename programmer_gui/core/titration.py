"""The titration rhythm, without Qt: warnings a dose change earns on the review screen.

The response to a change of the continuous dose starts after 4-8 h and is complete after
24-48 h, so titration changes the dose at most once a day, by a step that depends on the
origin of the spasticity (domain notes):

- a change less than 24 h after the previous one (its time read from the pump's event
  log: PROGRAMMED entries that changed the 24-h dose; both times on the pump's clock,
  never the programmer's);
- an increase beyond the usual daily step: +10-30 % for spinal origin, +5-15 % for
  cerebral origin (the implant record's, :func:`recorded_origin`); with no origin
  recorded, the narrower cerebral range, saying why;
- a reduction of more than 20 % (reductions for side effects are 10-20 %): withdrawal risk.

All are warnings to acknowledge, never refusals. :func:`titration_warnings` is pure;
:func:`with_titration_warnings` adds them to a built :class:`~programmer_gui.core.review.Review`.
A change from or to 0 mcg/day (a new start, a stop) is no titration step: those reviews
carry their own warnings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Final

from programmer_gui.core.eventlog import format_local
from programmer_gui.core.review import Review, ReviewWarning, change_percent, format_change
from protocol import messages as m
from protocol.enums import EventCode, Origin
from protocol.units import format_trimmed

__all__ = [
    "MAX_REDUCTION_PERCENT",
    "MIN_INTERVAL_S",
    "TITRATION_RANGES",
    "SpasticityOrigin",
    "TitrationRange",
    "TitrationWarningCode",
    "dose_change_times",
    "recorded_origin",
    "titration_warnings",
    "with_titration_warnings",
]

MIN_INTERVAL_S: Final = 24 * 3_600
"""At most one dose change per 24 h."""

MAX_REDUCTION_PERCENT: Final = Fraction(20)
"""Reductions (for side effects) are usually 10-20 %; more risks withdrawal."""


class SpasticityOrigin(StrEnum):
    """Where the spasticity comes from (the implant record carries it)."""

    SPINAL = "spinal"
    CEREBRAL = "cerebral"


@dataclass(frozen=True, kw_only=True)
class TitrationRange:
    """The usual daily increase, in percent of the current 24-h dose."""

    low_percent: Fraction
    high_percent: Fraction

    @property
    def text(self) -> str:
        """``+10-30 %``."""
        return f"+{format_trimmed(self.low_percent, 0)}-{format_trimmed(self.high_percent, 0)} %"


TITRATION_RANGES: Final = {
    SpasticityOrigin.SPINAL: TitrationRange(low_percent=Fraction(10), high_percent=Fraction(30)),
    SpasticityOrigin.CEREBRAL: TitrationRange(low_percent=Fraction(5), high_percent=Fraction(15)),
}


class TitrationWarningCode(StrEnum):
    """Stable codes of the titration warnings (``ReviewWarning.code`` is a ``str``)."""

    TOO_SOON = "titration_too_soon"
    """Less than 24 h since the previous dose change."""
    HISTORY_UNKNOWN = "titration_history_unknown"
    """The event log could not be read (or not since the last change)."""
    ABOVE_RANGE = "titration_above_range"
    """An increase beyond the usual daily step for the origin."""
    LARGE_REDUCTION = "titration_large_reduction"
    """A reduction over 20 %: withdrawal risk."""


def dose_change_times(entries: Iterable[m.LogEntry]) -> tuple[int, ...]:
    """The pump-clock times of the dose changes in an event log, oldest first: the
    PROGRAMMED entries whose 24-h dose (``b``) differs from the previous PROGRAMMED entry's
    (the first one read counts). A refill to another drug at the same dose, or a new mode
    at the same dose, is programmed but is no dose change."""
    programmed = sorted(
        (e for e in entries if e.code is EventCode.PROGRAMMED), key=lambda e: (e.index, e.clock_s)
    )
    times: list[int] = []
    previous: int | None = None
    for entry in programmed:
        if previous is None or entry.b != previous:
            times.append(entry.clock_s)
        previous = entry.b
    return tuple(sorted(times))


def recorded_origin(record: m.ImplantFields | None) -> SpasticityOrigin | None:
    """The origin the implant record documents; None with no record, or UNKNOWN in it."""
    if record is None:
        return None
    return {
        Origin.SPINAL: SpasticityOrigin.SPINAL,
        Origin.CEREBRAL: SpasticityOrigin.CEREBRAL,
    }.get(record.origin)


def _ago(seconds: int) -> str:
    hours, rest = divmod(max(0, seconds), 3_600)
    return f"{hours} h {rest // 60:02d} min"


def titration_warnings(
    *,
    changed_at_s: Sequence[int] | None,
    now_s: int,
    current_ug_per_day: Fraction,
    pending_ug_per_day: Fraction,
    origin: SpasticityOrigin | None,
) -> tuple[ReviewWarning, ...]:
    """The titration warnings for changing the 24-h dose from ``current`` to ``pending``.

    ``changed_at_s``: the previous dose changes (PROGRAMMED entries of the pump's event
    log, pump clock), or None when the log could not be read; ``now_s``: the pump's clock
    (its STATUS), never the programmer's; ``origin``: from the implant record, None when
    not recorded (the narrower cerebral range then applies, and the warning says so).
    """
    if current_ug_per_day <= 0 or pending_ug_per_day <= 0:
        return ()
    percent = change_percent(current_ug_per_day, pending_ug_per_day)
    if percent is None or percent == 0:
        return ()
    warnings: list[ReviewWarning] = []
    if changed_at_s is None:
        warnings.append(
            ReviewWarning(
                code=TitrationWarningCode.HISTORY_UNKNOWN,
                text="The pump's event log has not been read (or not since the prescription "
                "last changed), so the time of the previous dose change is unknown. Check the "
                "Event log page: titration changes the dose at most once in 24 h.",
            )
        )
    elif changed_at_s:
        last = max(changed_at_s)
        age = now_s - last
        if age < MIN_INTERVAL_S:
            when = format_local(last)
            if age < 0:
                since = f"at {when}, after the pump's present time (its clock was set back)"
            else:
                since = f"{_ago(age)} ago (at {when}, by the pump's clock)"
            warnings.append(
                ReviewWarning(
                    code=TitrationWarningCode.TOO_SOON,
                    text=f"The dose was last changed {since}, less than 24 h before this "
                    "change. The response to a change starts after 4-8 h and is complete "
                    "after 24-48 h: a second change now stacks on one not yet judged.",
                )
            )
    change = format_change(percent)
    if percent > 0:
        key = SpasticityOrigin.CEREBRAL if origin is None else origin
        usual = TITRATION_RANGES[key]
        if percent > usual.high_percent:
            if origin is None:
                why = (
                    "No origin of the spasticity is recorded for this pump, so the narrower "
                    f"cerebral range applies ({usual.text} a day; spinal origin: "
                    f"{TITRATION_RANGES[SpasticityOrigin.SPINAL].text})."
                )
            else:
                why = f"The usual daily step for {origin.value} origin is {usual.text}."
            warnings.append(
                ReviewWarning(
                    code=TitrationWarningCode.ABOVE_RANGE,
                    text=f"An increase of {change} is beyond the usual titration step. {why}",
                )
            )
    elif -percent > MAX_REDUCTION_PERCENT:
        warnings.append(
            ReviewWarning(
                code=TitrationWarningCode.LARGE_REDUCTION,
                text=f"A reduction of {change[1:]} is more than the usual "
                f"{format_trimmed(MAX_REDUCTION_PERCENT, 0)} % (reductions for side effects "
                "are 10-20 %): risk of baclofen withdrawal (returning spasticity, itching, "
                "fever, low blood pressure).",
            )
        )
    return tuple(warnings)


def with_titration_warnings(
    review: Review,
    *,
    changed_at_s: Sequence[int] | None,
    now_s: int,
    origin: SpasticityOrigin | None,
) -> Review:
    """``review`` with the titration warnings of its change of the 24-h dose added after
    its own (the same review when there are none)."""
    extra = titration_warnings(
        changed_at_s=changed_at_s,
        now_s=now_s,
        current_ug_per_day=review.current_daily_dose_ug,
        pending_ug_per_day=review.pending_daily_dose_ug,
        origin=origin,
    )
    if not extra:
        return review
    return dataclasses.replace(review, warnings=(*review.warnings, *extra))
