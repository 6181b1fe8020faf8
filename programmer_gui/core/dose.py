"""The simple continuous dose change: one dose in mcg/day, all day.

:class:`DoseChange` wraps one snapshot. Its :meth:`~DoseChange.preview`
turns the text being typed into the figures shown live (the rate in mL/day
at the pump's concentration, the new low-reservoir alarm date) or a refusal:

- the entry is parsed strictly (:mod:`programmer_gui.core.entry`);
- hard limits are the pump's own (DEVICE_INFO's minimum and maximum rate):
  a rate outside them is refused, naming the limit in mcg/day and mL/day;
- soft limits (a change over 20 % of the current 24-hour dose, a dose over
  1000 mcg/day) become warnings the review asks to acknowledge;
- a dose 10 times or a tenth of the current one needs a confirmation
  before the review can be built (a slipped decimal point).

:meth:`~DoseChange.review` builds the :class:`~programmer_gui.core.review.Review`
whose action programs ``PrescriptionSpec.simple`` (stage, checksum, commit,
read back). After a reconnection, :meth:`~DoseChange.with_snapshot` re-checks
the same text against what the pump reports now.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from programmer_gui.core import InputError, PumpDataError
from programmer_gui.core.action import program_action
from programmer_gui.core.dates import ReservoirForecast, forecast, format_pump_date
from programmer_gui.core.entry import DAILY_DOSE, MagnitudeCheck, NumberEntry, magnitude_check
from programmer_gui.core.review import (
    Review,
    ReviewWarning,
    WarningCode,
    build_prescription_review,
    describe_prescription,
    format_rate_ml_per_day,
)
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.enums import Mode
from protocol.schedule import rate_for_dose
from protocol.units import (
    format_concentration_ug_per_ml,
    format_dose_ug_per_day,
    rate_to_dose_ug_per_day,
    round_half_even,
)


class HardLimitError(InputError):
    """The dose needs a rate outside the pump's limits; the pump would refuse it."""

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        rate_nl_per_day: int,
        limit_rate_nl_per_day: int,
        limit_dose_ug_per_day: Fraction,
    ) -> None:
        super().__init__(message)
        self.limit = limit
        """"minimum" or "maximum"."""
        self.rate_nl_per_day = rate_nl_per_day
        self.limit_rate_nl_per_day = limit_rate_nl_per_day
        self.limit_dose_ug_per_day = limit_dose_ug_per_day


class ConfirmationRequiredError(InputError):
    """The value is 10 times or a tenth of the current one and was not confirmed."""

    def __init__(self, check: MagnitudeCheck) -> None:
        super().__init__(check.text)
        self.check = check


