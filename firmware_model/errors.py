"""The firmware model's errors: one hierarchy rooted in :class:`FirmwareError`.

Two branches, so callers can tell whose fault it was:

- :class:`RequestError`: the peer (programmer, patient, stored image) asked
  for something the pump refuses. Each carries the wire ``code`` the
  telemetry layer puts in its NAK.
- :class:`InternalError`: we did something wrong (a bad profile, time asked
  to run backwards). Never the peer's fault; reported as ``INTERNAL``.

Builtins are inherited where they fit (a value out of range is also a
``ValueError``).
"""

from __future__ import annotations

from typing import ClassVar

from protocol.enums import AlarmCode, ErrorCode

_UNITS: tuple[tuple[str, str], ...] = (
    # Longest suffix first: "_nl_per_day" must win over "_nl".
    ("_ng_per_day", "ng/day"),
    ("_nl_per_day", "nL/day"),
    ("_nl_per_cm", "nL/cm"),
    ("_ug_per_ml", "mcg/mL"),
    ("_uc_per_nl", "uC/nL"),
    ("_uc_per_s", "uC/s"),
    ("_per_24h", "per 24 h"),
    ("_permille", "permille"),
    ("_ppm", "ppm"),
    ("_min", "min"),
    ("_nl", "nL"),
    ("_ng", "ng"),
    ("_mm", "mm"),
    ("_uc", "uC"),
    ("_s", "s"),
)


def unit_of(field: str) -> str:
    """The unit a field name declares by its suffix (``rate_nl_per_day`` -> ``nL/day``).

    Only the last component of a dotted or indexed path is looked at
    (``days[2].steps[0].start_min`` -> ``min``); an unknown suffix gives ``""``.
    """
    last = field.rsplit(".", 1)[-1].split("[", 1)[0]
    for suffix, unit in _UNITS:
        if last.endswith(suffix):
            return unit
    return ""


def _with_unit(value: object, unit: str) -> str:
    shown = ", ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    return f"{shown} {unit}" if unit else shown


class FirmwareError(Exception):
    """Root of every error the firmware model raises."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    """Wire error code the telemetry layer sends in its NAK."""


class RequestError(FirmwareError):
    """The peer asked for something the pump refuses; the pump's state is unchanged."""


class InternalError(FirmwareError):
    """We did something wrong: a defect in the caller or in the model, never the peer's."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL


class OutOfRangeError(RequestError, ValueError):
    """A value is outside the pump's limits.

    The message names the field, the value and the limit, with units taken
    from the field name (``rate_nl_per_day`` is in nL/day).
    """

    code: ClassVar[ErrorCode] = ErrorCode.OUT_OF_RANGE

    def __init__(self, *, field: str, value: object, limit: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.limit = limit
        self.rule = rule
        unit = unit_of(field)
        super().__init__(
            f"{field} = {_with_unit(value, unit)} is out of range: "
            f"must be {rule} {_with_unit(limit, unit)}"
        )


class OverfillError(RequestError, ValueError):
    """A refill would put more in the reservoir than it holds."""

    code: ClassVar[ErrorCode] = ErrorCode.OVERFILL

    def __init__(self, *, added_nl: int, room_nl: int, capacity_nl: int) -> None:
        self.added_nl = added_nl
        self.room_nl = room_nl
        self.capacity_nl = capacity_nl
        super().__init__(
            f"added_nl = {added_nl} nL would overfill the reservoir: room for at most "
            f"{room_nl} nL (capacity {capacity_nl} nL)"
        )


class InvalidStateError(RequestError):
    """The command does not apply in the pump's present state."""

    code: ClassVar[ErrorCode] = ErrorCode.INVALID_STATE


class ChecksumMismatchError(RequestError):
    """COMMIT named a checksum other than the staged prescription's; nothing was committed."""

    code: ClassVar[ErrorCode] = ErrorCode.CHECKSUM_MISMATCH


