"""A scenario as typed values: the pump's starting state and the steps, validated.

The loader (:mod:`emulator.scenarios.loader`) builds these from a file; each
value is a frozen, keyword-only dataclass holding base units (nL, nL/day,
mcg/mL, seconds) and the line it came from, so the executor never parses
text and a failing step can name its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from emulator.mri import MriExit
from emulator.presets import implant_record
from emulator.scenarios.units import Expectation, TimeExpectation, TimeRef
from protocol.enums import AlarmCode, BolusKind, ErrorCode, EventCode, Mode, StopReason, ValveModel
from protocol.messages import FlexStep, ImplantFields, PrescriptionSpec

DEFAULT_START_S = 1_789_977_600
"""2026-09-21T08:00:00Z, a Monday morning in clinic: the start when a file names none."""

TIMEOUT = "TIMEOUT"
"""``expect_error: TIMEOUT``: the pump is expected not to answer at all."""

NG_PER_UG = 1000
"""Wire doses are nanograms; scenarios write micrograms."""


# --- prescriptions ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FlexStepInput:
    start_min: int
    """Minutes after midnight (UTC, the pump clock)."""
    dose_ug_per_day: Fraction


@dataclass(frozen=True, kw_only=True)
class PrescriptionInput:
    """A basal prescription as a scenario writes it: doses (mcg/day) of the drug in the pump.

    The concentration is not written: a prescription is always for the drug the pump
    holds (a refill's prescription: the drug it adds)."""

    mode: Mode
    dose_ug_per_day: Fraction | None = None
    """SIMPLE only."""
    flex: tuple[FlexStepInput, ...] = ()
    """FLEX only: one daily profile (empty with ``weekly``)."""
    weekly: tuple[tuple[FlexStepInput, ...], ...] = ()
    """FLEX only: seven daily profiles, Monday first (``flex_weekly``)."""


# --- the starting state ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PumpStart:
    """What the pump holds and runs when the scenario begins."""

    model: int = 20
    serial: str = "VP20-QA0001"
    reservoir_nl: int = 20_000_000
    concentration_ug_per_ml: int = 500
    prescription: PrescriptionInput = field(
        default_factory=lambda: PrescriptionInput(mode=Mode.SIMPLE, dose_ug_per_day=Fraction(100))
    )
    battery_permille: int = 1000
    alarm_volume_nl: int | None = None
    """None: the model's default (2 mL)."""
    catheter_length_cm: int = 50
    """The TRUE catheter (the emulator's fluid path), cm; by default the implant record's."""
    implant: ImplantFields | None = field(default_factory=lambda: implant_record(length_cm=50))
    """The implant record stored in the pump (None: none written); by default one that
    matches the true catheter."""
    start_s: int = DEFAULT_START_S
    """Pump clock at the start, Unix seconds (UTC)."""
    kind: ValveModel = ValveModel.MOTOR
    """Motor-driven (the default) or a valve pump model: what an MRI does to it."""


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
    """The refill transaction: emptied, refilled, the prescription for the new drug and,
    when the concentration changes, the bridge, all staged and committed at once."""

    removed_nl: int | None
    """None: remove exactly what the pump expects."""
    added_nl: int
    concentration_ug_per_ml: int
    prescription: PrescriptionInput | None = None
    """What runs on the new drug; None with ``same_dose`` (or an unchanged drug): the
    prescription running now, the same doses of the new drug."""
    same_dose: bool = False
    bridge: bool = False
    lot: str = ""
    nonstandard: bool = False
    expect_discrepancy: Expectation | None = None
    expect_flagged: bool | None = None


@dataclass(frozen=True, kw_only=True)
class StartBolus:
    """THERAPEUTIC: ``dose_ug`` over ``duration_s``; PRIMING: ``volume_nl`` at the maximum
    rate (None: the dead volume of the implant record)."""

    kind: BolusKind
    volume_nl: int | None = None
    dose_ug: Fraction | None = None
    duration_s: int = 0
    """0 for PRIMING (the maximum rate)."""


@dataclass(frozen=True, kw_only=True)
class CancelBridge:
    """End a running bridge now."""


@dataclass(frozen=True, kw_only=True)
class ResetValve:
    """Reopen a closed flow-activated valve (RESET_VALVE; valve pump models)."""


@dataclass(frozen=True, kw_only=True)
class SetImplant:
    """Write the implant record (SET_IMPLANT)."""

    implant: ImplantFields


@dataclass(frozen=True, kw_only=True)
class SetClock:
    """SET_CLOCK: the clinician sets the pump's clock to ``to`` (a time, pump clock)."""

    to: TimeRef


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
    dose_ug: Fraction = Fraction(0)
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
    low_battery_reset: bool = False
    """The pump resets on a low battery: minimum rate until reprogrammed."""
    pocket_fill: bool = False
    """The next refill's drug goes into the subcutaneous pocket, not the reservoir (the pump
    believes it was filled; nothing reaches the catheter)."""


@dataclass(frozen=True, kw_only=True)
class Mri:
    """World: an MRI exposure (pump time). ``mri`` (``duration_s`` > 0): the pump enters
    the field now and leaves it ``duration_s`` later, on that second, during the steps that
    follow; ``mri_start``: it enters now; ``mri_end``: it leaves now. ``exit`` says how it
    leaves (recovery delay, telemetry-mode trap, recovery logged at the second
    interrogation). Each of these steps ends the scenario's programmer sessions (the
    patient walks into or out of the scanner): the next programmer step after the scan
    opens a new one, an interrogation."""

    start: bool
    end: bool
    duration_s: int = 0
    exit: MriExit = field(default_factory=MriExit)


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
    | CancelBridge
    | ResetValve
    | SetImplant
    | SetClock
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
    | Mri
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
    requirements: tuple[str, ...] = ()
    """Traceability: the requirement identifiers this scenario verifies (``requirement:``)."""
    case: str = ""
    """The row of a parametrised file (``parameters:``) this scenario is; empty otherwise."""


# --- conversions for the wire and the firmware model -----------------------------------------


def dose_ng(dose_ug: Fraction) -> int:
    """A dose in whole nanograms (the loader refuses finer doses)."""
    value = dose_ug * NG_PER_UG
    if value.denominator != 1:
        raise ValueError(f"{float(dose_ug)} mcg is not a whole number of nanograms")
    return int(value)


def prescription_spec(p: PrescriptionInput, concentration_ug_per_ml: int) -> PrescriptionSpec:
    """The wire prescription for ``p``: its doses of the drug at ``concentration_ug_per_ml``."""
    match p.mode:
        case Mode.SIMPLE:
            assert p.dose_ug_per_day is not None
            return PrescriptionSpec.simple(
                dose_ng(p.dose_ug_per_day), concentration_ug_per_ml=concentration_ug_per_ml
            )
        case Mode.FLEX if p.weekly:
            return PrescriptionSpec.flex_weekly(
                (
                    (
                        FlexStep(start_min=s.start_min, dose_ng_per_day=dose_ng(s.dose_ug_per_day))
                        for s in day
                    )
                    for day in p.weekly
                ),
                concentration_ug_per_ml=concentration_ug_per_ml,
            )
        case Mode.FLEX:
            return PrescriptionSpec.flex(
                (
                    FlexStep(start_min=s.start_min, dose_ng_per_day=dose_ng(s.dose_ug_per_day))
                    for s in p.flex
                ),
                concentration_ug_per_ml=concentration_ug_per_ml,
            )
        case Mode.MINIMUM_RATE:
            return PrescriptionSpec.minimum_rate(concentration_ug_per_ml=concentration_ug_per_ml)
        case _:
            return PrescriptionSpec.stopped(concentration_ug_per_ml=concentration_ug_per_ml)
