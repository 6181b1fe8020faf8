"""Forecasts of a pending prescription: the domain's numbers, an independent reference, and
agreement with what the in-process pump reports once the prescription is programmed."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.presets import PRESETS
from programmer_gui.core.forecast import (
    DEFAULT_REFILL_MARGIN_S,
    SECONDS_PER_DAY,
    DeliveryPlan,
    PlannedBolus,
    RateTable,
    first_reach_clock_s,
    forecast_pending,
    format_date,
    format_in_days,
    format_pump_date,
    minute_of_day,
    weekday_of,
)
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind
from tests.programmer_gui.test_core_snapshot import DEMO_FLEX, make_snapshot
from tests.support import T0, inproc_pump

DAY = SECONDS_PER_DAY


def plan(spec: m.PrescriptionSpec, **kwargs: object) -> DeliveryPlan:
    return DeliveryPlan(
        start_clock_s=T0,
        prescription=spec,
        minimum_mode_rate_nl_per_day=6_000,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_domain_worked_example_alarms_on_day_90() -> None:
    # 20 mL pump, 500 mcg/mL, 100 mcg/day = 0.2 mL/day, 2 mL alarm volume: 18 mL / 0.2 = 90 days.
    snap = make_snapshot()
    forecast = forecast_pending(snap, m.PrescriptionSpec.simple(200_000))
    assert forecast.low_reservoir_alarm_at_s == T0 + 90 * DAY
    assert forecast.empty_at_s == T0 + 95 * DAY  # down to the 1 mL empty threshold
    assert forecast.refill_by_s == T0 + 90 * DAY - DEFAULT_REFILL_MARGIN_S
    assert forecast.days_until(forecast.low_reservoir_alarm_at_s) == 90


def test_the_pump_clock_gives_weekday_and_time_of_day_in_utc() -> None:
    for clock in (T0, T0 + 3 * DAY + 7 * 3600, 0, 4 * DAY):
        moment = datetime.fromtimestamp(clock, UTC)
        assert weekday_of(clock) == moment.weekday()
        assert minute_of_day(clock) == moment.hour * 60 + moment.minute


def reference_reach(
    spec: m.PrescriptionSpec, start: int, need_nl: int, *, limit_days: int = 400
) -> int | None:
    """Minute by minute, then the exact second inside the minute: a slow, independent walk."""
    integral = 0  # nL*s/day
    target = need_nl * DAY
    for minute in range(start // 60, start // 60 + limit_days * 1440):
        t0 = max(minute * 60, start)
        t1 = (minute + 1) * 60
        weekday = (minute // 1440 + 3) % 7
        steps = spec.profile_for_weekday(weekday)
        minute_of = minute % 1440
        rate = [s.rate_nl_per_day for s in steps if s.start_min <= minute_of][-1]
        if integral + rate * (t1 - t0) >= target:
            return t0 + -(-(target - integral) // rate)
        integral += rate * (t1 - t0)
    return None


flex_steps = st.lists(
    st.tuples(st.integers(min_value=1, max_value=95), st.integers(48_000, 2_000_000)),
    min_size=0,
    max_size=5,
)


@settings(max_examples=25)
@given(
    steps=flex_steps,
    first_rate=st.integers(48_000, 2_000_000),
    start_offset=st.integers(0, 7 * DAY),
    need=st.integers(1, 30_000_000),
    weekly_shift=st.booleans(),
)
def test_flex_reach_matches_an_independent_walk(
    steps: list[tuple[int, int]],
    first_rate: int,
    start_offset: int,
    need: int,
    weekly_shift: bool,
) -> None:
    starts = sorted({quarter * 15 for quarter, _ in steps})
    rates = [rate for _, rate in steps]
    day = [m.FlexStep(start_min=0, rate_nl_per_day=first_rate)] + [
        m.FlexStep(start_min=s, rate_nl_per_day=r) for s, r in zip(starts, rates, strict=False)
    ]
    if weekly_shift:
        days = [
            [m.FlexStep(start_min=s.start_min, rate_nl_per_day=s.rate_nl_per_day + d) for s in day]
            for d in range(7)
        ]
        spec = m.PrescriptionSpec.flex_weekly(days)
    else:
        spec = m.PrescriptionSpec.flex(day)
    start = T0 + start_offset
    got = first_reach_clock_s(
        DeliveryPlan(start_clock_s=start, prescription=spec, minimum_mode_rate_nl_per_day=6_000),
        need,
    )
    assert got == reference_reach(spec, start, need)


def test_boluses_first_replace_the_basal_then_it_resumes() -> None:
    spec = m.PrescriptionSpec.simple(200_000)
    bolus = PlannedBolus(volume_nl=500_000, duration_s=1_800)
    with_bolus = plan(spec, boluses_first=(bolus,))
    # Inside the bolus: 250 uL after half its duration.
    assert first_reach_clock_s(with_bolus, 250_000) == T0 + 900
    # After it: 0.5 mL sooner by volume, 1800 s later by time.
    assert first_reach_clock_s(with_bolus, 1_500_000) == T0 + 1_800 + 5 * DAY
    assert first_reach_clock_s(plan(spec), 1_500_000) == T0 + 15 * DAY // 2


def test_nothing_delivered_means_no_date_and_a_reached_volume_is_now() -> None:
    spec = m.PrescriptionSpec.simple(200_000)
    assert first_reach_clock_s(plan(spec, delivering=False), 1_000) is None
    assert first_reach_clock_s(plan(m.PrescriptionSpec.stopped()), 1_000) is None
    assert first_reach_clock_s(plan(spec), 0) == T0
    assert first_reach_clock_s(plan(spec), -5) == T0


def test_beyond_the_horizon_is_none() -> None:
    # Minimum-rate mode, 0.006 mL/day: 38 mL take over 17 years.
    assert first_reach_clock_s(plan(m.PrescriptionSpec.minimum_rate()), 38_000_000) is None
    assert first_reach_clock_s(plan(m.PrescriptionSpec.minimum_rate()), 6_000) == T0 + DAY


def test_patient_doses_at_their_maximum_bring_the_alarm_forward() -> None:
    spec = m.PrescriptionSpec.simple(200_000)
    doses = m.ReadPatientSettingsResponse(
        enabled=True, volume_nl=25_000, duration_s=600, lockout_s=3_600, max_per_24h=4
    )
    # A day: 4 doses of 25 uL (each replacing 600 s of basal) plus the basal of the rest.
    with_doses = first_reach_clock_s(plan(spec, patient_doses=doses), 18_000_000)
    without = first_reach_clock_s(plan(spec), 18_000_000)
    assert with_doses is not None and without is not None
    assert with_doses < without
    per_day = 4 * 25_000 + Fraction(200_000 * (DAY - 4 * 600), DAY)
    assert abs(Fraction(with_doses - T0, DAY) - 18_000_000 / per_day) < 1
    disabled = m.ReadPatientSettingsResponse(
        enabled=False, volume_nl=0, duration_s=0, lockout_s=0, max_per_24h=0
    )
    assert first_reach_clock_s(plan(spec, patient_doses=disabled), 18_000_000) == without


def test_rate_table_merges_equal_neighbours() -> None:
    table = RateTable.of(DEMO_FLEX, minimum_mode_rate_nl_per_day=6_000)
    # Monday 00:00, then 07:00 and 22:00 each day: 22:00 (350) runs on into 00:00 (350).
    assert len(table.starts_s) == 1 + 2 * 7
    assert table.week_integral == 7 * (175_000 * 9 + 212_500 * 15) * 3600


def test_dates_are_shown_local_with_days_to_go() -> None:
    assert format_date(T0 + 90 * DAY, now_wall_s=T0, tz=UTC) == "2026-12-20 14:13 (in 90 days)"
    assert format_in_days(T0 + 3600, now_s=T0) == "in less than a day"
    assert format_in_days(T0 + DAY, now_s=T0) == "in 1 day"
    assert format_in_days(T0, now_s=T0) == "now"
    assert format_in_days(T0 - 2 * DAY, now_s=T0) == "2 days ago"


def test_pump_dates_are_shown_in_programmer_time() -> None:
    # The pump runs an hour ahead: its alarm at pump time X happens at X - 1 h here.
    snap = make_snapshot(clock_s=T0, wall_s=T0 - 3600.0)
    assert format_pump_date(snap, T0 + 3600 + 90 * DAY, tz=UTC) == "2026-12-20 14:13 (in 90 days)"
    assert format_pump_date(snap, None) == "not within 10 years"


# --- agreement with the pump -------------------------------------------------------------------


def read(client: PumpClient) -> PumpSnapshot:
    return PumpSnapshot.read(client, wall_s=float(T0))


def assert_agrees(snap: PumpSnapshot, *, tolerance_s: int = 0) -> None:
    assert snap.prescription is not None
    forecast = forecast_pending(snap, snap.prescription)
    status = snap.status
    for ours, pumps in (
        (forecast.low_reservoir_alarm_at_s, status.low_reservoir_alarm_at_s),
        (forecast.empty_at_s, status.empty_at_s),
    ):
        assert ours is not None and pumps is not None
        assert abs(ours - pumps) <= tolerance_s, (ours, pumps)


@pytest.mark.parametrize(
    "spec",
    [
        m.PrescriptionSpec.simple(313_131),
        DEMO_FLEX,
        m.PrescriptionSpec.flex_weekly(
            [
                [
                    m.FlexStep(start_min=0, rate_nl_per_day=100_000 + 7_000 * d),
                    m.FlexStep(start_min=(6 + d) * 60, rate_nl_per_day=400_000 - 9_000 * d),
                    m.FlexStep(start_min=21 * 60 + 45, rate_nl_per_day=150_000),
                ]
                for d in range(7)
            ]
        ),
    ],
    ids=["simple", "flex", "weekly"],
)
def test_the_forecast_of_a_programmed_prescription_is_what_the_pump_reports(
    spec: m.PrescriptionSpec,
) -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        before = read(client)
        predicted = forecast_pending(before, spec)
        client.program(spec)
        after = read(client)
        # Programmed at T0 with no basal remainder yet: exactly the pump's answers.
        assert predicted.low_reservoir_alarm_at_s == after.status.low_reservoir_alarm_at_s
        assert predicted.empty_at_s == after.status.empty_at_s
        # Later, mid-step, with a remainder the wire does not carry: within a second.
        pump.clock.advance(3 * DAY + 12_345)
        assert_agrees(read(client), tolerance_s=1)


def test_the_demo_pump_flex_and_a_running_bolus_agree() -> None:
    with inproc_pump(PRESETS["demo"]) as pump, pump.client() as client:
        assert_agrees(read(client))
        client.start_bolus(BolusKind.THERAPEUTIC, 300_000, 7_200)
        pump.clock.advance(1_000)
        snap = read(client)
        assert snap.bolus_running
        assert_agrees(snap, tolerance_s=1)


def test_patient_doses_agree_with_the_pump_when_none_was_taken() -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        client.set_patient_settings(
            enabled=True, volume_nl=25_000, duration_s=600, lockout_s=3_600, max_per_24h=4
        )
        assert_agrees(read(client))
