"""The shared vocabulary of the wire: every code both ends must agree on.

These enums are the single source of truth for the numbers that cross the
link. The firmware model uses them for its own state (so an alarm code in the
pump *is* the alarm code on the wire), and ``docs/protocol.md`` is generated
from them. Never renumber a member: programs in the field rely on the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, IntFlag
from types import MappingProxyType
from typing import Final

from protocol.units import Unit

PROTOCOL_VERSION = 1
"""The VER byte of every frame."""

MAX_PAYLOAD = 1024
"""Largest LEN a receiver accepts, in bytes."""


class Flags(IntFlag):
    """FLAGS byte of a frame. Bits not named here must be zero."""

    NONE = 0
    RESPONSE = 0x01
    """Pump to programmer."""
    MAC = 0x02
    """A 16-byte MAC follows the payload."""
    NOTIFY = 0x04
    """Reserved for unsolicited messages from the pump. None is defined: the pump never sets
    it (alarms are read with STATUS and READ_ALARMS), and a frame carrying it is not a
    request, so the pump ignores it."""


class Op(IntEnum):
    """Opcodes. A success response carries its request's opcode."""

    DEVICE_INFO = 0x01
    SESSION_OPEN = 0x02
    SESSION_AUTH = 0x03
    SESSION_CLOSE = 0x04
    LIMITS = 0x08

    STATUS = 0x10
    READ_PRESCRIPTION = 0x11
    STAGE_PRESCRIPTION = 0x12
    COMMIT_PRESCRIPTION = 0x13
    READ_DELIVERY = 0x14
    READ_VALVE = 0x15

    START_BOLUS = 0x20
    CANCEL_BOLUS = 0x21
    STOP_PUMP = 0x22
    RESUME_PUMP = 0x23
    CANCEL_BRIDGE = 0x24
    RESET_VALVE = 0x25

    STAGE_REFILL = 0x30
    SET_ALARM_VOLUME = 0x31
    COMMIT_REFILL = 0x32
    READ_IMPLANT = 0x33
    SET_IMPLANT = 0x34

    READ_ALARMS = 0x40
    SILENCE_ALARM = 0x41
    CLEAR_ALARM = 0x42

    READ_EVENT_LOG = 0x50

    READ_CLOCK = 0x60
    SET_CLOCK = 0x61

    READ_PATIENT_SETTINGS = 0x70
    SET_PATIENT_SETTINGS = 0x71
    PATIENT_DOSE = 0x72

    NAK = 0x7F


class ErrorCode(IntEnum):
    """First payload byte of a NAK; a UTF-8 reason follows."""

    MALFORMED = 0x01
    """The payload does not parse for this opcode."""
    UNKNOWN_OPCODE = 0x02
    NO_SESSION = 0x03
    """The command needs an authenticated session."""
    AUTH_FAILED = 0x04
    """A handshake proof did not verify."""
    LOCKED_OUT = 0x05
    """Too many failures on this link: it backs off for the seconds the reason gives."""
    BAD_MAC = 0x06
    REPLAY = 0x07
    """SEQ did not move forward (and the frame is not an exact retransmission)."""
    FORBIDDEN = 0x08
    """The session's role may not run this command."""
    SESSION_EXPIRED = 0x09
    """The session timed out while idle."""
    BAD_HANDSHAKE = 0x0A
    """A handshake message out of order."""
    OUT_OF_RANGE = 0x10
    """A value is outside the pump's limits."""
    INVALID_STATE = 0x11
    """The command does not apply in the pump's present state."""
    CHECKSUM_MISMATCH = 0x12
    """COMMIT named a checksum other than the staged prescription's."""
    OVERFILL = 0x13
    """The refill would exceed the reservoir's capacity."""
    CONDITION_PERSISTS = 0x14
    """An alarm cannot be cleared while its condition is present."""
    PATIENT_DOSE_LOCKOUT = 0x15
    """A patient dose was asked for inside the lockout interval."""
    PATIENT_DOSE_LIMIT = 0x16
    """The patient has used the maximum number of doses in 24 h."""
    PUMP_HALTED = 0x17
    """The pump cannot deliver (end of service, critical memory error)."""
    NOT_ENABLED = 0x18
    """A feature (patient doses) is not enabled."""
    CONCENTRATION_MISMATCH = 0x19
    """A prescription names another drug concentration than the one in the pump."""
    SESSION_DISPLACED = 0x20
    """A newer handshake on this link replaced the session this frame was MAC'd for
    (the NAK carries the old session's MAC); not an authentication failure."""
    STORAGE_FAILED = 0x21
    """The pump could not make the change durable, so it did not make it."""
    INTERNAL = 0x7F
    """The pump failed to execute a valid command (a defect, never expected)."""


