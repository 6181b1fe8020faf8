"""The flex dosing editor, without Qt: steps, their checks, the 24-hour dose and the chart data.

A clinician edits a day as rows of (start, end, dose rate): "from 07:00 to
22:00, 425 mcg/day". The wire carries only the starts (each step runs until
the next one), so the editor keeps the ends to catch what a start-only table
would hide: rows that leave part of the day uncovered (a gap) or cover a
minute twice (an overlap) are refused with the reason, never silently
re-tiled.

The documented programming error - a 60 mcg "morning bolus" entered as a
step, so that it repeats every day at a rate many times its neighbours - is
caught by :func:`outlier_warnings`: any step whose dose rate (its 24-hour
contribution, were it to run all day) is at least :data:`OUTLIER_FACTOR`
times the highest of its neighbours' warns, naming what it delivers.

Flex steps follow the pump's clock (UTC time of day; weeks start on Monday),
so the times here are pump times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.action import program_action
from programmer_gui.core.dates import daily_dose_ug as spec_daily_dose_ug
from programmer_gui.core.dates import forecast
from programmer_gui.core.entry import DAILY_DOSE, NumberEntry
from programmer_gui.core.review import (
    Review,
    ReviewWarning,
    build_prescription_review,
)
from protocol import messages as m
from protocol import units
from protocol.enums import Mode
from protocol.schedule import day_integral, rate_for_dose
from protocol.timebase import SECONDS_PER_DAY

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

MINUTES_PER_DAY: Final = m.MINUTES_PER_DAY
MAX_STEPS: Final = m.MAX_FLEX_STEPS
"""Most steps in one day (the wire's and the pump's limit)."""
STEP_GRANULARITY_MIN: Final = 15
"""Steps start and end on quarter hours: the pump refuses other start minutes (its
model profile says so; DEVICE_INFO does not carry it, so the programmer holds it)."""
OUTLIER_FACTOR: Final = 3
"""A step at this many times its neighbours' highest dose rate, or more, warns."""
WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONDAY_EPOCH_CLOCK_S: Final = 4 * SECONDS_PER_DAY  # 1970-01-05, the first Monday


@dataclass(frozen=True, kw_only=True)
class StepRow:
    """One row of the editor: from ``start_min`` to ``end_min`` (minutes after pump
    midnight, ``end_min`` up to 1440) at ``dose_ug_per_day``."""

    start_min: int
    end_min: int
    dose_ug_per_day: Fraction

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < MINUTES_PER_DAY:
            raise InputError(
                f"a step must start between 00:00 and 23:59, not {self.start_min}", reason="flex"
            )
        if not 0 < self.end_min <= MINUTES_PER_DAY:
            raise InputError(
                f"a step must end between 00:01 and 24:00, not {self.end_min}", reason="flex"
            )
        if self.end_min <= self.start_min:
            raise InputError(
                f"the step starting {format_minute(self.start_min)} ends at "
                f"{format_minute(self.end_min)}, before it starts",
                reason="flex",
            )
        dose = Fraction(self.dose_ug_per_day)
        if dose < 0:
            raise InputError("a dose rate cannot be negative", reason="flex")
        object.__setattr__(self, "dose_ug_per_day", dose)

    @property
    def duration_min(self) -> int:
        return self.end_min - self.start_min

    @property
    def dose_ug(self) -> Fraction:
        """What this step delivers over its span each day, in mcg."""
        return self.dose_ug_per_day * self.duration_min / MINUTES_PER_DAY

    @property
    def label(self) -> str:
        """``07:00-22:00``."""
        return f"{format_minute(self.start_min)}-{format_minute(self.end_min)}"


@dataclass(frozen=True, kw_only=True)
class FlexWarning:
    """A soft finding the clinician must acknowledge on the review screen."""

    code: str
    text: str


@dataclass(frozen=True, kw_only=True)
class FlexCheck:
    """The verdict on a draft: refusals block it; warnings go to the review."""

    refusals: tuple[str, ...]
    warnings: tuple[FlexWarning, ...]
    spec: m.PrescriptionSpec | None
    """What would be sent (None while anything is refused)."""
    daily_doses_ug: tuple[Fraction, ...]
    """24-hour dose of each profile as the pump would deliver it (from the rates sent)."""

    @property
    def ok(self) -> bool:
        return not self.refusals


# --- parsing and formatting -----------------------------------------------------------

