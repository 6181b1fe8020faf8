"""``Pump.status()`` and ``Pump.note_telemetry`` per request, beside the bare ``advance_to``.

A STATUS request costs the pump one telemetry charge (``note_telemetry``) and one
``status()`` after the emulator advanced it. This bench runs the demo pump through a
simulated year polled every 6 h (1460 polls) with the scenario bench's reprogramming,
refills and boluses (``bench.bench_latency``: reprogram every 30 days, refill every 90,
a bolus every 7), three ways, interleaved in rounds on fresh pumps:

- the floor: ``advance_to`` to each poll and the commands, nothing else;
- the floor plus ``note_telemetry`` at each poll;
- the floor plus ``note_telemetry`` and ``status()`` at each poll.

The cost per call of each is the difference of CPU seconds between two ways divided by
the polls (the median over the rounds), so the timer's own cost is not in the figures.
``python -m bench.bench_pump_status --profile`` prints a cProfile of the last way.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time

from bench.bench_latency import BOLUS_NG, FLEX, SIMPLE
from bench.metric import Metric
from emulator.presets import PRESETS
from firmware_model.pump import Pump, RefillOrder

START_S = 1_790_000_000
DAYS = 365
POLLS_PER_DAY = 4
POLL_EVERY_S = 86_400 // POLLS_PER_DAY
POLLS = DAYS * POLLS_PER_DAY
TELEMETRY_S = 1
"""Seconds of telemetry charged per request (the telemetry head's ``TELEMETRY_S_PER_FRAME``)."""
ROUNDS = 15

WAYS = ("advance", "telemetry", "status")


def year(pump: Pump, way: str) -> None:
    """One simulated year of ``pump``, polled ``way`` (one of :data:`WAYS`)."""
    telemetry = way != "advance"
    status = way == "status"
    t = pump.t
    for day in range(1, DAYS + 1):
        for _ in range(POLLS_PER_DAY):
            t += POLL_EVERY_S
            pump.advance_to(t)
            if telemetry:
                pump.note_telemetry(t, TELEMETRY_S)
            if status:
                pump.status()
        if day % 90 == 0:
            pump.refill(
                t,
                RefillOrder(
                    removed_nl=pump.estimated_reservoir_nl,
                    added_nl=pump.profile.capacity_nl,
                    concentration_ug_per_ml=pump.concentration_ug_per_ml,
                    prescription=pump.prescription,
                    bridge=False,
                ),
            )
        if day % 30 == 0:
            pump.program(t, FLEX if (day // 30) % 2 else SIMPLE)
        if day % 7 == 0:
            pump.start_bolus(t, pump.therapeutic_bolus(dose_ng=BOLUS_NG, duration_s=1_800))


def _cpu_s(way: str) -> float:
    pump = PRESETS["demo"].build(t=START_S)
    started = time.process_time()
    year(pump, way)
    return time.process_time() - started


def measure(rounds: int = ROUNDS) -> dict[str, float]:
    """Median CPU seconds of the year for each way, the ways interleaved in every round."""
    for way in WAYS:  # warm-up
        _cpu_s(way)
    samples: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(rounds):
        for way in WAYS:
            samples[way].append(_cpu_s(way))
    return {way: statistics.median(samples[way]) for way in WAYS}


def run() -> list[Metric]:
    """Microseconds of CPU per ``status()`` and per ``note_telemetry``, beside the floor."""
    cpu = measure()
    floor_us = cpu["advance"] / POLLS * 1e6
    telemetry_us = (cpu["telemetry"] - cpu["advance"]) / POLLS * 1e6
    status_us = (cpu["status"] - cpu["telemetry"]) / POLLS * 1e6
    floor_name = f"bare advance_to 6 h and the year's commands, per poll ({POLLS} polls)"
    return [
        Metric(
            name="pump_status_cpu_per_call",
            value=status_us,
            unit="us",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us",
            detail=f"median of {ROUNDS} interleaved rounds, CPU time",
        ),
        Metric(
            name="pump_note_telemetry_cpu_per_call",
            value=telemetry_us,
            unit="us",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us",
            detail=f"median of {ROUNDS} interleaved rounds, CPU time",
        ),
    ]


def profile() -> None:
    """cProfile of the year polled with telemetry and status (sorted by own time)."""
    pump = PRESETS["demo"].build(t=START_S)
    profiler = cProfile.Profile()
    profiler.runcall(year, pump, "status")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    if "--profile" in sys.argv[1:]:
        profile()
    else:
        for metric in run():
            floor = f"{metric.floor_value:.2f} {metric.floor_unit}"
            print(f"{metric.name}: {metric.value:.2f} {metric.unit} (floor {floor})")
