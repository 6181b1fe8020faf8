"""The message catalogue: one typed message per command and per response.

Every message is a frozen, keyword-only dataclass validated on construction
(the ranges of its wire types, plus the few structural rules named on the
class), so an invalid command cannot be built. Each field declares its wire
type (:mod:`protocol.wire`), its unit (:class:`~protocol.units.Unit`) and its
description in its ``Annotated`` metadata; :mod:`protocol.describe` turns them
into words and :mod:`protocol.payload` into bytes. :func:`encode_payload`,
:func:`decode_request` and :func:`decode_response` speak dataclasses only.

This module is the catalogue (a new message goes here, in opcode order, and into
:data:`MESSAGE_CLASSES`); it re-exports the wire type system, the prescription and the
codec, so ``from protocol import messages as m; m.UInt, m.encode_payload`` keep working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final

from protocol.enums import (
    ALARM_CLASS,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Mode,
    Op,
    Origin,
    Role,
    StopReason,
    ValveModel,
)
from protocol.errors import InvalidMessage, UnknownOpcodeError
from protocol.frozen import frozen
from protocol.payload import (
    decode_payload,
    encode_payload,
    has_fast_codec,
    schema_decode_payload,
    schema_encode_payload,
)
from protocol.prescription import (
    MAX_FLEX_STEPS,
    MINUTES_PER_DAY,
    FlexStep,
    Prescription,
    PrescriptionSpec,
    PrescriptionWire,
    decode_prescription,
    encode_prescription,
    prescription_checksum,
)
from protocol.units import Unit
from protocol.wire import (
    I32,
    U8,
    U16,
    U32,
    U64,
    AlarmMask,
    AlarmSet,
    ArrayOf,
    Bool,
    Bool8,
    EnumWire,
    Message,
    RawBytes,
    Record,
    RecordWire,
    SInt32,
    Text,
    TimeOrNone,
    TimeOrNoneS,
    UInt,
    Wire,
    WireField,
    payload_schema,
    record,
    wire_fields,
)

if TYPE_CHECKING:
    from protocol.prescription import FLEX_STEP, PRESCRIPTION
else:

    def __getattr__(name: str) -> Any:
        """The construct schemas re-exported from :mod:`protocol.prescription`, built (and
        construct imported) the first time they are named."""
        if name in ("FLEX_STEP", "PRESCRIPTION"):
            from protocol import prescription  # noqa: PLC0415 - imported already

            return getattr(prescription, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FLEX_STEP",
    "I32",
    "MAX_FLEX_STEPS",
    "MINUTES_PER_DAY",
    "PRESCRIPTION",
    "U8",
    "U16",
    "U32",
    "U64",
    "AlarmMask",
    "AlarmSet",
    "ArrayOf",
    "Bool",
    "Bool8",
    "EnumWire",
    "FlexStep",
    "Message",
    "Prescription",
    "PrescriptionSpec",
    "PrescriptionWire",
    "RawBytes",
    "Record",
    "RecordWire",
    "SInt32",
    "Text",
    "TimeOrNone",
    "TimeOrNoneS",
    "UInt",
    "Unit",
    "Wire",
    "WireField",
    "decode_payload",
    "decode_prescription",
    "encode_payload",
    "encode_prescription",
    "has_fast_codec",
    "payload_schema",
    "prescription_checksum",
    "schema_decode_payload",
    "schema_encode_payload",
    "wire_fields",
]

NONCE_SIZE: Final = 16
"""Bytes of each handshake nonce."""
PROOF_SIZE: Final = 32
"""Bytes of each handshake proof (a full HMAC-SHA256)."""
MAX_STRING_BYTES: Final = 16
"""Longest serial number or firmware version, in UTF-8 bytes."""
MAX_NAK_REASON_BYTES: Final = 200
"""Longest NAK reason, in UTF-8 bytes."""
MAX_EVENT_LOG_READ: Final = 32
"""Most event-log entries one READ_EVENT_LOG may ask for (and return)."""
DEVICE_MODELS: Final = (20, 40)
"""Reservoir sizes in mL that name the pump models."""
BOLUS_KINDS_STARTABLE: Final = frozenset({BolusKind.THERAPEUTIC, BolusKind.PRIMING})
"""Bolus kinds START_BOLUS accepts (patient doses go through PATIENT_DOSE; the bridge is
part of a refill transaction, STAGE_REFILL)."""
_STOP_REASONS: Final = frozenset(r for r in StopReason if r is not StopReason.NONE)
MAX_TEXT_BYTES: Final = 32
"""Longest patient identifier, physician or catheter model, in UTF-8 bytes."""
MAX_LOT_BYTES: Final = 16
"""Longest drug lot number, in UTF-8 bytes."""
MAX_RECENT_DOSES: Final = 48
"""Most patient-dose grant times one STATUS lists (the trailing 24 h)."""


# --- nested records of responses --------------------------------------------


@record
class AlarmRecord(Record):
    """One alarm in READ_ALARMS. ``alarm_class`` must be the code's class."""

    code: Annotated[AlarmCode, EnumWire(AlarmCode)]
    alarm_class: Annotated[AlarmClass, EnumWire(AlarmClass)]
    raised_at_s: Annotated[U64, Unit.CLOCK]
    silenced: Bool
    condition_present: Bool

    def _check(self) -> None:
        if ALARM_CLASS[self.code] is not self.alarm_class:
            raise InvalidMessage(f"{self.code.name} is {ALARM_CLASS[self.code].name}")


