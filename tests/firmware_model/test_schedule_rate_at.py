"""``Schedule.rate_at`` looks the rate up alone; it is ``segment_at(clock_s)[0]``, the lookup
it replaces, on every kind of schedule (constant, a flex day, a flex week, with equal
adjacent rates merged) at drawn seconds and at every step's edges."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.prescription import compile_for
from firmware_model.profile import PumpProfile
from protocol.messages import PrescriptionSpec
from protocol.schedule import Schedule
from protocol.timebase import MONDAY_EPOCH_CLOCK_S, SECONDS_PER_WEEK

from .strategies import STRATEGY_CONC, flexes, prescriptions, profiles
from .test_forecast_cache import rich_flexes


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    profile: PumpProfile = draw(profiles())
    spec: PrescriptionSpec = draw(
        st.one_of(prescriptions(profile), flexes(profile), rich_flexes(profile))
    )
    return compile_for(spec, profile, STRATEGY_CONC)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    schedule=schedules(),
    clocks=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
)
def test_rate_at_is_the_rate_of_segment_at(schedule: Schedule, clocks: list[int]) -> None:
    edges = []
    for week in (0, 2_900):
        base = MONDAY_EPOCH_CLOCK_S + week * SECONDS_PER_WEEK
        for start in schedule._starts:
            edges += [base + start - 1, base + start, base + start + 1]
        edges += [base + SECONDS_PER_WEEK - 1]
    for clock in [*clocks, *edges]:
        assert schedule.rate_at(clock) == schedule.segment_at(clock)[0], clock


def test_a_constant_schedule_has_one_rate_everywhere() -> None:
    schedule = Schedule.constant(123_456)
    for clock in (0, 1, MONDAY_EPOCH_CLOCK_S, 2**32 - 1):
        assert schedule.rate_at(clock) == 123_456 == schedule.segment_at(clock)[0]
