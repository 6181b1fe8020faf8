"""Alarms: the guide, the list against a real low-reservoir alarm, tones, the alarm volume."""

from __future__ import annotations

import pytest

from programmer_gui.core import InputError
from programmer_gui.core.alarms import (
    GUIDE,
    TONES,
    alarm_rows,
    build_alarm_volume_review,
    class_text,
    plan_alarm_volume,
    segment_at,
)
from protocol.enums import AlarmClass, AlarmCode, ErrorCode
from protocol.errors import NakError
from protocol.tones import synthesize_pcm16
from tests.programmer_gui.pump_support import connected


def test_every_alarm_has_words() -> None:
    assert set(GUIDE) == set(AlarmCode)
    for guide in GUIDE.values():
        assert guide.title and guide.meaning and guide.what_to_do
    assert class_text(AlarmClass.CRITICAL).endswith("CRITICAL")
    assert class_text(AlarmClass.NON_CRITICAL).endswith("Non-critical")
    assert class_text(AlarmClass.CRITICAL)[0] != class_text(AlarmClass.NON_CRITICAL)[0]


def test_tone_patterns_follow_the_domain_timing() -> None:
    critical, single = TONES[AlarmClass.CRITICAL], TONES[AlarmClass.NON_CRITICAL]
    assert critical.duration_ms == 3000 and critical.repeat_s == 600
    assert len({s.frequency_hz for s in critical.segments}) == 2
    assert single.duration_ms == 1000 and single.repeat_s == 3600
    assert critical.describe() == (
        "two alternating tones (880 Hz / 587 Hz) for 3.0 s, repeating every 10 min"
    )
    assert single.describe() == "a single tone (660 Hz) for 1.0 s, repeating every 1 h"
    first = segment_at(critical, 0)
    second = segment_at(critical, 500)
    assert first is not None and second is not None
    assert first.frequency_hz != second.frequency_hz
    assert segment_at(critical, 3000) is None and segment_at(critical, -1) is None
    pcm = synthesize_pcm16(single, sample_rate_hz=8000)
    assert len(pcm) == 2 * 8000  # one second of 16-bit mono
    assert pcm[:2] == b"\x00\x00"  # the fade-in starts at silence


def test_low_reservoir_alarm_listed_silenced_and_clear_refused() -> None:
    with connected("default") as world:  # 20 mL, 0.2 mL/day: the 2 mL alarm on day 90
        world.advance_days(91)
        snapshot = world.snapshot()
        [row] = alarm_rows(snapshot)
        assert row.code is AlarmCode.LOW_RESERVOIR and row.title == "Low reservoir"
        assert row.class_text.endswith("Non-critical") and not row.can_clear
        assert "1 day ago" in row.raised and row.state.endswith("Sounding")
        world.client.silence_alarm(AlarmCode.LOW_RESERVOIR)
        [silenced] = alarm_rows(world.snapshot())
        assert silenced.silenced and silenced.state.endswith("Silenced")
        with pytest.raises(NakError) as refused:
            world.client.clear_alarm(AlarmCode.LOW_RESERVOIR)
        assert refused.value.code is ErrorCode.CONDITION_PERSISTS


def test_critical_alarms_come_first() -> None:
    with connected("default") as world:
        world.advance_days(91)
        world.pump.virtual.advance()
        world.pump.virtual.pump.inject_memory_error(world.pump.virtual.pump.t, True)
        rows = alarm_rows(world.snapshot())
        assert [r.code for r in rows] == [AlarmCode.MEMORY_CRITICAL, AlarmCode.LOW_RESERVOIR]
        assert rows[0].can_clear  # a latched memory error is cleared by the clinician


def test_alarm_volume_plan_matches_the_pump() -> None:
    with connected("default") as world:
        snapshot = world.snapshot()
        plan = plan_alarm_volume(3_000_000, snapshot=snapshot)
        # 17 mL at 0.2 mL/day instead of 18 mL: 5 days earlier than day 90.
        assert plan.alarm_at_before_s is not None and plan.alarm_at_after_s is not None
        assert plan.alarm_at_before_s - plan.alarm_at_after_s == 5 * 86_400
        assert not plan.raises_now
        review = build_alarm_volume_review(plan, snapshot)
        assert next(r.pending for r in review.rows) == "3 mL"
        review.action.run(world.client)
        after = world.snapshot()
        assert review.action.verify(after)
        assert after.status.low_reservoir_alarm_at_s == plan.alarm_at_after_s
        with pytest.raises(InputError, match="empty threshold"):
            plan_alarm_volume(1_000_000, snapshot=snapshot)
        with pytest.raises(InputError, match="capacity"):
            plan_alarm_volume(20_000_000, snapshot=snapshot)
    with connected("demo") as world:  # 30 mL in a 40 mL pump
        snapshot = world.snapshot()
        high = plan_alarm_volume(30_000_000, snapshot=snapshot)
        assert high.raises_now and high.alarm_at_after_s == snapshot.status.clock_s
        assert build_alarm_volume_review(high, snapshot).warning_codes == (
            "alarm-volume-raises-now",
        )