@record
class LogEntry(Record):
    """One event-log entry; ``a`` and ``b`` mean what ``EVENT_PARAMS[code]`` says."""

    index: Annotated[U32, Unit.INDEX, "position in the log since it was created"]
    clock_s: Annotated[U64, Unit.CLOCK]
    code: Annotated[EventCode, EnumWire(EventCode, bits=16)]
    a: Annotated[I32, Unit.EVENT_PARAM]
    b: Annotated[I32, Unit.EVENT_PARAM]


# --- the messages, in opcode order ------------------------------------------


@record
class DeviceInfoRequest(Message):
    """Identify the pump. Works without a session."""

    op = Op.DEVICE_INFO
    response = False


@record
class DeviceInfoResponse(Message):
    """Who the pump is and the limits of its model."""

    op = Op.DEVICE_INFO
    response = True
    model: Annotated[
        int, UInt(8, choices=DEVICE_MODELS), Unit.ML, "reservoir size in mL names the model"
    ]
    serial: Annotated[str, Text(max_bytes=MAX_STRING_BYTES)]
    firmware_version: Annotated[str, Text(max_bytes=MAX_STRING_BYTES)]
    capacity_nl: Annotated[U32, Unit.NL]
    protocol_version: Annotated[U8, Unit.NUMBER]
    min_rate_nl_per_day: Annotated[U32, Unit.NL_PER_DAY, "lowest programmable rate"]
    max_rate_nl_per_day: Annotated[U32, Unit.NL_PER_DAY, "highest rate (boluses)"]
    minimum_mode_rate_nl_per_day: Annotated[
        U32, Unit.NL_PER_DAY, "keep-open rate of MINIMUM_RATE mode"
    ]
    empty_threshold_nl: Annotated[U32, Unit.NL, "at or below this the reservoir is empty"]
    tubing_volume_nl: Annotated[U32, Unit.NL, "dead volume of the pump's internal tubing"]
    catheter_volume_nl_per_cm: Annotated[
        U32,
        Unit.NL_PER_CM,
        "default catheter dead volume per cm (the implant record names its own)",
    ]
    battery_capacity_uc: Annotated[U64, Unit.UC, "charge of a new battery, microcoulombs"]
    battery_quiescent_drain_uc_per_s: Annotated[U32, Unit.UC_PER_S, "drain every second"]
    battery_drain_uc_per_nl: Annotated[U32, Unit.UC_PER_NL, "drain per nanolitre commanded"]
    battery_telemetry_drain_uc_per_s: Annotated[U32, Unit.UC_PER_S, "drain per second of telemetry"]
    telemetry_s_per_frame: Annotated[
        U16, Unit.S_PER_FRAME, "telemetry seconds charged per frame answered"
    ]
    eri_lead_s: Annotated[U32, Unit.S, "ERI holds while projected battery life is below this"]
    forecast_horizon_s: Annotated[U32, Unit.S, "forecasts further ahead than this are none (0)"]
    min_bolus_volume_nl: Annotated[U32, Unit.NL, "smallest bolus or patient dose volume"]
    max_bolus_duration_s: Annotated[U32, Unit.S, "longest therapeutic bolus"]


@record
class SessionOpenRequest(Message):
    """Handshake step 1: the role wanted and the programmer's fresh nonce."""

    op = Op.SESSION_OPEN
    response = False
    role: Annotated[Role, EnumWire(Role)]
    client_nonce: Annotated[bytes, RawBytes(NONCE_SIZE)]


@record
class SessionOpenResponse(Message):
    """Handshake step 2: the pump's fresh nonce and its proof of the role key."""

    op = Op.SESSION_OPEN
    response = True
    pump_nonce: Annotated[bytes, RawBytes(NONCE_SIZE)]
    pump_proof: Annotated[
        bytes, RawBytes(PROOF_SIZE), "HMAC-SHA256(K, 'vpump/pump' + role + cn + pn)"
    ]


@record
class SessionAuthRequest(Message):
    """Handshake step 3: the programmer's proof of the role key."""

    op = Op.SESSION_AUTH
    response = False
    client_proof: Annotated[
        bytes, RawBytes(PROOF_SIZE), "HMAC-SHA256(K, 'vpump/prog' + role + pn + cn)"
    ]


