"""Hypothesis strategies shared by the firmware-model tests."""

from __future__ import annotations

from hypothesis import strategies as st

from firmware_model.prescription import (
    DayProfile,
    Flex,
    FlexStep,
    MinimumRate,
    Prescription,
    Simple,
    Stopped,
)
from firmware_model.profile import PROFILES, PumpProfile
from firmware_model.timebase import MINUTES_PER_DAY

CLOCK_2024_01_01_S = 1_704_067_200
"""2024-01-01 00:00:00 UTC, a Monday."""


def profiles() -> st.SearchStrategy[PumpProfile]:
    return st.sampled_from(sorted(PROFILES.values(), key=lambda p: p.model))


def rates(
    profile: PumpProfile, *, realistic_max_nl_per_day: int = 2_000_000
) -> st.SearchStrategy[int]:
    """Mostly rates seen in practice, sometimes anything the profile allows."""
    return st.one_of(
        st.integers(profile.min_rate_nl_per_day, realistic_max_nl_per_day),
        st.integers(profile.min_rate_nl_per_day, profile.max_rate_nl_per_day),
    )


@st.composite
def day_profiles(
    draw: st.DrawFn, profile: PumpProfile, *, max_steps: int | None = None
) -> DayProfile:
    g = profile.flex_step_granularity_min
    limit = profile.max_flex_steps if max_steps is None else max_steps
    starts = draw(
        st.lists(st.integers(1, MINUTES_PER_DAY // g - 1), max_size=limit - 1, unique=True)
    )
    minutes = [0, *sorted(s * g for s in starts)]
    return DayProfile(
        steps=tuple(FlexStep(start_min=m, rate_nl_per_day=draw(rates(profile))) for m in minutes)
    )


@st.composite
def flexes(draw: st.DrawFn, profile: PumpProfile) -> Flex:
    n = draw(st.sampled_from((1, 7)))
    return Flex(days=tuple(draw(day_profiles(profile)) for _ in range(n)))


def prescriptions(profile: PumpProfile, *, stopped: bool = True) -> st.SearchStrategy[Prescription]:
    options: list[st.SearchStrategy[Prescription]] = [
        st.builds(Simple, rate_nl_per_day=rates(profile)),
        flexes(profile),
        st.just(MinimumRate()),
    ]
    if stopped:
        options.append(st.just(Stopped()))
    return st.one_of(*options)
