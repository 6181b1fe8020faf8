"""The review every change ends on: current and pending settings side by side.

A :class:`Review` holds the rows to show (:class:`ReviewRow`), the 24-hour
dose before and after and its change in percent, the warnings the clinician
must acknowledge one by one, and the :class:`ProgramAction` that sends the
change. The review page (views/controllers) shows it; nothing here knows Qt.

The builders work for any prescription: simple, flex (the 24-hour dose is the
time-weighted sum of the steps), weekly flex (each day has its own dose: the
review shows the pump's today and the range over the week), minimum rate and
stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from programmer_gui.core.action import ProgramAction
from programmer_gui.core.dates import (
    DAYS_PER_WEEK,
    WEEKDAY_NAMES,
    ReservoirForecast,
    daily_dose_ug,
    daily_volume_nl,
    format_pump_date,
    format_start_min,
)
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.enums import Mode
from protocol.schedule import rate_for_dose
from protocol.units import (
    NL_PER_ML,
    Quantity,
    format_concentration_ug_per_ml,
    format_dose_ug_per_day,
    format_trimmed,
    rate_to_dose_ug_per_day,
)

SOFT_CHANGE_PERCENT = Fraction(20)
"""A change of the 24-hour dose by more than this (either way) must be acknowledged;
titration is usually 5-30 % a day."""

SOFT_MAX_DOSE_UG_PER_DAY = Fraction(1000)
"""A 24-hour dose above this (the top of the usual range) must be acknowledged."""

NOT_SET = "\u2014"
"""Shown for a setting that does not exist on one side (an em dash)."""


class WarningCode(StrEnum):
    """Stable codes of the warnings a review may carry (a ``str``, as the contract wants)."""

    LARGE_CHANGE = "large_change"
    HIGH_DOSE = "high_dose"
    MAGNITUDE = "magnitude"
    NEW_START = "new_start"
    REPLACES_FLEX = "replaces_flex"
    BOLUS_RUNNING = "bolus_running"
    PUMP_STOPPED = "pump_stopped"
    DISCREPANCY = "discrepancy"
    NONSTANDARD_CONCENTRATION = "nonstandard_concentration"
    CONCENTRATION_CHANGE = "concentration_change"
    BRIDGE = "bridge"
    NO_BRIDGE = "no_bridge"
    PRIMING_MIXING = "priming_mixing"
    ALARM_SOON = "alarm_soon"


@dataclass(frozen=True, kw_only=True)
class ReviewWarning:
    """A warning the clinician must acknowledge (a checkbox) before programming."""

    code: str
    text: str


Warning = ReviewWarning
"""The contract's name for :class:`ReviewWarning`."""


@dataclass(frozen=True, kw_only=True)
class ReviewRow:
    """One setting, current and pending, as shown (units included)."""

    label: str
    current: str
    pending: str
    changed: bool


def review_rows(rows: Iterable[tuple[str, str, str]]) -> tuple[ReviewRow, ...]:
    """``(label, current, pending)`` as review rows, changed where the two differ."""
    return tuple(
        ReviewRow(label=label, current=cur, pending=new, changed=cur != new)
        for label, cur, new in rows
    )


@dataclass(frozen=True, kw_only=True)
class DailyDose:
    """The 24-hour dose of a prescription: the day shown, and its range over the week."""

    dose_ug_per_day: Fraction
    """On ``weekday`` (the pump's today)."""
    volume_nl: Fraction
    """The 24-hour volume on ``weekday``."""
    weekday: int
    min_ug_per_day: Fraction
    max_ug_per_day: Fraction

    @property
    def varies(self) -> bool:
        """The dose differs between weekdays (a weekly flex prescription)."""
        return self.min_ug_per_day != self.max_ug_per_day

    @property
    def text(self) -> str:
        """``400 mcg/day``, or for a weekly profile ``397.92 mcg/day on Tuesday
        (350-425 mcg/day over the week)``."""
        shown = format_dose_ug_per_day(self.dose_ug_per_day)
        if not self.varies:
            return shown
        low = format_trimmed(self.min_ug_per_day, 2)
        return (
            f"{shown} on {WEEKDAY_NAMES[self.weekday]} "
            f"({low}-{format_dose_ug_per_day(self.max_ug_per_day)} over the week)"
        )