@record
class SessionAuthResponse(Message):
    """Handshake step 4 (the first MAC'd frame): the session is open."""

    op = Op.SESSION_AUTH
    response = True
    role: Annotated[Role, EnumWire(Role)]
    idle_timeout_s: Annotated[U16, Unit.S, "the session ends after this long without a request"]


@record
class SessionCloseRequest(Message):
    """End the session."""

    op = Op.SESSION_CLOSE
    response = False


@record
class SessionCloseResponse(Message):
    """The session is closed."""

    op = Op.SESSION_CLOSE
    response = True


@record
class LimitsRequest(Message):
    """Read the limits the pump enforces (so a programmer can check values before sending)."""

    op = Op.LIMITS
    response = False


@record
class LimitsResponse(Message):
    """The limits of this pump's model; rates and volumes of the model are in DEVICE_INFO.
    A value outside them is refused with OUT_OF_RANGE."""

    op = Op.LIMITS
    response = True
    min_alarm_volume_nl: Annotated[U32, Unit.NL, "lowest low-reservoir alarm volume"]
    max_alarm_volume_nl: Annotated[U32, Unit.NL, "highest low-reservoir alarm volume"]
    min_bolus_volume_nl: Annotated[U32, Unit.NL, "smallest bolus (any kind)"]
    max_bolus_volume_nl: Annotated[
        U32, Unit.NL, "largest clinician bolus (the reservoir's capacity)"
    ]
    max_bolus_duration_s: Annotated[
        U32, Unit.S, "longest therapeutic bolus; the shortest runs just below the maximum rate"
    ]
    max_patient_dose_volume_nl: Annotated[U32, Unit.NL, "largest patient-activated dose"]
    min_patient_lockout_s: Annotated[U32, Unit.S, "shortest lockout between patient doses"]
    max_patient_lockout_s: Annotated[U32, Unit.S, "longest lockout between patient doses"]
    max_patient_doses_per_24h: Annotated[U8, Unit.COUNT, "highest maximum of patient doses in 24 h"]
    min_concentration_ug_per_ml: Annotated[
        U32, Unit.UG_PER_ML, "lowest concentration with allow_nonstandard"
    ]
    max_concentration_ug_per_ml: Annotated[
        U32, Unit.UG_PER_ML, "highest concentration with allow_nonstandard"
    ]
    standard_concentrations_ug_per_ml: Annotated[
        tuple[int, ...],
        ArrayOf(UInt(32), max_count=16),
        Unit.UG_PER_ML,
        "accepted without allow_nonstandard",
    ]
    max_flex_steps: Annotated[U8, Unit.COUNT, "steps in one flex day profile, at most"]
    flex_step_granularity_min: Annotated[U8, Unit.MIN, "flex steps start on multiples of this"]


@record
class StatusRequest(Message):
    """Read the pump's state."""

    op = Op.STATUS
    response = False


@record
class DoseGrant(Record):
    """A patient dose granted in the last 24 h (STATUS lists them for forecasts)."""

    at_s: Annotated[U64, Unit.CLOCK, "pump clock of the grant"]


