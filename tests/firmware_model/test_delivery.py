"""Exact integration: the linear-floor volume, threshold crossings and the books."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.delivery import DeliveryState
from firmware_model.errors import OutOfRangeError, OverfillError
from protocol.enums import BolusKind
from protocol.schedule import RunningBolus, first_reach, linear_floor_volume
from protocol.timebase import SECONDS_PER_DAY


def brute_first_reach(
    *, q: int, p: int, a: int, b: int, c: int, need: int, max_dt: int
) -> int | None:
    for dt in range(max_dt + 1):
        if q * dt + p * linear_floor_volume(a, b, c, dt) >= need:
            return dt
    return None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    q=st.integers(0, 50),
    p=st.integers(0, 5),
    a=st.integers(0, 500),
    b=st.integers(0, 400),
    c=st.integers(1, 300),
    need=st.integers(-5, 3_000),
    max_dt=st.integers(0, 300),
)
def test_first_reach_is_the_first_second_by_brute_force(
    *, q: int, p: int, a: int, b: int, c: int, need: int, max_dt: int
) -> None:
    got = first_reach(q=q, p=p, a=a, b=b, c=c, need=need, max_dt=max_dt)
    assert got == brute_first_reach(q=q, p=p, a=a, b=b, c=c, need=need, max_dt=max_dt)


def test_first_reach_over_years_is_exact() -> None:
    # 18 mL at 0.2 mL/day: exactly 90 days.
    dt = first_reach(q=0, p=1, a=0, b=200_000, c=SECONDS_PER_DAY, need=18_000_000, max_dt=10**9)
    assert dt == 90 * SECONDS_PER_DAY


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    rate=st.integers(0, 24_000_000),
    pieces=st.lists(st.integers(0, 10 * SECONDS_PER_DAY), min_size=1, max_size=20),
)
def test_basal_split_into_pieces_loses_nothing(rate: int, pieces: list[int]) -> None:
    d = DeliveryState(estimate_nl=0, reservoir_nl=0, total_filled_nl=0)
    total = sum(d.advance_basal(rate, dt) for dt in pieces)
    assert total == rate * sum(pieces) // SECONDS_PER_DAY
    assert d.basal_remainder == rate * sum(pieces) % SECONDS_PER_DAY


def test_bolus_delivers_exactly_its_volume_at_its_end() -> None:
    bolus = RunningBolus(kind=BolusKind.THERAPEUTIC, volume_nl=1_000, duration_s=7, start_t=100)
    assert bolus.end_t == 107
    assert [bolus.delivered_nl(t) for t in range(99, 109)] == [
        0,
        0,
        142,
        285,
        428,
        571,
        714,
        857,
        1_000,
        1_000,
    ]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    bias_ppm=st.integers(-100_000, 100_000),
    volumes=st.lists(st.integers(0, 50_000), max_size=30),
    fill=st.integers(0, 400_000),
)
def test_command_conserves_and_never_runs_the_reservoir_negative(
    bias_ppm: int, volumes: list[int], fill: int
) -> None:
    d = DeliveryState(estimate_nl=fill, reservoir_nl=fill, total_filled_nl=fill)
    for v in volumes:
        d.command(v, bias_ppm)
        assert d.reservoir_nl >= 0
        assert d.conserved()
    commanded = sum(volumes)
    assert d.total_commanded_nl == commanded
    assert d.estimate_nl == fill - commanded
    # Exact biased volume (with its own remainder), clamped by what was there.
    assert d.total_delivered_nl == min(commanded * (1_000_000 + bias_ppm) // 1_000_000, fill)


def test_bias_accumulates_without_rounding_away() -> None:
    d = DeliveryState(estimate_nl=10**6, reservoir_nl=10**6, total_filled_nl=10**6)
    for _ in range(1_000):
        d.command(1, 10_000)  # +1 %: 1000 x 1.01 nL
    assert d.total_delivered_nl == 1_010
    assert d.estimate_nl == 10**6 - 1_000


def test_refill_more_removed_than_held_is_a_pocket_fill_not_an_error() -> None:
    d = DeliveryState(
        estimate_nl=3_000_000,
        reservoir_nl=3_000_000,
        total_filled_nl=20_000_000,
        total_delivered_nl=17_000_000,
    )
    plan = d.plan_refill(removed_nl=5_000_000, added_nl=20_000_000, capacity_nl=20_000_000)
    assert plan.removed_from_reservoir_nl == 3_000_000
    d.apply_refill(plan, added_nl=20_000_000)
    assert (d.reservoir_nl, d.estimate_nl, d.total_removed_nl) == (
        20_000_000,
        20_000_000,
        3_000_000,
    )
    assert d.conserved()


def test_overfill_is_refused_and_says_how_much_room_there_is() -> None:
    # A refill empties the reservoir completely, so the room is the whole capacity,
    # whatever was measured coming out.
    d = DeliveryState(estimate_nl=5_000_000, reservoir_nl=5_000_000, total_filled_nl=5_000_000)
    with pytest.raises(OverfillError) as info:
        d.plan_refill(removed_nl=1_000_000, added_nl=20_000_001, capacity_nl=20_000_000)
    assert info.value.room_nl == 20_000_000
    assert d.reservoir_nl == 5_000_000
    plan = d.plan_refill(removed_nl=1_000_000, added_nl=17_000_000, capacity_nl=20_000_000)
    assert (plan.estimate_after_nl, plan.reservoir_after_nl) == (17_000_000, 17_000_000)
    assert plan.removed_from_reservoir_nl == 5_000_000  # all that was there


def test_books_that_do_not_balance_are_refused() -> None:
    with pytest.raises(OutOfRangeError):
        DeliveryState(estimate_nl=10, reservoir_nl=10, total_filled_nl=11)
    with pytest.raises(OutOfRangeError):
        DeliveryState(estimate_nl=0, reservoir_nl=0, total_filled_nl=0, basal_remainder=86_400)
