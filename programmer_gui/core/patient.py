"""Patient-activated dose settings, without Qt, and their effect on the daily dose and forecast.

The clinician sets the dose the patient may ask for (in mcg, delivered as a
volume at the reservoir's concentration over a duration), the lockout between
doses and the maximum number per 24 hours. The forecast assumes the patient
takes every dose as soon as allowed, so the alarm date shown is the earliest
it can come.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.action import one_step
from programmer_gui.core.dates import forecast, format_pump_date
from programmer_gui.core.entry import NumberEntry
from programmer_gui.core.review import NOT_SET, Review, ReviewWarning, review_rows
from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.schedule import shortest_bolus_s, volume_for_dose
from protocol.timebase import SECONDS_PER_DAY

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

MAX_LOCKOUT_S: Final = SECONDS_PER_DAY
"""The pump remembers the trailing 24 h only, so a lockout is at most a day."""
EXTRA_WARN_FRACTION: Final = Fraction(1, 5)
"""Patient doses that can add more than this share (20 %) to the basal dose warn."""
HIGH_DAILY_DOSE_UG: Final = 1000
"""A possible total above this (mcg/day) warns: beyond the usual range (domain.md)."""

DOSE_UG: Final = NumberEntry(
    label="Dose per activation", unit="mcg", max_decimals=1, maximum=Fraction(1000), example="25"
)
DURATION_MIN: Final = NumberEntry(
    label="Delivery time", unit="min", max_decimals=0, minimum=Fraction(1), example="10"
)
LOCKOUT_MIN: Final = NumberEntry(
    label="Lockout", unit="min", max_decimals=0, minimum=Fraction(1), example="180"
)
MAX_PER_24H: Final = NumberEntry(
    label="Maximum per 24 h",
    unit="doses",
    max_decimals=0,
    minimum=Fraction(1),
    maximum=Fraction(255),
    example="4",
)


@dataclass(frozen=True, kw_only=True)
class PatientPlan:
    """Settings as they would be sent, and what they do to the dose and the forecast."""

    settings: m.SetPatientSettingsRequest
    dose_ug: Fraction
    concentration_ug_per_ml: int
    doses_per_day_max: int
    """Most doses a patient can take in any 24 h (the lockout and the maximum both bound it)."""
    basal_ug_per_day: Fraction
    alarm_at_without_s: int | None
    """The low-reservoir alarm with no patient doses taken (pump clock, s)."""
    alarm_at_with_s: int | None
    """With every dose taken as soon as allowed."""
    warnings: tuple[tuple[str, str], ...]

    @property
    def extra_ug_per_day_max(self) -> Fraction:
        """The most the doses add in a day, mcg/day (0 when disabled)."""
        if not self.settings.enabled:
            return Fraction(0)
        return self.doses_per_day_max * self.dose_ug

    @property
    def total_ug_per_day_max(self) -> Fraction:
        return self.basal_ug_per_day + self.extra_ug_per_day_max

    def summary_lines(self) -> list[str]:
        """The settings and their effect, each with units."""
        s = self.settings
        if not s.enabled:
            return ["Patient-activated doses: off"]
        volume = volume_for_dose(s.dose_ng, self.concentration_ug_per_ml)
        return [
            f"Dose: {units.format_dose_ug(self.dose_ug)} "
            f"({units.format_volume_nl(volume)} at "
            f"{units.format_concentration_ug_per_ml(self.concentration_ug_per_ml)}) "
            f"over {s.duration_s // 60} min",
            f"Lockout {s.lockout_s // 60} min; at most {s.max_per_24h} per 24 h",
            f"Up to {self.doses_per_day_max} doses a day: up to "
            f"{units.format_dose_ug_per_day(self.extra_ug_per_day_max)} on top of the basal "
            f"{units.format_dose_ug_per_day(self.basal_ug_per_day)} "
            f"(up to {units.format_dose_ug_per_day(self.total_ug_per_day_max)} in all)",
        ]


def doses_per_day_max(*, lockout_s: int, max_per_24h: int) -> int:
    """Most doses in any 24 h window: one every lockout, capped by the maximum."""
    return min(max_per_24h, math.ceil(SECONDS_PER_DAY / lockout_s))


def disabled_request() -> m.SetPatientSettingsRequest:
    """Patient doses off (the numbers zeroed, as a new pump has them)."""
    return m.SetPatientSettingsRequest(
        enabled=False, dose_ng=0, duration_s=0, lockout_s=0, max_per_24h=0
    )


def plan_settings(
    *,
    enabled: bool,
    dose_ug: Fraction | int,
    duration_min: int,
    lockout_min: int,
    max_per_24h: int,
    snapshot: PumpSnapshot,
) -> PatientPlan:
    """Check patient-dose settings and work out their effect on the dose and the forecast."""
    device = snapshot.device
    conc = snapshot.rate_concentration_ug_per_ml
    dose = Fraction(dose_ug)
    snapshot.require_prescription()
    if enabled:
        if dose <= 0:
            raise InputError(
                "the dose per activation must be more than 0 mcg", reason="patient-settings"
            )
        duration_s, lockout_s = duration_min * 60, lockout_min * 60
        if duration_s <= 0 or lockout_s <= 0 or max_per_24h <= 0:
            raise InputError(
                "delivery time, lockout and maximum per 24 h must all be more than 0",
                reason="patient-settings",
            )
        if lockout_s < duration_s:
            raise InputError(
                f"the lockout ({lockout_min} min) must be at least the delivery time "
                f"({duration_min} min), so that doses never overlap",
                reason="patient-settings",
            )
        if lockout_s > MAX_LOCKOUT_S:
            raise InputError(
                "the lockout can be at most 24 h (1440 min)", reason="patient-settings"
            )
        dose_ng = units.round_half_even(dose * 1000)
        volume = volume_for_dose(dose_ng, conc)
        if volume <= 0:
            raise InputError(
                "the dose is too small to deliver at this concentration", reason="patient-settings"
            )
        fastest = shortest_bolus_s(volume, device.max_rate_nl_per_day)
        if duration_s < fastest:
            raise InputError(
                f"{units.format_volume_nl(volume)} cannot be delivered in {duration_min} min "
                "below the pump's maximum rate (only priming runs there); allow at least "
                f"{math.ceil(fastest / 60)} min",
                reason="patient-settings",
            )
        request = m.SetPatientSettingsRequest(
            enabled=True,
            dose_ng=dose_ng,
            duration_s=duration_s,
            lockout_s=lockout_s,
            max_per_24h=max_per_24h,
        )
        per_day = doses_per_day_max(lockout_s=lockout_s, max_per_24h=max_per_24h)
    else:
        request = disabled_request()
        per_day = 0

    def alarm_at(patient: m.PatientSettingsFields | None) -> int | None:
        settings = disabled_request() if patient is None else patient
        return forecast(snapshot, patient=settings).low_reservoir_alarm_at_s

    basal = snapshot.dose_ug_per_day
    plan = PatientPlan(
        settings=request,
        dose_ug=dose if enabled else Fraction(0),
        concentration_ug_per_ml=conc,
        doses_per_day_max=per_day,
        basal_ug_per_day=basal,
        alarm_at_without_s=alarm_at(None),
        alarm_at_with_s=alarm_at(request if enabled else None),
        warnings=(),
    )
    warnings: list[tuple[str, str]] = []
    extra = plan.extra_ug_per_day_max
    if enabled and basal > 0 and extra > EXTRA_WARN_FRACTION * basal:
        warnings.append(
            (
                "patient-extra-large",
                f"Patient doses can add up to {units.format_dose_ug_per_day(extra)}, "
                f"{units.format_percent(extra / basal)} of the basal "
                f"{units.format_dose_ug_per_day(basal)}. Check the dose, lockout and maximum.",
            )
        )
    if enabled and plan.total_ug_per_day_max > HIGH_DAILY_DOSE_UG:
        warnings.append(
            (
                "patient-total-high",
                f"With every patient dose taken the total can reach "
                f"{units.format_dose_ug_per_day(plan.total_ug_per_day_max)}, over "
                f"{units.format_dose_ug_per_day(HIGH_DAILY_DOSE_UG)}.",
            )
        )
    return replace(plan, warnings=tuple(warnings))


def same_settings(pump: m.PatientSettingsFields | None, wanted: m.PatientSettingsFields) -> bool:
    """Whether the pump now holds ``wanted`` (disabled settings match whatever numbers)."""
    if pump is None:
        return False
    if not wanted.enabled:
        return not pump.enabled
    fields = ("enabled", "dose_ng", "duration_s", "lockout_s", "max_per_24h")
    return all(getattr(pump, name) == getattr(wanted, name) for name in fields)


def describe_current(snapshot: PumpSnapshot) -> list[str]:
    """The settings the pump holds now, in words with units."""
    settings = snapshot.patient_settings
    if settings is None:
        return ["Patient-activated doses: not readable in this session"]
    if not settings.enabled:
        return ["Patient-activated doses: off"]
    conc = snapshot.rate_concentration_ug_per_ml
    dose = Fraction(settings.dose_ng, 1000)
    volume = volume_for_dose(settings.dose_ng, conc)
    per_day = doses_per_day_max(lockout_s=settings.lockout_s, max_per_24h=settings.max_per_24h)
    return [
        f"Dose: {units.format_dose_ug(dose)} ({units.format_volume_nl(volume)}) "
        f"over {settings.duration_s // 60} min",
        f"Lockout {settings.lockout_s // 60} min; at most {settings.max_per_24h} per 24 h "
        f"(up to {per_day} a day)",
    ]


def build_review(plan: PatientPlan, snapshot: PumpSnapshot) -> Review:
    """The review of new patient-dose settings: current and pending side by side, the most
    they add to the daily dose, and the alarm date with every dose taken."""
    current = snapshot.patient_settings
    current_lines = describe_current(snapshot)
    pending_lines = plan.summary_lines()
    basal = plan.basal_ug_per_day
    pairs = [
        (
            "Patient doses",
            "on" if current is not None and current.enabled else "off",
            "on" if plan.settings.enabled else "off",
        ),
        ("Settings", "; ".join(current_lines), "; ".join(pending_lines[:2])),
        (
            "Most added per day",
            NOT_SET,
            units.format_dose_ug_per_day(plan.extra_ug_per_day_max),
        ),
        (
            "Low-reservoir alarm (doses at their maximum)",
            format_pump_date(snapshot, snapshot.status.low_reservoir_alarm_at_s),
            format_pump_date(snapshot, plan.alarm_at_with_s),
        ),
    ]
    settings = plan.settings
    description = "Set patient-activated doses: " + (
        "off" if not settings.enabled else pending_lines[0]
    )

    def run(client: PumpClient) -> str:
        stored = client.set_patient_settings(
            enabled=settings.enabled,
            dose_ng=settings.dose_ng,
            duration_s=settings.duration_s,
            lockout_s=settings.lockout_s,
            max_per_24h=settings.max_per_24h,
        )
        return "Patient-activated doses are now " + ("on." if stored.enabled else "off.")

    def verify(after: PumpSnapshot) -> bool:
        return same_settings(after.patient_settings, settings)

    return Review(
        title="Review: patient-activated doses",
        rows=review_rows(pairs),
        current_daily_dose_ug=basal,
        pending_daily_dose_ug=basal,
        change_percent=Fraction(0),
        warnings=tuple(ReviewWarning(code=code, text=text) for code, text in plan.warnings),
        action=one_step(description, run, verify),
        notes=tuple(pending_lines[2:]),
    )
