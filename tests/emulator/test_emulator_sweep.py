"""The emulator's tick costs the same whatever the fleet's size: the 1 Hz sweep is spread
over slices of at most SWEEP_SLICE pumps, and only pumps with a world event scheduled are
looked at for one."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from emulator.clock import PumpClock
from emulator.emulator import SWEEP_SLICE, Emulator, fleet_setups
from emulator.presets import PRESETS
from protocol.keys import DEMO_KEY_FILE, load_keys
from tests.support import FakeWall

T0 = 1_790_000_000


Fleet = Callable[[int], tuple[Emulator, FakeWall, list[int]]]


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    made: list[Emulator] = []

    def make(count: int) -> tuple[Emulator, FakeWall, list[int]]:
        result = _fleet(count)
        made.append(result[0])
        return result

    yield make
    for emu in made:
        emu.close()


def _fleet(count: int) -> tuple[Emulator, FakeWall, list[int]]:
    """An emulator of ``count`` pumps on a fake wall, and a list counting each pump's
    sweeps (advances made by the tick)."""
    wall = FakeWall()
    clock = PumpClock(start_pump_s=T0, wall=wall)
    emu = Emulator(
        fleet_setups(PRESETS["demo"], count),
        keys=load_keys(DEMO_KEY_FILE),
        clock=clock,
        wall=wall,
    )
    swept = [0] * count
    for p in emu.pumps:
        original = p.maybe_save

        def counted(i: int = p.index, original: object = original) -> None:
            swept[i] += 1
            assert callable(original)
            original()

        p.maybe_save = counted  # type: ignore[method-assign]
    return emu, wall, swept


@pytest.mark.parametrize("count", [1, 5, SWEEP_SLICE])
def test_a_small_fleet_is_swept_whole_once_a_second(count: int, fleet: Fleet) -> None:
    emu, wall, swept = fleet(count)
    deadline = emu._tick()
    assert swept == [1] * count  # the first tick sweeps everyone, as before
    assert deadline == pytest.approx(wall.now + 1.0)
    emu._tick()
    assert swept == [1] * count  # not again within the second
    wall.now += 1.0
    emu._tick()
    assert swept == [2] * count


def test_a_big_fleet_is_swept_in_slices_spread_over_the_second(fleet: Fleet) -> None:
    count = 10 * SWEEP_SLICE
    emu, wall, swept = fleet(count)
    # Start-up: everyone is owed a sweep; each tick does one slice and asks to run again now.
    for k in range(1, 11):
        deadline = emu._tick()
        assert sum(swept) == k * SWEEP_SLICE
        assert deadline is not None
    assert swept == [1] * count
    # From then on a slice is owed every SWEEP_SLICE / count of a second.
    assert deadline == pytest.approx(wall.now + SWEEP_SLICE / count)
    for _ in range(10):
        emu._tick()  # no time passed: nothing owed
    assert swept == [1] * count
    ticks = 0
    while min(swept) < 2:
        wall.now += 0.05
        emu._tick()
        ticks += 1
        assert max(swept) - min(swept) <= 1  # round robin: nobody is swept twice ahead
    assert ticks == pytest.approx(20, abs=1)  # the whole fleet once more in about 1 s
    # A long stall is not made up for by sweeping more than once round.
    wall.now += 60.0
    for _ in range(30):
        emu._tick()
    assert min(swept) >= 3 and max(swept) <= 4


def test_only_pumps_with_a_world_event_are_watched_for_one(fleet: Fleet) -> None:
    emu, wall, _ = fleet(3 * SWEEP_SLICE)
    assert emu._timed_pumps == {}
    emu.pumps[7].mri_for(2700)
    assert list(emu._timed_pumps) == [emu.pumps[7]]
    due_at = emu.clock.next_wall_deadline(T0 + 2700)
    wake_at = emu._tick()
    assert due_at is not None and wake_at is not None and wake_at <= due_at
    wall.now += 2700
    emu._tick()
    assert emu.pumps[7].next_world_event_t is None
    emu._tick()
    assert emu._timed_pumps == {}  # dropped once its event was applied
    mri = emu.pumps[7].pump.mri
    assert mri is None or not mri.in_field  # the exposure ended on its second


def test_the_sweep_passes_over_a_pump_a_request_has_just_advanced(fleet: Fleet) -> None:
    emu, wall, swept = fleet(2)
    emu._tick()  # everyone swept (and advanced) once
    advances = [0, 0]
    for p in emu.pumps:
        original = p.virtual.advance

        def counted(i: int = p.index, original: object = original) -> int:
            advances[i] += 1
            assert callable(original)
            result = original()
            assert isinstance(result, int)
            return result

        p.virtual.advance = counted  # type: ignore[method-assign]
    wall.now += 0.8
    emu.pumps[0].virtual.endpoint().close()  # a link to pump 0: it is brought up to now
    assert advances == [1, 0]
    wall.now += 0.2
    emu._tick()
    assert swept == [2, 2]  # both visited (the periodic save)
    # Pump 0 was advanced 0.2 s ago by its link: not again; pump 1 was idle: advanced.
    assert advances == [1, 1]
    assert emu.pumps[0].advanced_at == pytest.approx(wall.now - 0.2)


def _count_advances(emu: Emulator) -> list[int]:
    advances = [0] * len(emu.pumps)
    for p in emu.pumps:
        original = p.virtual.advance

        def counted(i: int = p.index, original: object = original) -> int:
            advances[i] += 1
            assert callable(original)
            result = original()
            assert isinstance(result, int)
            return result

        p.virtual.advance = counted  # type: ignore[method-assign]
    return advances


@pytest.mark.parametrize("phase", [0.01, 0.25, 0.5, 0.75, 0.95])
def test_a_fleet_polled_once_a_second_is_advanced_once_a_second_at_any_phase(
    phase: float, fleet: Fleet
) -> None:
    """Requests and sweep both go round the fleet once a second; whatever the offset
    between them, each pump is advanced by its request only (the sweep still visits it)."""
    count = 4 * SWEEP_SLICE
    emu, wall, swept = fleet(count)
    for _ in range(count // SWEEP_SLICE):
        emu._tick()  # start-up: everyone swept once
    wall.now += phase
    advances = _count_advances(emu)

    def poll_round() -> None:
        for p in emu.pumps:
            p.virtual.endpoint().close()  # a request: the link brings the pump up to now
            emu._tick()
            wall.now += 1.0 / count

    poll_round()  # the first: a pump the sweep reaches before its first request is idle
    first, visits = list(advances), list(swept)
    seconds = 5
    for _ in range(seconds):
        poll_round()
    assert [a - b for a, b in zip(advances, first, strict=True)] == [seconds] * count
    # Visited all the same (the periodic save), once a second.
    assert [a - b for a, b in zip(swept, visits, strict=True)] == [seconds] * count


def test_an_idle_pump_is_advanced_on_every_visit_and_a_quiet_one_within_two_seconds(
    fleet: Fleet,
) -> None:
    emu, wall, _ = fleet(2)
    emu._tick()
    advances = _count_advances(emu)
    for _ in range(3):
        wall.now += 1.0
        emu._tick()
    assert advances == [3, 3]  # idle: brought up to the clock every second
    wall.now += 0.1
    emu.pumps[0].virtual.endpoint().close()  # a request advances pump 0 just after a visit
    wall.now += 0.9
    emu._tick()
    assert advances == [4, 4]  # pump 0 was current; pump 1 was swept
    wall.now += 1.0
    emu._tick()
    assert advances == [5, 5]  # no request since the last visit: pump 0 is swept again