_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def parse_time_of_day(text: str, *, allow_midnight_end: bool = False) -> int:
    """``"07:30"`` as minutes after midnight; ``"24:00"`` only as an end."""
    found = _TIME.fullmatch(text.strip())
    if found is None:
        raise InputError(
            f"type a time as HH:MM (for example 07:00), not {text.strip()!r}", reason="flex"
        )
    hours, minutes = int(found.group(1)), int(found.group(2))
    total = hours * 60 + minutes
    if minutes >= 60 or total > MINUTES_PER_DAY:
        raise InputError(f"{text.strip()} is not a time of day", reason="flex")
    if total == MINUTES_PER_DAY and not allow_midnight_end:
        raise InputError(
            "24:00 can only end a step; a step starting at midnight is 00:00", reason="flex"
        )
    return total


STEP_DOSE: Final[NumberEntry] = DAILY_DOSE.with_label("Step dose rate")
"""A step's dose rate in mcg/day, parsed as strictly as every dose (core.entry)."""


def parse_dose_ug_per_day(text: str) -> Fraction:
    """A step's dose rate in mcg/day (:class:`~programmer_gui.core.entry.EntryError` if the
    text is ambiguous: a leading or trailing decimal point, a sign, a separator)."""
    return STEP_DOSE.parse(text)


def format_minute(minute: int) -> str:
    """Minutes after midnight as ``HH:MM`` (1440 is ``24:00``)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def format_hours(minutes: int) -> str:
    """A duration as ``15 h`` or ``1 h 30 min`` or ``45 min``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def weekday_of(clock_s: int) -> int:
    """The pump's weekday (Monday = 0) at pump clock ``clock_s`` (UTC, as the pump counts)."""
    return ((clock_s - _MONDAY_EPOCH_CLOCK_S) % (7 * SECONDS_PER_DAY)) // SECONDS_PER_DAY


# --- the day: coverage, limits, outliers --------------------------------------------


def daily_dose_ug(rows: Iterable[StepRow]) -> Fraction:
    """The 24-hour dose of a day's rows (each step's rate weighted by its span)."""
    return sum((row.dose_ug for row in rows), Fraction(0))


def coverage_refusals(rows: Sequence[StepRow]) -> list[str]:
    """Why the rows do not tile the day exactly once (empty when they do)."""
    if not rows:
        return ["the day has no steps: add at least one from 00:00 to 24:00"]
    found: list[str] = []
    ordered = sorted(rows, key=lambda row: (row.start_min, row.end_min))
    covered_to = 0
    last: StepRow | None = None
    for row in ordered:
        if row.start_min > covered_to:
            found.append(
                f"gap: no step covers {format_minute(covered_to)}-{format_minute(row.start_min)}; "
                "every minute of the day needs a rate"
            )
        elif row.start_min < covered_to and last is not None:
            overlap_end = min(covered_to, row.end_min)
            found.append(
                f"overlap: steps {last.label} and {row.label} both cover "
                f"{format_minute(row.start_min)}-{format_minute(overlap_end)}; "
                "each minute must belong to one step"
            )
        if row.end_min > covered_to:
            covered_to = row.end_min
            last = row
    if covered_to < MINUTES_PER_DAY:
        found.append(
            f"gap: no step covers {format_minute(covered_to)}-24:00; "
            "the last step must end at 24:00"
        )
    return found


def limit_refusals(
    rows: Sequence[StepRow], *, device: m.DeviceInfoResponse, concentration_ug_per_ml: int
) -> list[str]:
    """Steps the pump would refuse: too many, off the quarter hour, rates out of range."""
    found: list[str] = []
    if len(rows) > MAX_STEPS:
        found.append(f"{len(rows)} steps: the pump takes at most {MAX_STEPS} a day")
    conc = concentration_ug_per_ml
    low = device.min_rate_nl_per_day
    high = device.max_rate_nl_per_day
    for row in rows:
        for minute in (row.start_min, row.end_min):
            if minute % STEP_GRANULARITY_MIN:
                found.append(
                    f"step {row.label}: {format_minute(minute)} is not on a quarter hour; "
                    f"steps start and end on multiples of {STEP_GRANULARITY_MIN} min"
                )
                break
        rate = rate_for_dose(units.round_half_even(row.dose_ug_per_day * 1000), conc)
        if rate < low:
            found.append(
                f"step {row.label}: {units.format_dose_ug_per_day(row.dose_ug_per_day)} is "
                f"{units.format_rate_nl_per_day(rate)} at "
                f"{units.format_concentration_ug_per_ml(conc)}, under the pump's minimum of "
                f"{units.format_rate_nl_per_day(low)} "
                f"({units.format_dose_ug_per_day(units.rate_to_dose_ug_per_day(low, conc))})"
            )
        elif rate > high:
            found.append(
                f"step {row.label}: {units.format_dose_ug_per_day(row.dose_ug_per_day)} is "
                f"{units.format_rate_nl_per_day(rate)}, over the pump's maximum of "
                f"{units.format_rate_nl_per_day(high)}"
            )
    return found


