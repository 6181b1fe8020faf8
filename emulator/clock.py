"""The pump's clock: pump time as a function of wall time.

The pump model never reads the wall clock; the emulator asks a
:class:`PumpClock` for the pump time and passes it in. The clock runs in one
of three states:

* running, at a speed from 1 (real time) to 1,000,000 times real time;
* paused, where pump time stands still until :meth:`PumpClock.resume`;
* manual, where pump time moves only by :meth:`PumpClock.advance`.

Every switch re-anchors the mapping at the current pump time, so changing
speed, pausing, resuming or entering manual mode never makes pump time jump or
go backwards. :meth:`PumpClock.advance` is allowed in every state: it moves
pump time forward by the step given (in the running state the clock then keeps
running from the new time). Pump time never goes backwards, whatever the wall
source does.

Internally pump time is kept in integer nanoseconds so manual steps add up
exactly; :meth:`PumpClock.now` reports whole seconds, rounded down.

Pump time has a ceiling, by default the last second a pump's 32-bit RTC can
hold (2106-02-07 06:28:15 UTC): at x1,000,000 a clock started today would pass
it after about 42 minutes, and a pump image past it cannot be loaded again. A
running clock stops at the ceiling (:attr:`PumpClock.at_ceiling` says so); a
manual step that would pass it is refused with :class:`ClockCeilingError` and
changes nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from emulator.errors import ClockValueError
from protocol.frozen import frozen
from protocol.timebase import RTC_MAX_CLOCK_S

__all__ = [
    "MAX_ADVANCE_S",
    "MAX_PUMP_S",
    "MAX_SPEED",
    "MIN_SPEED",
    "ClockCeilingError",
    "ClockMode",
    "ClockSnapshot",
    "PumpClock",
]

MIN_SPEED = 1.0
"""Slowest running speed: real time."""

MAX_SPEED = 1_000_000.0
"""Fastest running speed, in pump seconds per wall second."""

MAX_ADVANCE_S = 100 * 366 * 86_400
"""Largest single manual step (about a century; a pump lives under ten years)."""

MAX_PUMP_S = RTC_MAX_CLOCK_S
"""Default ceiling of pump time: the pump RTC's last second (unsigned 32-bit)."""

_NS_PER_S = 1_000_000_000


class ClockCeilingError(ClockValueError):
    """A step would take pump time past the clock's ceiling; the clock is unchanged."""

    def __init__(self, *, step_s: float, now_s: int, ceiling_s: int) -> None:
        self.step_s = step_s
        self.now_s = now_s
        self.ceiling_s = ceiling_s
        super().__init__(
            f"step {step_s!r} s from pump time {now_s} s would pass the clock's ceiling "
            f"{ceiling_s} s (the pump RTC's last second); at most {ceiling_s - now_s} s are left"
        )


class ClockMode(StrEnum):
    """What drives pump time."""

    REAL = "real"
    """Running at speed 1."""
    SCALED = "scaled"
    """Running at a speed above 1."""
    PAUSED = "paused"
    """Standing still until resumed."""
    MANUAL = "manual"
    """Moving only by explicit steps."""


@frozen
class ClockSnapshot:
    """The clock's state at one instant, for status displays and control replies."""

    mode: ClockMode
    speed: float
    """The running speed; kept (and used on resume) while paused or manual."""
    pump_time_s: int
    wall_s: float
    """The wall source's reading the snapshot was taken at."""

    def __post_init__(self) -> None:
        if not MIN_SPEED <= self.speed <= MAX_SPEED:
            raise ClockValueError(f"speed {self.speed!r} outside {MIN_SPEED:g}..{MAX_SPEED:g}")
        if self.pump_time_s < 0:
            raise ClockValueError(f"pump time {self.pump_time_s} is negative")


def _check_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise ClockValueError(f"speed must be a number, got {speed!r}")
    value = float(speed)
    if not math.isfinite(value) or not MIN_SPEED <= value <= MAX_SPEED:
        raise ClockValueError(f"speed {speed!r} outside {MIN_SPEED:g}..{MAX_SPEED:g}")
    return value


def _step_ns(seconds: float) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ClockValueError(f"step must be a number of seconds, got {seconds!r}")
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ClockValueError(f"step {seconds!r} is not finite")
    if not 0 <= seconds <= MAX_ADVANCE_S:
        raise ClockValueError(f"step {seconds!r} s outside 0..{MAX_ADVANCE_S} s")
    # Integers stay exact; floats are rounded to the nearest nanosecond.
    return seconds * _NS_PER_S if isinstance(seconds, int) else round(seconds * _NS_PER_S)