@record
class StatusResponse(Message):
    """The pump's state and forecasts at ``clock_s``.

    ``mode`` is STOPPED whenever the clinician stopped therapy (STOP_PUMP, with
    ``stop_reason``, or a committed STOPPED prescription, with ``stop_reason``
    NONE). ``delivering`` is true only while drug moves: never in STOPPED, and
    false while a fault halts delivery (``halted_by``: empty reservoir, end of
    service, motor stall, critical memory error); a fault's recovery restores
    delivery by itself without touching the mode. Every ``*_at_s`` is pump
    clock; the forecasts follow :mod:`protocol.forecast` and a programmer that
    runs it on this STATUS (with READ_PRESCRIPTION, READ_PATIENT_SETTINGS and
    DEVICE_INFO) gets the same seconds.
    """

    op = Op.STATUS
    response = True
    clock_s: Annotated[U64, Unit.CLOCK, "pump clock, Unix seconds"]
    mode: Annotated[Mode, EnumWire(Mode), "STOPPED while therapy is stopped"]
    stop_reason: Annotated[StopReason, EnumWire(StopReason), "why STOP_PUMP stopped it"]
    delivering: Annotated[Bool, "drug is moving now"]
    halted_by: Annotated[AlarmSet, "faults stopping delivery now"]
    bolus_kind: Annotated[BolusKind, EnumWire(BolusKind), "NONE when no bolus runs"]
    bolus_dose_ng: Annotated[U32, Unit.NG, "dose of the running bolus (0: priming, a volume)"]
    bolus_volume_nl: Annotated[
        U32, Unit.NL, "volume of the running bolus (its part since a bridge ended)"
    ]
    bolus_duration_s: Annotated[U32, Unit.S]
    bolus_started_at_s: TimeOrNoneS
    bolus_remaining_nl: Annotated[U32, Unit.NL]
    bolus_ends_at_s: TimeOrNoneS
    basal_rate_nl_per_day: Annotated[
        U32, Unit.NL_PER_DAY, "the programmed basal rate at this instant"
    ]
    current_rate_nl_per_day: Annotated[
        U32, Unit.NL_PER_DAY, "what moves now (a bolus's mean rate; 0 if not)"
    ]
    daily_dose_ng: Annotated[
        U32, Unit.NG_PER_DAY, "today's basal dose over 24 h (00:00-24:00 pump clock)"
    ]
    daily_volume_nl: Annotated[
        U32, Unit.NL_PER_DAY, "today's basal volume over 24 h at the rates in force"
    ]
    concentration_ug_per_ml: Annotated[U32, Unit.UG_PER_ML, "the drug in the reservoir"]
    bridge_remaining_nl: Annotated[U32, Unit.NL, "volume left to deliver at the old concentration"]
    bridge_concentration_ug_per_ml: Annotated[
        U32, Unit.UG_PER_ML, "the old drug the bridge computes at (0: none)"
    ]
    bridge_ends_at_s: Annotated[TimeOrNoneS, "forecast end of the bridge"]
    basal_remainder: Annotated[
        U32, Unit.NL_S_PER_DAY, "sub-nanolitre remainder of the basal integral (nL*s/day)"
    ]
    reservoir_nl: Annotated[U32, Unit.NL, "estimated volume in the reservoir"]
    capacity_nl: Annotated[U32, Unit.NL]
    alarm_volume_nl: Annotated[U32, Unit.NL, "low-reservoir alarm volume"]
    alarms_active: AlarmSet
    alarms_silenced: AlarmSet
    low_reservoir_alarm_at_s: TimeOrNoneS
    empty_at_s: TimeOrNoneS
    battery_permille: Annotated[int, UInt(16, maximum=1000), Unit.PERMILLE]
    battery_uc: Annotated[U64, Unit.UC, "remaining battery charge, microcoulombs"]
    eri_at_s: Annotated[TimeOrNoneS, "elective replacement indicator date"]
    prescription_checksum: Annotated[U32, Unit.CHECKSUM, "checksum of the active prescription"]
    recent_doses: Annotated[
        tuple[DoseGrant, ...],
        ArrayOf(RecordWire(DoseGrant), max_count=MAX_RECENT_DOSES),
        "patient doses granted in the last 24 h, oldest first",
    ]


@record
class ReadPrescriptionRequest(Message):
    """Read the active prescription."""

    op = Op.READ_PRESCRIPTION
    response = False


@record
class ReadPrescriptionResponse(Message):
    """The active prescription and its checksum."""

    op = Op.READ_PRESCRIPTION
    response = True
    prescription: Prescription
    checksum: Annotated[U32, Unit.CHECKSUM, "prescription_checksum(prescription)"]


@record
class StagePrescriptionRequest(Message):
    """Stage a prescription (not yet running) for COMMIT."""

    op = Op.STAGE_PRESCRIPTION
    response = False
    prescription: Prescription


@record
class StagePrescriptionResponse(Message):
    """The checksum of what the pump staged, to compare before COMMIT."""

    op = Op.STAGE_PRESCRIPTION
    response = True
    checksum: Annotated[U32, Unit.CHECKSUM]


@record
class CommitPrescriptionRequest(Message):
    """Run the staged prescription, named by its checksum."""

    op = Op.COMMIT_PRESCRIPTION
    response = False
    checksum: Annotated[U32, Unit.CHECKSUM]


@record
class CommitPrescriptionResponse(Message):
    """The checksum of the prescription now running."""

    op = Op.COMMIT_PRESCRIPTION
    response = True
    checksum: Annotated[U32, Unit.CHECKSUM]


@record
class ReadDeliveryRequest(Message):
    """Is drug moving, since when, and when was the pump last refilled (the patient role may
    read this: what an emergency department needs beyond STATUS)."""

    op = Op.READ_DELIVERY
    response = False


@record
class ReadDeliveryResponse(Message):
    """Delivering now or not, since which pump-clock second, and the last refill."""

    op = Op.READ_DELIVERY
    response = True
    delivering: Annotated[Bool, "drug is moving now (as STATUS)"]
    since_s: Annotated[U64, Unit.CLOCK, "delivering since (or not delivering since), pump clock"]
    last_refill_at_s: Annotated[TimeOrNoneS, "pump clock of the last refill"]


