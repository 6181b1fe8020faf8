"""A scenario as typed values: the pump's starting state and the steps, validated.

The loader (:mod:`emulator.scenarios.loader`) builds these from a file; each
value is a frozen, keyword-only dataclass holding base units (nL, nL/day,
mcg/mL, seconds) and the line it came from, so the executor never parses
text and a failing step can name its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from emulator.scenarios.units import Expectation, TimeExpectation, TimeRef
from firmware_model.prescription import (
    DayProfile,
    Flex,
    FlexStep,
    MinimumRate,
    Prescription,
    Simple,
    Stopped,
)
from protocol.enums import AlarmCode, BolusKind, ErrorCode, EventCode, Mode, StopReason
from protocol.messages import FlexStep as WireFlexStep
from protocol.messages import PrescriptionSpec
from protocol.units import dose_to_rate_nl_per_day

DEFAULT_START_S = 1_789_977_600
"""2026-09-21T08:00:00Z, a Monday morning in clinic: the start when a file names none."""

TIMEOUT = "TIMEOUT"
"""``expect_error: TIMEOUT``: the pump is expected not to answer at all."""


# --- prescriptions ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Rate:
    """A basal rate as written: a daily dose (converted at the pump's concentration) or a flow."""

    dose_ug_per_day: Fraction | None = None
    rate_nl_per_day: int | None = None

    def __post_init__(self) -> None:
        if (self.dose_ug_per_day is None) == (self.rate_nl_per_day is None):
            raise ValueError("a rate is a dose or a flow, exactly one")


@dataclass(frozen=True, kw_only=True)
class FlexStepInput:
    start_min: int
    """Minutes after midnight (UTC, the pump clock)."""
    rate: Rate


@dataclass(frozen=True, kw_only=True)
class PrescriptionInput:
    """A basal prescription as a scenario writes it."""

    mode: Mode
    rate: Rate | None = None
    """SIMPLE only."""
    flex: tuple[FlexStepInput, ...] = ()
    """FLEX only: one daily profile."""


# --- the starting state ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PumpStart:
    """What the pump holds and runs when the scenario begins."""

    model: int = 20
    serial: str = "VP20-QA0001"
    reservoir_nl: int = 20_000_000
    concentration_ug_per_ml: int = 500
    prescription: PrescriptionInput = field(
        default_factory=lambda: PrescriptionInput(
            mode=Mode.SIMPLE, rate=Rate(dose_ug_per_day=Fraction(100))
        )
    )
    battery_permille: int = 1000
    alarm_volume_nl: int | None = None
    """None: the model's default (2 mL)."""
    catheter_length_cm: int = 50
    start_s: int = DEFAULT_START_S
    """Pump clock at the start, Unix seconds (UTC)."""


@dataclass(frozen=True, kw_only=True)
class ProgrammerSettings:
    """How the scenario's programmer talks to the pump."""

    timeout_s: float = 1.0
    retries: int = 3


# --- steps -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Interrogate:
    """Read status, prescription, alarms and the event log (as a clinician would)."""


@dataclass(frozen=True, kw_only=True)
class Program:
    """Stage, verify and commit a prescription (``stage_only``: stage it and stop there)."""

    prescription: PrescriptionInput
    stage_only: bool = False


@dataclass(frozen=True, kw_only=True)
class Commit:
    """Commit whatever the last ``stage`` step staged."""


@dataclass(frozen=True, kw_only=True)
class Refill:
    removed_nl: int | None
    """None: remove exactly what the pump expects."""
    added_nl: int
    concentration_ug_per_ml: int
    nonstandard: bool = False
    expect_discrepancy: Expectation | None = None
    expect_flagged: bool | None = None


@dataclass(frozen=True, kw_only=True)
class StartBolus:
    kind: BolusKind
    volume_nl: int | None = None
    dose_ug: Fraction | None = None
    duration_s: int = 0
    """0: at the bolus rate (bridge and priming always)."""
    catheter_length_cm: int | None = None
    """Bridge/priming with no volume: this catheter's dead volume (default: the implant's)."""


@dataclass(frozen=True, kw_only=True)
class CancelBolus:
    pass


@dataclass(frozen=True, kw_only=True)
class Stop:
    reason: StopReason


@dataclass(frozen=True, kw_only=True)
class Resume:
    pass


@dataclass(frozen=True, kw_only=True)
class SetAlarmVolume:
    volume_nl: int


@dataclass(frozen=True, kw_only=True)
class PatientSettings:
    enabled: bool
    volume_nl: int | None = None
    dose_ug: Fraction | None = None
    duration_s: int = 0
    lockout_s: int = 0
    max_per_24h: int = 0


@dataclass(frozen=True, kw_only=True)
class PatientDose:
    """The patient asks for a dose from their own handset (a patient-role session)."""


@dataclass(frozen=True, kw_only=True)
class SilenceAlarm:
    code: AlarmCode


@dataclass(frozen=True, kw_only=True)
class ClearAlarm:
    code: AlarmCode


@dataclass(frozen=True, kw_only=True)
class Connect:
    """Open a fresh clinician session (a new link)."""


@dataclass(frozen=True, kw_only=True)
class Disconnect:
    """The programmer walks away: the link closes without closing the session."""


@dataclass(frozen=True, kw_only=True)
class Advance:
    """World: move pump time forward by ``seconds``, or to ``until``."""

    seconds: int | None = None
    until: TimeRef | None = None


@dataclass(frozen=True, kw_only=True)
class Fault:
    """World: inject or clear faults."""

    motor_stall: bool | None = None
    memory_error: bool | None = None
    """True: critical, False: non-critical, None: untouched."""
    battery_permille: int | None = None


@dataclass(frozen=True, kw_only=True)
class LinkChange:
    """World: change the link impairment (only the fields given)."""

    drop: float | None = None
    corrupt: float | None = None
    delay_ms: float | None = None
    baud: int | None = None
    disconnected: bool | None = None

    def changes(self) -> dict[str, object]:
        return {
            name: value
            for name, value in (
                ("drop", self.drop),
                ("corrupt", self.corrupt),
                ("delay_ms", self.delay_ms),
                ("baud", self.baud),
                ("disconnected", self.disconnected),
            )
            if value is not None
        }


@dataclass(frozen=True, kw_only=True)
class EventMatch:
    """An event-log entry expected (or counted): its code and some of its parameters."""

    code: EventCode
    params: tuple[tuple[str, Expectation | int], ...] = ()
    """(wire parameter name, expected): an Expectation in the parameter's unit, or an int
    (enum values, counts)."""
    count: int | None = None
    """None: at least one; else exactly this many."""
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class Expect:
    """Assertions, each on one named quantity; see :data:`FIELD_KINDS` for the names."""

    quantities: tuple[tuple[str, Expectation], ...] = ()
    dates: tuple[tuple[str, TimeExpectation], ...] = ()
    names: tuple[tuple[str, str], ...] = ()
    """mode, bolus (enum member names)."""
    flags: tuple[tuple[str, bool], ...] = ()
    """delivering, discrepancy flags."""
    alarm_sets: tuple[tuple[str, frozenset[AlarmCode]], ...] = ()
    """alarms (exactly), alarms_include, alarms_absent, silenced."""
    events: tuple[EventMatch, ...] = ()
    events_absent: tuple[EventCode, ...] = ()
    prescription: PrescriptionInput | None = None


Action = (
    Interrogate
    | Program
    | Commit
    | Refill
    | StartBolus
    | CancelBolus
    | Stop
    | Resume
    | SetAlarmVolume
    | PatientSettings
    | PatientDose
    | SilenceAlarm
    | ClearAlarm
    | Connect
    | Disconnect
    | Advance
    | Fault
    | LinkChange
    | Expect
)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step: what to do, what to call it, and the error it must end in (if any)."""

    index: int
    """1-based position in the file."""
    line: int
    verb: str
    """The action's key in the file (``refill``, ``advance`` ...)."""
    name: str
    action: Action
    expect_error: ErrorCode | str | None = None
    """An ErrorCode the pump must NAK with, or :data:`TIMEOUT`."""


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A whole scenario file, ready to run."""

    source: str
    title: str
    description: str
    pump: PumpStart
    programmer: ProgrammerSettings
    seed: int
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = ()


# --- conversions for the wire and the firmware model -----------------------------------------


def rate_nl_per_day(rate: Rate, concentration_ug_per_ml: int) -> int:
    """The flow that gives ``rate`` at a concentration (a flow is taken as it is)."""
    if rate.rate_nl_per_day is not None:
        return rate.rate_nl_per_day
    assert rate.dose_ug_per_day is not None
    return dose_to_rate_nl_per_day(rate.dose_ug_per_day, concentration_ug_per_ml)


def prescription_spec(p: PrescriptionInput, concentration_ug_per_ml: int) -> PrescriptionSpec:
    """The wire prescription for ``p`` at the pump's concentration."""
    match p.mode:
        case Mode.SIMPLE:
            assert p.rate is not None
            return PrescriptionSpec.simple(rate_nl_per_day(p.rate, concentration_ug_per_ml))
        case Mode.FLEX:
            return PrescriptionSpec.flex(
                WireFlexStep(
                    start_min=s.start_min,
                    rate_nl_per_day=rate_nl_per_day(s.rate, concentration_ug_per_ml),
                )
                for s in p.flex
            )
        case Mode.MINIMUM_RATE:
            return PrescriptionSpec.minimum_rate()
        case _:
            return PrescriptionSpec.stopped()


def firmware_prescription(p: PrescriptionInput, concentration_ug_per_ml: int) -> Prescription:
    """The firmware model's prescription for ``p`` (for the starting state)."""
    match p.mode:
        case Mode.SIMPLE:
            assert p.rate is not None
            return Simple(rate_nl_per_day=rate_nl_per_day(p.rate, concentration_ug_per_ml))
        case Mode.FLEX:
            steps = tuple(
                FlexStep(
                    start_min=s.start_min,
                    rate_nl_per_day=rate_nl_per_day(s.rate, concentration_ug_per_ml),
                )
                for s in p.flex
            )
            return Flex(days=(DayProfile(steps=steps),))
        case Mode.MINIMUM_RATE:
            return MinimumRate()
        case _:
            return Stopped()
