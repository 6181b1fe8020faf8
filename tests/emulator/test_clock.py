"""PumpClock: every mode and switch against a fake wall source."""

from __future__ import annotations

import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.clock import MAX_ADVANCE_S, ClockMode, ClockSnapshot, PumpClock
from emulator.errors import ClockValueError, EmulatorUsageError

START = 1_700_000_000


class FakeWall:
    """A wall source the test moves by hand."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(speed: float = 1.0) -> tuple[PumpClock, FakeWall]:
    wall = FakeWall()
    return PumpClock(start_pump_s=START, wall=wall, speed=speed), wall


def test_real_time_follows_the_wall_and_rounds_down() -> None:
    clock, wall = make()
    assert clock.now() == START
    assert clock.mode is ClockMode.REAL
    wall.t += 10.999
    assert clock.now() == START + 10
    wall.t += 0.001
    assert clock.now() == START + 11
    assert clock.now_ns() == (START + 11) * 1_000_000_000


def test_default_wall_is_the_monotonic_clock() -> None:
    clock = PumpClock(start_pump_s=START)
    assert START <= clock.now() <= START + 1


def test_scaled_time_runs_faster_from_the_switch_on() -> None:
    clock, wall = make()
    wall.t += 5
    clock.set_speed(60)
    assert clock.snapshot().mode is ClockMode.SCALED
    assert clock.now() == START + 5
    wall.t += 2
    assert clock.now() == START + 5 + 120
    clock.set_speed(1)
    assert clock.snapshot().mode is ClockMode.REAL
    wall.t += 3
    assert clock.now() == START + 5 + 120 + 3


def test_top_speed_is_a_million() -> None:
    clock, wall = make(speed=1_000_000)
    wall.t += 1.5
    assert clock.now() == START + 1_500_000


def test_pause_freezes_and_resume_continues_without_a_jump() -> None:
    clock, wall = make(speed=10)
    wall.t += 1
    clock.pause()
    assert clock.mode is ClockMode.PAUSED
    frozen = clock.now()
    assert frozen == START + 10
    wall.t += 1000
    assert clock.now() == frozen
    clock.resume()
    assert clock.now() == frozen
    wall.t += 1
    assert clock.now() == frozen + 10


def test_pause_and_resume_are_idempotent() -> None:
    clock, wall = make()
    clock.pause()
    clock.pause()
    wall.t += 5
    clock.resume()
    clock.resume()
    wall.t += 5
    assert clock.now() == START + 5


def test_speed_set_while_paused_is_used_on_resume() -> None:
    clock, wall = make()
    clock.pause()
    clock.set_speed(100)
    assert clock.mode is ClockMode.PAUSED
    wall.t += 7
    assert clock.now() == START
    clock.resume()
    wall.t += 1
    assert clock.now() == START + 100


def test_manual_mode_moves_only_by_steps() -> None:
    clock, wall = make(speed=50)
    wall.t += 1
    clock.set_manual()
    assert clock.mode is ClockMode.MANUAL
    wall.t += 3600
    assert clock.now() == START + 50
    assert clock.advance(30) == START + 80
    assert clock.now() == START + 80
    # Float steps add up exactly (the clock keeps integer nanoseconds).
    for _ in range(10):
        clock.advance(0.1)
    assert clock.now_ns() == (START + 81) * 1_000_000_000
    clock.resume()
    wall.t += 1
    assert clock.now() == START + 131


def test_advance_is_allowed_while_running_and_while_paused() -> None:
    clock, wall = make()
    wall.t += 2
    assert clock.advance(86_400) == START + 2 + 86_400
    wall.t += 1
    assert clock.now() == START + 3 + 86_400
    clock.pause()
    clock.advance(10)
    wall.t += 100
    assert clock.now() == START + 13 + 86_400
    assert clock.advance(0) == START + 13 + 86_400


def test_pause_leaves_manual_mode() -> None:
    clock, _ = make()
    clock.set_manual()
    clock.pause()
    assert clock.mode is ClockMode.PAUSED


@pytest.mark.parametrize(
    "speed", [0, -1, 0.5, 1_000_000.5, 2e6, math.nan, math.inf, -math.inf, True, "2", None]
)
def test_bad_speeds_are_refused_and_change_nothing(speed: object) -> None:
    clock, wall = make(speed=5)
    wall.t += 1
    before = clock.snapshot()
    with pytest.raises(ClockValueError) as info:
        clock.set_speed(speed)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, EmulatorUsageError)
    assert clock.snapshot() == before
    wall.t += 1
    assert clock.now() == START + 10


@pytest.mark.parametrize(
    "step", [-1, -0.5, math.nan, math.inf, MAX_ADVANCE_S + 1, float(MAX_ADVANCE_S) * 2, True, "1"]
)
def test_bad_steps_are_refused_and_change_nothing(step: object) -> None:
    clock, _ = make()
    clock.set_manual()
    before = clock.snapshot()
    with pytest.raises(ClockValueError):
        clock.advance(step)  # type: ignore[arg-type]
    assert clock.snapshot() == before


@pytest.mark.parametrize("start", [-1, 1.5, True, "0"])
def test_bad_start_times_are_refused(start: object) -> None:
    with pytest.raises(ClockValueError):
        PumpClock(start_pump_s=start, wall=FakeWall())  # type: ignore[arg-type]


def test_bad_initial_speed_is_refused() -> None:
    with pytest.raises(ClockValueError):
        PumpClock(start_pump_s=START, wall=FakeWall(), speed=0)


def test_snapshot_reports_mode_speed_and_time_together() -> None:
    clock, wall = make(speed=3)
    wall.t += 2
    snap = clock.snapshot()
    assert snap == ClockSnapshot(
        mode=ClockMode.SCALED, speed=3.0, pump_time_s=START + 6, wall_s=102
    )
    clock.set_manual()
    assert clock.snapshot().mode is ClockMode.MANUAL
    assert clock.speed == 3.0


def test_snapshot_validates_its_fields() -> None:
    with pytest.raises(ClockValueError):
        ClockSnapshot(mode=ClockMode.REAL, speed=0.0, pump_time_s=0, wall_s=0.0)
    with pytest.raises(ClockValueError):
        ClockSnapshot(mode=ClockMode.REAL, speed=1.0, pump_time_s=-1, wall_s=0.0)


def test_a_wall_going_backwards_never_rewinds_pump_time() -> None:
    clock, wall = make(speed=10)
    wall.t += 5
    assert clock.now() == START + 50
    wall.t -= 3
    assert clock.now() == START + 50
    wall.t += 2
    assert clock.now() == START + 50  # stands still until the wall catches up
    wall.t += 1.5
    assert clock.now() == START + 55
    wall.t -= 10
    clock.set_speed(20)  # re-anchoring on a rewound wall must not rewind either
    assert clock.now() == START + 55
    wall.t += 1
    assert clock.now() == START + 75


def test_next_wall_deadline_running_paused_and_manual() -> None:
    clock, wall = make()
    assert clock.next_wall_deadline(START + 10) == pytest.approx(110.0)
    clock.set_speed(60)
    assert clock.next_wall_deadline(START + 60) == pytest.approx(101.0)
    clock.pause()
    assert clock.next_wall_deadline(START + 60) is None
    clock.set_manual()
    assert clock.next_wall_deadline(START + 60) is None
    clock.resume()
    wall.t += 10
    # Already reached: due now, never later.
    deadline = clock.next_wall_deadline(START + 1)
    assert deadline is not None
    assert deadline <= wall.t
    with pytest.raises(ClockValueError):
        clock.next_wall_deadline(1.5)  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(
    speed=st.floats(min_value=1.0, max_value=1_000_000.0),
    wall0=st.floats(min_value=0.0, max_value=1e9),
    ahead_s=st.integers(min_value=1, max_value=10**9),
)
def test_next_wall_deadline_is_never_early(speed: float, wall0: float, ahead_s: int) -> None:
    wall = FakeWall(wall0)
    clock = PumpClock(start_pump_s=START, wall=wall, speed=speed)
    target = START + ahead_s
    deadline = clock.next_wall_deadline(target)
    assert deadline is not None
    assert deadline > wall0
    wall.t = deadline
    assert clock.now() >= target
    # ... and not late either, beyond float resolution.
    wall.t = math.nextafter(deadline, -math.inf)
    slack_ns = math.ceil(speed * 1e9 * math.ulp(deadline) * 4) + 1
    assert clock.now_ns() <= target * 1_000_000_000 + slack_ns


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("wall"), st.floats(min_value=0.0, max_value=1e4)),
        st.tuples(st.just("rewind"), st.floats(min_value=0.0, max_value=10.0)),
        st.tuples(st.just("speed"), st.floats(allow_nan=True, allow_infinity=True)),
        st.tuples(st.just("pause"), st.none()),
        st.tuples(st.just("resume"), st.none()),
        st.tuples(st.just("manual"), st.none()),
        st.tuples(st.just("advance"), st.integers(min_value=-5, max_value=10**6)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops=_ops)
def test_random_operations_never_move_time_backwards_or_jump(
    ops: list[tuple[str, float | int | None]],
) -> None:
    wall = FakeWall(1000.0)
    clock = PumpClock(start_pump_s=START, wall=wall)
    last = clock.now_ns()
    for op, arg in ops:
        before = clock.now_ns()
        assert before >= last
        if op == "wall":
            assert isinstance(arg, float)
            wall.t += arg
        elif op == "rewind":
            assert isinstance(arg, float)
            wall.t -= arg
        elif op == "speed":
            assert isinstance(arg, float)
            try:
                clock.set_speed(arg)
            except ClockValueError:
                assert not 1.0 <= arg <= 1e6
            assert clock.now_ns() == before
        elif op == "advance":
            assert isinstance(arg, int)
            try:
                clock.advance(arg)
            except ClockValueError:
                assert arg < 0
                assert clock.now_ns() == before
            else:
                assert clock.now_ns() == before + arg * 1_000_000_000
        else:
            {"pause": clock.pause, "resume": clock.resume, "manual": clock.set_manual}[op]()
            assert clock.now_ns() == before  # a switch never jumps
        last = clock.now_ns()
        assert last >= before


class _ClockAsBefore(PumpClock):
    """:meth:`PumpClock.now` and :meth:`PumpClock.advance` as they were before ``now``
    stopped reading the wall while pump time stands still and ``advance`` read it once
    (kept here as the reference)."""

    def now(self) -> int:
        with self._lock:
            return self._read_ns_locked(self._wall()) // 1_000_000_000

    def advance(self, seconds: float) -> int:
        step_ns = round(seconds * 1_000_000_000)
        if isinstance(seconds, int):
            step_ns = seconds * 1_000_000_000
        if not 0 <= seconds <= MAX_ADVANCE_S:
            raise ClockValueError(f"step {seconds!r} s outside 0..{MAX_ADVANCE_S} s")
        with self._lock:
            now_ns = self._read_ns_locked(self._wall())
            if now_ns + step_ns > self._ceiling_ns:
                raise ClockValueError("past the ceiling")
            self._reanchor_locked()
            self._anchor_ns += step_ns
            self._last_ns = self._anchor_ns
            return self._anchor_ns // 1_000_000_000


@settings(max_examples=80, deadline=None, derandomize=True)
@given(ops=_ops, max_pump_s=st.sampled_from([START + 10**6, 2**32 - 1]))
def test_now_and_advance_answer_as_before(
    ops: list[tuple[str, float | int | None]], max_pump_s: int
) -> None:
    """A clock that stands still answers now() without reading the wall, and advance()
    reads it once: the same answers and the same state as the reference after every step
    (a wall that moves between steps, and back), the ceiling's refusals included."""
    wall = FakeWall(1000.0)
    clocks = [
        PumpClock(start_pump_s=START, wall=wall, max_pump_s=max_pump_s),
        _ClockAsBefore(start_pump_s=START, wall=wall, max_pump_s=max_pump_s),
    ]
    for op, arg in ops:
        answers: list[object] = []
        for clock in clocks:
            try:
                if op == "wall":
                    answers.append(clock.now())
                elif op == "speed":
                    assert isinstance(arg, float)
                    clock.set_speed(arg)
                elif op == "advance":
                    assert isinstance(arg, int)
                    answers.append(clock.advance(arg))
                elif op != "rewind":
                    {"pause": clock.pause, "resume": clock.resume, "manual": clock.set_manual}[op]()
            except ClockValueError:
                answers.append("refused")
            answers.append((clock.now(), clock.now_ns(), clock.snapshot(), clock.at_ceiling))
            answers.append((clock._anchor_ns, clock._anchor_wall_s, clock._last_ns))
            assert clock._anchor_ns <= clock._last_ns  # the invariant now() relies on
        assert answers[: len(answers) // 2] == answers[len(answers) // 2 :]
        if op == "wall":
            assert isinstance(arg, float)
            wall.t += arg
        elif op == "rewind":
            assert isinstance(arg, float)
            wall.t -= arg


def test_concurrent_readers_and_a_controller_see_monotone_time() -> None:
    clock = PumpClock(start_pump_s=START, speed=1000)
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        last = clock.now_ns()
        while not stop.is_set():
            now = clock.now_ns()
            if now < last:
                problems.append(f"{now} < {last}")
            last = now

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        deadline = time.monotonic() + 0.2
        speeds = [1, 10, 1000, 1_000_000, 5]
        i = 0
        while time.monotonic() < deadline:
            clock.set_speed(speeds[i % len(speeds)])
            clock.pause()
            clock.advance(1)
            clock.resume()
            i += 1
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert problems == []
