"""Seven years of pump life, simulated event to event, beside a bare integer loop.

The pump runs a 13-step flex profile, gets a therapeutic bolus every day and
a refill every 90 days; when ERI comes, its battery is reset to full, so
every simulated day does the same work. The floor is a Python loop doing
one bare integer update per event the pump processed, timed in the same
run: the ratio says how many times a bare update each event costs.
"""

from __future__ import annotations

import time

from bench.metric import Metric
from firmware_model.errors import RequestError
from firmware_model.profile import profile_for
from firmware_model.pump import Pump, RefillOrder
from protocol.enums import AlarmCode
from protocol.messages import FlexStep, PrescriptionSpec
from protocol.timebase import SECONDS_PER_DAY

YEARS = 7
DAYS = YEARS * 365
REFILL_EVERY_DAYS = 90
CLOCK_2024_01_01_S = 1_704_067_200

CONCENTRATION = 500
# 13 steps of 100 to 220 mcg/day of 500 mcg/mL: 0.2 to 0.44 mL/day (about 0.31 mL/day).
FLEX = PrescriptionSpec.flex(
    (FlexStep(start_min=i * 105, dose_ng_per_day=100_000 + 10_000 * i) for i in range(13)),
    concentration_ug_per_ml=CONCENTRATION,
)
DAILY_BOLUS_NG = 12_500
"""12.5 mcg over 30 min: 0.025 mL of 500 mcg/mL."""


def simulate() -> tuple[Pump, float]:
    """The seven-year run; returns the pump and the wall seconds it took."""
    profile = profile_for(40)
    pump = Pump.new(
        profile=profile,
        serial="BENCH-7Y",
        t=0,
        reservoir_nl=profile.capacity_nl,
        concentration_ug_per_ml=CONCENTRATION,
        prescription=FLEX,
        clock_offset_s=CLOCK_2024_01_01_S,
    )
    daily_bolus = pump.therapeutic_bolus(dose_ng=DAILY_BOLUS_NG, duration_s=1_800)
    started = time.perf_counter()
    for day in range(1, DAYS + 1):
        t = day * SECONDS_PER_DAY
        pump.advance_to(t)
        if day % REFILL_EVERY_DAYS == 0:
            pump.refill(
                t,
                RefillOrder(
                    removed_nl=pump.estimated_reservoir_nl,
                    added_nl=profile.capacity_nl,
                    concentration_ug_per_ml=CONCENTRATION,
                    prescription=FLEX,
                    bridge=False,
                ),
            )
        if any(alarm.code is AlarmCode.ERI for alarm in pump.alarms()):
            pump.set_battery(t, 1000)
        morning = t + 8 * 3_600
        pump.advance_to(morning)
        try:
            pump.start_bolus(morning, daily_bolus)
        except RequestError as refusal:  # never expected: the pump is kept healthy
            raise RuntimeError(f"day {day}: bolus refused: {refusal}") from refusal
    wall = time.perf_counter() - started
    return pump, wall


def floor_loop(updates: int) -> float:
    """Wall seconds for ``updates`` bare integer updates in a Python loop."""
    started = time.perf_counter()
    x = 0
    for i in range(updates):
        x += i
    wall = time.perf_counter() - started
    if x < 0:  # keeps the loop from being optimised into nothing
        raise AssertionError(x)
    return wall


def run() -> list[Metric]:
    """The benchmark's figures (best of three runs for the pump and for the floor)."""
    runs = [simulate() for _ in range(3)]
    pump, wall = min(runs, key=lambda r: r[1])
    events = pump.segments_processed
    floor = min(floor_loop(events) for _ in range(3))
    simulated_s = DAYS * SECONDS_PER_DAY
    if pump.total_filled_nl != pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl:
        raise AssertionError("volume not conserved")
    floor_name = f"bare integer loop, one update per event ({events:,} updates)"
    return [
        Metric(
            name="lifetime_7y_wall",
            value=wall,
            unit="s",
            floor_name=floor_name,
            floor_value=floor,
            floor_unit="s",
            target="< 1 s for 7 years",
        ),
        Metric(
            name="lifetime_7y_events",
            value=events,
            unit="events",
            floor_name="updates done by the floor loop",
            floor_value=events,
            floor_unit="events",
            target="event-driven: about one per flex step per day, never per tick",
        ),
        Metric(
            name="lifetime_7y_sim_speed",
            value=simulated_s / wall,
            unit="sim s/wall s",
            floor_name=floor_name,
            floor_value=simulated_s / floor,
            floor_unit="sim s/wall s",
            target="> 2.2e8 (7 years in under 1 s)",
        ),
    ]
