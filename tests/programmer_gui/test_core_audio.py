"""When the alarm tones play aloud: the scheduler against an injected wall clock."""

from __future__ import annotations

import itertools
from datetime import UTC

import pytest

from programmer_gui.core.audio import (
    ToneScheduler,
    next_repeat_at,
    next_repeat_text,
    skipped_text,
    sounding_pattern,
)
from protocol.enums import AlarmClass
from protocol.tones import pattern_for

T0 = 1_790_000_000
CRITICAL = pattern_for(40, AlarmClass.CRITICAL)  # every 600 s of pump time
SINGLE = pattern_for(40, AlarmClass.NON_CRITICAL)  # every 3600 s


class Wall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(
    scheduler: ToneScheduler, wall: Wall, *, speed: float, wall_step_s: float, steps: int
) -> list[int]:
    """Drive ``steps`` updates ``wall_step_s`` apart at ``speed``; the pump times played."""
    played = []
    for i in range(steps):
        wall.now = 1000.0 + i * wall_step_s
        pump_s = T0 + round(i * wall_step_s * speed)
        decision = scheduler.update(CRITICAL, pump_s=pump_s, speed=speed)
        if decision.play is not None:
            played.append(pump_s)
    return played


def test_up_to_x60_every_repeat_plays() -> None:
    wall = Wall()
    scheduler = ToneScheduler(wall=wall)
    # x60 for 5 wall minutes, a sample every 0.5 s: pump time 0 .. 18,000 s, 30 repeats.
    played = run(scheduler, wall, speed=60, wall_step_s=0.5, steps=600)
    assert played == [T0 + k * 600 for k in range(30)]
    last = scheduler.update(CRITICAL, pump_s=T0 + 18_000, speed=60)
    assert last.skipped == 0 and last.played == 31


def test_faster_than_x60_plays_at_most_one_pattern_per_10_wall_seconds() -> None:
    wall = Wall()
    scheduler = ToneScheduler(wall=wall)
    # x3600 (an hour a second), a sample every 0.2 s for 60 wall s: 60 pump hours, 360
    # repeats of the critical pattern.
    played = run(scheduler, wall, speed=3600, wall_step_s=0.2, steps=300)
    walls = [(p - T0) / 3600 for p in played]
    assert len(played) == 6  # at wall 0, 10, 20, 30, 40, 50 s
    assert all(b - a >= 10 for a, b in itertools.pairwise(walls))
    decision = scheduler.update(CRITICAL, pump_s=T0 + 299 * 720, speed=3600)
    assert decision.play is None
    # Every repeat up to the last sample came due: played or counted as skipped.
    due = (299 * 720) // 600 + 1
    assert decision.played + decision.skipped == due == 359
    assert decision.next_due_pump_s == T0 + due * 600


def test_mute_stops_the_sound_not_the_schedule() -> None:
    wall = Wall()
    scheduler = ToneScheduler(wall=wall)
    assert scheduler.update(SINGLE, pump_s=T0, speed=1).play == SINGLE
    scheduler.muted = True
    muted = scheduler.update(SINGLE, pump_s=T0 + 3600, speed=1)
    assert muted.play is None and muted.muted
    assert muted.next_due_pump_s == T0 + 7200 and muted.skipped == 0
    scheduler.muted = False
    assert scheduler.update(SINGLE, pump_s=T0 + 7200, speed=1).play == SINGLE


def test_a_new_pattern_starts_again_and_none_resets() -> None:
    wall = Wall()
    scheduler = ToneScheduler(wall=wall)
    assert scheduler.update(SINGLE, pump_s=T0, speed=1).play == SINGLE
    wall.now += 1
    # A critical alarm joins: its pattern sounds at once, at x1 (not rationed).
    critical = scheduler.update(CRITICAL, pump_s=T0 + 5, speed=1)
    assert critical.play == CRITICAL and critical.next_due_pump_s == T0 + 605
    quiet = scheduler.update(None, pump_s=T0 + 10, speed=1)
    assert quiet.pattern is None and quiet.next_due_pump_s is None and quiet.play is None
    # A pump clock set back by hours starts the pattern from the new time.
    scheduler.update(CRITICAL, pump_s=T0 + 20_000, speed=1)
    again = scheduler.update(CRITICAL, pump_s=T0, speed=1)
    assert again.play == CRITICAL and again.next_due_pump_s == T0 + 600


def test_a_time_jump_plays_once_and_counts_the_rest() -> None:
    wall = Wall()
    scheduler = ToneScheduler(wall=wall)
    scheduler.update(CRITICAL, pump_s=T0, speed=0, first_due_pump_s=T0)
    wall.now += 0.1
    jumped = scheduler.update(CRITICAL, pump_s=T0 + 3600, speed=0)  # +1 hour while paused
    assert jumped.play == CRITICAL and jumped.skipped == 5 and jumped.played == 2


def test_texts_name_the_pump_time_and_the_skips() -> None:
    wall = Wall()
    scheduler = ToneScheduler(wall=wall)
    decision = scheduler.update(CRITICAL, pump_s=T0, speed=3600)
    assert next_repeat_text(decision, pump_s=T0 + 2, tz=UTC) == (
        "Next repeat due at 2026-09-21 14:23:20 pump time (in 9 min 58 s)"
    )
    assert skipped_text(decision) == "Repeats: 1 played, none skipped."
    wall.now += 1
    decision = scheduler.update(CRITICAL, pump_s=T0 + 3600, speed=3600)
    assert "6 skipped" in skipped_text(decision) and "x60" in skipped_text(decision)
    scheduler.muted = True
    muted = scheduler.update(CRITICAL, pump_s=T0 + 3600, speed=3600)
    assert next_repeat_text(muted, pump_s=T0 + 3600, tz=UTC).endswith("muted")
    none = scheduler.update(None, pump_s=T0, speed=1)
    assert next_repeat_text(none, pump_s=T0) == "No alarm tone due." and not skipped_text(none)


def test_the_sounding_pattern_and_the_pumps_repeat_times() -> None:
    assert sounding_pattern(tones=2, duration_s=3, repeat_s=600, alarm_classes=[]) is None
    both = [AlarmClass.NON_CRITICAL, AlarmClass.CRITICAL]
    assert sounding_pattern(tones=2, duration_s=3, repeat_s=600, alarm_classes=both) == CRITICAL
    assert next_repeat_at(raised_at_s=T0, repeat_s=600, now_s=T0 - 5) == T0
    assert next_repeat_at(raised_at_s=T0, repeat_s=600, now_s=T0 + 1) == T0 + 600
    assert next_repeat_at(raised_at_s=T0, repeat_s=600, now_s=T0 + 1200) == T0 + 1200
    with pytest.raises(ValueError, match="fast_speed"):
        ToneScheduler(wall=Wall(), fast_speed=0)
