"""Many pumps from one emulator process, polled concurrently over real ptys.

For 1, 10 and 100 pumps served by one ``pump-emulator serve --count N``
process (one server thread), a programmer thread per pump in this process
polls STATUS back to back for a fixed time; we
report round trips per second and the p50 and p99 latency, beside the raw pty
echo of a message the size of the STATUS answer measured in the same run.
Then: the wall time to run 90 simulated days at full speed (x1,000,000)
while a programmer polls, beside the ideal (90 d / 1e6).
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.metric import Metric
from bench.ptyfloor import measure_pty_echo
from emulator.clock import PumpClock
from emulator.emulator import Emulator
from emulator.presets import PRESETS
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

POLL_S = 3.0
STATUS_ANSWER_BYTES = 108
DAY_S = 86_400
FULL_SPEED = 1_000_000


def _poll_fleet(count: int) -> tuple[int, list[float]]:
    """Serve ``count`` pumps from one ``pump-emulator serve`` process; poll each from a thread
    here (the emulator has its own interpreter, as in real use)."""
    latencies: list[list[float]] = [[] for _ in range(count)]
    start = threading.Barrier(count + 1)
    with tempfile.TemporaryDirectory(prefix="vpump-fleet-") as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator.cli",
                "serve",
                "--count",
                str(count),
                "--port",
                f"{tmp}/ttyPUMP0",
                "--key-dir",
                f"{tmp}/keys",
                "--preset",
                "demo",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            pumps = ready["pumps"] if count > 1 else [ready]
            stop_at = [time.perf_counter() + 1e9]

            def poll(i: int) -> None:
                port = pumps[i]["pty"]
                keys = (
                    load_keys(Path(tmp) / "keys" / f"{pumps[i]['serial']}.key")
                    if count > 1
                    else load_keys(DEMO_KEY_FILE)
                )
                with PumpClient(port, key=keys[Role.CLINICIAN], timeout_s=5.0) as client:
                    start.wait()
                    samples = latencies[i]
                    while time.perf_counter() < stop_at[0]:
                        t0 = time.perf_counter_ns()
                        client.status()
                        samples.append((time.perf_counter_ns() - t0) / 1e3)

            threads = [threading.Thread(target=poll, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            start.wait()
            stop_at[0] = time.perf_counter() + POLL_S
            for thread in threads:
                thread.join()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    flat = sorted(x for samples in latencies for x in samples)
    return len(flat), flat


def _ninety_days_under_polling() -> float:
    keys = load_keys(DEMO_KEY_FILE)
    clock = PumpClock(start_pump_s=int(time.time()), speed=FULL_SPEED)
    clock.pause()
    emulator = Emulator([PRESETS["demo"]], keys=keys, clock=clock)
    with tempfile.TemporaryDirectory(prefix="vpump-90d-") as tmp:
        link = Path(tmp) / "ttyPUMP0"
        emulator.serve_pty(0, link)
        with emulator, PumpClient(str(link), key=keys[Role.CLINICIAN], timeout_s=5.0) as client:
            target = clock.now() + 90 * DAY_S
            started = time.perf_counter()
            emulator.resume()
            while client.status().clock_s < target:
                pass
            return time.perf_counter() - started


def run() -> list[Metric]:
    echo = measure_pty_echo(message_bytes=STATUS_ANSWER_BYTES, rounds=2000)
    metrics: list[Metric] = []
    for count in (1, 10, 100):
        done, latencies = _poll_fleet(count)
        p99 = latencies[max(0, int(0.99 * len(latencies)) - 1)]
        floor = f"raw pty echo of {STATUS_ANSWER_BYTES} B"
        metrics += [
            Metric(
                name=f"fleet {count:>3} pumps: STATUS round trips/s",
                value=done / POLL_S,
                unit="1/s",
                floor_name=f"{floor}, 1 / median",
                floor_value=1 / echo.median_s,
                floor_unit="1/s",
                target="all pumps served from one process",
            ),
            Metric(
                name=f"fleet {count:>3} pumps: latency p50",
                value=statistics.median(latencies),
                unit="us",
                floor_name=f"{floor}, median",
                floor_value=echo.median_s * 1e6,
                floor_unit="us",
            ),
            Metric(
                name=f"fleet {count:>3} pumps: latency p99",
                value=p99,
                unit="us",
                floor_name=f"{floor}, p99",
                floor_value=echo.p99_s * 1e6,
                floor_unit="us",
            ),
        ]
    wall = _ninety_days_under_polling()
    metrics.append(
        Metric(
            name="90 simulated days at x1e6 under polling",
            value=wall,
            unit="s",
            floor_name="ideal: 90 d / 1,000,000",
            floor_value=90 * DAY_S / FULL_SPEED,
            floor_unit="s",
            target="keeps up with the clock (ratio ~1)",
        )
    )
    return metrics
