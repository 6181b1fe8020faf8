"""What the backend reports about the emulated world: the pump's facts, the faults,
the patient's risk, the alarm tones and the true state sampled."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

from programmer_gui.core.educator.backend import (
    EducatorValueError,
    SpeedSetting,
    _require_int,
    _require_real,
)
from programmer_gui.core.response import ResponseChange
from protocol.enums import AlarmClass, AlarmCode, BolusKind
from protocol.units import (
    format_duration,
)


@dataclass(frozen=True, kw_only=True)
class PumpFacts:
    """What does not change while the window is open: the pump and its world."""

    serial: str
    model: int
    """Reservoir size in mL names the model."""
    start_pump_s: int
    """Pump time when the demonstration started ("day 0"), Unix seconds."""
    catheter_length_cm: int
    dead_volume_nl: int
    """Pump tubing plus the TRUE catheter: what the bridge must deliver before the new drug
    reaches the tip."""
    max_rate_nl_per_day: int
    """The pump's maximum rate (only a priming bolus runs at it)."""
    withdrawal_threshold_permille: int
    """The patient model flags withdrawal below this fraction of the reference level."""
    overdose_threshold_permille: int
    """... and an overdose risk above this fraction."""
    half_life_s: int
    """Spinal-fluid elimination half-life of the patient model."""

    def __post_init__(self) -> None:
        for name in (
            "model",
            "start_pump_s",
            "catheter_length_cm",
            "dead_volume_nl",
            "max_rate_nl_per_day",
            "withdrawal_threshold_permille",
            "overdose_threshold_permille",
            "half_life_s",
        ):
            _require_int(name, getattr(self, name))
        if not isinstance(self.serial, str) or not self.serial:
            raise EducatorValueError(f"serial must be a non-empty str, got {self.serial!r}")
        if self.max_rate_nl_per_day <= 0:
            raise EducatorValueError("max_rate_nl_per_day must be > 0")
        if not 0 < self.withdrawal_threshold_permille < 1000 < self.overdose_threshold_permille:
            raise EducatorValueError(
                "thresholds must satisfy 0 < withdrawal < 1000 < overdose permille"
            )


@dataclass(frozen=True, kw_only=True)
class FaultState:
    """The injected faults as the window shows them (on/off)."""

    motor_stall: bool = False
    memory_error_non_critical: bool = False
    """The non-critical memory-error alarm is active (latched until a clinician clears it)."""
    memory_error_critical: bool = False
    """The critical memory-error alarm is active: the pump does not deliver."""
    battery_permille: int = 1000
    link_dropped: bool = False
    """The telemetry link passes nothing either way."""
    link_noise: bool = False
    """Chunks on the link get bits flipped now and then."""

    def __post_init__(self) -> None:
        for name in (
            "motor_stall",
            "memory_error_non_critical",
            "memory_error_critical",
            "link_dropped",
            "link_noise",
        ):
            if not isinstance(getattr(self, name), bool):
                raise EducatorValueError(f"{name} must be a bool")
        _require_int("battery_permille", self.battery_permille)
        if self.battery_permille > 1000:
            raise EducatorValueError(
                f"battery_permille must be <= 1000, got {self.battery_permille}"
            )


class PatientRisk(enum.Enum):
    """The patient model's verdict on the spinal-fluid level."""

    NORMAL = "normal"
    WITHDRAWAL_RISK = "withdrawal_risk"
    OVERDOSE_RISK = "overdose_risk"

    @property
    def words(self) -> str:
        """For a label (never shown by colour alone)."""
        return {
            PatientRisk.NORMAL: "Normal range",
            PatientRisk.WITHDRAWAL_RISK: "WITHDRAWAL RISK",
            PatientRisk.OVERDOSE_RISK: "OVERDOSE RISK",
        }[self]


@dataclass(frozen=True, kw_only=True)
class TonePattern:
    """An alarm tone: ``tones`` tones lasting ``duration_s``, repeating every ``repeat_s``."""

    tones: int
    duration_s: int
    repeat_s: int

    def __post_init__(self) -> None:
        for name in ("tones", "duration_s", "repeat_s"):
            _require_int(name, getattr(self, name), minimum=1)
        if self.repeat_s < self.duration_s:
            raise EducatorValueError("repeat_s must be >= duration_s")

    def describe(self) -> str:
        """``two tones, 3 s, repeating every 10 min``."""
        count = {1: "single tone", 2: "two tones"}.get(self.tones, f"{self.tones} tones")
        return (
            f"{count}, {format_duration(self.duration_s)}, "
            f"repeating every {format_duration(self.repeat_s)}"
        )

    def beeps(self, span_s: int) -> tuple[tuple[float, float, int], ...]:
        """The tones sounding in the first ``span_s`` seconds as (start s, length s, pitch)
        triples: each sounding splits into ``tones`` equal tones of alternating pitch 0/1."""
        _require_int("span_s", span_s, minimum=1)
        out: list[tuple[float, float, int]] = []
        length = self.duration_s / self.tones
        start = 0
        while start < span_s:
            out.extend((start + i * length, length, i % 2) for i in range(self.tones))
            start += self.repeat_s
        return tuple(out)