class PumpClock:
    """Pump time derived from an injected wall source; safe to share between threads.

    ``wall`` should not go backwards (``time.monotonic`` by default); if it
    ever does, pump time stands still until the wall catches up, or runs on
    from where it stood after the next switch (which re-anchors).
    """

    def __init__(
        self,
        *,
        start_pump_s: int,
        wall: Callable[[], float] = time.monotonic,
        speed: float = 1.0,
        max_pump_s: int = MAX_PUMP_S,
    ) -> None:
        """Start running at ``speed`` from ``start_pump_s`` (whole seconds, e.g. Unix time).

        Pump time never passes ``max_pump_s`` (default :data:`MAX_PUMP_S`).
        To start stopped, call :meth:`pause` or :meth:`set_manual` straight away.
        """
        if isinstance(start_pump_s, bool) or not isinstance(start_pump_s, int):
            raise ClockValueError(f"start pump time must be whole seconds, got {start_pump_s!r}")
        if start_pump_s < 0:
            raise ClockValueError(f"start pump time {start_pump_s} is negative")
        if isinstance(max_pump_s, bool) or not isinstance(max_pump_s, int):
            raise ClockValueError(f"the ceiling must be whole seconds, got {max_pump_s!r}")
        if start_pump_s > max_pump_s:
            raise ClockValueError(
                f"start pump time {start_pump_s} s is past the ceiling {max_pump_s} s"
            )
        self._ceiling_ns = max_pump_s * _NS_PER_S
        self._speed = _check_speed(speed)
        self._wall = wall
        self._lock = threading.Lock()
        self._running = True
        self._manual = False
        self._anchor_wall_s = float(wall())
        self._anchor_ns = start_pump_s * _NS_PER_S
        # High-water mark: what now() has reported, so a misbehaving wall
        # source or a race can never show pump time going backwards.
        self._last_ns = self._anchor_ns

    # -- reading -------------------------------------------------------------

    def now(self) -> int:
        """The pump time in whole seconds (rounded down)."""
        if not self._running:
            # Stopped (paused or manual): pump time is the anchor, which every switch and
            # step leaves equal to the high-water mark (see _read_ns_locked), so the wall
            # need not be read, nor the lock taken: each attribute read is atomic, a switch
            # to stopped sets ``_running`` only after the mark is final, a step sets the
            # mark in one assignment, and the mark only rises; so the answer is the one
            # now() under the lock gives at an instant during this call (the read of the
            # mark). A running clock (or one being switched) reads below, under the lock.
            return self._last_ns // _NS_PER_S
        with self._lock:
            if not self._running:
                return self._last_ns // _NS_PER_S
            # _read_ns_locked, written out: read before every request's answer.
            wall_s = self._wall()
            if wall_s > self._anchor_wall_s:
                ran_ns = int((wall_s - self._anchor_wall_s) * self._speed * _NS_PER_S)
                at_ns = min(self._anchor_ns + ran_ns, self._ceiling_ns)
            else:
                at_ns = self._anchor_ns
            last_ns = self._last_ns
            if at_ns > last_ns:
                self._last_ns = last_ns = at_ns
            return last_ns // _NS_PER_S

    def now_ns(self) -> int:
        """The pump time in nanoseconds, for callers that need sub-second resolution."""
        with self._lock:
            return self._read_ns_locked(self._wall())

    @property
    def ceiling_s(self) -> int:
        """The last pump second this clock reaches."""
        return self._ceiling_ns // _NS_PER_S

    @property
    def at_ceiling(self) -> bool:
        """Whether pump time has stopped at the ceiling."""
        with self._lock:
            return self._read_ns_locked(self._wall()) >= self._ceiling_ns

    @property
    def mode(self) -> ClockMode:
        """The current mode."""
        with self._lock:
            return self._mode_locked()

    @property
    def speed(self) -> float:
        """The running speed (remembered while paused or manual)."""
        with self._lock:
            return self._speed

    def snapshot(self) -> ClockSnapshot:
        """Mode, speed and pump time read together under one lock."""
        with self._lock:
            wall_s = self._wall()
            return ClockSnapshot(
                mode=self._mode_locked(),
                speed=self._speed,
                pump_time_s=self._read_ns_locked(wall_s) // _NS_PER_S,
                wall_s=wall_s,
            )

    def next_wall_deadline(self, pump_t: int) -> float | None:
        """The wall time at which pump time reaches ``pump_t`` seconds.

        None when paused or manual, or past the ceiling (pump time will not get there by
        itself).
        A time already reached gives a wall time no later than now. The result
        is never early: at the returned wall time ``now() >= pump_t``.
        """
        if isinstance(pump_t, bool) or not isinstance(pump_t, int):
            raise ClockValueError(f"pump time must be whole seconds, got {pump_t!r}")
        target_ns = pump_t * _NS_PER_S
        with self._lock:
            if not self._running or target_ns > self._ceiling_ns:
                return None
            if target_ns <= self._last_ns:
                return float(self._wall())
            wall_s = self._anchor_wall_s + (target_ns - self._anchor_ns) / (self._speed * _NS_PER_S)
            # Float rounding may land a hair early; step up by one ulp at a time.
            while self._pump_ns_at_locked(wall_s) < target_ns:
                wall_s = math.nextafter(wall_s, math.inf)
            return wall_s

    # -- changing ------------------------------------------------------------

    def set_speed(self, speed: float) -> None:
        """Run at ``speed`` from now on (1 to 1,000,000); a bad value changes nothing.

        While paused or manual the speed is stored and used on :meth:`resume`.
        """
        value = _check_speed(speed)
        with self._lock:
            self._reanchor_locked()
            self._speed = value

    def pause(self) -> None:
        """Stop pump time where it is (also leaves manual mode); idempotent."""
        with self._lock:
            self._reanchor_locked()
            self._running = False
            self._manual = False

    def resume(self) -> None:
        """Run again at the stored speed from the current pump time; idempotent."""
        with self._lock:
            self._reanchor_locked()
            self._running = True
            self._manual = False

    def set_manual(self) -> None:
        """Stop pump time; from now on only :meth:`advance` moves it."""
        with self._lock:
            self._reanchor_locked()
            self._running = False
            self._manual = True

    def advance(self, seconds: float) -> int:
        """Move pump time forward by ``seconds`` (0 to :data:`MAX_ADVANCE_S`) in any mode.

        Returns the new pump time in whole seconds. A bad step changes nothing; a step
        past the ceiling raises :class:`ClockCeilingError`.
        """
        if type(seconds) is int and 0 <= seconds <= MAX_ADVANCE_S:
            step_ns = seconds * _NS_PER_S  # whole seconds (the usual step): nothing to round
        else:
            step_ns = _step_ns(seconds)
        with self._lock:
            # One wall reading: the step is checked against the ceiling from the very instant
            # it is taken from (re-anchored there), so it can never pass the ceiling.
            wall_s = float(self._wall())
            # _read_ns_locked(wall_s), written out (a step of the clock, every few requests).
            now_ns = self._last_ns
            if self._running and wall_s > self._anchor_wall_s:
                ran_ns = int((wall_s - self._anchor_wall_s) * self._speed * _NS_PER_S)
                at_ns = min(self._anchor_ns + ran_ns, self._ceiling_ns)
                if at_ns > now_ns:
                    self._last_ns = now_ns = at_ns  # a reading, even of a refused step
            if now_ns + step_ns > self._ceiling_ns:
                raise ClockCeilingError(
                    step_s=seconds, now_s=now_ns // _NS_PER_S, ceiling_s=self.ceiling_s
                )
            self._anchor_wall_s = wall_s
            self._anchor_ns = self._last_ns = now_ns + step_ns
            return self._last_ns // _NS_PER_S

    # -- internals (call with the lock held) -----------------------------------

    def _mode_locked(self) -> ClockMode:
        if self._manual:
            return ClockMode.MANUAL
        if not self._running:
            return ClockMode.PAUSED
        return ClockMode.REAL if self._speed == 1.0 else ClockMode.SCALED

    def _pump_ns_at_locked(self, wall_s: float) -> int:
        if not self._running or wall_s <= self._anchor_wall_s:
            return self._anchor_ns
        ran_ns = int((wall_s - self._anchor_wall_s) * self._speed * _NS_PER_S)
        return min(self._anchor_ns + ran_ns, self._ceiling_ns)

    def _read_ns_locked(self, wall_s: float) -> int:
        # Invariant: every switch and step leaves the anchor equal to the high-water mark
        # (_reanchor_locked, advance), and readings only raise the mark, so the anchor is
        # never above it; stopped, pump time is the anchor, so the reading is the mark.
        self._last_ns = max(self._last_ns, self._pump_ns_at_locked(wall_s))
        return self._last_ns

    def _reanchor_locked(self) -> None:
        wall_s = float(self._wall())
        # The high-water mark makes this safe even if the wall went backwards.
        self._anchor_ns = self._read_ns_locked(wall_s)
        self._anchor_wall_s = wall_s
