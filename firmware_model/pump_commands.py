"""The pump's commands: prescription, bolus, stop and resume, refill and bridge, implant,
alarm volume, alarm silence and clear, clock, patient doses, telemetry charge and logging.

Methods of :class:`~firmware_model.pump.Pump`, written here as functions of the pump
(``self``) and bound in its class body (``Pump.program = pump_commands.program``), so a
call costs what a method defined in the class costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_model.delivery import BridgeState
from firmware_model.errors import (
    InvalidStateError,
    OutOfRangeError,
    RequestError,
    WrongTypeError,
)
from firmware_model.prescription import (
    Bolus,
    PatientDoseSettings,
    check_patient_dose,
    validate,
    validate_bolus,
    validate_patient_settings,
)
from firmware_model.pump_checks import (
    _alarm_code,
    _check_clock,
    _check_concentration,
    _check_named,
    _require_int,
)
from firmware_model.pump_records import PatientDoseGrant, RefillOrder, RefillResult
from protocol.enums import AlarmCode, BolusKind, EventCode, Mode, StopReason
from protocol.messages import ImplantFields, PrescriptionSpec
from protocol.schedule import (
    bridge_volume_nl,
    doses_in_24h,
    next_patient_dose_t,
    rescale_bolus,
)
from protocol.timebase import INT32_MAX, INT32_MIN, SECONDS_PER_DAY, weekday

if TYPE_CHECKING:
    from firmware_model.pump import Pump


def check_prescription(self: Pump, prescription: PrescriptionSpec) -> None:
    """Refuse what :meth:`program` would refuse now (changes nothing)."""
    _check_named(prescription, self._concentration_ug_per_ml)
    validate(prescription, self._profile, self._concentration_ug_per_ml)
    if self._bridge is not None:
        validate(prescription, self._profile, self.rate_concentration_ug_per_ml)


def program(self: Pump, t: int, prescription: PrescriptionSpec) -> None:
    """Commit a prescription of the drug in the pump.

    Refused with ConcentrationMismatchError when it names another concentration,
    OutOfRangeError when its rates break the model's limits (at the drug in the
    pump, and during a bridge at the old drug too). A STOPPED prescription stops
    therapy; programming leaves a STOP_PUMP in force (RESUME ends it) and ends a low
    battery reset.
    """
    self.advance_to(t)
    self.check_prescription(prescription)
    if prescription.mode is Mode.STOPPED:
        self._cancel_running_bolus()  # STOPPED means nothing moves, a bolus included
    self._set_prescription(prescription)
    self._reset_pending = False
    today = self._daily_dose_ng(weekday(self.clock(t)))
    self._log_event(EventCode.PROGRAMMED, prescription.mode, min(today, INT32_MAX))
    self._evaluate()


def start_bolus(self: Pump, t: int, bolus: Bolus) -> None:
    """Start a clinician bolus (THERAPEUTIC or PRIMING) built at the concentration in
    force (see :meth:`therapeutic_bolus`)."""
    self.advance_to(t)
    if not isinstance(bolus, Bolus):
        raise WrongTypeError(field="bolus", value=bolus, expected="a Bolus")
    validate_bolus(bolus, self._profile)
    if bolus.kind is BolusKind.PATIENT:
        raise OutOfRangeError(
            field="kind",
            value=bolus.kind.name,
            limit=("THERAPEUTIC", "PRIMING"),
            rule="(patient doses go through request_patient_dose) one of",
        )
    self._check_can_bolus()
    self._check_deliverable(bolus.volume_nl)
    self._start_bolus(bolus)


def cancel_bolus(self: Pump, t: int) -> int:
    """Cancel the running bolus; returns the volume it delivered (nL)."""
    self.advance_to(t)
    if self._delivery.bolus is None:
        raise InvalidStateError("no bolus is running")
    return self._cancel_running_bolus()


def therapeutic_bolus(self: Pump, *, dose_ng: int, duration_s: int) -> Bolus:
    """A therapeutic bolus of ``dose_ng`` over ``duration_s`` at the concentration in
    force (the old drug during a bridge)."""
    return Bolus.of_dose(
        kind=BolusKind.THERAPEUTIC,
        dose_ng=dose_ng,
        duration_s=duration_s,
        concentration_ug_per_ml=self.rate_concentration_ug_per_ml,
    )


def stop(self: Pump, t: int, reason: StopReason) -> None:
    """Stop therapy (cancelling any bolus) until :meth:`resume`: mode becomes STOPPED."""
    self.advance_to(t)
    if not isinstance(reason, StopReason) or reason is StopReason.NONE:
        raise WrongTypeError(field="reason", value=reason, expected="a StopReason but NONE")
    if self._suspended is not None:
        raise InvalidStateError(f"pump is already stopped ({self._suspended.name})")
    if self._prescription.mode is Mode.STOPPED:
        raise InvalidStateError("therapy is already stopped: the prescription is STOPPED")
    self._cancel_running_bolus()
    self._suspended = reason
    self._forecasts.plan_changed()
    self._log_event(EventCode.STOPPED, reason, 0)
    self._evaluate()


def resume(self: Pump, t: int) -> None:
    """Resume the therapy that :meth:`stop` interrupted (a STOPPED prescription is
    changed by programming, not resumed)."""
    self.advance_to(t)
    if self._suspended is None:
        if self._prescription.mode is Mode.STOPPED:
            raise InvalidStateError(
                "the prescription is STOPPED: program a prescription to restart therapy"
            )
        raise InvalidStateError("pump is not stopped")
    self._suspended = None
    self._forecasts.plan_changed()
    self._log_event(EventCode.RESUMED, self._prescription.mode, 0)
    self._evaluate()


def plan_refill(self: Pump, t: int, order: RefillOrder) -> RefillResult:
    """Check a refill transaction whole and say what it would do; changes nothing.

    Refusals: a removed volume beyond int32, a concentration outside the model's
    (OutOfRangeError), a prescription for another drug than the one added
    (ConcentrationMismatchError), a bridge asked for without a concentration
    change, without an implant record, or while another bridge runs
    (InvalidStateError), rates or patient doses out of range at the new drug (or
    during the bridge at the old one), and an overfill (OverfillError).
    """
    self.advance_to(t)
    if not isinstance(order, RefillOrder):
        raise WrongTypeError(field="order", value=order, expected="a RefillOrder")
    _require_int("removed_nl", order.removed_nl, minimum=0)
    if order.removed_nl > INT32_MAX:
        # Found by fuzzing: the refill was recorded, then its answer could not be built.
        raise OutOfRangeError(
            field="removed_nl", value=order.removed_nl, limit=INT32_MAX, rule="at most"
        )
    _require_int("added_nl", order.added_nl, minimum=0)
    new = order.concentration_ug_per_ml
    _check_concentration(self._profile, new, order.allow_nonstandard_concentration)
    _check_named(order.prescription, new)
    old = self._concentration_ug_per_ml
    bridge_nl = 0
    if order.bridge:
        if new == old:
            raise InvalidStateError(
                f"no bridge: the concentration stays {old} mcg/mL (send bridge false)"
            )
        if self._implant is None:
            raise InvalidStateError(
                "no implant record: write it (SET_IMPLANT) so the bridge knows the "
                "catheter's dead volume"
            )
        bridge_nl = self.bridge_volume_for(old, new)
    if new != old and self._bridge is not None:
        raise InvalidStateError(
            "a bridge is running: let it end or cancel it before changing the drug again"
        )
    validate(order.prescription, self._profile, new)
    validate_patient_settings(self._patient, self._profile, new)
    if order.bridge:
        validate(order.prescription, self._profile, old)
    plan = self._delivery.plan_refill(
        removed_nl=order.removed_nl,
        added_nl=order.added_nl,
        capacity_nl=self._profile.capacity_nl,
    )
    expected = self._delivery.estimate_nl
    discrepancy = order.removed_nl - expected
    return RefillResult(
        expected_nl=expected,
        removed_nl=order.removed_nl,
        discrepancy_nl=discrepancy,
        discrepancy_flagged=abs(discrepancy) > self._profile.refill_discrepancy_threshold_nl,
        added_nl=order.added_nl,
        reservoir_nl=plan.estimate_after_nl,
        previous_concentration_ug_per_ml=old,
        concentration_ug_per_ml=new,
        bridge_volume_nl=bridge_nl,
    )


def bridge_volume_for(self: Pump, old_ug_per_ml: int, new_ug_per_ml: int) -> int:
    """The dead volume a bridge from ``old`` to ``new`` runs for, from the implant record
    (the lower bound of the catheter length when the concentration rises, the upper
    when it falls) and the pump's internal tubing."""
    implant = self._implant
    if implant is None:
        raise InvalidStateError("no implant record")
    return bridge_volume_nl(
        old_concentration_ug_per_ml=old_ug_per_ml,
        new_concentration_ug_per_ml=new_ug_per_ml,
        tubing_volume_nl=self._profile.internal_tubing_volume_nl,
        catheter_volume_nl_per_cm=implant.catheter_volume_nl_per_cm,
        catheter_length_mm=implant.catheter_length_mm,
        catheter_length_uncertainty_mm=implant.catheter_length_uncertainty_mm,
    )