class ConcentrationMismatchError(RequestError):
    """A prescription names another drug concentration than the one in the pump."""

    code: ClassVar[ErrorCode] = ErrorCode.CONCENTRATION_MISMATCH

    def __init__(self, *, named_ug_per_ml: int, held_ug_per_ml: int) -> None:
        self.named_ug_per_ml = named_ug_per_ml
        self.held_ug_per_ml = held_ug_per_ml
        super().__init__(
            f"the prescription is for {named_ug_per_ml} mcg/mL, the pump holds "
            f"{held_ug_per_ml} mcg/mL: program the dose for the drug in the pump"
        )


class ConditionPersistsError(RequestError):
    """An alarm cannot be cleared while its condition is present."""

    code: ClassVar[ErrorCode] = ErrorCode.CONDITION_PERSISTS

    def __init__(self, alarm: AlarmCode) -> None:
        self.alarm = alarm
        super().__init__(f"alarm {alarm.name} cannot be cleared: its condition persists")


class PatientDoseLockoutError(RequestError):
    """A patient dose was asked for inside the lockout interval."""

    code: ClassVar[ErrorCode] = ErrorCode.PATIENT_DOSE_LOCKOUT

    def __init__(self, *, seconds_remaining: int) -> None:
        self.seconds_remaining = seconds_remaining
        super().__init__(f"patient dose locked out for another {seconds_remaining} s")


class PatientDoseLimitError(RequestError):
    """The patient has used the maximum number of doses in the trailing 24 h."""

    code: ClassVar[ErrorCode] = ErrorCode.PATIENT_DOSE_LIMIT

    def __init__(self, *, doses_in_24h: int, max_per_24h: int, seconds_remaining: int) -> None:
        self.doses_in_24h = doses_in_24h
        self.max_per_24h = max_per_24h
        self.seconds_remaining = seconds_remaining
        super().__init__(
            f"{doses_in_24h} patient doses in the last 24 h reach the maximum of "
            f"{max_per_24h}; next dose possible in {seconds_remaining} s"
        )


class PumpHaltedError(RequestError):
    """The pump cannot deliver (empty reservoir, end of service, motor stall, memory error)."""

    code: ClassVar[ErrorCode] = ErrorCode.PUMP_HALTED

    def __init__(self, halted_by: tuple[AlarmCode, ...]) -> None:
        self.halted_by = halted_by
        names = ", ".join(code.name for code in halted_by)
        super().__init__(f"delivery is halted by {names}")


class NotEnabledError(RequestError):
    """A feature (patient-activated doses) is not enabled."""

    code: ClassVar[ErrorCode] = ErrorCode.NOT_ENABLED

    def __init__(self, feature: str) -> None:
        self.feature = feature
        super().__init__(f"{feature} is not enabled")


class CorruptImageError(RequestError, ValueError):
    """A stored pump image is corrupt, truncated or of another format version.

    Loading never returns a half-loaded pump: it raises this instead.
    """

    code: ClassVar[ErrorCode] = ErrorCode.MALFORMED


class TimeWentBackwardsError(InternalError, ValueError):
    """The caller asked the model to go back in time: a defect in the caller."""

    def __init__(self, *, now_t: int, requested_t: int) -> None:
        self.now_t = now_t
        self.requested_t = requested_t
        super().__init__(
            f"time went backwards: model is at t={now_t} s, asked for t={requested_t} s"
        )


class RtcCeilingError(InternalError, ValueError):
    """The caller asked the model to run its RTC past the last second 32 bits hold
    (2106-02-07 06:28:15 UTC): a defect in the caller, which must stop at
    :attr:`~firmware_model.pump.Pump.max_t`. Nothing was changed."""

    def __init__(self, *, requested_t: int, max_t: int, max_clock_s: int) -> None:
        self.requested_t = requested_t
        self.max_t = max_t
        self.max_clock_s = max_clock_s
        super().__init__(
            f"t={requested_t} s would run the pump RTC past its last second {max_clock_s} s: "
            f"this pump's model time ends at t={max_t} s"
        )


class WrongTypeError(InternalError, TypeError):
    """A field was given a value of the wrong type (a bool or float where an int belongs)."""

    def __init__(self, *, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field} must be {expected}, got {type(value).__name__} {value!r}")


class InvalidProfileError(InternalError, ValueError):
    """A pump profile is inconsistent: a configuration defect, not the peer's."""

    def __init__(self, *, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"profile {field} = {_with_unit(value, unit_of(field))}: {rule}")
