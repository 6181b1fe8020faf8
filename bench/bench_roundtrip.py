"""A STATUS round trip through the emulator over a real pty, beside the raw pty echo.

The programmer (``PumpClient``, in a clinician session) asks the virtual pump
for its status over a pseudo-terminal; the emulator's server thread deframes,
checks the MAC and SEQ, advances the pump model, builds the forecast, MACs the
answer and writes it back. The floor is the raw echo of a message as long as
that answer over a pty, measured in the same run. Target: at most 5x the echo.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.metric import Metric
from bench.ptyfloor import measure_pty_echo
from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.presets import PRESETS
from emulator.server import Server
from emulator.transports.pty import PtyTransport
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

ROUNDS = 2000
WARMUP = 100


def _status_round_trips() -> tuple[list[float], int]:
    keys = load_keys(DEMO_KEY_FILE)
    clock = PumpClock(start_pump_s=int(time.time()))
    virtual = VirtualPump(pump=PRESETS["demo"].build(t=clock.now()), keys=keys, clock=clock)
    with tempfile.TemporaryDirectory(prefix="vpump-bench-") as tmp:
        link = Path(tmp) / "ttyPUMP0"
        server = Server(tick=virtual.tick, name="bench-pump")
        server.add(PtyTransport(virtual.endpoint, link_path=link))
        server.start()
        try:
            with PumpClient(str(link), key=keys[Role.CLINICIAN], timeout_s=2.0) as client:
                samples = []
                for i in range(WARMUP + ROUNDS):
                    started = time.perf_counter_ns()
                    client.status()
                    if i >= WARMUP:
                        samples.append((time.perf_counter_ns() - started) / 1e3)
                answer_bytes = 9 + len(m.encode_payload(client.status())) + 16 + 2
        finally:
            server.stop()
            server.check()
    return samples, answer_bytes


def run() -> list[Metric]:
    samples, answer_bytes = _status_round_trips()
    echo = measure_pty_echo(message_bytes=answer_bytes, rounds=ROUNDS)
    ordered = sorted(samples)
    p99 = ordered[int(0.99 * len(ordered)) - 1]
    floor = f"raw pty echo of {answer_bytes} B (the STATUS answer's size) via pyserial"
    return [
        Metric(
            name="STATUS round trip over pty, median",
            value=statistics.median(samples),
            unit="us",
            floor_name=f"{floor}, median",
            floor_value=echo.median_s * 1e6,
            floor_unit="us",
            target="at most 5x the echo",
        ),
        Metric(
            name="STATUS round trip over pty, p99",
            value=p99,
            unit="us",
            floor_name=f"{floor}, p99",
            floor_value=echo.p99_s * 1e6,
            floor_unit="us",
            target="at most 5x the echo",
        ),
    ]
