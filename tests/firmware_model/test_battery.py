"""Battery calibration, permille, the ERI rule, and ERI then EOS on a running pump."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.profile import PROFILES, PumpProfile
from firmware_model.pump import Pump
from protocol.enums import AlarmCode, EventCode
from protocol.timebase import SECONDS_PER_DAY, SECONDS_PER_WEEK

from . import rx
from .builders import refill
from .strategies import CLOCK_2024_01_01_S, profiles

YEAR_S = 365 * SECONDS_PER_DAY


@pytest.mark.parametrize("profile", PROFILES.values(), ids=lambda p: p.model_name)
def test_a_new_battery_lasts_seven_years_at_low_flow_and_five_at_high(profile: PumpProfile) -> None:
    bat = profile.battery()
    low = bat.life_at_rate_s(profile.battery_rated_low_flow_nl_per_day)
    high = bat.life_at_rate_s(profile.battery_rated_high_flow_nl_per_day)
    assert 6.95 * YEAR_S <= low <= 7 * YEAR_S
    assert 5 * YEAR_S <= high <= 5.05 * YEAR_S


@settings(max_examples=50, deadline=None, derandomize=True)
@given(profile=profiles(), data=st.data())
def test_life_is_between_five_and_seven_years_across_the_flow_range(
    profile: PumpProfile, data: st.DataObject
) -> None:
    rate = data.draw(
        st.integers(
            profile.battery_rated_low_flow_nl_per_day, profile.battery_rated_high_flow_nl_per_day
        )
    )
    life = profile.battery().life_at_rate_s(rate)
    assert 5 * YEAR_S <= life <= 7 * YEAR_S


def test_permille_round_trips_and_zero_means_empty() -> None:
    bat = PROFILES[20].battery()
    for permille in range(1_001):
        assert bat.permille(bat.charge_for_permille(permille)) == permille
    assert bat.permille(1) == 1
    assert bat.permille(0) == 0
    # The battery maths lives in protocol now (shared with the programmer), which knows no
    # firmware errors: it refuses with ValueError (OutOfRangeError is one).
    for bad in (-1, 1_001):
        with pytest.raises(ValueError, match="battery_permille"):
            bat.charge_for_permille(bad)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(profile=profiles(), rate=st.integers(0, 24_000_000))
def test_eri_threshold_is_exactly_the_ninety_day_projection(
    profile: PumpProfile, rate: int
) -> None:
    bat = profile.battery()
    weekly = rate * SECONDS_PER_WEEK
    threshold = bat.eri_threshold_uc(weekly)
    per_s = Fraction(bat.quiescent_drain_uc_per_s) + Fraction(
        bat.drain_uc_per_nl * rate, SECONDS_PER_DAY
    )
    # Exact projected life (rational seconds) just below and at the threshold.
    assert Fraction(threshold - 1) / per_s < profile.eri_lead_s
    assert Fraction(threshold) / per_s >= profile.eri_lead_s
    assert bat.projected_life_s(threshold, weekly) == int(Fraction(threshold) / per_s)


def run_until_eos(profile: PumpProfile, rate: int) -> Pump:
    """A pump at a constant rate, refilled whenever it runs low, until its battery dies."""
    pump = Pump.new(
        profile=profile,
        serial="BAT-1",
        t=0,
        reservoir_nl=profile.capacity_nl,
        concentration_ug_per_ml=500,
        prescription=rx.simple(rate, 500),
        clock_offset_s=CLOCK_2024_01_01_S,
    )
    while AlarmCode.EOS not in pump.halted_by:
        low = pump.low_reservoir_at()
        assert low is not None
        pump.advance_to(max(low - CLOCK_2024_01_01_S, pump.t))
        if AlarmCode.LOW_RESERVOIR in pump.status().alarms_active:
            refill(
                pump,
                pump.t,
                removed_nl=pump.estimated_reservoir_nl,
                added_nl=profile.capacity_nl,
            )
    return pump


@pytest.mark.parametrize(
    ("rate", "low_years", "high_years"),
    [(48_000, 6.9, 7.0), (500_000, 5.5, 6.8), (2_000_000, 5.0, 5.1)],
)
def test_pump_raises_eri_ninety_days_before_eos_and_then_stops(
    rate: int, low_years: float, high_years: float
) -> None:
    profile = PROFILES[40]
    pump = run_until_eos(profile, rate)
    raised = {e.a: e.clock_s for e in pump.event_log if e.code is EventCode.ALARM_RAISED}
    eri, eos = raised[AlarmCode.ERI], raised[AlarmCode.EOS]
    assert eri < eos
    # Constant flow: the projection is exact, so EOS comes 90 days after ERI (to the second,
    # give or take the rounding of the threshold into whole uC and whole seconds).
    assert abs(eos - eri - profile.eri_lead_s) <= 1
    life = eos - CLOCK_2024_01_01_S
    assert low_years * YEAR_S <= life <= high_years * YEAR_S
    # At EOS the pump stops: nothing more is delivered.
    delivered = pump.total_delivered_nl
    halted = [e for e in pump.event_log if e.code is EventCode.DELIVERY_HALTED]
    assert halted[-1].a == AlarmCode.EOS
    pump.advance_to(pump.t + 30 * SECONDS_PER_DAY)
    assert pump.total_delivered_nl == delivered
    assert pump.battery_permille == 0