def refill(self: Pump, t: int, order: RefillOrder) -> RefillResult:
    """Apply a refill transaction at once: the reservoir emptied and refilled, the new
    drug recorded, the prescription for it running and, if asked, the bridge started.

    Never a state where the old rates run on the new drug. Refusals as
    :meth:`plan_refill`, which is checked first, so a refusal changes nothing.
    """
    result = self.plan_refill(t, order)
    d = self._delivery
    plan = d.plan_refill(
        removed_nl=order.removed_nl,
        added_nl=order.added_nl,
        capacity_nl=self._profile.capacity_nl,
    )
    d.apply_refill(plan, added_nl=order.added_nl)
    old = self._concentration_ug_per_ml
    changed = order.prescription != self._prescription
    self._concentration_ug_per_ml = order.concentration_ug_per_ml
    bolus = d.bolus
    if bolus is not None and old != order.concentration_ug_per_ml and not order.bridge:
        # No bridge: the new drug's concentration applies now, to the rest of a dose
        # bolus too (as when a bridge ends), so it still delivers the mcg it owes.
        d.bolus = rescale_bolus(
            bolus, t, old_concentration=old, new_concentration=order.concentration_ug_per_ml
        )
        self._forecasts.plan_changed()
    if order.prescription.mode is Mode.STOPPED:
        self._cancel_running_bolus()
    self._drug_lot = order.drug_lot
    self._last_refill_t = t
    self._log_event(EventCode.REFILLED, order.added_nl, order.concentration_ug_per_ml)
    if order.bridge:
        self._bridge = BridgeState(
            volume_nl=result.bridge_volume_nl,
            remaining_nl=result.bridge_volume_nl,
            old_concentration_ug_per_ml=old,
            started_t=t,
        )
        self._log_event(EventCode.BRIDGE_STARTED, result.bridge_volume_nl, old)
    self._set_prescription(order.prescription)
    if changed:
        self._reset_pending = False
        today = self._daily_dose_ng(weekday(self.clock(t)))
        self._log_event(EventCode.PROGRAMMED, order.prescription.mode, min(today, INT32_MAX))
    self._evaluate()
    return result


