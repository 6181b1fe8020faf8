"""The floor under any round trip over a pseudo-terminal.

:func:`measure_pty_echo` times the rawest possible exchange: a thread echoes
whatever arrives on a pty master straight back, and a programmer-side client
writes a message on the slave through pyserial and reads it back. No protocol,
no emulator: whatever the emulator's own round trip costs above this is ours.
:func:`measure_pipe_echo` is the same exchange over two ``os.pipe`` pairs, the
floor of the floor (a thread hop without a tty in between).

On a shared machine one figure measured alone swings with whatever else runs.
:func:`interleave` therefore times several contenders (the floor among them)
block by block in rotation, so a slow phase hits all of them alike, and reports
each one's median, p99 and the spread of its block medians. The servers being
compared run in their own processes (:class:`ServerProcess`), as they do in
real use; ``python -m bench.ptyfloor`` is the echo server for the floor.
Set ``VPUMP_BENCH_PIN=1`` to pin the bench to CPU 0 and its servers to CPU 1.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

import serial

__all__ = [
    "Contender",
    "RoundTrip",
    "ServerProcess",
    "Timing",
    "interleave",
    "measure_pipe_echo",
    "measure_pty_echo",
    "pinned",
    "timed_rounds",
]

PIN = os.environ.get("VPUMP_BENCH_PIN") == "1"
"""Pin the bench to CPU 0 and the servers it starts to CPU 1 (on a machine of one's own)."""


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


# -- interleaved measurement of several contenders -------------------------------------------

Contender = Callable[[int], list[int]]
"""Runs ``n`` round trips and returns each one's duration in nanoseconds."""


def timed_rounds(round_trip: Callable[[], object]) -> Contender:
    """A contender from a function doing one round trip."""

    def run(n: int) -> list[int]:
        samples = []
        clock = time.perf_counter_ns
        for _ in range(n):
            started = clock()
            round_trip()
            samples.append(clock() - started)
        return samples

    return run


@dataclass(frozen=True, kw_only=True)
class Timing:
    """One contender's round trips from an interleaved run, in seconds."""

    rounds: int
    median_s: float
    p99_s: float
    block_medians_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.rounds <= 0 or not self.block_medians_s:
            raise ValueError("a timing needs rounds and at least one block")
        if not 0 <= self.median_s <= self.p99_s:
            raise ValueError(f"median {self.median_s} s must not exceed p99 {self.p99_s} s")

    @property
    def spread(self) -> str:
        """The lowest and highest block median, in microseconds (how steady the run was)."""
        return (
            f"block medians {min(self.block_medians_s) * 1e6:,.1f} to "
            f"{max(self.block_medians_s) * 1e6:,.1f} us over {len(self.block_medians_s)} blocks"
        )


def _timing(samples_ns: list[int], block_medians_ns: list[float]) -> Timing:
    ordered = sorted(samples_ns)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return Timing(
        rounds=len(ordered),
        median_s=statistics.median(ordered) / 1e9,
        p99_s=p99 / 1e9,
        block_medians_s=tuple(m / 1e9 for m in block_medians_ns),
    )


def interleave(
    contenders: Mapping[str, Contender],
    *,
    blocks: int = 10,
    rounds_per_block: int = 200,
    warmup: int = 50,
) -> dict[str, Timing]:
    """Time every contender block by block, rotating who goes first in each block."""
    if blocks <= 0 or rounds_per_block <= 0 or warmup < 0 or not contenders:
        raise ValueError("need contenders, blocks and rounds; warmup must not be negative")
    names = list(contenders)
    for name in names:
        contenders[name](warmup)
    samples: dict[str, list[int]] = {name: [] for name in names}
    medians: dict[str, list[float]] = {name: [] for name in names}
    for block in range(blocks):
        for name in names[block % len(names) :] + names[: block % len(names)]:
            got = contenders[name](rounds_per_block)
            samples[name] += got
            medians[name].append(statistics.median(got))
    return {name: _timing(samples[name], medians[name]) for name in names}


def pinned(cpu: int) -> None:
    """Pin the calling process to ``cpu`` when ``VPUMP_BENCH_PIN=1`` and the CPU exists."""
    if PIN and hasattr(os, "sched_setaffinity") and cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {cpu})


# -- servers in their own processes ----------------------------------------------------------


class ServerProcess:
    """A server started as ``python ARGS...`` that prints one JSON ready line on stdout.

    A context manager: on exit the server gets SIGTERM (SIGKILL if it lingers).
    """

    def __init__(
        self, args: Sequence[str], *, ready_timeout_s: float = 60.0, cpu: int | None = 1
    ) -> None:
        self.started_s = time.perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            if PIN and cpu is not None and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(self._proc.pid, {cpu})
            self.ready: dict[str, object] = self._read_ready(ready_timeout_s)
        except BaseException:
            self.close()
            raise
        self.ready_after_s = time.perf_counter() - self.started_s
        """Wall seconds from spawning the process to its ready line."""

    def _read_ready(self, timeout_s: float) -> dict[str, object]:
        stdout = self._proc.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        if not ready:
            raise TimeoutError(f"no ready line within {timeout_s} s from {self._proc.args!r}")
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"{self._proc.args!r} exited with {self._proc.wait()}")
        event = json.loads(line)
        if not isinstance(event, dict):
            raise RuntimeError(f"not a ready line: {line!r}")
        return event

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close(self) -> None:
        """Stop the server and reap it; idempotent."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.communicate()
        elif self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_echo() -> None:
    """The floor's server: echo whatever arrives on a pty master, until SIGTERM."""
    pinned(1)
    master, slave = os.openpty()
    tty.setraw(slave)
    stop_r, stop_w = os.pipe()
    signal.signal(signal.SIGTERM, lambda signum, frame: os.write(stop_w, b"x"))
    print(json.dumps({"event": "ready", "pty": os.ttyname(slave)}), flush=True)
    _echo_until_stopped(master, master, stop_r)


def pty_echo_client(
    path: str, message_bytes: int, *, timeout_s: float = 5.0
) -> tuple[serial.Serial, Contender]:
    """Open ``path`` with pyserial; the contender writes ``message_bytes`` and reads them back."""
    message = bytes(range(256)) * (message_bytes // 256) + bytes(range(message_bytes % 256))
    port = serial.Serial(path, timeout=timeout_s)

    def round_trip() -> None:
        port.write(message)
        if port.read(len(message)) != message:
            raise RuntimeError("the echo came back wrong")

    return port, timed_rounds(round_trip)


if __name__ == "__main__":
    serve_echo()
