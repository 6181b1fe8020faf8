"""The educator's window, without Qt: what the window asks of the simulation, and the
decisions and calculations behind every figure it shows.

The educator's window (demo mode only) drives the emulated world: pump time and its
speed, injected faults, the true state the clinician's programmer cannot see (the
reservoir, the drug at the catheter tip, the patient's spinal-fluid level) and the
bytes on the wire. The GUI talks to all of it through :class:`EducatorBackend`, a
Protocol: ``programmer_gui.demo.educator_backend`` implements it over the emulator,
so nothing here (nor in the views and controllers) imports the emulator.

Helpers here:

* :class:`WireDecoder` turns the wire feed (chunks of bytes, each way) back into frames
  with :class:`protocol.codec.Deframer`, exactly as a receiver would, and describes
  each frame in one line plus its fields with units; bytes a receiver drops (link
  noise) become entries of their own with the reason.
* :func:`hex_layout` splits a frame's bytes into its fixed fields (SYNC ... CRC).
* :class:`SampleHistory` keeps the sampled true state and cuts the plot series from it.
* Clock and speed formatting, the auto plot window, the tone pattern in words and the
  fluid-path transit times and the three cases of the bridge lesson.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Final, Protocol

from programmer_gui.core.mri_lesson import (
    MRI_WITH_CHECK_STEPS,
    MRI_WITH_CHECK_TITLE,
    MRI_WITHOUT_CHECK_STEPS,
    MRI_WITHOUT_CHECK_TITLE,
    MriLessonHour,
)
from programmer_gui.core.response import TITRATION_STEPS, TITRATION_TITLE, ResponseChange
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import AlarmClass, AlarmCode, BolusKind, Flags, Op
from protocol.errors import FrameError, MalformedPayload, UnknownOpcodeError
from protocol.frames import (
    CRC_SIZE,
    HEADER_SIZE,
    MAC_SIZE,
    SYNC,
    Frame,
    decode_frame,
    encode_frame,
    frame_length,
)
from protocol.units import (
    format_concentration_ug_per_ml,
    format_dose_ug_per_day,
    format_fixed,
    format_percent,
    format_trimmed,
    nl_to_ml,
)

__all__ = [
    "BRIDGE",
    "BRIDGE_BOLUS",
    "BRIDGE_CASE_TITLES",
    "DAY_S",
    "HOUR_S",
    "LOW_RESERVOIR",
    "MAX_SPEED_FACTOR",
    "MAX_STEP_S",
    "ROUTINE_OPS",
    "SCENARIOS",
    "SPEED_FACTORS",
    "TITRATING_A_DOSE",
    "BridgeCase",
    "BridgeCaseKind",
    "BridgeComparison",
    "EducatorBackend",
    "EducatorError",
    "EducatorPeerError",
    "EducatorValueError",
    "EntryKind",
    "FaultState",
    "PathSegment",
    "PatientRisk",
    "PlotSeries",
    "PumpFacts",
    "SampleHistory",
    "Scenario",
    "SpeedSetting",
    "TonePattern",
    "TrueSample",
    "WireChunk",
    "WireDecoder",
    "WireDirection",
    "WireEntry",
    "auto_window_s",
    "bridge_lesson",
    "describe_elapsed",
    "describe_message",
    "entry_details",
    "format_pump_time",
    "format_value",
    "hex_layout",
    "hex_text",
    "is_routine",
    "low_reservoir_jump_s",
    "message_fields",
    "short_time",
    "summarize_chunks",
    "transit_time_s",
]

HOUR_S: Final = 3_600
DAY_S: Final = 86_400

SPEED_FACTORS: Final = (1, 10, 100, 1_000, 10_000, 100_000)
"""The speeds the window offers, in pump seconds per wall second."""

MAX_SPEED_FACTOR: Final = 100_000
"""The fastest speed the educator may choose (the emulator goes further; a class need not)."""

MAX_STEP_S: Final = 366 * DAY_S
"""Longest single step the window asks for (a jump to an alarm months away fits)."""


# --- errors ----------------------------------------------------------------------------------


class EducatorError(Exception):
    """Root of the educator window's errors."""


class EducatorValueError(EducatorError, ValueError):
    """The window (or its caller) asked for something out of range; nothing changed."""


class EducatorPeerError(EducatorError):
    """The simulation refused or failed a control (its message says why)."""


# --- what the backend reports ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SpeedSetting:
    """How pump time runs: paused, or ``factor`` pump seconds per wall second."""

    paused: bool
    factor: int = 1
    """Kept while paused (it is the speed a resume runs at)."""

    def __post_init__(self) -> None:
        if not isinstance(self.paused, bool):
            raise EducatorValueError(f"paused must be a bool, got {self.paused!r}")
        factor = self.factor
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise EducatorValueError(f"factor must be an int, got {factor!r}")
        if not 1 <= factor <= MAX_SPEED_FACTOR:
            raise EducatorValueError(f"factor must be 1 to {MAX_SPEED_FACTOR:,}, got {factor:,}")

    @classmethod
    def running(cls, factor: int) -> SpeedSetting:
        """Running at ``factor`` times real time."""
        return cls(paused=False, factor=factor)

    @classmethod
    def stopped(cls, factor: int = 1) -> SpeedSetting:
        """Paused (a resume would run at ``factor``)."""
        return cls(paused=True, factor=factor)

    @property
    def label(self) -> str:
        """``paused`` or ``x10,000``."""
        return "paused" if self.paused else f"x{self.factor:,}"

    def describe(self) -> str:
        """The speed in words: ``x1,000: 1 s of class time is 16 min 40 s of pump time``."""
        if self.paused:
            return "Paused: pump time stands still (the step buttons still move it)."
        if self.factor == 1:
            return "x1: real time."
        return f"x{self.factor:,}: 1 s here is {_duration_words(self.factor)} of pump time."