@record
class StartBolusRequest(Message):
    """Start a bolus: THERAPEUTIC, a dose (``dose_ng``) over ``duration_s``; PRIMING, a
    volume (``volume_nl``) at the maximum rate (``duration_s`` 0). The other field is 0."""

    op = Op.START_BOLUS
    response = False
    kind: Annotated[BolusKind, EnumWire(BolusKind, allowed=BOLUS_KINDS_STARTABLE)]
    dose_ng: Annotated[U32, Unit.NG, "THERAPEUTIC: the dose (0 for PRIMING)"]
    volume_nl: Annotated[U32, Unit.NL, "PRIMING: the volume (0 for THERAPEUTIC)"]
    duration_s: Annotated[U32, Unit.S, "THERAPEUTIC: over how long; PRIMING: 0 (maximum rate)"]

    def _check(self) -> None:
        if self.kind is BolusKind.THERAPEUTIC:
            if self.duration_s == 0 or self.dose_ng == 0 or self.volume_nl != 0:
                raise InvalidMessage(
                    "a THERAPEUTIC bolus needs dose_ng > 0, duration_s > 0 and volume_nl 0"
                )
        elif self.volume_nl == 0 or self.dose_ng != 0 or self.duration_s != 0:
            raise InvalidMessage(
                "a PRIMING bolus needs volume_nl > 0, dose_ng 0 and duration_s 0 (maximum rate)"
            )


@record
class StartBolusResponse(Message):
    """The bolus as the pump will deliver it (its volume at the concentration in force)."""

    op = Op.START_BOLUS
    response = True
    dose_ng: Annotated[U32, Unit.NG]
    volume_nl: Annotated[U32, Unit.NL]
    duration_s: Annotated[U32, Unit.S]
    ends_at_s: Annotated[U64, Unit.CLOCK]


@record
class CancelBolusRequest(Message):
    """Cancel the running bolus."""

    op = Op.CANCEL_BOLUS
    response = False


@record
class CancelBolusResponse(Message):
    """What the cancelled bolus had delivered."""

    op = Op.CANCEL_BOLUS
    response = True
    delivered_nl: Annotated[U32, Unit.NL]


@record
class StopPumpRequest(Message):
    """Stop delivery, with the reason for the event log."""

    op = Op.STOP_PUMP
    response = False
    reason: Annotated[StopReason, EnumWire(StopReason, allowed=_STOP_REASONS)]


@record
class StopPumpResponse(Message):
    """The pump is stopped."""

    op = Op.STOP_PUMP
    response = True


@record
class ResumePumpRequest(Message):
    """Resume the therapy that STOP_PUMP interrupted (a STOPPED prescription is changed by
    programming, not resumed)."""

    op = Op.RESUME_PUMP
    response = False


@record
class ResumePumpResponse(Message):
    """The mode now running."""

    op = Op.RESUME_PUMP
    response = True
    mode: Annotated[Mode, EnumWire(Mode)]


@record
class CancelBridgeRequest(Message):
    """End a running bridge now: rates use the new concentration from this second."""

    op = Op.CANCEL_BRIDGE
    response = False


@record
class CancelBridgeResponse(Message):
    """What the cancelled bridge had delivered and what it left."""

    op = Op.CANCEL_BRIDGE
    response = True
    delivered_nl: Annotated[U32, Unit.NL]
    remaining_nl: Annotated[U32, Unit.NL]


@record
class ReadValveRequest(Message):
    """How the pump meters drug as far as an MRI is concerned (a motor, or one of the two
    valve models), and whether a flow-activated valve has closed."""

    op = Op.READ_VALVE
    response = False


@record
class ReadValveResponse(Message):
    """The pump's valve model and the state of its flow-activated valve."""

    op = Op.READ_VALVE
    response = True
    valve_model: Annotated[ValveModel, EnumWire(ValveModel), "motor or valve model"]
    closed: Annotated[Bool, "a flow-activated valve closed: no delivery until RESET_VALVE"]
    closed_since_s: Annotated[TimeOrNoneS, "pump clock the valve closed"]


@record
class ResetValveRequest(Message):
    """Reopen a closed flow-activated valve: delivery resumes from this second."""

    op = Op.RESET_VALVE
    response = False


@record
class ResetValveResponse(Message):
    """How long the valve had been closed (no drug delivered)."""

    op = Op.RESET_VALVE
    response = True
    closed_for_s: Annotated[U32, Unit.S, "seconds the valve was closed"]


@record
class StageRefillRequest(Message):
    """Stage a refill as one transaction: the reservoir emptied (``removed_nl``) and
    refilled (``added_nl`` of ``concentration_ug_per_ml``), the prescription to run on
    the new drug (it must name the new concentration) and, when the concentration
    changes, whether to bridge. Nothing changes until COMMIT_REFILL names the checksum."""

    op = Op.STAGE_REFILL
    response = False
    removed_nl: Annotated[U32, Unit.NL, "everything drawn out of the reservoir"]
    added_nl: Annotated[U32, Unit.NL]
    concentration_ug_per_ml: Annotated[U32, Unit.UG_PER_ML, "of the drug added"]
    allow_nonstandard: Annotated[Bool, "accept a concentration outside the standard ones"]
    bridge: Annotated[Bool, "run the bridge (required false when the concentration is kept)"]
    drug_lot: Annotated[str, Text(max_bytes=MAX_LOT_BYTES), "lot number of the drug added"]
    prescription: Prescription


