"""The per-poll lookups the STATUS answer makes written out, each held to the plain one it
replaces, at the seconds where an off-by-one would show: a schedule's step boundaries
(``Schedule.rate_and_weekday`` against ``rate_at`` and ``weekday``) and a forecast
exactly at the horizon's last second (the forecast cache's re-check of a cached crossing)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.errors import OutOfRangeError, WrongTypeError
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump
from protocol.enums import AlarmCode
from protocol.schedule import compile_schedule
from protocol.timebase import MONDAY_EPOCH_CLOCK_S, SECONDS_PER_WEEK, weekday

from . import rx
from .builders import T0_CLOCK_S, new_pump
from .strategies import STRATEGY_CONC, prescriptions, profiles

DAY = 86_400


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_rate_and_weekday_is_rate_at_and_weekday_at_every_step_boundary(
    data: st.DataObject,
) -> None:
    profile = data.draw(profiles())
    spec = data.draw(prescriptions(profile))
    schedule = compile_schedule(
        spec,
        concentration_ug_per_ml=STRATEGY_CONC,
        minimum_mode_rate_nl_per_day=profile.minimum_rate_mode_nl_per_day,
    )
    week = data.draw(st.integers(-3, 3000)) * SECONDS_PER_WEEK + MONDAY_EPOCH_CLOCK_S
    clocks = [week + s + d for s in schedule._starts for d in (-1, 0, 1)]
    clocks += [week + day * DAY + d for day in range(8) for d in (-1, 0, 1)]
    clocks += data.draw(st.lists(st.integers(0, 2**32 - 1), max_size=20))
    for clock in clocks:
        assert schedule.rate_and_weekday(clock) == (schedule.rate_at(clock), weekday(clock))


def test_a_cached_crossing_at_the_horizons_last_second_is_reported_from_that_second() -> None:
    """The low-reservoir second (day 90) is cached at day 59; it is beyond the 30-day
    horizon one second before day 60 and within it from day 60 (no integration between)."""
    profile = replace(PROFILES[20], forecast_horizon_s=30 * DAY)
    pump = Pump.new(
        profile=profile,
        serial="HORIZON-2",
        t=0,
        reservoir_nl=20_000_000,
        concentration_ug_per_ml=500,
        prescription=rx.simple(200_000),
        clock_offset_s=T0_CLOCK_S,
    )
    pump.advance_to(59 * DAY)
    assert pump.low_reservoir_at() is None
    anchor = pump._forecasts.anchors[0]
    assert anchor is not None and anchor.crossing is not None
    assert anchor.crossing.x == 90 * DAY
    pump.advance_to(60 * DAY - 1)
    assert pump.low_reservoir_at() is None is pump._forecasts_uncached()[0]
    assert pump._forecasts.anchors[0] is anchor  # answered from the cache
    pump.advance_to(60 * DAY)
    assert pump.low_reservoir_at() == T0_CLOCK_S + 90 * DAY == pump._forecasts_uncached()[0]
    assert pump._forecasts.anchors[0] is anchor


def test_telemetry_drains_the_last_charge_to_zero_and_refuses_bad_seconds() -> None:
    """note_telemetry's charge written out: floored at zero (end of service), and a bad
    ``seconds`` refused with the same typed errors, changing nothing."""
    pump = new_pump(prescription=rx.stopped(), battery_permille=1)
    charge = pump.battery_uc
    drain = PROFILES[20].battery_telemetry_drain_uc_per_s  # uC per second of telemetry
    seconds = charge // drain + 1
    for bad, error in ((-1, OutOfRangeError), (True, WrongTypeError), (1.0, WrongTypeError)):
        with pytest.raises(error):
            pump.note_telemetry(0, bad)  # type: ignore[arg-type]
        assert pump.battery_uc == charge
    pump.note_telemetry(0, seconds - 1)
    assert 0 < pump.battery_uc == charge - (seconds - 1) * drain
    pump.note_telemetry(0, seconds)
    assert pump.battery_uc == 0
    assert AlarmCode.EOS in pump.status().alarms_active