def daily_dose(
    spec: m.PrescriptionSpec,
    concentration_ug_per_ml: int,
    *,
    weekday: int,
    minimum_mode_rate_nl_per_day: int,
) -> DailyDose:
    """The 24-hour dose of ``spec`` (a dose of the drug it names), on ``weekday`` and over the
    week; the volume is at ``concentration_ug_per_ml`` (the concentration rates run at)."""
    volumes = [
        daily_volume_nl(
            spec,
            day,
            minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day,
            concentration_ug_per_ml=concentration_ug_per_ml,
        )
        for day in range(DAYS_PER_WEEK)
    ]
    doses = [
        daily_dose_ug(spec, day, minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day)
        for day in range(DAYS_PER_WEEK)
    ]
    return DailyDose(
        dose_ug_per_day=doses[weekday],
        volume_nl=volumes[weekday],
        weekday=weekday,
        min_ug_per_day=min(doses),
        max_ug_per_day=max(doses),
    )


def change_percent(current: Fraction, pending: Fraction) -> Fraction | None:
    """The change from ``current`` to ``pending`` in percent; None when current is 0."""
    if current == 0:
        return None
    return (pending - current) * 100 / current


def format_change(percent: Fraction | None, *, pending: Fraction | None = None) -> str:
    """``+20 %``, ``-12.5 %``, ``no change``; ``new start`` from a zero dose."""
    if percent is None:
        return "no change" if pending == 0 else "new start (from 0 mcg/day)"
    if percent == 0:
        return "no change"
    sign = "+" if percent > 0 else "-"
    return f"{sign}{format_trimmed(abs(percent), 1)} %"


def format_rate_ml_per_day(rate_nl_per_day: int | Fraction) -> str:
    """A rate in mL/day with the one precision of rates (:attr:`protocol.units.Quantity.RATE`:
    ``0.2125 mL/day``)."""
    return Quantity.RATE.text(Fraction(rate_nl_per_day) / NL_PER_ML)


def _rate_and_dose(rate_nl_per_day: int, concentration_ug_per_ml: int) -> str:
    dose = rate_to_dose_ug_per_day(rate_nl_per_day, concentration_ug_per_ml)
    return f"{format_dose_ug_per_day(dose)} ({format_rate_ml_per_day(rate_nl_per_day)})"


def _dose_and_rate(dose_ng_per_day: int, concentration_ug_per_ml: int) -> str:
    """``400 mcg/day (0.200 mL/day)``: a dose and the rate that runs it (protocol.schedule)."""
    rate = rate_for_dose(dose_ng_per_day, concentration_ug_per_ml)
    dose = Fraction(dose_ng_per_day, 1000)
    return f"{format_dose_ug_per_day(dose)} ({format_rate_ml_per_day(rate)})"


MODE_NAMES = {
    Mode.SIMPLE: "Simple continuous",
    Mode.FLEX: "Flex (daily profile)",
    Mode.MINIMUM_RATE: "Minimum rate (keep-open)",
    Mode.STOPPED: "Stopped",
}


def mode_name(spec: m.PrescriptionSpec) -> str:
    """The mode in words ("Flex (weekly, per weekday)" for a weekly profile)."""
    if spec.mode is Mode.FLEX and spec.weekly:
        return "Flex (weekly, per weekday)"
    return MODE_NAMES[spec.mode]


