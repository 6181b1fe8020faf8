"""A single-threaded programmer for a whole fleet: one thread, one epoll, every link.

A thread per pump (``PumpClient`` each) measures its own scheduling as much as the
emulator: with hundreds of threads on two cores, a woken thread waits for the GIL and the
CPU. This poller opens every link (pty path or ``socket://host:port``), runs each
session's handshake, then sends STATUS to each pump once per period, the requests
spread evenly over the period, and times each from the moment its request is written to
the moment its answer is decoded. Several requests may be in flight at once (to
different pumps), as with real programmers.

It reports every latency, and how late the poller itself was against its schedule (if
the poller falls behind, the figures say so instead of hiding it).

``python -m bench.fleetpoll --count N [--tcp] [--processes P]`` runs one measurement
against ``pump-emulator serve`` and prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import tempfile
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import Role
from protocol.frames import Frame
from protocol.keys import load_keys
from protocol.session import ProgrammerSession

HANDSHAKE_TIMEOUT_S = 30.0


@dataclass
class _Link:
    address: str
    key: bytes
    fd: int = -1
    sock: socket.socket | None = None
    deframer: Deframer = field(default_factory=Deframer)
    session: ProgrammerSession | None = None
    seq: int = -1
    sent_at: float = 0.0
    measured: bool = False
    frames: list[Frame] = field(default_factory=list)

    def open(self) -> None:
        if self.address.startswith("socket://"):
            host, _, port = self.address.removeprefix("socket://").rpartition(":")
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            self.sock = sock
            self.fd = sock.fileno()
        else:
            self.fd = os.open(self.address, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(self.fd)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                time.sleep(0.0005)

    def read(self) -> list[Frame]:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            raise ConnectionError(f"{self.address}: end of file")
        return self.deframer.feed(chunk)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        elif self.fd >= 0:
            os.close(self.fd)
        self.fd = -1


@dataclass(frozen=True)
class PollResult:
    latencies_ms: list[float]
    """Every measured round trip, ms."""
    late_ms_p99: float
    """How late the poller sent its requests against the schedule, p99, ms."""
    errors: int


def _wait_frame(selector: selectors.BaseSelector, link: _Link, deadline: float) -> Frame:
    while not link.frames:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{link.address}: no answer during the handshake")
        for key, _ in selector.select(remaining):
            if key.data is link:
                link.frames.extend(link.read())
    return link.frames.pop(0)


def _handshake(links: Sequence[_Link]) -> None:
    """Open every link and its clinician session (a few at a time: the handshakes are
    pipelined in waves so a fleet of thousands opens in seconds)."""
    selector = selectors.DefaultSelector()
    try:
        for link in links:
            link.open()
            selector.register(link.fd, selectors.EVENT_READ, link)
        wave = 64
        for start in range(0, len(links), wave):
            batch = links[start : start + wave]
            deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
            for link in batch:
                link.session = ProgrammerSession(
                    key=link.key, role=Role.CLINICIAN, random_bytes=os.urandom
                )
                link.write(link.session.start())
            auths = []
            for link in batch:
                assert link.session is not None
                auths.append(link.session.receive_open(_wait_frame(selector, link, deadline)))
            for link, auth in zip(batch, auths, strict=True):
                link.write(auth or b"")
            for link in batch:
                assert link.session is not None
                link.session.receive_auth(_wait_frame(selector, link, deadline))
    finally:
        selector.close()


def poll_fleet(
    addresses: Sequence[tuple[str, bytes]], *, rounds: int, period_s: float = 1.0
) -> PollResult:
    """Poll every (address, clinician key) once per ``period_s`` for ``rounds`` measured
    rounds (after one unmeasured round), from this one thread."""
    links = [_Link(address, key) for address, key in addresses]
    _handshake(links)
    selector = selectors.DefaultSelector()
    latencies: list[float] = []
    late: list[float] = []
    errors = 0
    try:
        for link in links:
            selector.register(link.fd, selectors.EVENT_READ, link)
        count = len(links)
        request = m.StatusRequest()
        start = time.monotonic() + 0.05
        schedule = [
            (start + k * period_s + i * period_s / count, k, i)
            for k in range(rounds + 1)
            for i in range(count)
        ]
        outstanding = 0
        next_index = 0
        end_by = start + (rounds + 1) * period_s + 10.0
        while next_index < len(schedule) or outstanding:
            now = time.monotonic()
            if now > end_by:
                errors += outstanding
                break
            while next_index < len(schedule) and schedule[next_index][0] <= now:
                due, k, i = schedule[next_index]
                next_index += 1
                link = links[i]
                if link.seq >= 0:  # the previous answer never came: count it, move on
                    errors += 1
                    outstanding -= 1
                assert link.session is not None
                link.seq, data = link.session.request(request)
                link.sent_at = time.monotonic()
                link.measured = k > 0
                if k:
                    late.append((link.sent_at - due) * 1e3)
                link.write(data)
                outstanding += 1
            timeout = (
                max(0.0, schedule[next_index][0] - time.monotonic())
                if next_index < len(schedule)
                else 0.5
            )
            for key, _ in selector.select(timeout):
                link = key.data
                for frame in link.read():
                    if link.seq < 0 or frame.seq != link.seq or frame.is_notify:
                        continue
                    assert link.session is not None
                    answer = link.session.receive(frame, link.seq)
                    done = time.monotonic()
                    if not isinstance(answer, m.StatusResponse):
                        errors += 1
                    elif link.measured:
                        latencies.append((done - link.sent_at) * 1e3)
                    link.seq = -1
                    outstanding -= 1
    finally:
        selector.close()
        for link in links:
            link.close()
    late.sort()
    late_p99 = late[max(0, -(-99 * len(late) // 100) - 1)] if late else 0.0
    return PollResult(latencies_ms=latencies, late_ms_p99=late_p99, errors=errors)


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


def fleet_addresses(
    ready: dict[str, object], key_dir: Path, *, tcp: bool
) -> list[tuple[str, bytes]]:
    """(address, clinician key) of every pump in a ``serve`` ready line."""
    pumps = ready.get("pumps", [ready])
    assert isinstance(pumps, list)
    result = []
    for pump in pumps:
        keys = load_keys(key_dir / f"{pump['serial']}.key")
        result.append((str(pump["tcp"] if tcp else pump["pty"]), keys[Role.CLINICIAN]))
    return result


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    from bench.ptyfloor import ServerProcess  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m bench.fleetpoll")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vpump-fleetpoll-") as tmp:
        serve = ["-m", "emulator.cli", "serve", "--count", str(args.count), "--preset", "demo"]
        serve += ["--key-dir", f"{tmp}/keys"]
        if args.processes > 1:
            serve += ["--processes", str(args.processes)]
        serve += ["--no-pty", "--tcp", "127.0.0.1:0"] if args.tcp else ["--port", f"{tmp}/ttyP0"]
        with ServerProcess(serve, ready_timeout_s=300.0, cpu=None) as server:
            addresses = fleet_addresses(server.ready, Path(tmp) / "keys", tcp=args.tcp)
            pids = server.ready.get("pids", [server.pid])
            assert isinstance(pids, list)
            cpu0 = sum(process_cpu_s(int(p)) for p in pids)
            wall0 = time.monotonic()
            result = poll_fleet(addresses, rounds=args.rounds)
            cpu = sum(process_cpu_s(int(p)) for p in pids) - cpu0
            wall = time.monotonic() - wall0
    lat = sorted(result.latencies_ms)
    print(
        json.dumps(
            {
                "count": args.count,
                "processes": args.processes,
                "transport": "tcp" if args.tcp else "pty",
                "polls": len(lat),
                "p50_ms": lat[len(lat) // 2] if lat else None,
                "p99_ms": p99(lat) if lat else None,
                "max_ms": lat[-1] if lat else None,
                "poller_late_p99_ms": result.late_ms_p99,
                "errors": result.errors,
                "server_cpu_percent": 100 * cpu / wall,
                "ready_after_s": server.ready_after_s,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
