"""Patient-activated dose settings: checks, the most they add, and the forecast."""

from __future__ import annotations

import pytest

from programmer_gui.core import InputError
from programmer_gui.core.patient import (
    build_review,
    describe_current,
    doses_per_day_max,
    plan_settings,
    same_settings,
)
from tests.programmer_gui.pump_support import connected


def test_most_doses_a_day() -> None:
    assert doses_per_day_max(lockout_s=3 * 3600, max_per_24h=4) == 4
    assert doses_per_day_max(lockout_s=10 * 3600, max_per_24h=12) == 3  # 0 h, 10 h, 20 h


def test_settings_effect_and_programming() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        assert describe_current(snapshot) == ["Patient-activated doses: off"]
        plan = plan_settings(
            enabled=True,
            dose_ug=25,
            duration_min=10,
            lockout_min=180,
            max_per_24h=4,
            snapshot=snapshot,
        )
        assert plan.settings.dose_ng == 25_000  # 25 mcg (12.5 uL at 2000 mcg/mL)
        assert "0.0125 mL at 2000 mcg/mL" in plan.summary_lines()[0]
        assert plan.doses_per_day_max == 4 and plan.extra_ug_per_day_max == 100
        assert plan.alarm_at_with_s is not None and plan.alarm_at_without_s is not None
        assert plan.alarm_at_with_s < plan.alarm_at_without_s
        assert "patient-extra-large" in [code for code, _ in plan.warnings]  # 100 of ~397
        review = build_review(plan, snapshot)
        assert review.rows[0].current == "off" and review.rows[0].pending == "on"
        review.action.run(world.client)
        after = world.snapshot()
        assert review.action.verify(after)
        assert same_settings(after.patient_settings, plan.settings)
        # The pump assumes the doses at their maximum too: its date is ours, to the second.
        pump_alarm = after.status.low_reservoir_alarm_at_s
        assert pump_alarm == plan.alarm_at_with_s
        assert "at most 4 per 24 h" in describe_current(after)[1]
        off = plan_settings(
            enabled=False, dose_ug=0, duration_min=0, lockout_min=0, max_per_24h=0, snapshot=after
        )
        assert off.extra_ug_per_day_max == 0 and off.warnings == ()
        build_review(off, after).action.run(world.client)
        assert not world.client.patient_settings().enabled


def test_refusals() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        base = dict(enabled=True, dose_ug=25, duration_min=10, lockout_min=180, max_per_24h=4)
        with pytest.raises(InputError, match="at least the delivery time"):
            plan_settings(**{**base, "lockout_min": 5}, snapshot=snapshot)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="24 h"):
            plan_settings(**{**base, "lockout_min": 1500}, snapshot=snapshot)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="more than 0 mcg"):
            plan_settings(**{**base, "dose_ug": 0}, snapshot=snapshot)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="maximum rate"):
            plan_settings(**{**base, "dose_ug": 900, "duration_min": 1}, snapshot=snapshot)  # type: ignore[arg-type]