def _duration_words(seconds: int) -> str:
    days, rest = divmod(seconds, DAY_S)
    hours, rest = divmod(rest, HOUR_S)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")) if n
    ]
    return " ".join(parts) or "0 s"


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


def _require_int(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EducatorValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _require_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EducatorValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise EducatorValueError(f"{name} must be finite and >= 0, got {value!r}")
    return number


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
            f"{count}, {_duration_words(self.duration_s)}, "
            f"repeating every {_duration_words(self.repeat_s)}"
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


class WireDirection(enum.Enum):
    """Which way bytes crossed the telemetry link."""

    TO_PUMP = "to_pump"
    TO_PROGRAMMER = "to_programmer"

    @property
    def arrow(self) -> str:
        """``prog → pump`` or ``prog ← pump``: the arrow points where the bytes went."""
        return "prog \u2192 pump" if self is WireDirection.TO_PUMP else "prog \u2190 pump"

    @property
    def words(self) -> str:
        return "programmer to pump" if self is WireDirection.TO_PUMP else "pump to programmer"


@dataclass(frozen=True, kw_only=True)
class WireChunk:
    """Bytes that crossed the link one way in one piece, as the pump saw them."""

    wall_s: float
    pump_s: int
    direction: WireDirection
    link: str
    """Names the connection (a reconnect is a new link)."""
    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.direction, WireDirection):
            raise EducatorValueError(f"direction must be a WireDirection: {self.direction!r}")
        if type(self.data) is not bytes:
            raise EducatorValueError("data must be bytes")
        _require_int("pump_s", self.pump_s)


class EducatorBackend(Protocol):
    """What the educator's window needs from the simulation (implemented over the emulator
    by ``programmer_gui.demo.educator_backend.EmulatorEducatorBackend``).

    Every method is called on the GUI thread and returns quickly; only the wire
    callbacks arrive on another thread (the controller hands them to Qt through a
    queued signal). Controls raise :class:`EducatorValueError` for a bad value and
    :class:`EducatorPeerError` when the simulation refuses.
    """

    @property
    def facts(self) -> PumpFacts:
        """The pump and its world (fixed)."""
        ...

    def pump_time_s(self) -> int:
        """The simulation's time now, Unix seconds (cheap: no state is read)."""
        ...

    def sample(self) -> TrueSample:
        """The whole true state now (one read of the simulation)."""
        ...

    def speed(self) -> SpeedSetting:
        """How pump time runs now."""
        ...

    def set_speed(self, setting: SpeedSetting) -> None:
        """Pause, or run at ``setting.factor`` (x1 to x100,000)."""
        ...

    def step(self, seconds: int, *, samples: int = 1) -> tuple[TrueSample, ...]:
        """Move pump time forward by ``seconds`` (whatever the speed) in ``samples`` equal
        parts, sampling after each (so a plot shows what happened inside the step)."""
        ...

    def set_motor_stall(self, on: bool) -> None:
        """The motor stalls (critical alarm, no delivery) or turns again."""
        ...

    def inject_memory_error(self, *, critical: bool) -> None:
        """A memory error alarm (latched: a clinician clears it from the programmer)."""
        ...

    def set_battery_percent(self, percent: float) -> None:
        """Set the remaining battery charge, 0 to 100 %."""
        ...

    def low_battery_reset(self) -> None:
        """The pump resets on a low battery: the keep-open minimum rate until reprogrammed
        (a critical alarm)."""
        ...

    def set_link_dropped(self, dropped: bool) -> None:
        """Cut the telemetry link (nothing passes) or restore it."""
        ...

    def set_link_noise(self, on: bool) -> None:
        """Flip bits in some chunks on the link, or stop."""
        ...

    def wire_history(self) -> tuple[WireChunk, ...]:
        """The chunks recorded so far (the most recent few hundred), oldest first."""
        ...

    def bridge_comparison(
        self, *, old_concentration_ug_per_ml: int, new_concentration_ug_per_ml: int
    ) -> BridgeComparison:
        """The bridge lesson's three cases for a refill from ``old`` to ``new`` at the
        established dose, on the world's true catheter and patient model."""
        ...

    def mri_comparison(self) -> tuple[MriLessonHour, ...]:
        """The MRI lessons' numbers: this patient through a 45 min MRI that left the pump in
        telemetry mode, hour by hour for 24 h, with and without the post-scan check."""
        ...

    def subscribe_wire(self, callback: Callable[[WireChunk], None]) -> None:
        """Call ``callback`` with every chunk from now on (on the simulation's thread)."""
        ...

    def unsubscribe_wire(self, callback: Callable[[WireChunk], None]) -> None:
        """Stop calling ``callback`` (no error if it was not subscribed)."""
        ...


# --- clock, speed, window --------------------------------------------------------------------


