"""A link's ``receive`` brings the pump up to the clock exactly as
:meth:`VirtualPump.advance` does (it writes that step out, once per request): the same
pump time handed to the world, clamped at the pump's RTC ceiling (``max_t``)."""

from __future__ import annotations

import random

import pytest

from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.presets import PRESETS
from firmware_model.pump import Pump
from tests.support import DEMO_KEYS, T0, FakeWall


def _virtual(start_pump_s: int) -> tuple[VirtualPump, list[int]]:
    wall = FakeWall()
    clock = PumpClock(start_pump_s=start_pump_s, wall=wall, max_pump_s=start_pump_s + 10)
    clock.set_manual()
    virtual = VirtualPump(
        pump=PRESETS["default"].build(t=T0),
        keys=DEMO_KEYS,
        clock=clock,
        wall=wall,
        random_bytes=random.Random(3).randbytes,
    )
    seen: list[int] = []

    def record(pump: Pump, t: int) -> None:
        assert pump is virtual.pump
        seen.append(t)  # the world is not moved: only the time handed to it is compared

    virtual.on_advance = record
    return virtual, seen


@pytest.mark.parametrize("ahead_s", [0, 1, 3600])
def test_receive_hands_the_world_the_time_advance_does(ahead_s: int) -> None:
    virtual, seen = _virtual(T0 + ahead_s)
    reached = virtual.advance()
    virtual.endpoint().receive(b"\x00")
    assert seen == [reached, reached] == [T0 + ahead_s, T0 + ahead_s]


@pytest.mark.parametrize("past_s", [0, 1, 86_400])
def test_receive_stops_at_the_rtc_ceiling_as_advance_does(past_s: int) -> None:
    probe, _ = _virtual(T0)
    max_t = probe.pump.max_t
    virtual, seen = _virtual(max_t + past_s)
    reached = virtual.advance()
    virtual.endpoint().receive(b"\x00")
    assert seen == [reached, reached] == [max_t, max_t]


def test_receive_advances_the_pump_itself_without_a_world() -> None:
    virtual, _ = _virtual(T0 + 120)
    virtual.on_advance = None
    virtual.endpoint().receive(b"\x00")
    assert virtual.pump.t == T0 + 120
