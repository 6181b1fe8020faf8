"""Hypothesis strategies shared by the firmware-model tests."""

from __future__ import annotations

from hypothesis import strategies as st

from firmware_model.profile import PROFILES, PumpProfile
from protocol.messages import FlexStep, PrescriptionSpec
from protocol.timebase import MINUTES_PER_DAY

CLOCK_2024_01_01_S = 1_704_067_200
"""2024-01-01 00:00:00 UTC, a Monday."""

STRATEGY_CONC = 1000
"""Prescriptions are drawn for 1000 mcg/mL, where a dose in ng/day is the same number as
the rate it runs in nL/day, so every drawn rate is run exactly."""


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
) -> tuple[FlexStep, ...]:
    """One flex day; each dose (ng/day) is the rate (nL/day) it runs at 1000 mcg/mL."""
    g = profile.flex_step_granularity_min
    limit = profile.max_flex_steps if max_steps is None else max_steps
    starts = draw(
        st.lists(st.integers(1, MINUTES_PER_DAY // g - 1), max_size=limit - 1, unique=True)
    )
    minutes = [0, *sorted(s * g for s in starts)]
    return tuple(FlexStep(start_min=m, dose_ng_per_day=draw(rates(profile))) for m in minutes)


@st.composite
def flexes(draw: st.DrawFn, profile: PumpProfile) -> PrescriptionSpec:
    """FLEX at 1000 mcg/mL: one day for every day, or seven."""
    n = draw(st.sampled_from((1, 7)))
    days = [draw(day_profiles(profile)) for _ in range(n)]
    if n == 1:
        return PrescriptionSpec.flex(days[0], concentration_ug_per_ml=STRATEGY_CONC)
    return PrescriptionSpec.flex_weekly(days, concentration_ug_per_ml=STRATEGY_CONC)


def prescriptions(
    profile: PumpProfile, *, stopped: bool = True
) -> st.SearchStrategy[PrescriptionSpec]:
    """Any prescription at 1000 mcg/mL (STOPPED too unless ``stopped`` is False)."""
    options: list[st.SearchStrategy[PrescriptionSpec]] = [
        st.builds(
            PrescriptionSpec.simple,
            rates(profile),
            concentration_ug_per_ml=st.just(STRATEGY_CONC),
        ),
        flexes(profile),
        st.just(PrescriptionSpec.minimum_rate(concentration_ug_per_ml=STRATEGY_CONC)),
    ]
    if stopped:
        options.append(st.just(PrescriptionSpec.stopped(concentration_ug_per_ml=STRATEGY_CONC)))
    return st.one_of(*options)