@record
class StageRefillResponse(Message):
    """The staged refill: its checksum (crc32 of the request payload) and what it will do."""

    op = Op.STAGE_REFILL
    response = True
    checksum: Annotated[U32, Unit.CHECKSUM]
    expected_nl: Annotated[U32, Unit.NL, "volume the pump expects to be removed"]
    discrepancy_nl: Annotated[I32, Unit.NL, "removed - expected"]
    discrepancy_flagged: Annotated[Bool, "over the model's threshold (possible pocket fill)"]
    bridge_volume_nl: Annotated[U32, Unit.NL, "dead volume the bridge runs for (0: no bridge)"]


@record
class CommitRefillRequest(Message):
    """Apply the staged refill, named by its checksum, all at once."""

    op = Op.COMMIT_REFILL
    response = False
    checksum: Annotated[U32, Unit.CHECKSUM]


@record
class CommitRefillResponse(Message):
    """The refill's reconciliation, the new reservoir state and the bridge."""

    op = Op.COMMIT_REFILL
    response = True
    expected_nl: Annotated[U32, Unit.NL, "volume the pump expected to be removed"]
    discrepancy_nl: Annotated[I32, Unit.NL, "removed - expected"]
    discrepancy_flagged: Annotated[Bool, "over the model's threshold (possible pocket fill)"]
    reservoir_nl: Annotated[U32, Unit.NL]
    prescription_checksum: Annotated[U32, Unit.CHECKSUM, "checksum of the prescription now running"]
    bridge_volume_nl: Annotated[U32, Unit.NL, "dead volume the bridge runs for (0: no bridge)"]
    bridge_ends_at_s: Annotated[TimeOrNoneS, "forecast end of the bridge"]
    low_reservoir_alarm_at_s: TimeOrNoneS


@record
class ImplantFields(Record):
    """The implant record: the clinician's record of what was implanted (it may differ
    from the real catheter: the emulator keeps that apart)."""

    catheter_model: Annotated[str, Text(max_bytes=MAX_TEXT_BYTES)]
    catheter_volume_nl_per_cm: Annotated[
        int,
        UInt(32, minimum=1, maximum=100_000),
        Unit.NL_PER_CM,
        "dead volume per cm of this catheter model",
    ]
    catheter_length_mm: Annotated[
        int, UInt(16, minimum=1, maximum=3_000), Unit.MM, "after trimming"
    ]
    catheter_length_uncertainty_mm: Annotated[
        int, UInt(16, maximum=1_000), Unit.MM, "+/- on the length (0: exact)"
    ]
    implanted_at_s: Annotated[TimeOrNoneS, "implant date, pump clock"]
    patient_id: Annotated[str, Text(max_bytes=MAX_TEXT_BYTES)]
    origin: Annotated[Origin, EnumWire(Origin), "of the spasticity"]
    physician: Annotated[str, Text(max_bytes=MAX_TEXT_BYTES)]

    def _check(self) -> None:
        if self.catheter_length_uncertainty_mm >= self.catheter_length_mm:
            raise InvalidMessage("catheter_length_uncertainty_mm must be below the length")


@record
class ReadImplantRequest(Message):
    """Read the implant record and the drug in the pump."""

    op = Op.READ_IMPLANT
    response = False


@record
class ReadImplantResponse(Message):
    """The implant record (``recorded`` false: none written yet, the other implant fields
    are then empty) and the drug in the pump (its lot and last refill)."""

    op = Op.READ_IMPLANT
    response = True
    recorded: Bool
    implant: Annotated[ImplantFields, RecordWire(ImplantFields)]
    concentration_ug_per_ml: Annotated[U32, Unit.UG_PER_ML, "the drug in the reservoir"]
    drug_lot: Annotated[str, Text(max_bytes=MAX_LOT_BYTES)]
    last_refill_at_s: Annotated[TimeOrNoneS, "pump clock of the last refill"]


@record
class SetImplantRequest(Message):
    """Write the implant record (bridge and priming volumes are computed from it)."""

    op = Op.SET_IMPLANT
    response = False
    implant: Annotated[ImplantFields, RecordWire(ImplantFields)]


@record
class SetImplantResponse(Message):
    """The record as stored."""

    op = Op.SET_IMPLANT
    response = True
    implant: Annotated[ImplantFields, RecordWire(ImplantFields)]


@record
class SetAlarmVolumeRequest(Message):
    """Set the low-reservoir alarm volume."""

    op = Op.SET_ALARM_VOLUME
    response = False
    volume_nl: Annotated[U32, Unit.NL]


@record
class SetAlarmVolumeResponse(Message):
    """The alarm volume now set."""

    op = Op.SET_ALARM_VOLUME
    response = True
    volume_nl: Annotated[U32, Unit.NL]


@record
class ReadAlarmsRequest(Message):
    """Read the alarms."""

    op = Op.READ_ALARMS
    response = False


