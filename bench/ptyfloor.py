"""The floor under any round trip over a pseudo-terminal.

:func:`measure_pty_echo` times the rawest possible exchange: a thread echoes
whatever arrives on a pty master straight back, and a programmer-side client
writes a message on the slave through pyserial and reads it back. No protocol,
no emulator: whatever the emulator's own round trip costs above this is ours.
:func:`measure_pipe_echo` is the same exchange over two ``os.pipe`` pairs, the
floor of the floor (a thread hop without a tty in between).
"""

from __future__ import annotations

import math
import os
import select
import statistics
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass

import serial

__all__ = ["RoundTrip", "measure_pipe_echo", "measure_pty_echo"]


@dataclass(frozen=True, kw_only=True)
class RoundTrip:
    """Round-trip times of one echo measurement, in seconds."""

    message_bytes: int
    rounds: int
    median_s: float
    p99_s: float

    def __post_init__(self) -> None:
        if self.message_bytes <= 0 or self.rounds <= 0:
            raise ValueError("a measurement needs a message and at least one round")
        if not 0 <= self.median_s <= self.p99_s:
            raise ValueError(f"median {self.median_s} s must not exceed p99 {self.p99_s} s")


def _check(message_bytes: int, rounds: int, warmup: int) -> None:
    if message_bytes <= 0 or rounds <= 0 or warmup < 0:
        raise ValueError("message_bytes and rounds must be positive, warmup not negative")


def _summarise(message_bytes: int, samples_ns: list[int]) -> RoundTrip:
    ordered = sorted(samples_ns)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return RoundTrip(
        message_bytes=message_bytes,
        rounds=len(ordered),
        median_s=statistics.median(ordered) / 1e9,
        p99_s=p99 / 1e9,
    )


def _echo_until_stopped(read_fd: int, write_fd: int, stop_fd: int) -> None:
    """Copy ``read_fd`` to ``write_fd`` until ``stop_fd`` becomes readable."""
    while True:
        ready, _, _ = select.select([read_fd, stop_fd], [], [])
        if stop_fd in ready:
            return
        try:
            data = os.read(read_fd, 65536)
        except OSError:
            return
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]


def _run_with_echo(read_fd: int, write_fd: int, exchange: Callable[[], list[int]]) -> list[int]:
    stop_r, stop_w = os.pipe()
    thread = threading.Thread(
        target=_echo_until_stopped, args=(read_fd, write_fd, stop_r), name="echo-floor"
    )
    thread.start()
    try:
        return exchange()
    finally:
        os.write(stop_w, b"x")
        thread.join()
        os.close(stop_r)
        os.close(stop_w)


def _time_rounds(
    rounds: int, warmup: int, message: bytes, round_trip: Callable[[bytes], bytes]
) -> list[int]:
    samples: list[int] = []
    for i in range(warmup + rounds):
        started = time.perf_counter_ns()
        echoed = round_trip(message)
        elapsed = time.perf_counter_ns() - started
        if echoed != message:
            raise RuntimeError(f"echo returned {len(echoed)} of {len(message)} bytes")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def measure_pty_echo(
    *, message_bytes: int = 60, rounds: int = 2000, warmup: int = 100, timeout_s: float = 5.0
) -> RoundTrip:
    """Write ``message_bytes`` on a pty slave via pyserial, read the echo back; time each."""
    _check(message_bytes, rounds, warmup)
    message = bytes(range(256)) * (message_bytes // 256) + bytes(range(message_bytes % 256))
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        port = serial.Serial(os.ttyname(slave), timeout=timeout_s)
        try:

            def round_trip(data: bytes) -> bytes:
                port.write(data)
                return port.read(len(data))

            samples = _run_with_echo(
                master, master, lambda: _time_rounds(rounds, warmup, message, round_trip)
            )
        finally:
            port.close()
    finally:
        os.close(master)
        os.close(slave)
    return _summarise(message_bytes, samples)


def measure_pipe_echo(
    *, message_bytes: int = 60, rounds: int = 2000, warmup: int = 100
) -> RoundTrip:
    """The same echo over two ``os.pipe`` pairs, with plain ``os.read``/``os.write``."""
    _check(message_bytes, rounds, warmup)
    message = bytes(range(256)) * (message_bytes // 256) + bytes(range(message_bytes % 256))
    to_echo_r, to_echo_w = os.pipe()
    back_r, back_w = os.pipe()
    try:

        def round_trip(data: bytes) -> bytes:
            os.write(to_echo_w, data)
            got = b""
            while len(got) < len(data):
                chunk = os.read(back_r, len(data) - len(got))
                if not chunk:
                    break
                got += chunk
            return got

        samples = _run_with_echo(
            to_echo_r, back_w, lambda: _time_rounds(rounds, warmup, message, round_trip)
        )
    finally:
        for fd in (to_echo_r, to_echo_w, back_r, back_w):
            os.close(fd)
    return _summarise(message_bytes, samples)