class Role(IntEnum):
    """Who opened the session."""

    CLINICIAN = 1
    """Every command."""
    PATIENT = 2
    """Status, alarms (read and silence) and patient-activated doses only."""


class Mode(IntEnum):
    """The basal dosing mode the pump runs (a bolus runs on top, then returns)."""

    STOPPED = 0
    SIMPLE = 1
    """One rate all day."""
    FLEX = 2
    """A daily profile of up to 13 steps, optionally one per weekday."""
    MINIMUM_RATE = 3
    """Keep-open flow only."""


class BolusKind(IntEnum):
    NONE = 0
    THERAPEUTIC = 1
    """A dose over a chosen duration."""
    BRIDGE = 2
    """Reserved (never running): the bridge after a concentration change is not a bolus
    but a transition of the whole therapy, reported in STATUS's bridge fields."""
    PRIMING = 3
    """Fills an empty catheter with a volume at the maximum rate (the only bolus that runs
    there: drug and non-drug fluid mix at that rate)."""
    PATIENT = 4
    """A patient-activated dose."""


class AlarmClass(IntEnum):
    NON_CRITICAL = 1
    """Single tone, repeating about hourly."""
    CRITICAL = 2
    """Two tones, repeating about every 10 minutes."""


class AlarmCode(IntEnum):
    """Alarm identifiers; also their bit numbers in the STATUS alarm masks.

    Self-clearing alarms are active exactly while their condition holds: they clear
    themselves (logged ALARM_CLEARED) when it ends, and CLEAR_ALARM refuses them with
    CONDITION_PERSISTS. Only the memory errors latch and need CLEAR_ALARM."""

    LOW_RESERVOIR = 0
    """Self-clearing: the reservoir is at or below the alarm volume; a refill (or a lower
    alarm volume) above it clears it."""
    ERI = 1
    """Self-clearing: the battery reached its elective replacement indicator; clears only
    if the battery reads above it again (a replaced pump)."""
    MEMORY_NON_CRITICAL = 2
    """Latched: cleared by CLEAR_ALARM."""
    EMPTY_RESERVOIR = 3
    """Self-clearing, halts delivery: the reservoir is at the empty threshold; a refill
    clears it."""
    EOS = 4
    """Self-clearing, halts delivery: the battery is exhausted (end of service)."""
    MOTOR_STALL = 5
    """Self-clearing, halts delivery: the motor stalled; it clears when the motor turns
    again (logged STALL_RECOVERY)."""
    MEMORY_CRITICAL = 6
    """Latched, halts delivery: cleared by CLEAR_ALARM."""
    LOW_BATTERY_RESET = 7
    """Self-clearing, critical, does not halt: the pump reset on a low battery and runs the
    keep-open minimum rate until a prescription is committed."""

    @property
    def alarm_class(self) -> AlarmClass:
        return ALARM_CLASS[self]


ALARM_CLASS: dict[AlarmCode, AlarmClass] = {
    AlarmCode.LOW_RESERVOIR: AlarmClass.NON_CRITICAL,
    AlarmCode.ERI: AlarmClass.NON_CRITICAL,
    AlarmCode.MEMORY_NON_CRITICAL: AlarmClass.NON_CRITICAL,
    AlarmCode.EMPTY_RESERVOIR: AlarmClass.CRITICAL,
    AlarmCode.EOS: AlarmClass.CRITICAL,
    AlarmCode.MOTOR_STALL: AlarmClass.CRITICAL,
    AlarmCode.MEMORY_CRITICAL: AlarmClass.CRITICAL,
    AlarmCode.LOW_BATTERY_RESET: AlarmClass.CRITICAL,
}