@dataclass(frozen=True, kw_only=True)
class PathSegment:
    """A plug of fluid in the tubing and catheter (tip first in :attr:`TrueSample.path`)."""

    volume_nl: int
    concentration_ug_per_ml: int


@dataclass(frozen=True, kw_only=True)
class TrueSample:
    """The true state at one instant: what the pump knows and what it cannot know."""

    pump_time_s: int
    """The simulation's time (Unix seconds): the x of every plot."""
    clock_s: int
    """The pump's own clock (differs from pump_time_s only after a clinician sets it)."""
    speed: SpeedSetting
    reservoir_nl: int
    """True volume in the reservoir (the pump reports an estimate)."""
    capacity_nl: int
    alarm_volume_nl: int
    reservoir_concentration_ug_per_ml: int
    tip_concentration_ug_per_ml: int | None
    """Concentration of the fluid leaving the catheter tip next; None for an empty path."""
    path: tuple[PathSegment, ...]
    """Tubing and catheter contents, tip first."""
    delivered_to_patient_ug: float
    """Drug that has left the catheter tip since the demonstration started."""
    current_rate_nl_per_day: int
    delivering: bool
    bolus_kind: BolusKind
    alarms_active: tuple[AlarmCode, ...]
    silenced_alarms: tuple[AlarmCode, ...]
    tone: TonePattern | None
    """The pattern sounding now (the most severe alarm not silenced), if any."""
    low_reservoir_at_clock_s: int | None
    patient_level_ng_per_ml: float
    reference_ng_per_ml: float
    """Steady-state level of the dose the patient is established on."""
    withdrawal_below_ng_per_ml: float
    overdose_above_ng_per_ml: float
    patient_risk: PatientRisk
    faults: FaultState
    patient_response_ng_per_ml: float | None = None
    """The response: the level the patient's tone reflects now (lags the level); None when
    the model gives none."""
    muscle_tone: float | None = None
    """Ashworth-like tone 0-4 of the patient model (a teaching aid)."""
    response_changes: tuple[ResponseChange, ...] = ()
    """The latest changes of the prescribed dose with their forecast milestones."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "response_changes", tuple(self.response_changes))
        for name in ("pump_time_s", "clock_s", "reservoir_nl", "capacity_nl", "alarm_volume_nl"):
            _require_int(name, getattr(self, name))
        for name in (
            "delivered_to_patient_ug",
            "patient_level_ng_per_ml",
            "reference_ng_per_ml",
            "withdrawal_below_ng_per_ml",
            "overdose_above_ng_per_ml",
        ):
            _require_real(name, getattr(self, name))
        for name in ("patient_response_ng_per_ml", "muscle_tone"):
            if getattr(self, name) is not None:
                _require_real(name, getattr(self, name))
        if not isinstance(self.patient_risk, PatientRisk):
            raise EducatorValueError(f"patient_risk must be a PatientRisk: {self.patient_risk!r}")
        object.__setattr__(self, "path", tuple(self.path))
        object.__setattr__(self, "alarms_active", tuple(self.alarms_active))
        object.__setattr__(self, "silenced_alarms", tuple(self.silenced_alarms))

    @property
    def critical_alarms(self) -> tuple[AlarmCode, ...]:
        return tuple(a for a in self.alarms_active if a.alarm_class is AlarmClass.CRITICAL)

    @property
    def tip_dose_rate_ug_per_day(self) -> Fraction | None:
        """What reaches the patient now: the tip concentration at the current flow."""
        if self.tip_concentration_ug_per_ml is None:
            return None
        return Fraction(self.current_rate_nl_per_day * self.tip_concentration_ug_per_ml, 1_000_000)

    @property
    def old_drug_in_path_nl(self) -> int:
        """Fluid in the path at another concentration than the reservoir's (still to come)."""
        return sum(
            s.volume_nl
            for s in self.path
            if s.concentration_ug_per_ml != self.reservoir_concentration_ug_per_ml
        )