@record
class ReadAlarmsResponse(Message):
    """Every alarm the pump holds, each code at most once."""

    op = Op.READ_ALARMS
    response = True
    alarms: Annotated[
        tuple[AlarmRecord, ...], ArrayOf(RecordWire(AlarmRecord), max_count=len(AlarmCode))
    ]

    def _check(self) -> None:
        codes = [alarm.code for alarm in self.alarms]
        if len(set(codes)) != len(codes):
            raise InvalidMessage("an alarm code appears twice")


@record
class SilenceAlarmRequest(Message):
    """Silence an alarm's tones (it stays raised)."""

    op = Op.SILENCE_ALARM
    response = False
    code: Annotated[AlarmCode, EnumWire(AlarmCode)]


@record
class SilenceAlarmResponse(Message):
    """The alarm is silenced."""

    op = Op.SILENCE_ALARM
    response = True


@record
class ClearAlarmRequest(Message):
    """Clear an alarm whose condition is gone."""

    op = Op.CLEAR_ALARM
    response = False
    code: Annotated[AlarmCode, EnumWire(AlarmCode)]


@record
class ClearAlarmResponse(Message):
    """The alarm is cleared."""

    op = Op.CLEAR_ALARM
    response = True


@record
class ReadEventLogRequest(Message):
    """Read up to ``max_count`` entries from ``first_index`` on."""

    op = Op.READ_EVENT_LOG
    response = False
    first_index: Annotated[U32, Unit.INDEX]
    max_count: Annotated[int, UInt(8, minimum=1, maximum=MAX_EVENT_LOG_READ), Unit.COUNT]


@record
class ReadEventLogResponse(Message):
    """Entries of the log (oldest first) and the log's counters."""

    op = Op.READ_EVENT_LOG
    response = True
    total_written: Annotated[U32, Unit.COUNT, "entries written since the log was created"]
    overwritten: Annotated[U32, Unit.COUNT, "oldest entries lost to the ring buffer"]
    entries: Annotated[
        tuple[LogEntry, ...], ArrayOf(RecordWire(LogEntry), max_count=MAX_EVENT_LOG_READ)
    ]


@record
class ReadClockRequest(Message):
    """Read the pump's clock."""

    op = Op.READ_CLOCK
    response = False


@record
class ReadClockResponse(Message):
    """The pump's clock."""

    op = Op.READ_CLOCK
    response = True
    clock_s: Annotated[U64, Unit.CLOCK]


@record
class SetClockRequest(Message):
    """Set the pump's clock."""

    op = Op.SET_CLOCK
    response = False
    clock_s: Annotated[U64, Unit.CLOCK]


@record
class SetClockResponse(Message):
    """The pump's clock after setting it."""

    op = Op.SET_CLOCK
    response = True
    clock_s: Annotated[U64, Unit.CLOCK]


@record
class PatientSettingsFields(Record):
    """The patient-activated dose settings (shared by three messages)."""

    enabled: Bool
    dose_ng: Annotated[U32, Unit.NG, "dose of one patient dose"]
    duration_s: Annotated[U32, Unit.S, "time to deliver one dose"]
    lockout_s: Annotated[U32, Unit.S, "minimum time between doses"]
    max_per_24h: Annotated[U8, Unit.COUNT]


@record
class ReadPatientSettingsRequest(Message):
    """Read the patient-activated dose settings."""

    op = Op.READ_PATIENT_SETTINGS
    response = False


@record
class ReadPatientSettingsResponse(PatientSettingsFields, Message):
    """The patient-activated dose settings."""

    op = Op.READ_PATIENT_SETTINGS
    response = True


@record
class SetPatientSettingsRequest(PatientSettingsFields, Message):
    """Set the patient-activated dose settings."""

    op = Op.SET_PATIENT_SETTINGS
    response = False


@record
class SetPatientSettingsResponse(PatientSettingsFields, Message):
    """The settings as the pump stored them."""

    op = Op.SET_PATIENT_SETTINGS
    response = True


@record
class PatientDoseRequest(Message):
    """The patient asks for a dose."""

    op = Op.PATIENT_DOSE
    response = False


@record
class PatientDoseResponse(Message):
    """The dose granted (its volume at the concentration in force)."""

    op = Op.PATIENT_DOSE
    response = True
    dose_ng: Annotated[U32, Unit.NG]
    volume_nl: Annotated[U32, Unit.NL]
    ends_at_s: Annotated[U64, Unit.CLOCK]
    doses_in_24h: Annotated[U8, Unit.COUNT, "doses granted in the last 24 h, this one included"]
    next_allowed_at_s: Annotated[U64, Unit.CLOCK]


@record
class Nak(Message):
    """A refusal: the request's SEQ, OP 0x7F, an error code and a UTF-8 reason."""

    op = Op.NAK
    response = True
    code: Annotated[ErrorCode, EnumWire(ErrorCode)]
    reason: Annotated[str, Text(max_bytes=MAX_NAK_REASON_BYTES, greedy=True)]


