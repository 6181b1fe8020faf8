"""When an alarm's tone pattern is played aloud, without Qt (the clocks are injected).

The pump repeats a sounding alarm's pattern every ``repeat_s`` seconds of pump time
(critical about every 10 min, non-critical about hourly: :mod:`protocol.tones`). A
window that follows a simulation plays each repeat as pump time reaches it. Up to
x60 (a critical repeat then comes every 10 wall seconds or more) every repeat plays;
when time runs faster, at most one pattern plays per :data:`MIN_WALL_GAP_S` wall
seconds, and the repeats that came due meanwhile are counted as skipped (the window
shows the count), so a fast simulation never turns into a continuous alarm. A mute
stops the sound and nothing else: the next repeat is still computed and shown.

:class:`ToneScheduler` is driven with each new sample (pump time, speed, the pattern
sounding) and answers with a :class:`ToneDecision`: play now or not, when the next repeat
is due (pump time), how many were skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final

from protocol.enums import AlarmClass
from protocol.tones import TonePattern, ToneTiming, build_pattern
from protocol.units import format_duration

FAST_SPEED: Final = 60
"""Above this speed (pump seconds per wall second) repeats are rationed."""
MIN_WALL_GAP_S: Final = 10.0
"""When rationed, at most one pattern per this many wall seconds."""


@dataclass(frozen=True, kw_only=True)
class ToneDecision:
    """What to do after one :meth:`ToneScheduler.update`."""

    play: TonePattern | None
    """Start this pattern now (None: nothing new to play)."""
    pattern: TonePattern | None
    """The pattern sounding on the pump (None: no alarm sounding)."""
    next_due_pump_s: int | None
    """Pump time (Unix s) of the next repeat; None when nothing sounds."""
    skipped: int
    """Repeats not played because time ran faster than x60 (since this pattern began)."""
    muted: bool
    played: int
    """Repeats played aloud since this pattern began."""


class ToneScheduler:
    """Decides when a sounding pattern is played; see the module docstring.

    ``wall`` is the wall clock in seconds (tests inject one). Not thread-safe: drive it
    from one thread.
    """

    def __init__(
        self,
        *,
        wall: Callable[[], float],
        fast_speed: float = FAST_SPEED,
        min_wall_gap_s: float = MIN_WALL_GAP_S,
    ) -> None:
        if fast_speed <= 0 or min_wall_gap_s < 0:
            raise ValueError("fast_speed must be > 0 and min_wall_gap_s >= 0")
        self._wall = wall
        self._fast_speed = fast_speed
        self._min_gap_s = min_wall_gap_s
        self._pattern: TonePattern | None = None
        self._next_due: int | None = None
        self._last_play_wall: float | None = None
        self._skipped = 0
        self._played = 0
        self.muted = False

    def _decision(self, play: TonePattern | None) -> ToneDecision:
        return ToneDecision(
            play=play,
            pattern=self._pattern,
            next_due_pump_s=self._next_due,
            skipped=self._skipped,
            muted=self.muted,
            played=self._played,
        )

    def update(
        self,
        pattern: TonePattern | None,
        *,
        pump_s: int,
        speed: float,
        first_due_pump_s: int | None = None,
    ) -> ToneDecision:
        """The pump is at ``pump_s`` running at ``speed`` (0 = paused) with ``pattern``
        sounding. A new pattern's first repeat is due at ``first_due_pump_s`` (default
        ``pump_s``: it sounds as soon as it is seen)."""
        if pattern is None:
            self._pattern = self._next_due = None
            self._skipped = self._played = 0
            return self._decision(None)
        if pattern != self._pattern:
            self._pattern = pattern
            self._next_due = pump_s if first_due_pump_s is None else first_due_pump_s
            self._skipped = self._played = 0
        assert self._next_due is not None
        if pump_s < self._next_due:
            if self._next_due - pump_s > pattern.repeat_s:
                # The pump's clock went back (set by a clinician): start again from now.
                self._next_due = pump_s
            else:
                return self._decision(None)
        due = (pump_s - self._next_due) // pattern.repeat_s + 1
        self._next_due += due * pattern.repeat_s
        if self.muted:
            return self._decision(None)
        now = self._wall()
        rationed = speed > self._fast_speed
        if (
            rationed
            and self._last_play_wall is not None
            and now - self._last_play_wall < self._min_gap_s
        ):
            self._skipped += due
            return self._decision(None)
        # One play for the latest repeat; any older ones that came due at once were skipped.
        self._skipped += due - 1
        self._played += 1
        self._last_play_wall = now
        return self._decision(pattern)


def sounding_pattern(
    *, tones: int, duration_s: int, repeat_s: int, alarm_classes: list[AlarmClass]
) -> TonePattern | None:
    """The pattern of the most severe class sounding, with the model profile's timing
    (``tones``, ``duration_s``, ``repeat_s``: what the pump reports for it); None when no
    class sounds."""
    if not alarm_classes:
        return None
    return build_pattern(
        max(alarm_classes),
        ToneTiming(tones=tones, duration_s=duration_s, repeat_s=repeat_s),
    )


def next_repeat_at(*, raised_at_s: int, repeat_s: int, now_s: int) -> int:
    """First repeat at or after ``now_s`` of a pattern that began at ``raised_at_s`` (pump
    clock, s): the pump repeats at raise time + k x repeat."""
    if now_s <= raised_at_s:
        return raised_at_s
    return raised_at_s + -(-(now_s - raised_at_s) // repeat_s) * repeat_s


def format_pump_clock(clock_s: int, tz: tzinfo | None = None) -> str:
    """``2026-09-21 14:32:10`` (pump clock, ``tz`` None is the local zone)."""
    moment = datetime.fromtimestamp(clock_s, tz=tz)
    if tz is None:
        moment = moment.astimezone()
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def next_repeat_text(decision: ToneDecision, *, pump_s: int, tz: tzinfo | None = None) -> str:
    """``Next repeat due at 2026-09-21 14:32:10 pump time (in 9 min 58 s)``."""
    if decision.pattern is None or decision.next_due_pump_s is None:
        return "No alarm tone due."
    due = decision.next_due_pump_s
    return (
        f"Next repeat due at {format_pump_clock(due, tz)} pump time "
        f"(in {format_duration(due - pump_s)})" + (" \u2014 muted" if decision.muted else "")
    )


def skipped_text(decision: ToneDecision) -> str:
    """How many repeats were played and skipped since the pattern began."""
    if decision.pattern is None:
        return ""
    played = f"{decision.played} played"
    if not decision.skipped:
        return f"Repeats: {played}, none skipped."
    return (
        f"Repeats: {played}, {decision.skipped:,} skipped (pump time ran faster than "
        f"x{FAST_SPEED} or jumped ahead: at most one play per {MIN_WALL_GAP_S:g} s)."
    )
