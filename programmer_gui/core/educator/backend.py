"""What the educator's window asks of the simulation: the backend Protocol, its errors,
the wire feed it reports, pump time and its speed."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Final, Protocol

from programmer_gui.core import CoreError, InputError
from protocol.units import (
    format_clock,
    format_duration,
)

if TYPE_CHECKING:
    from programmer_gui.core.educator.facts import PumpFacts, TrueSample
    from programmer_gui.core.educator.lessons import BridgeComparison
    from protocol.mri_lesson import MriLessonHour

HOUR_S: Final = 3_600
DAY_S: Final = 86_400

SPEED_FACTORS: Final = (1, 10, 100, 1_000, 10_000, 100_000)
"""The speeds the window offers, in pump seconds per wall second."""

MAX_SPEED_FACTOR: Final = 100_000
"""The fastest speed the educator may choose (the emulator goes further; a class need not)."""

MAX_STEP_S: Final = 366 * DAY_S
"""Longest single step the window asks for (a jump to an alarm months away fits)."""


# --- errors ----------------------------------------------------------------------------------


class EducatorError(CoreError):
    """Root of the educator window's errors (a :class:`~programmer_gui.core.CoreError`)."""


class EducatorValueError(EducatorError, InputError):
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
        pump_time = format_duration(self.factor, exact=True)
        return f"x{self.factor:,}: 1 s here is {pump_time} of pump time."


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

    def mri_scan(self, duration_s: int, *, telemetry_trap: bool) -> None:
        """An MRI exposure of ``duration_s`` pump seconds from now: the rotor stalls in the
        field (critical alarm) and recovers when it ends; with ``telemetry_trap`` the pump
        then stays suspended until a clinician or patient session interrogates it."""
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
    return format_clock(clock_s, tz, seconds=False)


def describe_elapsed(pump_time_s: int, start_pump_s: int) -> str:
    """``day 3 since start (3 d 4 h 12 min)``: whole days elapsed, then the detail."""
    elapsed = max(0, pump_time_s - start_pump_s)
    days = elapsed // DAY_S
    return f"day {days:,} since start ({format_duration(elapsed - elapsed % 60)})"


def auto_window_s(speed: SpeedSetting) -> int:
    """How much pump time the rolling plot shows: about ten minutes of class time at the
    current speed, at least 6 h and at most 180 days."""
    return min(180 * DAY_S, max(6 * HOUR_S, speed.factor * 600))
