"""The pty echo round trip, held against the same echo over plain pipes.

This is the floor the emulator's own round trip is compared with: the least a
60-byte request can cost to cross a pseudo-terminal and come back.
"""

from __future__ import annotations

from bench.metric import Metric
from bench.ptyfloor import measure_pipe_echo, measure_pty_echo

MESSAGE_BYTES = 60
ROUNDS = 2000


def run() -> list[Metric]:
    """Measure both echoes and report median and p99, in microseconds."""
    pty = measure_pty_echo(message_bytes=MESSAGE_BYTES, rounds=ROUNDS)
    pipe = measure_pipe_echo(message_bytes=MESSAGE_BYTES, rounds=ROUNDS)
    floor = f"os.pipe echo round trip, {MESSAGE_BYTES} B, thread hop, no tty"
    target = "a few times the pipe echo: the tty layer plus pyserial's select per read"
    return [
        Metric(
            name=f"pty echo round trip {MESSAGE_BYTES} B median",
            value=pty.median_s * 1e6,
            unit="us",
            floor_name=f"{floor} (median)",
            floor_value=pipe.median_s * 1e6,
            floor_unit="us",
            target=target,
        ),
        Metric(
            name=f"pty echo round trip {MESSAGE_BYTES} B p99",
            value=pty.p99_s * 1e6,
            unit="us",
            floor_name=f"{floor} (p99)",
            floor_value=pipe.p99_s * 1e6,
            floor_unit="us",
            target=target,
        ),
    ]
