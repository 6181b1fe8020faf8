"""How many pumps one emulator process serves before polling latency suffers.

The fleet is ramped (10, 50, 100, 200, 400, 600, 800, 1000 pumps): for each size one
``pump-emulator serve --count N`` process serves every pump on its own pty,
and this process polls each pump once a second (STATUS in a clinician
session, a ``PumpClient`` per pump on its own thread, the polls spread evenly
over the second, as a ward of programmers or a monitoring system would).
Each step reports the p99 latency beside the 20 ms limit; the ramp stops at
the first size past it, and the knee is the largest size that stayed under.

Also here, since they too size a fleet: simulated years per wall second for
one pump under a full scenario (polling, reprogramming, refills, boluses)
through the emulator and its link, beside the same scenario on the bare
firmware model; and memory per pump in a fleet (tracemalloc), beside the
bare model's.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from bench.metric import Metric
from bench.ptyfloor import ServerProcess, pinned
from emulator.clock import PumpClock
from emulator.emulator import Emulator, fleet_setups
from emulator.presets import PRESETS
from firmware_model.pump import Pump, RefillOrder
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

FLEET_SIZES = (10, 50, 100, 200, 400, 600, 800, 1000)
LIMIT_MS = 20.0
POLLS = 3  # measured polls per pump per step, after one unmeasured
POLL_PERIOD_S = 1.0
DAY_S = 86_400


def _poll_fleet(count: int) -> tuple[list[float], float]:
    """p99 input for one fleet size: every poll's latency (ms), and the server's start time."""
    with tempfile.TemporaryDirectory(prefix="vpump-latency-") as tmp:
        args = ["-m", "emulator.cli", "serve", "--count", str(count), "--preset", "demo"]
        args += ["--port", f"{tmp}/ttyPUMP0", "--key-dir", f"{tmp}/keys"]
        with ServerProcess(args, ready_timeout_s=120.0) as server:
            pumps = server.ready["pumps"]
            assert isinstance(pumps, list)
            latencies: list[list[float]] = [[] for _ in range(count)]
            errors: list[BaseException] = []
            connected = threading.Barrier(count + 1)
            start_at = [0.0]

            def poll(i: int) -> None:
                try:
                    pump = pumps[i]
                    keys = load_keys(Path(tmp) / "keys" / f"{pump['serial']}.key")
                    with PumpClient(pump["pty"], key=keys[Role.CLINICIAN], timeout_s=5.0) as c:
                        connected.wait()
                        for k in range(POLLS + 1):
                            due = start_at[0] + i * POLL_PERIOD_S / count + k * POLL_PERIOD_S
                            time.sleep(max(0.0, due - time.perf_counter()))
                            started = time.perf_counter()
                            c.status()
                            if k:
                                latencies[i].append((time.perf_counter() - started) * 1e3)
                except BaseException as exc:
                    errors.append(exc)
                    connected.abort()

            threads = [threading.Thread(target=poll, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            try:
                connected.wait()
                start_at[0] = time.perf_counter() + 0.05
            except threading.BrokenBarrierError:
                pass
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            return [x for per_pump in latencies for x in per_pump], server.ready_after_s


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


def fleet_metrics() -> list[Metric]:
    """The ramp, one pair of figures per size, then the knee."""
    pinned(0)
    metrics: list[Metric] = []
    knee = 0
    for count in FLEET_SIZES:
        latencies, _ = _poll_fleet(count)
        p99 = _p99(latencies)
        metrics.append(
            Metric(
                name=f"fleet {count:>4} pumps at 1 Hz: p99",
                value=p99,
                unit="ms",
                floor_name=f"the limit ({len(latencies)} polls, median "
                f"{statistics.median(latencies):.2f} ms)",
                floor_value=LIMIT_MS,
                floor_unit="ms",
                target="below 1x",
            )
        )
        if p99 > LIMIT_MS:
            break
        knee = count
    metrics.append(
        Metric(
            name="pumps served from one process, p99 < 20 ms",
            value=knee,
            unit="pumps",
            floor_name=f"largest size tried ({FLEET_SIZES[-1]})",
            floor_value=FLEET_SIZES[-1],
            floor_unit="pumps",
            target="the knee: the largest fleet whose 1 Hz polls stay under 20 ms at p99",
        )
    )
    return metrics


# -- simulated time under a full scenario ----------------------------------------------------

SCENARIO_DAYS = 365
CONCENTRATION = 2000
"""The demo preset's drug, mcg/mL."""
FLEX = m.PrescriptionSpec.flex_weekly(
    [[m.FlexStep(start_min=i * 180, dose_ng_per_day=400_000 + 20_000 * i) for i in range(8)]] * 7,
    concentration_ug_per_ml=CONCENTRATION,
)
"""0.2 to 0.34 mL/day of 2000 mcg/mL."""
SIMPLE = m.PrescriptionSpec.simple(600_000, concentration_ug_per_ml=CONCENTRATION)
"""600 mcg/day: 0.3 mL/day."""
BOLUS_NG = 40_000
"""40 mcg over 30 min: 0.02 mL."""