@dataclass(frozen=True, kw_only=True)
class DoseLimits:
    """The pump's rate limits at a concentration, in both units."""

    min_rate_nl_per_day: int
    max_rate_nl_per_day: int
    concentration_ug_per_ml: int

    @property
    def min_dose_ug_per_day(self) -> Fraction:
        return rate_to_dose_ug_per_day(self.min_rate_nl_per_day, self.concentration_ug_per_ml)

    @property
    def max_dose_ug_per_day(self) -> Fraction:
        return rate_to_dose_ug_per_day(self.max_rate_nl_per_day, self.concentration_ug_per_ml)

    @property
    def text(self) -> str:
        """``96 to 48000 mcg/day (0.048 to 24.000 mL/day) at 2000 mcg/mL``."""
        return (
            f"{format_dose_ug_per_day(self.min_dose_ug_per_day)} to "
            f"{format_dose_ug_per_day(self.max_dose_ug_per_day)} "
            f"({format_rate_ml_per_day(self.min_rate_nl_per_day)} to "
            f"{format_rate_ml_per_day(self.max_rate_nl_per_day)}) at "
            f"{format_concentration_ug_per_ml(self.concentration_ug_per_ml)}"
        )

    def check(self, dose_ug_per_day: Fraction, *, label: str = "Daily dose") -> int:
        """The rate (nL/day, as the pump computes it) for the dose, or :class:`HardLimitError`."""
        rate = rate_for_dose(dose_ng(dose_ug_per_day), self.concentration_ug_per_ml)
        conc = format_concentration_ug_per_ml(self.concentration_ug_per_ml)
        shown = format_dose_ug_per_day(dose_ug_per_day)
        if rate < self.min_rate_nl_per_day:
            raise HardLimitError(
                f"{label}: {shown} ({format_rate_ml_per_day(rate)} at {conc}) is below the "
                f"pump's minimum rate of {format_rate_ml_per_day(self.min_rate_nl_per_day)}, "
                f"which is {format_dose_ug_per_day(self.min_dose_ug_per_day)} at {conc}. "
                "The pump refuses it.",
                limit="minimum",
                rate_nl_per_day=rate,
                limit_rate_nl_per_day=self.min_rate_nl_per_day,
                limit_dose_ug_per_day=self.min_dose_ug_per_day,
            )
        if rate > self.max_rate_nl_per_day:
            raise HardLimitError(
                f"{label}: {shown} ({format_rate_ml_per_day(rate)} at {conc}) is above the "
                f"pump's maximum rate of {format_rate_ml_per_day(self.max_rate_nl_per_day)}, "
                f"which is {format_dose_ug_per_day(self.max_dose_ug_per_day)} at {conc}. "
                "The pump refuses it.",
                limit="maximum",
                rate_nl_per_day=rate,
                limit_rate_nl_per_day=self.max_rate_nl_per_day,
                limit_dose_ug_per_day=self.max_dose_ug_per_day,
            )
        return rate


def dose_ng(dose_ug: Fraction | int) -> int:
    """A dose in mcg (or mcg/day) as the wire carries it, in whole ng (half to even)."""
    return round_half_even(Fraction(dose_ug) * 1000)


def check_dose_limits(
    snapshot: PumpSnapshot,
    dose_ug_per_day: Fraction,
    *,
    label: str,
    concentration_ug_per_ml: int | None = None,
) -> int:
    """The dose's rate at the drug in the pump (or ``concentration_ug_per_ml``), checked
    against the pump's limits there and, during a bridge, at the old drug too (the pump
    refuses a prescription whose rates break its limits at either). HardLimitError."""
    rate = limits_at(snapshot, concentration_ug_per_ml).check(dose_ug_per_day, label=label)
    if snapshot.bridging and concentration_ug_per_ml is None:
        limits_at(snapshot, snapshot.status.bridge_concentration_ug_per_ml).check(
            dose_ug_per_day, label=f"{label} (during the bridge, at the old drug)"
        )
    return rate


def limits_at(snapshot: PumpSnapshot, concentration_ug_per_ml: int | None = None) -> DoseLimits:
    """The pump's rate limits (DEVICE_INFO) at a concentration (default: the pump's)."""
    conc = (
        snapshot.concentration_ug_per_ml
        if concentration_ug_per_ml is None
        else (concentration_ug_per_ml)
    )
    if conc <= 0:
        raise PumpDataError("the pump reports a concentration of 0 mcg/mL")
    return DoseLimits(
        min_rate_nl_per_day=snapshot.device.min_rate_nl_per_day,
        max_rate_nl_per_day=snapshot.device.max_rate_nl_per_day,
        concentration_ug_per_ml=conc,
    )


@dataclass(frozen=True, kw_only=True)
class DosePreview:
    """The live figures for a valid entry, and what the review will ask."""

    dose_ug_per_day: Fraction
    """The dose typed."""
    rate_nl_per_day: int
    """The rate programmed (the dose at the concentration, rounded to whole nL/day)."""
    prescription: m.PrescriptionSpec
    forecast: ReservoirForecast
    alarm_date_text: str
    """The new low-reservoir alarm date, local, "in N days"."""
    warnings: tuple[ReviewWarning, ...]
    """Soft limits, to acknowledge on the review."""
    confirmation: MagnitudeCheck | None
    """A 10x / 0.1x check to confirm before the review (None: not needed)."""

    @property
    def dose_text(self) -> str:
        return format_dose_ug_per_day(self.dose_ug_per_day)

    @property
    def rate_text(self) -> str:
        return format_rate_ml_per_day(self.rate_nl_per_day)