def format_pump_time(clock_s: int, tz: tzinfo | None = None) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz`` (the machine's local time by default)."""
    return datetime.fromtimestamp(clock_s, tz=tz).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def describe_elapsed(pump_time_s: int, start_pump_s: int) -> str:
    """``day 3 since start (3 d 4 h 12 min)``: whole days elapsed, then the detail."""
    elapsed = max(0, pump_time_s - start_pump_s)
    days = elapsed // DAY_S
    return f"day {days:,} since start ({_duration_words(elapsed - elapsed % 60)})"


def auto_window_s(speed: SpeedSetting) -> int:
    """How much pump time the rolling plot shows: about ten minutes of class time at the
    current speed, at least 6 h and at most 180 days."""
    return min(180 * DAY_S, max(6 * HOUR_S, speed.factor * 600))


# --- the fluid path and the bridge lesson ----------------------------------------------


def transit_time_s(volume_nl: int, rate_nl_per_day: int) -> float | None:
    """Seconds for ``volume_nl`` to leave the catheter tip at ``rate_nl_per_day``; None when
    nothing flows."""
    _require_int("volume_nl", volume_nl)
    _require_int("rate_nl_per_day", rate_nl_per_day)
    if rate_nl_per_day == 0:
        return None
    return volume_nl * DAY_S / rate_nl_per_day


def _time_words(seconds: float | None) -> str:
    if seconds is None:
        return "never (nothing flows)"
    if seconds >= 2 * DAY_S:
        return f"{format_trimmed(Fraction(round(seconds)) / DAY_S, 1)} days"
    if seconds >= 2 * HOUR_S:
        return f"{format_trimmed(Fraction(round(seconds)) / HOUR_S, 1)} h"
    return f"{max(1, round(seconds / 60))} min"


def bridge_lesson(sample: TrueSample, facts: PumpFacts) -> list[str]:
    """The numbers behind the bridge, for the sample's pump (its TRUE catheter)."""
    dead = facts.dead_volume_nl
    lines = [
        f"Tubing + {facts.catheter_length_cm} cm catheter hold {_ml(dead)} of older drug: "
        "it reaches the spine before anything new from the reservoir.",
        f"At {_ml(sample.current_rate_nl_per_day)}/day that takes "
        f"{_time_words(transit_time_s(dead, sample.current_rate_nl_per_day))}. The bridge "
        "runs the new dose at the OLD concentration for that time, so the patient keeps "
        "the prescribed mcg/day; it is never pushed at the maximum rate.",
    ]
    old = sample.old_drug_in_path_nl
    if old:
        older = sorted(
            {
                s.concentration_ug_per_ml
                for s in sample.path
                if s.concentration_ug_per_ml != sample.reservoir_concentration_ug_per_ml
            }
        )
        old_ug = Fraction(
            sum(
                s.volume_nl * s.concentration_ug_per_ml
                for s in sample.path
                if s.concentration_ug_per_ml != sample.reservoir_concentration_ug_per_ml
            ),
            1_000_000,
        )
        lines.append(
            f"NOW: {_ml(old)} of older drug ("
            + ", ".join(format_concentration_ug_per_ml(c) for c in older)
            + f", {format_trimmed(old_ug, 0)} mcg) is still in the path; the reservoir holds "
            f"{format_concentration_ug_per_ml(sample.reservoir_concentration_ug_per_ml)}; it "
            "clears in "
            f"{_time_words(transit_time_s(old, sample.current_rate_nl_per_day))} at this rate."
        )
    rate = sample.tip_dose_rate_ug_per_day
    if rate is not None:
        lines.append(f"Reaching the patient now: {format_dose_ug_per_day(rate, 0)}.")
    return lines


class BridgeCaseKind(enum.Enum):
    """The three ways a refill at a new concentration can meet the old drug in the catheter."""

    NO_BRIDGE = "no_bridge"
    BRIDGE = "bridge"
    MAX_RATE_PUSH = "max_rate_push"


BRIDGE_CASE_TITLES: Final[dict[BridgeCaseKind, str]] = {
    BridgeCaseKind.NO_BRIDGE: "No bridge",
    BridgeCaseKind.BRIDGE: "The bridge (what the pump does)",
    BridgeCaseKind.MAX_RATE_PUSH: "Maximum-rate push (never done)",
}


@dataclass(frozen=True, kw_only=True)
class BridgeCase:
    """One case of the bridge lesson: the patient side over the hours after the refill.

    ``hours`` are hours since the refill; ``dose_ug_per_day`` is what left the
    catheter tip in each step (as a rate), ``level_percent`` the patient model's
    spinal-fluid level as a percent of the established (reference) level.
    """

    kind: BridgeCaseKind
    hours: tuple[float, ...]
    dose_ug_per_day: tuple[float, ...]
    level_percent: tuple[float, ...]
    in_band_hours: float
    """Hours the level stayed between the withdrawal and overdose thresholds."""
    max_dose_ug_in_an_hour: float
    """The most drug reaching the patient in any one hour, mcg."""

    @property
    def title(self) -> str:
        return BRIDGE_CASE_TITLES[self.kind]

    @property
    def min_percent(self) -> float:
        return min(self.level_percent) if self.level_percent else 100.0

    @property
    def max_percent(self) -> float:
        return max(self.level_percent) if self.level_percent else 100.0


@dataclass(frozen=True, kw_only=True)
class BridgeComparison:
    """The bridge lesson's three cases side by side, for one refill."""

    old_concentration_ug_per_ml: int
    new_concentration_ug_per_ml: int
    dose_ug_per_day: Fraction
    dead_volume_nl: int
    max_rate_nl_per_day: int
    bridge_duration_s: int
    withdrawal_percent: float
    overdose_percent: float
    cases: tuple[BridgeCase, ...]

    def case(self, kind: BridgeCaseKind) -> BridgeCase:
        return next(c for c in self.cases if c.kind is kind)

    def summary(self, kind: BridgeCaseKind) -> str:
        """What the case does to the patient, in one or two sentences with numbers."""
        case = self.case(kind)
        old = format_concentration_ug_per_ml(self.old_concentration_ug_per_ml)
        new = format_concentration_ug_per_ml(self.new_concentration_ug_per_ml)
        dose = format_dose_ug_per_day(self.dose_ug_per_day, 0)
        low, high = format_trimmed(case.min_percent, 0), format_trimmed(case.max_percent, 0)
        level = f"Level {low}-{high} % of the established one."
        if kind is BridgeCaseKind.NO_BRIDGE:
            rising = self.new_concentration_ug_per_ml > self.old_concentration_ug_per_ml
            what = "an UNDERDOSE" if rising else "an OVERDOSE"
            rate_ml = self.dose_ug_per_day / self.new_concentration_ug_per_ml
            seconds = (
                float(Fraction(self.dead_volume_nl, 1_000_000) / rate_ml * DAY_S)
                if rate_ml
                else None
            )
            return (
                f"The new rate ({format_trimmed(rate_ml, 3)} mL/day) runs at once, but the "
                f"catheter still holds {old}: {what} for {_time_words(seconds)} until the "
                f"{_ml(self.dead_volume_nl)} dead volume has gone through. {level}"
            )
        if kind is BridgeCaseKind.BRIDGE:
            return (
                f"The new dose is computed at the old {old} drug for "
                f"{_time_words(self.bridge_duration_s)}, then at {new} as the new drug "
                f"reaches the tip: {dose} throughout. {level}"
            )
        push_s = transit_time_s(self.dead_volume_nl, self.max_rate_nl_per_day)
        return (
            f"Pushing the {_ml(self.dead_volume_nl)} of {old} through at the maximum rate puts "
            f"{format_trimmed(case.max_dose_ug_in_an_hour, 0)} mcg into the spinal fluid in "
            f"{_time_words(push_s)}: {level} That is why the bridge is never a push."
        )


def _ml(nl: int) -> str:
    return f"{format_fixed(nl_to_ml(nl), 3)} mL"


# --- the two lessons ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A short teaching script: what to press, here and in the programmer, and what to see."""

    key: str
    title: str
    steps: tuple[str, ...]


LOW_RESERVOIR: Final = Scenario(
    key="low_reservoir",
    title="What a low-reservoir alarm sounds like",
    steps=(
        "Press \u201cJump to the low-reservoir alarm\u201d: pump time moves to the moment "
        "the reservoir reaches the alarm volume (months pass in a second).",
        "Under \u201cAlarm tone\u201d the pump's pattern appears: a single 1 s tone, "
        "repeating every hour (a critical alarm is two tones, 3 s, every 10 min).",
        "In the programmer the banner shows the non-critical alarm at the next poll; "
        "silence it on the Alarms page; only a refill clears it.",
    ),
)

BRIDGE: Final = Scenario(
    key="bridge",
    title="Why the bridge matters",
    steps=(
        "The three plots below compare, for a refill at a new concentration with the same "
        "mcg/day: no bridge, the bridge, and a maximum-rate push of the dead volume.",
        "In the programmer, Refill with another concentration and keep the dose: the "
        "review shows the 24-hour dose before and after (the same) and the bridge's "
        "duration and end. Commit it: the Status page counts the bridge down.",
        "Here, press +1 hour a few times: the drug at the catheter tip stays old until the "
        "dead volume has gone through, but the pump computes the doses at the old "
        "concentration meanwhile, so what reaches the patient stays the prescribed dose.",
        "Repeat declining the bridge: what reaches the patient is off by the ratio of the "
        "concentrations for days.",
    ),
)

BRIDGE_BOLUS: Final = BRIDGE
"""The old name of :data:`BRIDGE` (the lesson is no longer about a bolus)."""

TITRATING_A_DOSE: Final = Scenario(key="titration", title=TITRATION_TITLE, steps=TITRATION_STEPS)

MRI_WITHOUT_CHECK: Final = Scenario(
    key="mri_without_check", title=MRI_WITHOUT_CHECK_TITLE, steps=MRI_WITHOUT_CHECK_STEPS
)
MRI_WITH_CHECK: Final = Scenario(
    key="mri_with_check", title=MRI_WITH_CHECK_TITLE, steps=MRI_WITH_CHECK_STEPS
)

SCENARIOS: Final = (LOW_RESERVOIR, BRIDGE, MRI_WITHOUT_CHECK, MRI_WITH_CHECK, TITRATING_A_DOSE)


def low_reservoir_jump_s(sample: TrueSample) -> int | None:
    """Seconds to step so the low-reservoir alarm has just been raised (a minute past the
    pump's own forecast); None when it is already on or no alarm is expected."""
    if AlarmCode.LOW_RESERVOIR in sample.alarms_active or sample.low_reservoir_at_clock_s is None:
        return None
    return max(60, sample.low_reservoir_at_clock_s - sample.clock_s + 60)


# --- the plot history ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlotSeries:
    """The columns the live plot draws; x is days since the start (floats, NaN for a gap)."""

    x_days: tuple[float, ...] = ()
    reservoir_ml: tuple[float, ...] = ()
    alarm_volume_ml: tuple[float, ...] = ()
    reservoir_concentration_ug_per_ml: tuple[float, ...] = ()
    tip_concentration_ug_per_ml: tuple[float, ...] = ()
    reaching_patient_ug_per_day: tuple[float, ...] = ()
    """Mean over the interval before each sample (NaN for the first)."""
    patient_level_ng_per_ml: tuple[float, ...] = ()
    withdrawal_below_ng_per_ml: tuple[float, ...] = ()
    overdose_above_ng_per_ml: tuple[float, ...] = ()
    patient_response_ng_per_ml: tuple[float, ...] = ()
    """NaN where the model gave none."""

    def __len__(self) -> int:
        return len(self.x_days)


class SampleHistory:
    """The samples taken so far, oldest first, at most ``max_samples`` (oldest dropped)."""

    def __init__(self, *, start_pump_s: int, max_samples: int = 6_000) -> None:
        self.start_pump_s = _require_int("start_pump_s", start_pump_s)
        self._samples: deque[TrueSample] = deque(maxlen=_require_int("max_samples", max_samples))

    def add(self, sample: TrueSample) -> bool:
        """Keep ``sample`` unless it repeats the latest (paused and nothing changed), or goes
        back in time; returns whether it was kept."""
        if self._samples:
            last = self._samples[-1]
            if sample == last or sample.pump_time_s < last.pump_time_s:
                return False
        self._samples.append(sample)
        return True

    def extend(self, samples: Iterable[TrueSample]) -> int:
        """:meth:`add` each; returns how many were kept."""
        return sum(self.add(s) for s in samples)

    @property
    def latest(self) -> TrueSample | None:
        return self._samples[-1] if self._samples else None

    def __len__(self) -> int:
        return len(self._samples)

    def series(self, *, window_s: int | None = None) -> PlotSeries:
        """The columns of the last ``window_s`` of pump time (everything if None)."""
        samples = list(self._samples)
        if window_s is not None and samples:
            since = samples[-1].pump_time_s - window_s
            # One sample before the window, so the line enters from the left edge.
            first = next((i for i, s in enumerate(samples) if s.pump_time_s >= since), 0)
            samples = samples[max(0, first - 1) :]
        reaching: list[float] = []
        previous: TrueSample | None = None
        for s in samples:
            value = math.nan
            if previous is not None:
                dt = s.pump_time_s - previous.pump_time_s
                delta = s.delivered_to_patient_ug - previous.delivered_to_patient_ug
                if dt > 0 and delta >= 0:
                    value = delta * DAY_S / dt
            reaching.append(value)
            previous = s
        nan = math.nan
        return PlotSeries(
            x_days=tuple((s.pump_time_s - self.start_pump_s) / DAY_S for s in samples),
            reservoir_ml=tuple(s.reservoir_nl / 1e6 for s in samples),
            alarm_volume_ml=tuple(s.alarm_volume_nl / 1e6 for s in samples),
            reservoir_concentration_ug_per_ml=tuple(
                float(s.reservoir_concentration_ug_per_ml) for s in samples
            ),
            tip_concentration_ug_per_ml=tuple(
                nan
                if s.tip_concentration_ug_per_ml is None
                else float(s.tip_concentration_ug_per_ml)
                for s in samples
            ),
            reaching_patient_ug_per_day=tuple(reaching),
            patient_level_ng_per_ml=tuple(s.patient_level_ng_per_ml for s in samples),
            withdrawal_below_ng_per_ml=tuple(s.withdrawal_below_ng_per_ml for s in samples),
            overdose_above_ng_per_ml=tuple(s.overdose_above_ng_per_ml for s in samples),
            patient_response_ng_per_ml=tuple(
                nan if s.patient_response_ng_per_ml is None else s.patient_response_ng_per_ml
                for s in samples
            ),
        )


# --- the wire: frames back from chunks -------------------------------------------------------


class EntryKind(enum.Enum):
    """What an inspector row holds."""

    REQUEST = "request"
    RESPONSE = "response"
    NAK = "NAK"
    NOTIFY = "notification"
    DROPPED = "dropped bytes"
    """Bytes the receiver threw away: noise, or a frame that failed its checks."""


@dataclass(frozen=True, kw_only=True)
class WireEntry:
    """One inspector row: a frame (decoded) or bytes the receiver dropped."""

    number: int
    """Rows are numbered from 1 in arrival order."""
    wall_s: float
    pump_s: int
    direction: WireDirection
    link: str
    kind: EntryKind
    data: bytes
    """The frame's bytes on the wire (or the dropped bytes)."""
    frame: Frame | None
    message: m.Message | None
    """The decoded payload (None for dropped bytes or a payload that does not parse)."""
    summary: str
    """One line: what the frame says."""
    fields: tuple[tuple[str, str], ...]
    """The payload's fields in wire order as (name, value with units); nested records
    are indented by two spaces per level."""
    error: str | None = None
    """Why the payload does not decode, or why the bytes were dropped."""

    @property
    def op_name(self) -> str:
        if self.frame is None:
            return "(dropped)"
        return _op_name(self.frame.op)

    @property
    def seq(self) -> int | None:
        return None if self.frame is None else self.frame.seq

    @property
    def payload_length(self) -> int:
        """LEN of a frame; the byte count of dropped bytes."""
        return len(self.data) if self.frame is None else len(self.frame.payload)


def _op_name(op: int) -> str:
    try:
        return Op(op).name
    except ValueError:
        return f"0x{op:02X}"


@dataclass
class _Stream:
    deframer: Deframer = field(default_factory=Deframer)
    pending: bytes = b""


class WireDecoder:
    """Chunks in, inspector entries out: one deframer per (link, direction), as a receiver.

    Frames protected by a MAC decode too: the MAC travels after the payload and is shown
    apart (the inspector holds no session key, so it does not check MACs; the pump does).
    Nothing a chunk holds makes this raise.
    """

    def __init__(self, *, tz: tzinfo | None = None) -> None:
        self._streams: dict[tuple[str, WireDirection], _Stream] = {}
        self._number = 0
        self._tz = tz

    def feed(self, chunk: WireChunk) -> list[WireEntry]:
        """The entries ``chunk`` completes, in stream order."""
        key = (chunk.link, chunk.direction)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        data = stream.pending + chunk.data
        frames = stream.deframer.feed(chunk.data)
        out: list[WireEntry] = []
        pos = 0
        for frame in frames:
            raw = encode_frame(frame)
            at = data.find(raw, pos)
            if at < 0:  # cannot happen: the deframer returns frames found in these bytes
                at = pos
            if at > pos:
                out.append(self._dropped(chunk, data[pos:at]))
            out.append(self._frame(chunk, frame, raw))
            pos = at + len(raw)
        end = len(data) - stream.deframer.buffered
        if end > pos:
            out.append(self._dropped(chunk, data[pos:end]))
        stream.pending = data[end:]
        return out

    def feed_all(self, chunks: Iterable[WireChunk]) -> list[WireEntry]:
        return [entry for chunk in chunks for entry in self.feed(chunk)]

    def _next(self) -> int:
        self._number += 1
        return self._number

    def _dropped(self, chunk: WireChunk, data: bytes) -> WireEntry:
        reason = _drop_reason(data)
        return WireEntry(
            number=self._next(),
            wall_s=chunk.wall_s,
            pump_s=chunk.pump_s,
            direction=chunk.direction,
            link=chunk.link,
            kind=EntryKind.DROPPED,
            data=data,
            frame=None,
            message=None,
            summary=f"{len(data)} bytes dropped by the receiver: {reason}",
            fields=(),
            error=reason,
        )

    def _frame(self, chunk: WireChunk, frame: Frame, raw: bytes) -> WireEntry:
        message: m.Message | None = None
        error: str | None = None
        try:
            if frame.is_response or frame.is_notify:
                message = m.decode_response(frame.op, frame.payload)
            else:
                message = m.decode_request(frame.op, frame.payload)
        except (MalformedPayload, UnknownOpcodeError) as exc:
            error = str(exc)
        if frame.is_notify:
            kind = EntryKind.NOTIFY
        elif isinstance(message, m.Nak) or (frame.is_response and frame.op == Op.NAK):
            kind = EntryKind.NAK
        elif frame.is_response:
            kind = EntryKind.RESPONSE
        else:
            kind = EntryKind.REQUEST
        if message is None:
            summary = f"payload does not decode: {error}"
            fields: tuple[tuple[str, str], ...] = ()
        else:
            summary = describe_message(message, tz=self._tz)
            fields = tuple(message_fields(message, tz=self._tz))
        return WireEntry(
            number=self._next(),
            wall_s=chunk.wall_s,
            pump_s=chunk.pump_s,
            direction=chunk.direction,
            link=chunk.link,
            kind=kind,
            data=raw,
            frame=frame,
            message=message,
            summary=summary,
            fields=fields,
            error=error,
        )


def _drop_reason(data: bytes) -> str:
    at = data.find(SYNC)
    if at < 0:
        return "no frame start (SYNC) in them: line noise"
    candidate = data[at:]
    try:
        total = frame_length(candidate[:HEADER_SIZE])
        decode_frame(candidate[:total])
    except FrameError as exc:
        return f"{exc} (a corrupted frame gets no answer)"
    return "noise before a frame start"


# --- describing messages ----------------------------------------------------------------------


def _time_text(clock_s: int, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(clock_s, tz=tz).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _is_time(wire: m.Wire) -> bool:
    # Pump times are 64-bit on the wire; durations are 16- or 32-bit.
    return isinstance(wire, m.TimeOrNone) or (isinstance(wire, m.UInt) and wire.bits == 64)


def format_value(
    name: str, value: object, wire: m.Wire | None = None, tz: tzinfo | None = None
) -> str:
    """One field's value in words with its unit (the unit is read off the field's name)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, frozenset):
        names = sorted(v.name for v in value if isinstance(v, enum.Enum))
        return ", ".join(names) if names else "none"
    if isinstance(value, bytes):
        return f"{len(value)} bytes {value.hex()}" if value else "(empty)"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int):
        return _format_int(name, value, wire, tz)
    return repr(value)


def _format_int(name: str, value: int, wire: m.Wire | None, tz: tzinfo | None) -> str:
    if name.endswith("_nl_per_day"):
        return f"{format_trimmed(nl_to_ml(value), 6)} mL/day"
    if name.endswith("_nl"):
        return f"{format_trimmed(nl_to_ml(value), 6)} mL"
    if name.endswith("_ng_per_day"):
        return f"{format_trimmed(Fraction(value, 1000), 3)} mcg/day"
    if name.endswith("_ng"):
        return f"{format_trimmed(Fraction(value, 1000), 3)} mcg"
    if name.endswith("_ug_per_ml"):
        return format_concentration_ug_per_ml(value)
    if name.endswith("_permille"):
        return format_percent(Fraction(value, 1000))
    if name.endswith("_min"):
        return f"{value // 60:02d}:{value % 60:02d}"
    if name.endswith("_mm"):
        return f"{format_trimmed(Fraction(value, 10), 1)} cm"
    if name.endswith("_uc"):
        return f"{value:,} uC"
    if name.endswith("_s"):
        if wire is not None and _is_time(wire):
            return _time_text(value, tz)
        return f"{value} s" if value < 120 else f"{value} s ({_duration_words(value)})"
    if "checksum" in name:
        return f"0x{value:08X}"
    if name == "model":
        return f"{value} mL model"
    return str(value)


def message_fields(
    record: m.Record, *, tz: tzinfo | None = None, indent: str = ""
) -> list[tuple[str, str]]:
    """``record``'s fields in wire order as (name, value) pairs; nested records follow their
    parent field, indented."""
    out: list[tuple[str, str]] = []
    for spec in m.wire_fields(type(record)):
        value = getattr(record, spec.name)
        if isinstance(value, m.PrescriptionSpec):
            out.append((indent + spec.name, value.mode.name))
            out.extend(_prescription_fields(value, indent + "  "))
        elif isinstance(value, tuple):
            out.append((indent + spec.name, f"{len(value)} item(s)"))
            for i, item in enumerate(value):
                if isinstance(item, m.Record):
                    inline = ", ".join(f"{n.strip()} = {v}" for n, v in message_fields(item, tz=tz))
                    out.append((f"{indent}  [{i}]", inline))
        else:
            out.append((indent + spec.name, format_value(spec.name, value, spec.wire, tz)))
    return out


def _prescription_fields(spec: m.PrescriptionSpec, indent: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [
        (
            indent + "concentration_ug_per_ml",
            format_value("concentration_ug_per_ml", spec.concentration_ug_per_ml),
        )
    ]
    if spec.dose_ng_per_day is not None:
        out.append(
            (indent + "dose_ng_per_day", format_value("dose_ng_per_day", spec.dose_ng_per_day))
        )
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for d, profile in enumerate(spec.profiles):
        title = days[d] if spec.weekly else "every day"
        steps = ", ".join(
            f"{format_value('start_min', s.start_min)} "
            f"{format_value('dose_ng_per_day', s.dose_ng_per_day)}"
            for s in profile
        )
        out.append((f"{indent}profile {title}", steps))
    return out


def describe_message(message: m.Message, *, tz: tzinfo | None = None) -> str:
    """What a message says, in one line."""
    special = _SUMMARIES.get(type(message))
    if special is not None:
        return special(message, tz)
    fields = [
        (name, value) for name, value in message_fields(message, tz=tz) if not name.startswith(" ")
    ]
    if not message.response:
        headline = m.REGISTRY[message.op].summary.rstrip(".").replace("``", "")
        if not fields:
            return headline
        return headline + ": " + ", ".join(f"{n} {v}" for n, v in fields[:3])
    if not fields:
        return "acknowledged (no payload)"
    return ", ".join(f"{n} {v}" for n, v in fields[:3])


def _status(message: m.Message, tz: tzinfo | None) -> str:
    assert isinstance(message, m.StatusResponse)
    alarms = format_value("alarms", message.alarms_active)
    return (
        f"{message.mode.name}, reservoir {format_fixed(nl_to_ml(message.reservoir_nl), 2)} mL, "
        f"{format_trimmed(nl_to_ml(message.current_rate_nl_per_day), 4)} mL/day now, "
        f"alarms: {alarms}"
    )


def _nak(message: m.Message, tz: tzinfo | None) -> str:
    assert isinstance(message, m.Nak)
    return f"REFUSED {message.code.name}: {message.reason}"


def _device_info(message: m.Message, tz: tzinfo | None) -> str:
    if isinstance(message, m.DeviceInfoResponse):
        return f"{message.serial}: {message.model} mL model, firmware {message.firmware_version}"
    return "Who are you? (the one command that needs no session)"


def _session_open(message: m.Message, tz: tzinfo | None) -> str:
    if isinstance(message, m.SessionOpenRequest):
        return f"open a {message.role.name} session: here is my fresh nonce"
    return "pump's nonce and its proof that it holds the key"


def _session_auth(message: m.Message, tz: tzinfo | None) -> str:
    if isinstance(message, m.SessionAuthResponse):
        return (
            f"session open as {message.role.name}; every frame from now on carries a MAC "
            f"(idle timeout {message.idle_timeout_s} s)"
        )
    return "programmer's proof that it holds the key"


_SUMMARIES: Final[dict[type[m.Message], Callable[[m.Message, tzinfo | None], str]]] = {
    m.StatusResponse: _status,
    m.Nak: _nak,
    m.DeviceInfoRequest: _device_info,
    m.DeviceInfoResponse: _device_info,
    m.SessionOpenRequest: _session_open,
    m.SessionOpenResponse: _session_open,
    m.SessionAuthRequest: _session_auth,
    m.SessionAuthResponse: _session_auth,
}


# --- hex -------------------------------------------------------------------------------------


def _flag_names(flags: int) -> str:
    names = [f.name for f in (Flags.RESPONSE, Flags.MAC, Flags.NOTIFY) if flags & f and f.name]
    if flags & (Flags.RESPONSE | Flags.NOTIFY):
        return ", ".join(names)
    return ", ".join([*names, "(a request)"]) if names else "none (a request)"


def hex_layout(data: bytes) -> list[tuple[str, bytes, str]]:
    """A frame's bytes split into its fields as (field, bytes, meaning), in wire order.

    Bytes that are not one whole frame come back as one ``bytes`` row.
    """
    try:
        total = frame_length(data[:HEADER_SIZE])
    except FrameError:
        total = -1
    if total != len(data):
        return [("bytes", data, "not one whole frame")]
    flags, seq, op, length = data[3], (data[4] << 8) | data[5], data[6], (data[7] << 8) | data[8]
    payload_end = HEADER_SIZE + length
    rows: list[tuple[str, bytes, str]] = [
        ("SYNC", data[0:2], "frame start"),
        ("VER", data[2:3], f"protocol version {data[2]}"),
        ("FLAGS", data[3:4], _flag_names(flags)),
        ("SEQ", data[4:6], f"{seq}"),
        ("OP", data[6:7], _op_name(op)),
        ("LEN", data[7:9], f"{length} payload bytes"),
        ("PAYLOAD", data[HEADER_SIZE:payload_end], "the message (fields on the right)"),
    ]
    if flags & Flags.MAC:
        rows.append(
            (
                "MAC",
                data[payload_end : payload_end + MAC_SIZE],
                "HMAC-SHA256 of VER..PAYLOAD under the session key, first 16 bytes",
            )
        )
    crc = data[-CRC_SIZE:]
    rows.append(("CRC", crc, f"CRC-16/CCITT-FALSE 0x{crc.hex().upper()}"))
    return rows


def hex_text(data: bytes, *, per_line: int = 16) -> str:
    """``data`` as an annotated hex dump: each field of a frame on its own lines."""
    lines: list[str] = []
    for name, chunk, meaning in hex_layout(data):
        pieces = [chunk[i : i + per_line] for i in range(0, len(chunk), per_line)] or [b""]
        for i, piece in enumerate(pieces):
            label = name if i == 0 else ""
            text = piece.hex(" ") if piece else "(empty)"
            note = f"  {meaning}" if i == 0 and name not in ("PAYLOAD", "bytes", "MAC") else ""
            lines.append(f"{label:<8} {text}{note}")
    return "\n".join(lines)


def entry_details(entry: WireEntry, *, tz: tzinfo | None = None) -> str:
    """Everything about one row, for the detail pane: header, fields, MAC note."""
    lines = [
        f"#{entry.number}  {entry.direction.words}  ({entry.link})",
        f"pump time {_time_text(entry.pump_s, tz)}",
        f"{entry.kind.value}: {entry.summary}",
    ]
    if entry.frame is not None:
        lines.append(
            f"{entry.op_name}  SEQ {entry.frame.seq}  LEN {len(entry.frame.payload)}  "
            f"frame {len(entry.data)} bytes"
        )
        if entry.frame.mac is not None:
            lines.append("MAC present (checked by the pump; the inspector holds no session key)")
    if entry.fields:
        lines.append("")
        lines.append("Fields:")
        width = max(len(name) for name, _ in entry.fields)
        lines.extend(f"  {name:<{width}}  {value}" for name, value in entry.fields)
    if entry.error is not None and entry.frame is not None:
        lines.append(f"Payload error: {entry.error}")
    return "\n".join(lines)


def short_time(pump_s: int, start_pump_s: int) -> str:
    """``d3 14:02:07``: days since the start and the time of day of pump time (UTC-free)."""
    elapsed = max(0, pump_s - start_pump_s)
    days, rest = divmod(elapsed, DAY_S)
    hours, rest = divmod(rest, HOUR_S)
    minutes, secs = divmod(rest, 60)
    return f"d{days} {hours:02d}:{minutes:02d}:{secs:02d}"


ROUTINE_OPS: Final = frozenset(
    {
        Op.DEVICE_INFO,
        Op.STATUS,
        Op.READ_PRESCRIPTION,
        Op.READ_ALARMS,
        Op.READ_CLOCK,
        Op.READ_PATIENT_SETTINGS,
        Op.READ_EVENT_LOG,
    }
)
"""Read-only commands the programmer repeats while it polls."""


def is_routine(entry: WireEntry) -> bool:
    """A read-only request or its answer (the inspector can hide them); NAKs and dropped
    bytes are never routine."""
    if entry.kind not in (EntryKind.REQUEST, EntryKind.RESPONSE) or entry.frame is None:
        return False
    return entry.frame.op in ROUTINE_OPS


def summarize_chunks(entries: Sequence[WireEntry]) -> dict[EntryKind, int]:
    """How many rows of each kind (the inspector's status line)."""
    counts: dict[EntryKind, int] = dict.fromkeys(EntryKind, 0)
    for entry in entries:
        counts[entry.kind] += 1
    return counts