def _scenario_days(day: int) -> tuple[bool, bool, bool]:
    """What happens on ``day``: (reprogram, refill, bolus)."""
    return day % 30 == 0, day % 90 == 0, day % 7 == 0


def scenario_through_emulator() -> float:
    """Wall seconds for SCENARIO_DAYS of one pump through the emulator and a live session:
    a day's time stepped by the clock, four STATUS polls a day, a new prescription every
    30 days, a refill every 90, a bolus every week."""
    keys = load_keys(DEMO_KEY_FILE)
    clock = PumpClock(start_pump_s=1_790_000_000)
    clock.set_manual()
    emulator = Emulator([PRESETS["demo"]], keys=keys, clock=clock)
    url = emulator.register_inproc()
    with emulator, PumpClient(url, key=keys[Role.CLINICIAN], timeout_s=5.0) as client:
        started = time.perf_counter()
        for day in range(1, SCENARIO_DAYS + 1):
            reprogram, refill, bolus = _scenario_days(day)
            for _ in range(4):
                emulator.advance(DAY_S // 4)
                status = client.status()
            if refill:
                client.refill(
                    removed_nl=status.reservoir_nl,
                    added_nl=status.capacity_nl,
                    concentration_ug_per_ml=status.concentration_ug_per_ml,
                    prescription=client.read_prescription().prescription,
                    bridge=False,
                )
            if reprogram:
                client.program(FLEX if (day // 30) % 2 else SIMPLE)
            if bolus:
                client.start_bolus(dose_ng=BOLUS_NG, duration_s=1_800)
        return time.perf_counter() - started


def scenario_on_the_model() -> float:
    """The same days on the bare firmware model: advance, status, refill, reprogram, bolus;
    no emulator, link or session."""
    pump = PRESETS["demo"].build(t=1_790_000_000)
    t = pump.t
    started = time.perf_counter()
    for day in range(1, SCENARIO_DAYS + 1):
        reprogram, refill, bolus = _scenario_days(day)
        for _ in range(4):
            t += DAY_S // 4
            pump.advance_to(t)
            status = pump.status()
        if refill:
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
        if reprogram:
            pump.program(t, FLEX if (day // 30) % 2 else SIMPLE)
        if bolus:
            pump.start_bolus(t, pump.therapeutic_bolus(dose_ng=BOLUS_NG, duration_s=1_800))
    del status
    return time.perf_counter() - started


# -- memory per pump -------------------------------------------------------------------------

MEMORY_FLEET = 200


def _traced_bytes(build: object) -> int:
    assert callable(build)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def memory_per_pump() -> tuple[float, float]:
    """Bytes per emulated pump (world, link faults, telemetry, one open link each), and per
    bare firmware model, over a fleet of MEMORY_FLEET."""
    keys = load_keys(DEMO_KEY_FILE)
    setups = fleet_setups(PRESETS["demo"], MEMORY_FLEET)

    def emulated() -> object:
        emulator = Emulator(setups, keys=keys, clock=PumpClock(start_pump_s=1_790_000_000))
        links = [p.endpoint_factory()() for p in emulator.pumps]
        return emulator, links

    def bare() -> list[Pump]:
        return [s.build(t=1_790_000_000) for s in setups]

    return _traced_bytes(emulated) / MEMORY_FLEET, _traced_bytes(bare) / MEMORY_FLEET


def capacity_metrics() -> list[Metric]:
    through = min(scenario_through_emulator() for _ in range(2))
    bare = min(scenario_on_the_model() for _ in range(2))
    years = SCENARIO_DAYS / 365
    emulated_b, bare_b = memory_per_pump()
    return [
        Metric(
            name="full scenario: simulated years per wall second",
            value=years / through,
            unit="years/s",
            floor_name="the same days on the bare model (no emulator, link or session)",
            floor_value=years / bare,
            floor_unit="years/s",
            target="none: the cost of the emulator, its world model and a live session",
            detail=f"{years:g} years: 4 polls a day, reprogram every 30 d, refill every 90 d, "
            f"a bolus a week; {through:.2f} s vs {bare:.2f} s",
        ),
        Metric(
            name=f"memory per pump (fleet of {MEMORY_FLEET})",
            value=emulated_b / 1024,
            unit="KiB",
            floor_name="the bare firmware model per pump",
            floor_value=bare_b / 1024,
            floor_unit="KiB",
            target="a thousand pumps in well under 100 MiB",
        ),
    ]


def run() -> list[Metric]:
    """The fleet ramp and its knee, then simulated years per second and memory per pump."""
    return [*fleet_metrics(), *capacity_metrics()]
