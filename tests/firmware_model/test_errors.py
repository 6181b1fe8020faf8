"""The error hierarchy: wire codes, whose fault, builtin bases, messages with units."""

from __future__ import annotations

import pytest

from firmware_model.errors import (
    ConditionPersistsError,
    CorruptImageError,
    FirmwareError,
    InternalError,
    InvalidProfileError,
    InvalidStateError,
    NotEnabledError,
    OutOfRangeError,
    OverfillError,
    PatientDoseLimitError,
    PatientDoseLockoutError,
    PumpHaltedError,
    RequestError,
    TimeWentBackwardsError,
    WrongTypeError,
    unit_of,
)
from protocol.enums import AlarmCode, ErrorCode

REQUEST_ERRORS = [
    (OutOfRangeError(field="x_nl", value=1, limit=2, rule="at least"), ErrorCode.OUT_OF_RANGE),
    (OverfillError(added_nl=5, room_nl=3, capacity_nl=10), ErrorCode.OVERFILL),
    (InvalidStateError("no"), ErrorCode.INVALID_STATE),
    (ConditionPersistsError(AlarmCode.EOS), ErrorCode.CONDITION_PERSISTS),
    (PatientDoseLockoutError(seconds_remaining=5), ErrorCode.PATIENT_DOSE_LOCKOUT),
    (
        PatientDoseLimitError(doses_in_24h=4, max_per_24h=4, seconds_remaining=9),
        ErrorCode.PATIENT_DOSE_LIMIT,
    ),
    (PumpHaltedError((AlarmCode.EOS,)), ErrorCode.PUMP_HALTED),
    (NotEnabledError("patient doses"), ErrorCode.NOT_ENABLED),
    (CorruptImageError("crc"), ErrorCode.MALFORMED),
]


@pytest.mark.parametrize(("error", "code"), REQUEST_ERRORS, ids=lambda x: type(x).__name__)
def test_peer_errors_carry_their_wire_code(error: FirmwareError, code: ErrorCode) -> None:
    assert isinstance(error, RequestError)
    assert not isinstance(error, InternalError)
    assert error.code is code


@pytest.mark.parametrize(
    "error",
    [
        TimeWentBackwardsError(now_t=5, requested_t=4),
        InvalidProfileError(field="model", value=0, rule="must be > 0"),
        WrongTypeError(field="t", value=1.5, expected="an int"),
    ],
)
def test_our_own_defects_are_internal(error: FirmwareError) -> None:
    assert isinstance(error, InternalError)
    assert not isinstance(error, RequestError)
    assert error.code is ErrorCode.INTERNAL


def test_builtin_bases_where_they_fit() -> None:
    assert isinstance(OutOfRangeError(field="a", value=1, limit=2, rule="at least"), ValueError)
    assert isinstance(CorruptImageError("x"), ValueError)
    assert isinstance(TimeWentBackwardsError(now_t=1, requested_t=0), ValueError)
    assert isinstance(WrongTypeError(field="a", value=1.0, expected="an int"), TypeError)


def test_out_of_range_message_names_field_value_and_limit_with_units() -> None:
    err = OutOfRangeError(
        field="days[1].steps[2].rate_nl_per_day", value=10, limit=48_000, rule="at least"
    )
    assert str(err) == (
        "days[1].steps[2].rate_nl_per_day = 10 nL/day is out of range: "
        "must be at least 48000 nL/day"
    )
    err = OutOfRangeError(
        field="concentration_ug_per_ml", value=750, limit=(500, 1000, 2000), rule="one of"
    )
    assert str(err).endswith("must be one of 500, 1000, 2000 mcg/mL")


@pytest.mark.parametrize(
    ("field", "unit"),
    [
        ("rate_nl_per_day", "nL/day"),
        ("volume_nl", "nL"),
        ("lockout_s", "s"),
        ("start_min", "min"),
        ("concentration_ug_per_ml", "mcg/mL"),
        ("battery_permille", "permille"),
        ("max_per_24h", "per 24 h"),
        ("delivery_bias_ppm", "ppm"),
        ("serial", ""),
    ],
)
def test_units_come_from_the_field_name(field: str, unit: str) -> None:
    assert unit_of(field) == unit


def test_lockout_reports_seconds_remaining() -> None:
    err = PatientDoseLockoutError(seconds_remaining=1_234)
    assert err.seconds_remaining == 1_234
    assert "1234 s" in str(err)