def outlier_warnings(rows: Sequence[StepRow]) -> list[FlexWarning]:
    """Steps whose dose rate is :data:`OUTLIER_FACTOR` times their neighbours' or more.

    Neighbours are the steps before and after in time, across midnight too
    (the last step of a day runs into the first of the next).
    """
    ordered = sorted(rows, key=lambda row: row.start_min)
    n = len(ordered)
    if n < 2:
        return []
    found = []
    for i, row in enumerate(ordered):
        neighbours = {ordered[(i - 1) % n], ordered[(i + 1) % n]} - {row}
        highest = max(neighbour.dose_ug_per_day for neighbour in neighbours)
        if row.dose_ug_per_day < OUTLIER_FACTOR * highest or row.dose_ug_per_day == 0:
            continue
        ratio = row.dose_ug_per_day / highest if highest else None
        times = f"{units.format_trimmed(ratio, 1)} times" if ratio is not None else "far above"
        found.append(
            FlexWarning(
                code="flex-step-outlier",
                text=(
                    f"Step {row.label} runs at "
                    f"{units.format_dose_ug_per_day(row.dose_ug_per_day)}, "
                    f"{times} its neighbours ({units.format_dose_ug_per_day(highest)}). Over its "
                    f"{format_hours(row.duration_min)} it delivers "
                    f"{units.format_dose_ug(row.dose_ug)} every day. If you meant a one-off "
                    "bolus, cancel and give a therapeutic bolus instead: a step repeats daily."
                ),
            )
        )
    return found


def rows_from_steps(steps: Sequence[m.FlexStep], concentration_ug_per_ml: int) -> list[StepRow]:
    """Editor rows for a wire profile (each step ends where the next starts)."""
    ends = [step.start_min for step in steps[1:]] + [MINUTES_PER_DAY]
    return [
        StepRow(
            start_min=step.start_min,
            end_min=end,
            dose_ug_per_day=Fraction(step.dose_ng_per_day, 1000),
        )
        for step, end in zip(steps, ends, strict=True)
    ]


def steps_from_rows(
    rows: Sequence[StepRow], concentration_ug_per_ml: int
) -> tuple[m.FlexStep, ...]:
    """The wire steps of rows that tile the day (sorted; adjacent equal rates kept apart
    as the clinician entered them)."""
    ordered = sorted(rows, key=lambda row: row.start_min)
    return tuple(
        m.FlexStep(
            start_min=row.start_min,
            dose_ng_per_day=units.round_half_even(row.dose_ug_per_day * 1000),
        )
        for row in ordered
    )


def wire_daily_dose_ug(steps: Sequence[m.FlexStep], concentration_ug_per_ml: int) -> Fraction:
    """24-hour dose of a wire profile, exactly as the pump counts it (protocol.schedule)."""
    return day_integral([(step.start_min, step.dose_ng_per_day) for step in steps]) / 1000


def day_curve(rows: Sequence[StepRow]) -> tuple[list[float], list[float]]:
    """Chart data of a day for a step plot: ``len(xs) == len(ys) + 1``, x in hours."""
    ordered = sorted(rows, key=lambda row: row.start_min)
    xs = [row.start_min / 60 for row in ordered]
    if ordered:
        xs.append(ordered[-1].end_min / 60)
    return xs, [float(row.dose_ug_per_day) for row in ordered]


def spec_day_rows(
    spec: m.PrescriptionSpec,
    *,
    weekday: int,
    concentration_ug_per_ml: int,
    minimum_mode_rate_nl_per_day: int = 0,
) -> list[StepRow]:
    """Rows describing what any prescription delivers on ``weekday`` (for charts and as the
    editor's starting point): a simple rate is one step all day."""
    conc = concentration_ug_per_ml
    if spec.mode is Mode.FLEX:
        return rows_from_steps(spec.profile_for_weekday(weekday), conc)
    dose = spec_daily_dose_ug(
        spec, weekday, minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day
    )
    return [StepRow(start_min=0, end_min=MINUTES_PER_DAY, dose_ug_per_day=dose)]