class StopReason(IntEnum):
    """Why a clinician stopped the pump (recorded in the event log)."""

    NONE = 0
    """Not stopped by STOP_PUMP (in STATUS: running, or a STOPPED prescription)."""
    CLINICIAN_DECISION = 1
    MRI = 2
    CATHETER_REVISION = 3
    ADVERSE_EFFECT = 4
    OTHER = 5


class EventCode(IntEnum):
    """Event-log entry types. Each entry carries two signed 32-bit parameters,
    ``a`` and ``b``; their meaning per code is in ``EVENT_PARAMS``."""

    POWER_ON = 1
    PROGRAMMED = 2
    REFILLED = 3
    BOLUS_STARTED = 4
    BOLUS_ENDED = 5
    BOLUS_CANCELLED = 6
    ALARM_RAISED = 7
    ALARM_SILENCED = 8
    ALARM_CLEARED = 9
    MOTOR_STALL = 10
    STALL_RECOVERY = 11
    CLOCK_SET = 12
    STOPPED = 13
    RESUMED = 14
    ALARM_VOLUME_SET = 15
    PATIENT_DOSE_GRANTED = 16
    PATIENT_DOSE_REFUSED = 17
    PATIENT_SETTINGS_SET = 18
    DELIVERY_HALTED = 19
    BATTERY_SET = 20
    MEMORY_ERROR = 21
    SESSION_OPENED = 22
    SESSION_CLOSED = 23
    SECURITY = 24
    BRIDGE_STARTED = 25
    BRIDGE_ENDED = 26
    BRIDGE_CANCELLED = 27
    IMPLANT_RECORDED = 28
    LOW_BATTERY_RESET = 29
    VALVE_CLOSED = 30
    VALVE_RESET = 31


EVENT_PARAMS: dict[EventCode, tuple[str, str]] = {
    EventCode.POWER_ON: ("reservoir_nl", "concentration_ug_per_ml"),
    EventCode.PROGRAMMED: ("mode", "daily_dose_ng"),
    EventCode.REFILLED: ("added_nl", "concentration_ug_per_ml"),
    EventCode.BOLUS_STARTED: ("bolus_kind", "volume_nl"),
    EventCode.BOLUS_ENDED: ("bolus_kind", "delivered_nl"),
    EventCode.BOLUS_CANCELLED: ("bolus_kind", "delivered_nl"),
    EventCode.ALARM_RAISED: ("alarm_code", "alarm_class"),
    EventCode.ALARM_SILENCED: ("alarm_code", "unused"),
    EventCode.ALARM_CLEARED: ("alarm_code", "unused"),
    EventCode.MOTOR_STALL: ("unused", "unused"),
    EventCode.STALL_RECOVERY: ("stall_duration_s", "unused"),
    EventCode.CLOCK_SET: ("delta_s", "unused"),
    EventCode.STOPPED: ("stop_reason", "unused"),
    EventCode.RESUMED: ("mode", "unused"),
    EventCode.ALARM_VOLUME_SET: ("alarm_volume_nl", "unused"),
    EventCode.PATIENT_DOSE_GRANTED: ("dose_ng", "doses_in_24h"),
    EventCode.PATIENT_DOSE_REFUSED: ("error_code", "unused"),
    EventCode.PATIENT_SETTINGS_SET: ("dose_ng", "max_per_24h"),
    EventCode.DELIVERY_HALTED: ("alarm_code", "unused"),
    EventCode.BATTERY_SET: ("battery_permille", "unused"),
    EventCode.MEMORY_ERROR: ("alarm_code", "unused"),
    EventCode.SESSION_OPENED: ("role", "unused"),
    EventCode.SESSION_CLOSED: ("role", "unused"),
    EventCode.SECURITY: ("error_code", "opcode"),
    EventCode.BRIDGE_STARTED: ("volume_nl", "concentration_ug_per_ml"),
    EventCode.BRIDGE_ENDED: ("volume_nl", "concentration_ug_per_ml"),
    EventCode.BRIDGE_CANCELLED: ("volume_nl", "concentration_ug_per_ml"),
    EventCode.IMPLANT_RECORDED: ("catheter_length_mm", "origin"),
    EventCode.LOW_BATTERY_RESET: ("battery_permille", "unused"),
    EventCode.VALVE_CLOSED: ("passed_nl", "unused"),
    EventCode.VALVE_RESET: ("closed_duration_s", "unused"),
}
"""Names of the two parameters ``a`` and ``b`` of each event (their units:
:data:`EVENT_PARAM_UNITS`)."""