# --- the registry -----------------------------------------------------------


@frozen(eq=False, repr=False)
class Command:
    """An opcode with its request and response classes (no request for NAK)."""

    op: Op
    request: type[Message] | None
    response: type[Message]

    @property
    def summary(self) -> str:
        """The first paragraph of the request's (or NAK's) docstring, on one line."""
        cls = self.request or self.response
        paragraph = (cls.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(paragraph.split())


def _build_registry(classes: Iterable[type[Message]]) -> dict[Op, Command]:
    requests: dict[Op, type[Message]] = {}
    responses: dict[Op, type[Message]] = {}
    for cls in classes:
        table = responses if cls.response else requests
        if cls.op in table:
            raise RuntimeError(f"two messages for {cls.op!r}")  # a defect in this module
        table[cls.op] = cls
    return {
        op: Command(op=op, request=requests.get(op), response=responses[op])
        for op in Op
        if op in responses
    }


MESSAGE_CLASSES: Final[tuple[type[Message], ...]] = (
    DeviceInfoRequest,
    DeviceInfoResponse,
    SessionOpenRequest,
    SessionOpenResponse,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionCloseRequest,
    SessionCloseResponse,
    LimitsRequest,
    LimitsResponse,
    StatusRequest,
    StatusResponse,
    ReadPrescriptionRequest,
    ReadPrescriptionResponse,
    StagePrescriptionRequest,
    StagePrescriptionResponse,
    CommitPrescriptionRequest,
    CommitPrescriptionResponse,
    ReadDeliveryRequest,
    ReadDeliveryResponse,
    StartBolusRequest,
    StartBolusResponse,
    CancelBolusRequest,
    CancelBolusResponse,
    StopPumpRequest,
    StopPumpResponse,
    ResumePumpRequest,
    ResumePumpResponse,
    CancelBridgeRequest,
    CancelBridgeResponse,
    ReadValveRequest,
    ReadValveResponse,
    ResetValveRequest,
    ResetValveResponse,
    StageRefillRequest,
    StageRefillResponse,
    SetAlarmVolumeRequest,
    SetAlarmVolumeResponse,
    CommitRefillRequest,
    CommitRefillResponse,
    ReadImplantRequest,
    ReadImplantResponse,
    SetImplantRequest,
    SetImplantResponse,
    ReadAlarmsRequest,
    ReadAlarmsResponse,
    SilenceAlarmRequest,
    SilenceAlarmResponse,
    ClearAlarmRequest,
    ClearAlarmResponse,
    ReadEventLogRequest,
    ReadEventLogResponse,
    ReadClockRequest,
    ReadClockResponse,
    SetClockRequest,
    SetClockResponse,
    ReadPatientSettingsRequest,
    ReadPatientSettingsResponse,
    SetPatientSettingsRequest,
    SetPatientSettingsResponse,
    PatientDoseRequest,
    PatientDoseResponse,
    Nak,
)

REGISTRY: Final[Mapping[Op, Command]] = _build_registry(MESSAGE_CLASSES)
"""Every opcode with its request class (None for NAK) and response class."""
# Opcode (as a plain int key, which an Op finds too) -> class, without calling Op().
_REQUESTS: Final[dict[int, type[Message]]] = {
    int(op): c.request for op, c in REGISTRY.items() if c.request is not None
}
_RESPONSES: Final[dict[int, type[Message]]] = {int(op): c.response for op, c in REGISTRY.items()}


def _command(op: int) -> Command:
    try:
        return REGISTRY[Op(op)]
    except (ValueError, KeyError):
        raise UnknownOpcodeError(op) from None


def request_class(op: int) -> type[Message]:
    """The request class of opcode ``op``; UnknownOpcodeError if there is none."""
    request = _REQUESTS.get(op) if isinstance(op, int) else None
    if request is None:
        request = _command(op).request
    if request is None:
        raise UnknownOpcodeError(op)
    return request


def response_class(op: int) -> type[Message]:
    """The response class of opcode ``op`` (``Nak`` for 0x7F); UnknownOpcodeError if none."""
    response = _RESPONSES.get(op) if isinstance(op, int) else None
    return _command(op).response if response is None else response


def decode_request(op: int, payload: bytes) -> Message:
    """The request message of opcode ``op`` from its payload.

    Raises:
        UnknownOpcodeError: ``op`` names no request.
        MalformedPayload: short data, trailing bytes, a value outside its
            enum or range, bad UTF-8.
    """
    return decode_payload(request_class(op), payload)


def decode_response(op: int, payload: bytes) -> Message:
    """The response message (or :class:`Nak`) of opcode ``op`` from its payload.

    Raises:
        UnknownOpcodeError: ``op`` names no response.
        MalformedPayload: as for :func:`decode_request`.
    """
    return decode_payload(response_class(op), payload)
