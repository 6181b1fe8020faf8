"""The clock ceiling: pump time and the pump RTC stop at the last second 32 bits hold.

At x1,000,000 a clock started today passes 2**32 s (2106-02-07) after about 42
minutes, and a pump image past it could not be loaded again.
"""

from __future__ import annotations

import pytest

from emulator.clock import MAX_PUMP_S, ClockCeilingError, PumpClock
from emulator.emulator import ControlError, Emulator
from emulator.errors import ClockValueError
from emulator.presets import PRESETS
from firmware_model.errors import InternalError, RtcCeilingError
from firmware_model.pump import Pump
from protocol.timebase import RTC_MAX_CLOCK_S
from tests.hardening.fuzz import DeviceHarness
from tests.support import DEMO_KEYS, T0, FakeWall


def test_a_clock_at_a_million_times_stops_at_the_ceiling() -> None:
    wall = FakeWall()
    clock = PumpClock(start_pump_s=T0, wall=wall, speed=1_000_000)
    assert clock.ceiling_s == MAX_PUMP_S == RTC_MAX_CLOCK_S
    wall.now += (RTC_MAX_CLOCK_S - T0) / 1e6 - 1
    assert clock.now() < RTC_MAX_CLOCK_S and not clock.at_ceiling
    wall.now += 60 * 60  # an hour later: still the last second, never past it
    assert clock.now() == RTC_MAX_CLOCK_S and clock.at_ceiling
    assert clock.next_wall_deadline(RTC_MAX_CLOCK_S) is not None
    assert clock.next_wall_deadline(RTC_MAX_CLOCK_S + 1) is None  # never comes
    clock.set_speed(2)  # switching at the ceiling neither jumps nor moves on
    wall.now += 10
    assert clock.now() == RTC_MAX_CLOCK_S


def test_a_step_past_the_ceiling_is_refused_and_changes_nothing() -> None:
    clock = PumpClock(start_pump_s=RTC_MAX_CLOCK_S - 100, wall=FakeWall())
    clock.set_manual()
    with pytest.raises(ClockCeilingError, match="at most 100 s are left") as caught:
        clock.advance(101)
    assert isinstance(caught.value, ClockValueError)
    assert clock.now() == RTC_MAX_CLOCK_S - 100
    assert clock.advance(100) == RTC_MAX_CLOCK_S
    with pytest.raises(ClockCeilingError):
        clock.advance(1)
    assert clock.advance(0) == RTC_MAX_CLOCK_S
    with pytest.raises(ClockValueError, match="past the ceiling"):
        PumpClock(start_pump_s=11, max_pump_s=10)
    assert PumpClock(start_pump_s=0, max_pump_s=10, wall=FakeWall()).ceiling_s == 10


def test_the_model_never_runs_its_rtc_past_32_bits() -> None:
    pump = PRESETS["default"].build(t=T0)
    assert pump.max_t == RTC_MAX_CLOCK_S
    before = pump.to_bytes()
    with pytest.raises(RtcCeilingError, match="ends at t=4294967295") as caught:
        pump.advance_to(RTC_MAX_CLOCK_S + 1)
    assert isinstance(caught.value, InternalError)  # the caller's defect, not the peer's
    assert pump.to_bytes() == before
    pump.advance_to(pump.max_t)
    again = Pump.from_bytes(pump.to_bytes())  # the last second is still a loadable image
    assert again.clock(again.t) == RTC_MAX_CLOCK_S
    with pytest.raises(RtcCeilingError):
        pump.set_alarm_volume(pump.max_t + 1, 3_000_000)  # commands advance first


def test_setting_the_rtc_ahead_moves_the_ceiling_of_model_time() -> None:
    pump = PRESETS["default"].build(t=T0)
    pump.set_clock(T0, T0 + 3600)
    assert pump.max_t == RTC_MAX_CLOCK_S - 3600
    with pytest.raises(RtcCeilingError):
        pump.advance_to(RTC_MAX_CLOCK_S - 3599)
    pump.advance_to(pump.max_t)
    assert Pump.from_bytes(pump.to_bytes()).clock(pump.max_t) == RTC_MAX_CLOCK_S


def test_a_pump_at_the_ceiling_still_answers() -> None:
    harness = DeviceHarness()
    harness.t = RTC_MAX_CLOCK_S
    assert harness.probe().clock_s == RTC_MAX_CLOCK_S


def test_an_emulator_at_full_speed_ends_at_the_ceiling_with_a_loadable_pump() -> None:
    wall = FakeWall()
    with Emulator.single(start_pump_s=T0, wall=wall, keys=DEMO_KEYS) as emu:
        emu.set_speed(1_000_000)
        wall.now += 3 * 3600  # three wall hours at x1e6: 108 years asked, 80 left
        state = emu.state()
        assert state["pump"]["clock_s"] == RTC_MAX_CLOCK_S
        assert state["clock"]["pump_time_s"] == RTC_MAX_CLOCK_S
        assert Pump.from_bytes(emu.pumps[0].pump.to_bytes()).t == RTC_MAX_CLOCK_S
        with pytest.raises(ControlError, match="ceiling"):
            emu.advance(1)
