"""The pump's checks on prescriptions, boluses and patient-dose settings.

A prescription is a :class:`~protocol.messages.PrescriptionSpec`: a dose of the
drug the pump holds. The maths that turns it into volume rates lives in
:mod:`protocol.schedule`, shared with the programmer; this module holds what
only the pump decides: whether the rates that dose needs are within the
model's limits (:func:`validate`), whether a bolus is (:func:`validate_bolus`),
and the patient-dose request rule with its refusals. Every refusal is a typed
:class:`~firmware_model.errors.RequestError` naming field, value and limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from firmware_model.errors import (
    NotEnabledError,
    OutOfRangeError,
    PatientDoseLimitError,
    PatientDoseLockoutError,
    WrongTypeError,
)
from firmware_model.profile import PumpProfile
from protocol.enums import BolusKind, Mode
from protocol.frozen import frozen
from protocol.messages import PrescriptionSpec
from protocol.schedule import (
    PatientRule,
    Schedule,
    compile_schedule,
    doses_in_24h,
    volume_for_dose,
)
from protocol.timebase import SECONDS_PER_DAY

__all__ = [
    "Bolus",
    "PatientDoseSettings",
    "check_patient_dose",
    "compile_for",
    "validate",
    "validate_bolus",
    "validate_patient_settings",
]


def _int(field_name: str, value: object, *, minimum: int) -> int:
    if type(value) is not int:
        raise WrongTypeError(field=field_name, value=value, expected="an int")
    if value < minimum:
        raise OutOfRangeError(field=field_name, value=value, limit=minimum, rule="at least")
    return value


def _within(field_name: str, value: int, low: int, high: int) -> None:
    if value < low:
        raise OutOfRangeError(field=field_name, value=value, limit=low, rule="at least")
    if value > high:
        raise OutOfRangeError(field=field_name, value=value, limit=high, rule="at most")


# --------------------------------------------------------------------------- basal


def compile_for(
    spec: PrescriptionSpec, profile: PumpProfile, concentration_ug_per_ml: int
) -> Schedule:
    """``spec``'s doses as volume rates at ``concentration_ug_per_ml`` (no limit checks)."""
    return compile_schedule(
        spec,
        concentration_ug_per_ml=concentration_ug_per_ml,
        minimum_mode_rate_nl_per_day=profile.minimum_rate_mode_nl_per_day,
    )


def validate(
    spec: PrescriptionSpec, profile: PumpProfile, concentration_ug_per_ml: int
) -> Schedule:
    """Check that ``spec`` runs within the model's limits at a concentration.

    Returns the compiled schedule, or raises OutOfRangeError naming the step
    and the rate (nL/day) its dose needs. Checked at every concentration the
    pump will run it at: the drug in the pump and, during a bridge, the old one.
    """
    if not isinstance(spec, PrescriptionSpec):
        raise WrongTypeError(field="prescription", value=spec, expected="a PrescriptionSpec")
    low, high = profile.min_rate_nl_per_day, profile.max_rate_nl_per_day
    schedule = compile_for(spec, profile, concentration_ug_per_ml)
    if spec.mode is Mode.SIMPLE:
        _within("rate_nl_per_day", schedule.rate_at(0), low, high)
    elif spec.mode is Mode.FLEX:
        for d, day in enumerate(spec.profiles):
            if len(day) > profile.max_flex_steps:
                raise OutOfRangeError(
                    field=f"days[{d}].len(steps)",
                    value=len(day),
                    limit=profile.max_flex_steps,
                    rule="at most",
                )
            for i, (step, (_, rate)) in enumerate(zip(day, schedule.days[d], strict=True)):
                if step.start_min % profile.flex_step_granularity_min:
                    raise OutOfRangeError(
                        field=f"days[{d}].steps[{i}].start_min",
                        value=step.start_min,
                        limit=profile.flex_step_granularity_min,
                        rule="a multiple of",
                    )
                _within(f"days[{d}].steps[{i}].rate_nl_per_day", rate, low, high)
    return schedule


# --------------------------------------------------------------------------- boluses


@frozen
class Bolus:
    """A bolus as the pump runs it: ``volume_nl`` over ``duration_s``, replacing the basal
    rate while it runs. ``dose_ng`` is the dose it carries (0 for PRIMING, a volume)."""

    kind: BolusKind
    volume_nl: int
    duration_s: int
    dose_ng: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.kind, BolusKind):
            raise WrongTypeError(field="kind", value=self.kind, expected="a BolusKind")
        if self.kind in (BolusKind.NONE, BolusKind.BRIDGE):
            raise OutOfRangeError(
                field="kind",
                value=self.kind.name,
                limit=("THERAPEUTIC", "PRIMING", "PATIENT"),
                rule="one of",
            )
        _int("volume_nl", self.volume_nl, minimum=1)
        _int("duration_s", self.duration_s, minimum=1)
        _int("dose_ng", self.dose_ng, minimum=0)

    @classmethod
    def priming(cls, *, volume_nl: int, profile: PumpProfile) -> Bolus:
        """A priming bolus of ``volume_nl`` at the profile's maximum rate."""
        _int("volume_nl", volume_nl, minimum=1)
        return cls(
            kind=BolusKind.PRIMING,
            volume_nl=volume_nl,
            duration_s=profile.bolus_duration_at_max_rate_s(volume_nl),
        )

    @classmethod
    def of_dose(
        cls, *, kind: BolusKind, dose_ng: int, duration_s: int, concentration_ug_per_ml: int
    ) -> Bolus:
        """A dose bolus: ``dose_ng`` over ``duration_s`` as volume of a concentration."""
        _int("dose_ng", dose_ng, minimum=1)
        volume = volume_for_dose(dose_ng, concentration_ug_per_ml)
        if volume < 1:
            raise OutOfRangeError(field="volume_nl", value=volume, limit=1, rule="at least")
        return cls(kind=kind, volume_nl=volume, duration_s=duration_s, dose_ng=dose_ng)