def describe_prescription(
    spec: m.PrescriptionSpec, concentration_ug_per_ml: int, *, minimum_mode_rate_nl_per_day: int
) -> str:
    """One line: ``Simple continuous 400 mcg/day (0.200 mL/day)``, ``Flex: 3 steps ...``."""
    if spec.mode is Mode.SIMPLE:
        assert spec.dose_ng_per_day is not None
        return f"Simple continuous {_dose_and_rate(spec.dose_ng_per_day, concentration_ug_per_ml)}"
    if spec.mode is Mode.MINIMUM_RATE:
        return (
            f"Minimum rate {_rate_and_dose(minimum_mode_rate_nl_per_day, concentration_ug_per_ml)}"
        )
    if spec.mode is Mode.STOPPED:
        return "Stopped (no delivery)"
    counts = "/".join(str(c) for c in sorted({len(profile) for profile in spec.profiles}))
    if spec.weekly:
        return f"Weekly flex: {counts} steps a day, one profile per weekday"
    return f"Flex: {counts} steps a day"


def _step_rows(spec: m.PrescriptionSpec | None, concentration: int | None) -> dict[str, str]:
    """Rows that depend on the mode: Dose/Rate, the steps of a flex day, or the weekdays."""
    if spec is None or concentration is None:
        return {}
    if spec.mode is Mode.SIMPLE:
        assert spec.dose_ng_per_day is not None
        return {
            "Dose": format_dose_ug_per_day(Fraction(spec.dose_ng_per_day, 1000)),
            "Rate": format_rate_ml_per_day(rate_for_dose(spec.dose_ng_per_day, concentration)),
        }
    if spec.mode is not Mode.FLEX:
        return {}
    if not spec.weekly:
        return {
            f"Step {i + 1}": f"from {format_start_min(step.start_min)}: "
            + _dose_and_rate(step.dose_ng_per_day, concentration)
            for i, step in enumerate(spec.profiles[0])
        }
    rows = {}
    for day, profile in enumerate(spec.profiles):
        parts = ", ".join(
            f"{format_start_min(step.start_min)} "
            f"{format_trimmed(Fraction(step.dose_ng_per_day, 1000), 2)}"
            for step in profile
        )
        rows[WEEKDAY_NAMES[day]] = f"{parts} mcg/day"
    return rows


def prescription_rows(
    current: m.PrescriptionSpec | None,
    pending: m.PrescriptionSpec,
    *,
    current_concentration_ug_per_ml: int | None,
    pending_concentration_ug_per_ml: int,
    weekday: int,
    minimum_mode_rate_nl_per_day: int,
) -> tuple[ReviewRow, ...]:
    """Current and pending side by side: mode, concentration, the mode's own rows (dose and
    rate, flex steps, or weekdays), the 24-hour dose and volume. ``current`` None: unknown."""
    rows: list[tuple[str, str, str]] = []

    def side(spec: m.PrescriptionSpec | None, concentration: int | None) -> dict[str, str]:
        if spec is None or concentration is None:
            return {}
        dose = daily_dose(
            spec,
            concentration,
            weekday=weekday,
            minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day,
        )
        return {
            "Mode": mode_name(spec),
            "Concentration": format_concentration_ug_per_ml(concentration),
            **_step_rows(spec, concentration),
            "24-hour dose": dose.text,
            "24-hour volume": format_rate_ml_per_day(dose.volume_nl),
        }

    before = side(current, current_concentration_ug_per_ml)
    after = side(pending, pending_concentration_ug_per_ml)
    labels = list(after)
    # Rows only the current side has (a flex step that goes away) go before the totals.
    for label in before:
        if label not in after:
            labels.insert(len(labels) - 2, label)
    for label in labels:
        rows.append((label, before.get(label, NOT_SET), after.get(label, NOT_SET)))
    return review_rows(rows)


