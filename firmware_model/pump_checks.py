"""Checks of the pump's inputs and of a stored image beyond what its parts check themselves
(each raises a typed :mod:`~firmware_model.errors` error and changes nothing)."""

from __future__ import annotations

from firmware_model import nvm
from firmware_model.errors import ConcentrationMismatchError, OutOfRangeError, WrongTypeError
from firmware_model.prescription import validate, validate_patient_settings
from firmware_model.profile import PumpProfile
from protocol.enums import AlarmCode
from protocol.messages import PrescriptionSpec
from protocol.timebase import RTC_MAX_CLOCK_S


def _require_int(name: str, value: object, *, minimum: int | None = None) -> int:
    if type(value) is not int:
        raise WrongTypeError(field=name, value=value, expected="an int")
    if minimum is not None and value < minimum:
        raise OutOfRangeError(field=name, value=value, limit=minimum, rule="at least")
    return value


def _check_named(prescription: object, concentration_ug_per_ml: int) -> None:
    """A prescription must be a PrescriptionSpec for the drug in the pump."""
    if not isinstance(prescription, PrescriptionSpec):
        raise WrongTypeError(
            field="prescription", value=prescription, expected="a PrescriptionSpec"
        )
    if prescription.concentration_ug_per_ml != concentration_ug_per_ml:
        raise ConcentrationMismatchError(
            named_ug_per_ml=prescription.concentration_ug_per_ml,
            held_ug_per_ml=concentration_ug_per_ml,
        )


def _check_image(image: nvm.PumpImage) -> None:
    """Invariants a stored image must meet beyond what its parts check themselves."""
    profile = image.profile
    t = image.t

    def fail(field: str, value: object, limit: object, rule: str) -> None:
        raise OutOfRangeError(field=field, value=value, limit=limit, rule=rule)

    if not 0 <= image.battery_uc <= profile.battery_capacity_uc:
        fail("battery_uc", image.battery_uc, profile.battery_capacity_uc, "within 0 and")
    if not profile.min_alarm_volume_nl <= image.alarm_volume_nl <= profile.max_alarm_volume_nl:
        fail("alarm_volume_nl", image.alarm_volume_nl, profile.max_alarm_volume_nl, "at most")
    if max(image.delivery.estimate_nl, image.delivery.reservoir_nl) > profile.capacity_nl:
        fail("reservoir_nl", image.delivery.reservoir_nl, profile.capacity_nl, "at most")
    if image.concentration_ug_per_ml <= 0:
        fail("concentration_ug_per_ml", image.concentration_ug_per_ml, 1, "at least")
    _check_clock(t + image.clock_offset_s)
    bolus = image.delivery.bolus
    if bolus is not None and not bolus.start_t <= t < bolus.end_t:
        fail("bolus.start_t", bolus.start_t, t, "running at t; start at most")
    if image.stalled_since_t is not None and image.stalled_since_t > t:
        fail("stalled_since_t", image.stalled_since_t, t, "at most")
    if list(image.grants_t) != sorted(image.grants_t) or any(g > t for g in image.grants_t):
        fail("grants_t", image.grants_t, t, "ascending and at most")
    validate_patient_settings(image.patient, profile, image.concentration_ug_per_ml)
    _check_named(image.prescription, image.concentration_ug_per_ml)
    # A stored prescription must run within the model's limits, like a programmed one.
    validate(image.prescription, profile, image.concentration_ug_per_ml)
    bridge = image.bridge
    if bridge is not None:
        if bridge.old_concentration_ug_per_ml == image.concentration_ug_per_ml:
            fail(
                "bridge.old_concentration_ug_per_ml",
                bridge.old_concentration_ug_per_ml,
                image.concentration_ug_per_ml,
                "(a bridge changes the drug) other than",
            )
        if image.implant is None:
            fail("bridge", "running", "an implant record", "needs")
        if not 0 < bridge.remaining_nl <= bridge.volume_nl:
            fail("bridge.remaining_nl", bridge.remaining_nl, bridge.volume_nl, "within 1 and")
        _check_concentration(profile, bridge.old_concentration_ug_per_ml, True)
        validate(image.prescription, profile, bridge.old_concentration_ug_per_ml)
    if len({a.code for a in image.alarms}) != len(image.alarms):
        fail("alarms", len(image.alarms), "one per code", "")


def _check_clock(clock_s: int) -> None:
    if not 0 <= clock_s <= RTC_MAX_CLOCK_S:
        raise OutOfRangeError(
            field="clock_s", value=clock_s, limit=(0, RTC_MAX_CLOCK_S), rule="within"
        )


def _check_concentration(profile: PumpProfile, value: object, allow_nonstandard: bool) -> None:
    value = _require_int("concentration_ug_per_ml", value)
    if type(allow_nonstandard) is not bool:
        raise WrongTypeError(
            field="allow_nonstandard_concentration", value=allow_nonstandard, expected="a bool"
        )
    if value in profile.commercial_concentrations_ug_per_ml:
        return
    if not allow_nonstandard:
        raise OutOfRangeError(
            field="concentration_ug_per_ml",
            value=value,
            limit=profile.commercial_concentrations_ug_per_ml,
            rule="(without the non-standard override) one of",
        )
    low = profile.nonstandard_concentration_min_ug_per_ml
    high = profile.nonstandard_concentration_max_ug_per_ml
    if not low <= value <= high:
        raise OutOfRangeError(
            field="concentration_ug_per_ml",
            value=value,
            limit=low if value < low else high,
            rule="(even with the override) at least"
            if value < low
            else "(even with the override) at most",
        )


def _alarm_code(code: object) -> AlarmCode:
    if not isinstance(code, AlarmCode):
        raise WrongTypeError(field="code", value=code, expected="an AlarmCode")
    return code