EVENT_PARAM_UNITS: Final[Mapping[str, Unit]] = MappingProxyType(
    {
        "reservoir_nl": Unit.NL,
        "concentration_ug_per_ml": Unit.UG_PER_ML,
        "mode": Unit.ENUM,
        "daily_dose_ng": Unit.NG_PER_DAY,
        "added_nl": Unit.NL,
        "bolus_kind": Unit.ENUM,
        "volume_nl": Unit.NL,
        "delivered_nl": Unit.NL,
        "alarm_code": Unit.ENUM,
        "alarm_class": Unit.ENUM,
        "stall_duration_s": Unit.S,
        "delta_s": Unit.S,
        "stop_reason": Unit.ENUM,
        "alarm_volume_nl": Unit.NL,
        "dose_ng": Unit.NG,
        "doses_in_24h": Unit.COUNT,
        "error_code": Unit.ENUM,
        "max_per_24h": Unit.COUNT,
        "battery_permille": Unit.PERMILLE,
        "role": Unit.ENUM,
        "opcode": Unit.ENUM,
        "catheter_length_mm": Unit.MM,
        "origin": Unit.ENUM,
        "passed_nl": Unit.NL,
        "closed_duration_s": Unit.S,
    }
)
"""The unit of every event parameter named in :data:`EVENT_PARAMS` ("unused" has none);
an ENUM parameter's enum is :data:`EVENT_PARAM_ENUMS`."""

EVENT_PARAM_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "reservoir_nl": "reservoir",
        "concentration_ug_per_ml": "concentration",
        "daily_dose_ng": "daily_dose",
        "added_nl": "added",
        "volume_nl": "volume",
        "delivered_nl": "delivered",
        "stall_duration_s": "stall_duration",
        "delta_s": "delta",
        "alarm_volume_nl": "alarm_volume",
        "dose_ng": "dose",
        "battery_permille": "battery",
        "catheter_length_mm": "catheter_length",
        "passed_nl": "passed",
        "closed_duration_s": "closed_duration",
    }
)
"""The name an event parameter is written under by people (``pumpctl log``, scenario
files): its wire name without the unit; a parameter not listed keeps its wire name."""


class ValveModel(IntEnum):
    """How the pump meters drug, as far as an MRI is concerned (READ_VALVE; domain.md)."""

    MOTOR = 0
    """A motor-driven pump (SynchroMed-like, the default): a scanner's field stops the rotor
    (a motor stall) for the exposure."""
    VALVE_DISCHARGE = 1
    """The original valve pump (Prometra-like): a strong field can open the inlet and outlet
    valves and discharge the reservoir and catheter at once (overdose); empty the reservoir
    before an MRI."""
    VALVE_FLOW_ACTIVATED = 2
    """The later valve pump: a flow-activated valve closes after about 10 uL and stops all
    delivery until it is reset (RESET_VALVE; withdrawal risk)."""


class Origin(IntEnum):
    """Origin of the spasticity, as the implant record documents it (it sets the usual
    titration range: spinal +10-30 %, cerebral +5-15 % a day)."""

    UNKNOWN = 0
    SPINAL = 1
    CEREBRAL = 2


EVENT_PARAM_ENUMS: Final[Mapping[str, type[IntEnum]]] = MappingProxyType(
    {
        "mode": Mode,
        "bolus_kind": BolusKind,
        "alarm_code": AlarmCode,
        "alarm_class": AlarmClass,
        "stop_reason": StopReason,
        "role": Role,
        "error_code": ErrorCode,
        "opcode": Op,
        "origin": Origin,
    }
)
"""The enum of each event parameter whose unit is ENUM."""
