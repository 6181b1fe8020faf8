"""PumpClock.now() (written out, read before every answer; a stopped clock answers without
its lock) says what the general reading says: the same operations on two clocks, one read
with now() and one with now_ns() (which goes through _read_ns_locked), give the same
seconds and the same high-water mark. PumpClock.advance (its reading written out) steps
the clock as the former advance, kept here, did (through _read_ns_locked), refused steps
past the ceiling included."""

from __future__ import annotations

import itertools
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.clock import ClockCeilingError, PumpClock

START = 1_700_000_000
CEILING = START + 5_000

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("wall"), st.floats(-5.0, 50.0, allow_nan=False)),
        st.tuples(st.just("speed"), st.sampled_from([1.0, 2.5, 60.0, 1000.0, 1e6])),
        st.tuples(st.just("pause"), st.none()),
        st.tuples(st.just("resume"), st.none()),
        st.tuples(st.just("manual"), st.none()),
        st.tuples(st.just("advance"), st.integers(0, 100)),
        st.tuples(st.just("advance"), st.integers(2_000, 6_000)),  # past the ceiling, at times
        st.tuples(st.just("read"), st.none()),
    ),
    max_size=60,
)


def _former_advance(clock: PumpClock, seconds: int) -> int:
    """PumpClock.advance of whole seconds as it was before its reading was written out."""
    step_ns = seconds * 10**9
    with clock._lock:
        wall_s = float(clock._wall())
        now_ns = clock._read_ns_locked(wall_s)
        if now_ns + step_ns > clock._ceiling_ns:
            raise ClockCeilingError(
                step_s=seconds, now_s=now_ns // 10**9, ceiling_s=clock.ceiling_s
            )
        clock._anchor_wall_s = wall_s
        clock._anchor_ns = clock._last_ns = now_ns + step_ns
        return clock._last_ns // 10**9


def _state(clock: PumpClock) -> tuple[object, ...]:
    return (clock._last_ns, clock._anchor_ns, clock._anchor_wall_s, clock._running)


class _Wall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@settings(max_examples=300, deadline=None)
@given(ops=_OPS)
def test_now_reads_what_now_ns_reads(ops: list[tuple[str, object]]) -> None:
    walls = (_Wall(), _Wall())
    fast, general = (PumpClock(start_pump_s=START, wall=w, max_pump_s=CEILING) for w in walls)
    fast_reached: object = None
    for op, arg in ops:
        for clock, wall in ((fast, walls[0]), (general, walls[1])):
            if op == "wall":
                assert isinstance(arg, float)
                wall.t += arg  # backwards too: the high-water mark holds
            elif op == "speed":
                assert isinstance(arg, float)
                clock.set_speed(arg)
            elif op == "pause":
                clock.pause()
            elif op == "resume":
                clock.resume()
            elif op == "manual":
                clock.set_manual()
            elif op == "advance":
                assert isinstance(arg, int)
                try:
                    reached: object = (
                        clock.advance(arg) if clock is fast else _former_advance(clock, arg)
                    )
                except ClockCeilingError as exc:
                    reached = str(exc)  # refused alike, with the same message
                if clock is fast:
                    fast_reached = reached
                else:
                    assert reached == fast_reached
        if op == "read":  # not after every move of the wall: a step reads it too
            assert fast.now() == general.now_ns() // 10**9
        assert _state(fast) == _state(general)
    assert fast.now() == general.now_ns() // 10**9


def test_now_never_goes_back_while_another_thread_switches_and_steps_the_clock() -> None:
    """A stopped clock answers now() without its lock: readings taken while another thread
    pauses, resumes, steps and sets the speed never go backwards and never pass what the
    clock reaches (its final reading)."""
    wall = _Wall()
    clock = PumpClock(start_pump_s=START, wall=wall, max_pump_s=START + 10**7)
    readings: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            readings.append(clock.now())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(3_000):
            wall.t += 0.5
            op = i % 5
            if op == 0:
                clock.pause()
            elif op == 1:
                clock.advance(3)
            elif op == 2:
                clock.resume()
            elif op == 3:
                clock.set_manual()
            else:
                clock.set_speed(2.0 + i % 3)
    finally:
        done.set()
        reader.join()
    final = clock.now()
    assert len(readings) > 0
    assert all(a <= b for a, b in itertools.pairwise(readings))
    assert readings[-1] <= final
