"""Per-model profiles: the domain numbers, and inconsistent profiles refused."""

from __future__ import annotations

import dataclasses

import pytest

from firmware_model.errors import InvalidProfileError
from firmware_model.profile import PROFILES, PumpProfile, ToneSpec, profile_for
from protocol.enums import AlarmClass


def test_two_models_keyed_by_reservoir_size() -> None:
    assert sorted(PROFILES) == [20, 40]
    assert profile_for(20).capacity_nl == 20_000_000
    assert profile_for(40).capacity_nl == 40_000_000
    with pytest.raises(KeyError, match="known: \\[20, 40\\]"):
        profile_for(30)


@pytest.mark.parametrize("model", [20, 40])
def test_domain_numbers(model: int) -> None:
    p = profile_for(model)
    assert p.commercial_concentrations_ug_per_ml == (500, 1000, 2000)
    assert p.trial_concentrations_ug_per_ml == (50,)
    assert p.min_rate_nl_per_day == 48_000
    assert p.minimum_rate_mode_nl_per_day == 6_000
    assert p.max_rate_nl_per_day == 24_000_000
    assert p.default_alarm_volume_nl == 2_000_000
    assert p.min_alarm_volume_nl <= 4_000_000 <= p.max_alarm_volume_nl  # clinics use 3-4 mL
    assert p.max_flex_steps == 13
    assert p.eri_lead_s == 90 * 86_400
    assert p.event_log_capacity >= 1_024
    assert p.delivery_bias_ppm == 0
    assert p.refill_discrepancy_threshold_nl == model * 50_000  # 1 mL / 2 mL
    assert p.tone_for(AlarmClass.CRITICAL) == ToneSpec(tones=2, duration_s=3, repeat_s=600)
    assert p.tone_for(AlarmClass.NON_CRITICAL) == ToneSpec(tones=1, duration_s=1, repeat_s=3_600)
    assert p.bolus_duration_at_max_rate_s(1_000_000) == 3_600


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": 0}, "model"),
        ({"capacity_nl": 1.5}, "capacity_nl"),
        ({"model_name": ""}, "model_name"),
        ({"commercial_concentrations_ug_per_ml": (500, -1)}, "commercial_concentrations_ug_per_ml"),
        ({"empty_threshold_nl": 100}, "empty_threshold_nl"),
        ({"min_alarm_volume_nl": 1_000_000}, "min_alarm_volume_nl"),
        ({"default_alarm_volume_nl": 6_000_000}, "default_alarm_volume_nl"),
        ({"minimum_rate_mode_nl_per_day": 60_000}, "minimum_rate_mode_nl_per_day"),
        ({"delivery_bias_ppm": -1_000_000}, "delivery_bias_ppm"),
        ({"flex_step_granularity_min": 7}, "flex_step_granularity_min"),
        ({"patient_lockout_max_s": 100_000}, "patient_lockout_min_s"),
        ({"battery_quiescent_drain_uc_per_s": 0}, "battery_quiescent_drain_uc_per_s"),
        ({"event_log_capacity": 1_000}, "event_log_capacity"),
        ({"critical_tone": (2, 3, 600)}, "critical_tone"),
    ],
)
def test_inconsistent_profiles_are_refused(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidProfileError) as info:
        dataclasses.replace(PROFILES[20], **change)  # type: ignore[arg-type]
    assert info.value.field == field


def test_tone_repeat_must_cover_its_duration() -> None:
    with pytest.raises(InvalidProfileError):
        ToneSpec(tones=1, duration_s=10, repeat_s=5)


def test_a_custom_profile_keeps_its_values() -> None:
    biased = dataclasses.replace(PROFILES[40], delivery_bias_ppm=30_000)
    assert isinstance(biased, PumpProfile)
    assert biased.delivery_bias_ppm == 30_000
    assert biased.capacity_nl == 40_000_000