def soft_limit_warnings(current: DailyDose | None, pending: DailyDose) -> tuple[ReviewWarning, ...]:
    """The soft limits: a change over 20 % of the current 24-hour dose, a dose over
    1000 mcg/day, a new start from zero."""
    warnings: list[ReviewWarning] = []
    if current is not None:
        percent = change_percent(current.dose_ug_per_day, pending.dose_ug_per_day)
        if percent is None and pending.dose_ug_per_day > 0:
            warnings.append(
                ReviewWarning(
                    code=WarningCode.NEW_START,
                    text="The pump delivers no basal dose now; this starts delivery at "
                    f"{format_dose_ug_per_day(pending.dose_ug_per_day)}.",
                )
            )
        elif percent is not None and abs(percent) > SOFT_CHANGE_PERCENT:
            direction = "an increase" if percent > 0 else "a decrease"
            warnings.append(
                ReviewWarning(
                    code=WarningCode.LARGE_CHANGE,
                    text=f"The 24-hour dose changes by {format_change(percent)} "
                    f"({format_dose_ug_per_day(current.dose_ug_per_day)} to "
                    f"{format_dose_ug_per_day(pending.dose_ug_per_day)}): {direction} of more "
                    f"than {format_trimmed(SOFT_CHANGE_PERCENT, 0)} %. Titration is usually "
                    "5-30 % a day.",
                )
            )
    if pending.max_ug_per_day > SOFT_MAX_DOSE_UG_PER_DAY:
        warnings.append(
            ReviewWarning(
                code=WarningCode.HIGH_DOSE,
                text=f"The 24-hour dose {format_dose_ug_per_day(pending.max_ug_per_day)} is above "
                f"{format_dose_ug_per_day(SOFT_MAX_DOSE_UG_PER_DAY)}, the top of the usual range.",
            )
        )
    return tuple(warnings)


def state_warnings(snapshot: PumpSnapshot) -> tuple[ReviewWarning, ...]:
    """Warnings about the pump's state that any change should mention."""
    warnings: list[ReviewWarning] = []
    if snapshot.bolus_running:
        warnings.append(
            ReviewWarning(
                code=WarningCode.BOLUS_RUNNING,
                text=f"A {snapshot.status.bolus_kind.name.lower()} bolus is running; a new basal "
                "prescription starts when it ends.",
            )
        )
    if snapshot.stopped_by_stop_pump:
        warnings.append(
            ReviewWarning(
                code=WarningCode.PUMP_STOPPED,
                text="The pump was stopped (STOP PUMP); programming does not resume delivery: "
                "press Resume afterwards.",
            )
        )
    elif snapshot.halted:
        warnings.append(
            ReviewWarning(
                code=WarningCode.PUMP_STOPPED,
                text="The pump is not delivering (halted by a fault); programming does not "
                "end the fault.",
            )
        )
    return tuple(warnings)


@dataclass(frozen=True, kw_only=True)
class Review:
    """Everything the review page shows for one change, and the action that sends it."""

    title: str
    rows: tuple[ReviewRow, ...]
    current_daily_dose_ug: Fraction
    """The current 24-hour dose in mcg (the pump's today for a weekly profile)."""
    pending_daily_dose_ug: Fraction
    change_percent: Fraction | None
    """None when the current dose is 0 (a new start)."""
    warnings: tuple[ReviewWarning, ...]
    action: ProgramAction
    current_daily: DailyDose | None = None
    pending_daily: DailyDose | None = None
    notes: tuple[str, ...] = ()
    """Information lines (the new alarm date, the bridge bolus) that need no acknowledging."""
    forecast: ReservoirForecast | None = None
    """The reservoir forecast once the change is programmed."""
    details: tuple[tuple[str, str], ...] = ()
    """Extra (label, figure) pairs a view may show (units included)."""

    @property
    def change_text(self) -> str:
        """The change of the 24-hour dose, e.g. ``+20 %``."""
        return format_change(self.change_percent, pending=self.pending_daily_dose_ug)

    @property
    def current_daily_dose_text(self) -> str:
        """The current 24-hour dose with its unit."""
        if self.current_daily is not None:
            return self.current_daily.text
        return format_dose_ug_per_day(self.current_daily_dose_ug)

    @property
    def pending_daily_dose_text(self) -> str:
        """The pending 24-hour dose with its unit."""
        if self.pending_daily is not None:
            return self.pending_daily.text
        return format_dose_ug_per_day(self.pending_daily_dose_ug)

    @property
    def warning_codes(self) -> tuple[str, ...]:
        """The codes of the warnings, in order."""
        return tuple(w.code for w in self.warnings)