# --- the draft: one profile or seven ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FlexDraft:
    """What the editor holds: one profile for every day, or seven (Monday first)."""

    weekly: bool
    days: tuple[tuple[StepRow, ...], ...]

    def __post_init__(self) -> None:
        wanted = 7 if self.weekly else 1
        if len(self.days) != wanted:
            raise InputError(
                f"a {'weekly' if self.weekly else 'daily'} draft has {wanted}", reason="flex"
            )

    @classmethod
    def from_spec(
        cls,
        spec: m.PrescriptionSpec,
        *,
        concentration_ug_per_ml: int,
        weekday: int = 0,
        minimum_mode_rate_nl_per_day: int = 0,
    ) -> FlexDraft:
        """A draft starting from the running prescription (a simple rate becomes one step)."""
        if spec.mode is Mode.FLEX:
            days = tuple(
                tuple(rows_from_steps(profile, concentration_ug_per_ml))
                for profile in spec.profiles
            )
            return cls(weekly=spec.weekly, days=days)
        rows = spec_day_rows(
            spec,
            weekday=weekday,
            concentration_ug_per_ml=concentration_ug_per_ml,
            minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day,
        )
        return cls(weekly=False, days=(tuple(rows),))

    def day(self, weekday: int) -> tuple[StepRow, ...]:
        """The rows that run on ``weekday`` (Monday = 0)."""
        return self.days[weekday if self.weekly else 0]

    def check(
        self,
        *,
        device: m.DeviceInfoResponse,
        concentration_ug_per_ml: int,
        bridge_concentration_ug_per_ml: int | None = None,
    ) -> FlexCheck:
        """Refusals (gaps, overlaps, limits) and warnings (outliers) of every profile. During
        a bridge the rates at the old drug (``bridge_concentration_ug_per_ml``) must be within
        the pump's limits too (it refuses them otherwise)."""
        refusals: list[str] = []
        warnings: list[FlexWarning] = []
        for index, rows in enumerate(self.days):
            prefix = f"{WEEKDAYS[index]}: " if self.weekly else ""
            day_refusals = coverage_refusals(rows) + limit_refusals(
                rows, device=device, concentration_ug_per_ml=concentration_ug_per_ml
            )
            if bridge_concentration_ug_per_ml:
                day_refusals += [
                    f"during the bridge, {text}"
                    for text in limit_refusals(
                        rows, device=device, concentration_ug_per_ml=bridge_concentration_ug_per_ml
                    )
                ]
            refusals += [prefix + text for text in day_refusals]
            warnings += [
                FlexWarning(code=w.code, text=prefix + w.text) for w in outlier_warnings(rows)
            ]
        if refusals:
            return FlexCheck(
                refusals=tuple(refusals), warnings=tuple(warnings), spec=None, daily_doses_ug=()
            )
        profiles = [steps_from_rows(rows, concentration_ug_per_ml) for rows in self.days]
        spec = (
            m.PrescriptionSpec.flex_weekly(
                profiles, concentration_ug_per_ml=concentration_ug_per_ml
            )
            if self.weekly
            else m.PrescriptionSpec.flex(
                profiles[0], concentration_ug_per_ml=concentration_ug_per_ml
            )
        )
        doses = tuple(wire_daily_dose_ug(p, concentration_ug_per_ml) for p in profiles)
        return FlexCheck(refusals=(), warnings=tuple(warnings), spec=spec, daily_doses_ug=doses)


# --- the review ---------------------------------------------------------------------------


def flex_summary(check: FlexCheck) -> str:
    """``flex, 3 steps, 397.92 mcg/day`` (a weekly profile gives its range)."""
    if check.spec is None:
        raise InputError("the profile is refused: " + "; ".join(check.refusals), reason="flex")
    doses = check.daily_doses_ug
    if min(doses) == max(doses):
        dose = units.format_dose_ug_per_day(doses[0])
    else:
        dose = (
            f"{units.format_trimmed(min(doses), 2)}-"
            f"{units.format_dose_ug_per_day(max(doses))} (by weekday)"
        )
    steps = "/".join(str(n) for n in sorted({len(p) for p in check.spec.profiles}))
    kind = "weekly flex" if check.spec.weekly else "flex"
    return f"{kind}, {steps} steps a day, {dose}"


def build_review(draft: FlexDraft, snapshot: PumpSnapshot) -> Review:
    """The review of programming ``draft``: old and new profiles side by side, the 24-hour
    dose and its change, the outlier and soft-limit warnings, and the new alarm date.

    Raises InputError (reason "flex") while the draft is refused (the message lists the reasons).
    """
    check = draft.check(
        device=snapshot.device,
        concentration_ug_per_ml=snapshot.concentration_ug_per_ml,
        bridge_concentration_ug_per_ml=(
            snapshot.status.bridge_concentration_ug_per_ml if snapshot.bridging else None
        ),
    )
    if check.spec is None:
        raise InputError("the profile is refused: " + "; ".join(check.refusals), reason="flex")
    summary = flex_summary(check)
    pending_forecast = forecast(snapshot, prescription=check.spec)
    return build_prescription_review(
        title="Review: flex dosing",
        snapshot=snapshot,
        pending=check.spec,
        action=program_action(check.spec, summary=summary),
        warnings=[ReviewWarning(code=w.code, text=w.text) for w in check.warnings],
        forecast=pending_forecast,
    )