def cancel_bridge(self: Pump, t: int) -> tuple[int, int]:
    """End the running bridge now (logged); returns (delivered, remaining) nL."""
    self.advance_to(t)
    if self._bridge is None:
        raise InvalidStateError("no bridge is running")
    result = self._end_bridge(EventCode.BRIDGE_CANCELLED)
    self._evaluate()
    return result


def set_implant(self: Pump, t: int, implant: ImplantFields) -> None:
    """Write the implant record (the clinician's record of the catheter and patient)."""
    self.advance_to(t)
    if not isinstance(implant, ImplantFields):
        raise WrongTypeError(field="implant", value=implant, expected="ImplantFields")
    self._implant = implant
    self._log_event(EventCode.IMPLANT_RECORDED, implant.catheter_length_mm, implant.origin)


def set_alarm_volume(self: Pump, t: int, volume_nl: int) -> None:
    """Set the low-reservoir alarm volume (within the profile's range)."""
    self.advance_to(t)
    _require_int("volume_nl", volume_nl)
    low, high = self._profile.min_alarm_volume_nl, self._profile.max_alarm_volume_nl
    if not low <= volume_nl <= high:
        raise OutOfRangeError(
            field="alarm_volume_nl",
            value=volume_nl,
            limit=low if volume_nl < low else high,
            rule="at least" if volume_nl < low else "at most",
        )
    self._alarm_volume_nl = volume_nl
    self._log_event(EventCode.ALARM_VOLUME_SET, volume_nl, 0)
    self._evaluate()


def silence_alarm(self: Pump, t: int, code: AlarmCode) -> None:
    """Stop an active alarm's tone; the alarm stays active."""
    self.advance_to(t)
    code = _alarm_code(code)
    self._alarms.silence(code)
    self._log_event(EventCode.ALARM_SILENCED, code, 0)