def forecast_notes(snapshot: PumpSnapshot, forecast: ReservoirForecast) -> tuple[str, ...]:
    """The alarm, refill-by and empty dates as information lines."""
    return (
        "Low-reservoir alarm: " + format_pump_date(snapshot, forecast.low_reservoir_alarm_at_s),
        "Refill by: " + format_pump_date(snapshot, forecast.refill_by_s),
        "Reservoir empty: " + format_pump_date(snapshot, forecast.empty_at_s),
    )


def build_prescription_review(
    *,
    title: str,
    snapshot: PumpSnapshot,
    pending: m.PrescriptionSpec,
    action: ProgramAction,
    pending_concentration_ug_per_ml: int | None = None,
    warnings: Sequence[ReviewWarning] = (),
    notes: Sequence[str] = (),
    forecast: ReservoirForecast | None = None,
    details: Sequence[tuple[str, str]] = (),
) -> Review:
    """A review of replacing the snapshot's prescription by ``pending``.

    The soft-limit and pump-state warnings are added after ``warnings``;
    the rows compare at the snapshot's concentration and at
    ``pending_concentration_ug_per_ml`` (default: the same).
    """
    minimum = snapshot.device.minimum_mode_rate_nl_per_day
    current_conc = snapshot.concentration_ug_per_ml
    pending_conc = (
        current_conc if pending_concentration_ug_per_ml is None else pending_concentration_ug_per_ml
    )
    current_daily = (
        None
        if snapshot.prescription is None
        else daily_dose(
            snapshot.prescription,
            current_conc,
            weekday=snapshot.weekday,
            minimum_mode_rate_nl_per_day=minimum,
        )
    )
    pending_daily = daily_dose(
        pending, pending_conc, weekday=snapshot.weekday, minimum_mode_rate_nl_per_day=minimum
    )
    current_dose = (
        snapshot.dose_ug_per_day if current_daily is None else current_daily.dose_ug_per_day
    )
    all_warnings = (
        *warnings,
        *soft_limit_warnings(current_daily, pending_daily),
        *state_warnings(snapshot),
    )
    forecast_lines = () if forecast is None else forecast_notes(snapshot, forecast)
    if snapshot.bridging and pending_concentration_ug_per_ml is None:
        status = snapshot.status
        forecast_lines = (
            f"A bridge is running: the new doses are computed at the old "
            f"{format_concentration_ug_per_ml(status.bridge_concentration_ug_per_ml)} drug "
            f"until it ends ({format_pump_date(snapshot, status.bridge_ends_at_s)}), then at "
            f"{format_concentration_ug_per_ml(status.concentration_ug_per_ml)}.",
            *forecast_lines,
        )
    return Review(
        title=title,
        rows=prescription_rows(
            snapshot.prescription,
            pending,
            current_concentration_ug_per_ml=current_conc,
            pending_concentration_ug_per_ml=pending_conc,
            weekday=snapshot.weekday,
            minimum_mode_rate_nl_per_day=minimum,
        ),
        current_daily_dose_ug=current_dose,
        pending_daily_dose_ug=pending_daily.dose_ug_per_day,
        change_percent=change_percent(current_dose, pending_daily.dose_ug_per_day),
        warnings=all_warnings,
        action=action,
        current_daily=current_daily,
        pending_daily=pending_daily,
        notes=(*notes, *forecast_lines),
        forecast=forecast,
        details=tuple(details),
    )