class DoseChange:
    """The simple continuous dose change against one snapshot (immutable)."""

    entry: NumberEntry = DAILY_DOSE

    def __init__(self, snapshot: PumpSnapshot) -> None:
        self._snapshot = snapshot
        self._current_spec = snapshot.require_prescription()
        self._limits = limits_at(snapshot)

    @property
    def snapshot(self) -> PumpSnapshot:
        return self._snapshot

    def with_snapshot(self, snapshot: PumpSnapshot) -> DoseChange:
        """The same workflow against a newer snapshot (after a poll or a reconnection)."""
        return DoseChange(snapshot)

    @property
    def limits(self) -> DoseLimits:
        """The pump's hard limits at its concentration."""
        return self._limits

    @property
    def current_dose_ug_per_day(self) -> Fraction:
        """The current 24-hour dose (the pump's today), mcg/day."""
        return self._snapshot.dose_ug_per_day

    @property
    def current_text(self) -> str:
        """The current prescription in one line."""
        return describe_prescription(
            self._current_spec,
            self._snapshot.concentration_ug_per_ml,
            minimum_mode_rate_nl_per_day=self._snapshot.device.minimum_mode_rate_nl_per_day,
        )

    @property
    def initial_text(self) -> str:
        """What the entry starts with: the current dose if the pump runs a simple dose."""
        if self._current_spec.mode is Mode.SIMPLE:
            return self.entry.format(self.current_dose_ug_per_day)
        return ""

    def preview(self, text: str) -> DosePreview:
        """The live figures for ``text``; raises EntryError or HardLimitError."""
        dose = self.entry.parse(text)
        rate = check_dose_limits(self._snapshot, dose, label=self.entry.label)
        spec = m.PrescriptionSpec.simple(
            dose_ng(dose), concentration_ug_per_ml=self._snapshot.concentration_ug_per_ml
        )
        pending_forecast = forecast(self._snapshot, prescription=spec)
        warnings: list[ReviewWarning] = []
        if self._current_spec.mode is Mode.FLEX:
            warnings.append(
                ReviewWarning(
                    code=WarningCode.REPLACES_FLEX,
                    text="The pump runs a flex profile; this replaces it with one dose all day "
                    f"({format_dose_ug_per_day(dose)}).",
                )
            )
        current = self.current_dose_ug_per_day
        check = magnitude_check(dose, current, entry=self.entry)
        return DosePreview(
            dose_ug_per_day=dose,
            rate_nl_per_day=rate,
            prescription=spec,
            forecast=pending_forecast,
            alarm_date_text=format_pump_date(
                self._snapshot, pending_forecast.low_reservoir_alarm_at_s
            ),
            warnings=tuple(warnings),
            confirmation=check,
        )

    def review(self, text: str, *, confirmed: bool = False) -> Review:
        """The review of programming ``text`` mcg/day as a simple continuous dose.

        Raises EntryError, HardLimitError, :class:`ConfirmationRequiredError`
        (a 10x / 0.1x value not ``confirmed``) or InputError (reason "no-change").
        """
        preview = self.preview(text)
        if preview.confirmation is not None and not confirmed:
            raise ConfirmationRequiredError(preview.confirmation)
        if preview.prescription == self._current_spec:
            raise InputError(
                f"The pump already runs {preview.dose_text} ({preview.rate_text}); "
                "there is nothing to program.",
                reason="no-change",
            )
        warnings = list(preview.warnings)
        if preview.confirmation is not None:
            warnings.insert(
                0,
                ReviewWarning(
                    code=WarningCode.MAGNITUDE,
                    text=preview.confirmation.statement,
                ),
            )
        summary = (
            f"simple continuous {preview.dose_text} ({preview.rate_text} at "
            f"{format_concentration_ug_per_ml(self._snapshot.concentration_ug_per_ml)})"
        )
        return build_prescription_review(
            title="Review: change the dose (simple continuous)",
            snapshot=self._snapshot,
            pending=preview.prescription,
            action=program_action(preview.prescription, summary=summary),
            warnings=warnings,
            forecast=preview.forecast,
        )