def validate_bolus(bolus: Bolus, profile: PumpProfile) -> None:
    """Check a bolus against a profile's limits; raises OutOfRangeError."""
    high = (
        profile.patient_dose_max_volume_nl
        if bolus.kind is BolusKind.PATIENT
        else profile.capacity_nl
    )
    _within("volume_nl", bolus.volume_nl, profile.min_bolus_volume_nl, high)
    if bolus.kind is BolusKind.PRIMING:
        priming_s = profile.bolus_duration_at_max_rate_s(bolus.volume_nl)
        if bolus.duration_s != priming_s:
            raise OutOfRangeError(
                field="duration_s",
                value=bolus.duration_s,
                limit=priming_s,
                rule="(at the maximum rate) equal to",
            )
        return
    # Priming is the only bolus that runs at the maximum rate (domain.md): any other must
    # run below it.
    shortest_s = profile.shortest_bolus_s(bolus.volume_nl)
    _within("duration_s", bolus.duration_s, shortest_s, profile.max_bolus_duration_s)


# --------------------------------------------------------------------------- patient doses


@frozen
class PatientDoseSettings:
    """Patient-activated doses as the clinician set them.

    A dose is ``dose_ng`` over ``duration_s`` (its volume follows the
    concentration in force when it starts); after a granted dose the next is
    refused for ``lockout_s``; at most ``max_per_24h`` are granted in any
    trailing 24 h. When disabled the numbers are kept but unused.
    """

    enabled: bool
    dose_ng: int
    duration_s: int
    lockout_s: int
    max_per_24h: int

    def __post_init__(self) -> None:
        if type(self.enabled) is not bool:
            raise WrongTypeError(field="enabled", value=self.enabled, expected="a bool")
        least = 1 if self.enabled else 0
        _int("dose_ng", self.dose_ng, minimum=least)
        _int("duration_s", self.duration_s, minimum=least)
        _int("lockout_s", self.lockout_s, minimum=least)
        _int("max_per_24h", self.max_per_24h, minimum=least)

    @classmethod
    def disabled(cls) -> PatientDoseSettings:
        """Patient doses off (the state of a new pump)."""
        return cls(enabled=False, dose_ng=0, duration_s=0, lockout_s=0, max_per_24h=0)

    def bolus(self, concentration_ug_per_ml: int) -> Bolus:
        """The bolus one granted dose runs at a concentration."""
        return Bolus.of_dose(
            kind=BolusKind.PATIENT,
            dose_ng=self.dose_ng,
            duration_s=self.duration_s,
            concentration_ug_per_ml=concentration_ug_per_ml,
        )

    def rule(self, concentration_ug_per_ml: int) -> PatientRule:
        """The doses as a forecast places them, at a concentration."""
        return PatientRule(
            volume_nl=volume_for_dose(self.dose_ng, concentration_ug_per_ml),
            duration_s=self.duration_s,
            lockout_s=self.lockout_s,
            max_per_24h=self.max_per_24h,
            dose_ng=self.dose_ng,
        )


def validate_patient_settings(
    settings: PatientDoseSettings, profile: PumpProfile, concentration_ug_per_ml: int
) -> None:
    """Check enabled settings against a profile's limits; disabled settings always pass."""
    if not settings.enabled:
        return
    validate_bolus(settings.bolus(concentration_ug_per_ml), profile)
    _within("max_per_24h", settings.max_per_24h, 1, profile.patient_max_doses_per_24h)
    _within(
        "lockout_s",
        settings.lockout_s,
        profile.patient_lockout_min_s,
        profile.patient_lockout_max_s,
    )
    # A dose must end before the next may start, so doses never overlap.
    if settings.lockout_s < settings.duration_s:
        raise OutOfRangeError(
            field="lockout_s", value=settings.lockout_s, limit=settings.duration_s, rule="at least"
        )


def check_patient_dose(settings: PatientDoseSettings, grants_t: Sequence[int], t: int) -> None:
    """Raise the refusal the request rule gives at ``t``, or return if a dose is allowed.

    Order: not enabled, then lockout, then the 24-h limit.
    """
    if not settings.enabled:
        raise NotEnabledError("patient-activated dosing")
    if grants_t and t < grants_t[-1] + settings.lockout_s:
        raise PatientDoseLockoutError(seconds_remaining=grants_t[-1] + settings.lockout_s - t)
    n = settings.max_per_24h
    if len(grants_t) >= n and t < grants_t[-n] + SECONDS_PER_DAY:
        raise PatientDoseLimitError(
            doses_in_24h=doses_in_24h(grants_t, t),
            max_per_24h=n,
            seconds_remaining=grants_t[-n] + SECONDS_PER_DAY - t,
        )
