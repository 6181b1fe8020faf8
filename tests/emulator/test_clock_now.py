"""PumpClock.now() (written out, read before every answer) says what the general reading
says: the same operations on two clocks, one read with now() and one with now_ns() (which
goes through _read_ns_locked), give the same seconds and the same high-water mark."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.clock import PumpClock

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
        st.tuples(st.just("read"), st.none()),
    ),
    max_size=60,
)


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
                if clock.now_ns() // 10**9 + arg <= CEILING:
                    clock.advance(arg)
        if op in ("read", "wall"):
            assert fast.now() == general.now_ns() // 10**9
        assert fast._last_ns == general._last_ns
    assert fast.now() == general.now_ns() // 10**9
