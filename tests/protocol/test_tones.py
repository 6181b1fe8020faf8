"""protocol.tones: the one definition of the alarm tones, checked against the firmware's
model profiles and domain.md."""

from __future__ import annotations

import pytest

from firmware_model.profile import PROFILES
from protocol.enums import AlarmClass
from protocol.messages import DEVICE_MODELS
from protocol.tones import (
    MODEL_TONES,
    ToneError,
    ToneSegment,
    ToneTiming,
    build_pattern,
    describe_interval,
    pattern_for,
    synthesize_pcm16,
)


def test_every_model_has_the_firmware_profiles_timing() -> None:
    assert sorted(MODEL_TONES) == sorted(DEVICE_MODELS) == sorted(PROFILES)
    for model, profile in PROFILES.items():
        for alarm_class in AlarmClass:
            spec = profile.tone_for(alarm_class)
            timing = MODEL_TONES[model][alarm_class]
            assert (timing.tones, timing.duration_s, timing.repeat_s) == (
                spec.tones,
                spec.duration_s,
                spec.repeat_s,
            )


def test_patterns_follow_domain_md() -> None:
    critical = pattern_for(40, AlarmClass.CRITICAL)
    assert critical.duration_ms == 3000 and critical.repeat_s == 600
    assert critical.pitches_hz == (880, 587)
    assert [s.frequency_hz for s in critical.segments] == [880, 587] * 3
    assert critical.label == "Critical"
    single = pattern_for(20, AlarmClass.NON_CRITICAL)
    assert single.segments == (ToneSegment(frequency_hz=660, duration_ms=1000),)
    assert single.repeat_s == 3600 and single.label == "Non-critical"
    assert critical.segment_at(499) == critical.segments[0]
    assert critical.segment_at(500) == critical.segments[1]
    assert critical.segment_at(3000) is None and critical.segment_at(-1) is None


def test_a_configured_timing_builds_its_own_pattern() -> None:
    three = build_pattern(AlarmClass.CRITICAL, ToneTiming(tones=3, duration_s=2, repeat_s=90))
    assert [s.frequency_hz for s in three.segments] == [880, 587, 740, 880]
    assert three.describe() == (
        "three alternating tones (880 Hz / 587 Hz / 740 Hz) for 2.0 s, repeating every 1 min 30 s"
    )
    assert describe_interval(45) == "45 s" and describe_interval(5400) == "1 h 30 min"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tones": 0, "duration_s": 1, "repeat_s": 10}, "tones must be an int >= 1"),
        ({"tones": 5, "duration_s": 3, "repeat_s": 10}, "at most 4"),
        ({"tones": 2, "duration_s": 1, "repeat_s": 0}, "repeat_s must be an int >= 1"),
        ({"tones": 1, "duration_s": 5, "repeat_s": 2}, "must be >= duration_s"),
        ({"tones": 3, "duration_s": 1, "repeat_s": 60}, "need at least 1.5 s"),
        ({"tones": True, "duration_s": 1, "repeat_s": 60}, "tones must be an int"),
    ],
)
def test_bad_timing_is_refused(fields: dict[str, int], message: str) -> None:
    with pytest.raises(ToneError, match=message):
        ToneTiming(**fields)


def test_unknown_model_and_bad_rendering_requests() -> None:
    with pytest.raises(ToneError, match="known models: \\[20, 40\\]"):
        pattern_for(30, AlarmClass.CRITICAL)
    critical = pattern_for(20, AlarmClass.CRITICAL)
    with pytest.raises(ToneError, match="above 1760 Hz"):
        synthesize_pcm16(critical, sample_rate_hz=1760)
    with pytest.raises(ToneError, match="plays must be"):
        synthesize_pcm16(critical, plays=0)


def test_pcm_layout_of_two_plays() -> None:
    single = pattern_for(20, AlarmClass.NON_CRITICAL)
    one = synthesize_pcm16(single, sample_rate_hz=2000)
    assert len(one) == 2 * 2000  # 1 s of 16-bit mono
    two = synthesize_pcm16(single, sample_rate_hz=2000, plays=2)
    assert len(two) == 2 * 2000 * (3600 + 1)
    assert two[: len(one)] == one and two[-len(one) :] == one
    assert not any(two[len(one) : 2 * 2000 * 3600])