def clear_alarm(self: Pump, t: int, code: AlarmCode) -> None:
    """Clear a latched alarm (memory errors); others clear themselves when their
    condition ends, so clearing them is refused with ConditionPersistsError."""
    self.advance_to(t)
    code = _alarm_code(code)
    self._alarms.check_clear(code)
    self._alarms.clear(code)
    self._log_event(EventCode.ALARM_CLEARED, code, 0)
    self._evaluate()


def set_clock(self: Pump, t: int, clock_s: int) -> None:
    """Set the RTC; logs CLOCK_SET with the change (delta must fit a signed 32-bit int)."""
    self.advance_to(t)
    _require_int("clock_s", clock_s)
    _check_clock(clock_s)
    delta = clock_s - self.clock(t)
    if not INT32_MIN <= delta <= INT32_MAX:
        raise OutOfRangeError(
            field="delta_s", value=delta, limit=(INT32_MIN, INT32_MAX), rule="within"
        )
    self._clock_offset_s = clock_s - t
    self._forecasts.plan_changed()
    self._log_event(EventCode.CLOCK_SET, delta, 0)


def set_patient_settings(self: Pump, t: int, settings: PatientDoseSettings) -> None:
    """Set the patient-activated dose settings (validated against the profile)."""
    self.advance_to(t)
    if not isinstance(settings, PatientDoseSettings):
        raise WrongTypeError(field="settings", value=settings, expected="PatientDoseSettings")
    validate_patient_settings(settings, self._profile, self._concentration_ug_per_ml)
    if self._bridge is not None:
        validate_patient_settings(settings, self._profile, self.rate_concentration_ug_per_ml)
    # Logged first: the entry refuses parameters outside int32 (disabled settings are not
    # range-checked), and a refusal must change nothing (found by fuzzing).
    self._log_event(EventCode.PATIENT_SETTINGS_SET, settings.dose_ng, settings.max_per_24h)
    self._patient = settings
    self._forecasts.plan_changed()


def request_patient_dose(self: Pump, t: int) -> PatientDoseGrant:
    """Grant a patient dose, or refuse it (logged as PATIENT_DOSE_REFUSED).

    Refusals, checked in this order: NotEnabledError, PumpHaltedError,
    InvalidStateError (stopped or a bolus running), PatientDoseLockoutError,
    PatientDoseLimitError, OutOfRangeError (reservoir too low).
    """
    self.advance_to(t)
    settings = self._patient
    # Only the trailing 24 h matters to the rule (lockouts are at most 24 h).
    grants = [g for g in self._grants_t if g > t - SECONDS_PER_DAY]
    try:
        if settings.enabled:
            self._check_can_bolus()
        check_patient_dose(settings, grants, t)
        bolus = settings.bolus(self.rate_concentration_ug_per_ml)
        self._check_deliverable(bolus.volume_nl)
    except RequestError as refusal:
        self._log_event(EventCode.PATIENT_DOSE_REFUSED, refusal.code, 0)
        raise
    grants.append(t)
    self._grants_t = grants
    self._forecasts.plan_changed()
    count = doses_in_24h(grants, t)
    self._log_event(EventCode.PATIENT_DOSE_GRANTED, min(settings.dose_ng, INT32_MAX), count)
    self._start_bolus(bolus)
    return PatientDoseGrant(
        dose_ng=settings.dose_ng,
        volume_nl=bolus.volume_nl,
        duration_s=settings.duration_s,
        ends_at_clock_s=self.clock(t + settings.duration_s),
        doses_in_24h=count,
        next_allowed_at_clock_s=self.clock(
            next_patient_dose_t(settings.rule(self.rate_concentration_ug_per_ml), self._grants_t, t)
        ),
    )


def note_telemetry(self: Pump, t: int, seconds: int) -> None:
    """Charge the battery for ``seconds`` of telemetry (called by the telemetry layer)."""
    self.advance_to(t)
    if type(seconds) is not int or seconds < 0:  # what _require_int refuses
        _require_int("seconds", seconds, minimum=0)
    # self._battery.telemetry_drain_uc(seconds), written out
    remaining = self._battery_uc - self._battery.telemetry_drain_uc_per_s * seconds
    self._battery_uc = remaining if remaining > 0 else 0
    self._evaluate()


def log_event(self: Pump, t: int, code: EventCode, a: int = 0, b: int = 0) -> None:
    """Write an event (session and security events from the telemetry layer)."""
    self.advance_to(t)
    if not isinstance(code, EventCode):
        raise WrongTypeError(field="code", value=code, expected="an EventCode")
    self._log.append(self.clock(t), code, a, b)
