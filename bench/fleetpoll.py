"""A single-threaded programmer for a whole fleet: one thread, one epoll, every link.

A thread per pump (``PumpClient`` each) measures its own scheduling as much as the
emulator: with hundreds of threads on two cores, a woken thread waits for the GIL and the
CPU. This poller opens every link (pty path or ``socket://host:port``), runs each
session's handshake, then sends STATUS to each pump once per period, the requests
spread evenly over the period, and times each from the moment its request is written to
the moment the read that completes its answer returns. Several requests may be in flight
at once (to different pumps), as with real programmers.

The poller must cost much less than the server, or it measures itself: every request is
built and MAC'd before the clock starts, and the timed loop only writes, reads, finds
each answer's end from its header and stamps the time; every answer is checked after the
clock stops (CRC, SEQ, MAC, decoded as a STATUS answer), and only answers that pass count.
About 30-90 us of the poller's CPU per poll on this machine (110-170 us when it decoded
each answer in the loop): one core of it sends well over 10,000 polls a second.

It reports every latency, how late the poller itself was against its schedule (if the
poller falls behind, the figures say so instead of hiding it), the server processes' user
and system CPU and its own CPU per poll over the polling, and the load average. Over TCP
on Linux it also reads the kernel's receive timestamp of each answer: the latency up to
the answer's arrival, which leaves out the poller's own wait for a core.

``python -m bench.fleetpoll --count N [--tcp] [--processes P] [--rounds R]`` runs one
measurement against ``pump-emulator serve`` and prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import selectors
import socket
import struct
import sys
import tempfile
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import Flags, Role
from protocol.errors import FrameError, ProtocolError
from protocol.frames import HEADER_SIZE, SYNC, Frame, decode_frame, frame_length
from protocol.keys import load_keys
from protocol.session import ProgrammerSession

HANDSHAKE_TIMEOUT_S = 30.0
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35) if sys.platform == "linux" else None
"""Linux's receive timestamps on a socket (SCM_TIMESTAMPNS: a timespec, CLOCK_REALTIME)."""
_TIMESPEC = struct.Struct("@qq")
_SYNC0, _SYNC1 = SYNC
_RESPONSE_BIT = int(Flags.RESPONSE)
_NOT_AN_ANSWER = int(Flags.RESPONSE | Flags.NOTIFY)  # an answer has RESPONSE and not NOTIFY


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
            if _SO_TIMESTAMPNS is not None:
                # The kernel stamps each answer when it arrives: the server's side of the
                # latency, without this poller's own wait for a core.
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
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


MAX_ROUNDS = 30
"""Rounds (the unmeasured one included) whose requests are built before the clock starts:
a session keeps at most 32 requests outstanding."""


@dataclass(frozen=True)
class PollResult:
    latencies_ms: list[float]
    """Every measured round trip whose answer checked out, ms: from the request's write to
    the read that completed its answer."""
    late_ms_p99: float
    """How late the poller sent its requests against the schedule, p99, ms."""
    errors: int
    """Polls not answered before the pump's next poll (or the end), or answered wrongly."""
    wall_s: float = 0.0
    """Wall seconds of the polling (from the first request to the last answer)."""
    polls: int = 0
    """Requests sent while polling, the unmeasured round included."""
    poller_cpu_s: float = 0.0
    """CPU seconds this process spent polling (sending, reading, stamping)."""
    server_user_s: float = 0.0
    """User CPU seconds of ``server_pids`` over the polling."""
    server_system_s: float = 0.0
    """System CPU seconds of ``server_pids`` over the polling."""
    load: tuple[float, float] = (0.0, 0.0)
    """The machine's 1-minute load average before and after the polling."""
    arrival_latencies_ms: list[float] = field(default_factory=list)
    """Over TCP (on Linux), the same round trips up to the kernel's receipt of the answer
    (its receive timestamp): the server's side, without the wait of this poller for a core
    before it read the answer. Empty over ptys (a tty stamps nothing)."""

    @property
    def server_cpu_s(self) -> float:
        return self.server_user_s + self.server_system_s

    @property
    def server_cpu_percent(self) -> float:
        """The server processes' CPU over the polling, % of one core (summed over them)."""
        return 100 * self.server_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def server_us_per_poll(self) -> float:
        """Server CPU per request polled (its share of the sweep and loop included), us."""
        return 1e6 * self.server_cpu_s / self.polls if self.polls else 0.0

    @property
    def poller_us_per_poll(self) -> float:
        """This poller's CPU per request, us (checking the answers afterwards not counted)."""
        return 1e6 * self.poller_cpu_s / self.polls if self.polls else 0.0


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


def _cpu_split(pids: Sequence[int]) -> tuple[float, float]:
    """User and system CPU seconds of ``pids`` so far, summed (Linux /proc)."""
    user = system = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11]) / tick
        system += int(fields[12]) / tick
    return user, system


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def poll_fleet(
    addresses: Sequence[tuple[str, bytes]],
    *,
    rounds: int,
    period_s: float = 1.0,
    server_pids: Sequence[int] = (),
) -> PollResult:
    """Poll every (address, clinician key) once per ``period_s`` for ``rounds`` measured
    rounds (after one unmeasured round), from this one thread.

    What the timed loop does per poll is kept to the least, so the figures measure the
    server rather than the poller: every request is built (and MAC'd) before the clock
    starts; the loop writes it on schedule, and on an answer only reads, finds the frame's
    end from its header and stamps the time. Every answer is checked afterwards, as a
    programmer would have checked it (the frame's CRC, that it answers that request, its
    MAC, and that it decodes as a STATUS answer): a latency counts only for an answer that
    passed, anything else is an error. ``server_pids``' CPU is read over the polling."""
    if not 1 <= rounds < MAX_ROUNDS:
        raise ValueError(f"rounds must be 1 to {MAX_ROUNDS - 1}, got {rounds}")
    if period_s <= 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    links = [_Link(address, key) for address, key in addresses]
    _handshake(links)
    count = len(links)
    request = m.StatusRequest()
    built: list[list[tuple[int, bytes]]] = []
    for link in links:
        assert link.session is not None
        built.append([link.session.request(request) for _ in range(rounds + 1)])
    epoll = select.epoll()
    by_fd: dict[int, _Link] = {}
    index_of: dict[int, int] = {}
    # (link index, round, seq, raw frame, sent, received) of every answer, checked later.
    answers: list[tuple[int, int, int, bytes, float, float, float, float]] = []
    sent_wall = [0.0] * count  # time.time() at the write, for the kernel's stamps
    arrived = [0.0] * count  # the kernel's stamp of the last answer bytes read (0: none)
    socks = [link.sock for link in links]
    wall_clock = time.time
    late: list[float] = []
    sent_at = [0.0] * count
    waiting = [-1] * count  # the SEQ of the request in flight, -1 when none
    waiting_round = [0] * count
    buffers = [bytearray() for _ in range(count)]
    errors = 0
    total = (rounds + 1) * count
    step = period_s / count
    monotonic = time.monotonic
    read = os.read
    try:
        for i, link in enumerate(links):
            epoll.register(link.fd, select.EPOLLIN)
            by_fd[link.fd] = link
            index_of[link.fd] = i
        load_before = _loadavg()
        server0 = _cpu_split(server_pids)
        cpu0 = time.process_time()
        start = monotonic() + 0.05
        end_by = start + (rounds + 1) * period_s + 10.0
        sent = 0
        outstanding = 0
        while sent < total or outstanding:
            now = monotonic()
            if now > end_by:
                errors += outstanding
                break
            while sent < total:
                k, i = divmod(sent, count)
                due = start + k * period_s + i * step
                if due > now:
                    break
                sent += 1
                if waiting[i] >= 0:  # the previous answer never came: count it, move on
                    errors += 1
                    outstanding -= 1
                seq, data = built[i][k]
                at = monotonic()
                links[i].write(data)
                sent_at[i] = at
                sent_wall[i] = wall_clock()
                arrived[i] = 0.0
                waiting[i] = seq
                waiting_round[i] = k
                outstanding += 1
                if k:
                    late.append((at - due) * 1e3)
            if sent < total:
                k, i = divmod(sent, count)
                timeout = max(0.0, start + k * period_s + i * step - monotonic())
            else:
                timeout = 0.5
            for fd, _events in epoll.poll(timeout):
                i = index_of[fd]
                try:
                    sock = socks[i]
                    if sock is None or _SO_TIMESTAMPNS is None:
                        chunk = read(fd, 65536)
                    else:
                        chunk, ancillary, _flags, _address = sock.recvmsg(65536, 64)
                        for level, kind, stamp in ancillary:
                            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                                seconds, nanoseconds = _TIMESPEC.unpack_from(stamp)
                                arrived[i] = seconds + nanoseconds / 1e9
                except BlockingIOError:
                    continue
                received = monotonic()
                if not chunk:
                    raise ConnectionError(f"{links[i].address}: end of file")
                buffer = buffers[i]
                buffer += chunk
                while len(buffer) >= HEADER_SIZE:
                    if buffer[0] != _SYNC0 or buffer[1] != _SYNC1:
                        at_sync = buffer.find(SYNC, 1)
                        del buffer[: at_sync if at_sync > 0 else len(buffer) - 1]
                        continue
                    try:
                        length = frame_length(bytes(buffer[:HEADER_SIZE]))
                    except FrameError:
                        del buffer[:1]
                        continue
                    if len(buffer) < length:
                        break
                    raw = bytes(buffer[:length])
                    del buffer[:length]
                    seq = raw[4] << 8 | raw[5]
                    if seq != waiting[i] or raw[3] & _NOT_AN_ANSWER != _RESPONSE_BIT:
                        continue  # not the answer we wait for (a late one): skip it
                    answers.append(
                        (
                            i,
                            waiting_round[i],
                            seq,
                            raw,
                            sent_at[i],
                            received,
                            sent_wall[i],
                            arrived[i],
                        )
                    )
                    waiting[i] = -1
                    outstanding -= 1
        cpu = time.process_time() - cpu0
        wall = monotonic() - start
        server1 = _cpu_split(server_pids)
        load_after = _loadavg()
    finally:
        epoll.close()
        for link in links:
            link.close()
    latencies: list[float] = []
    arrivals: list[float] = []
    for i, k, seq, raw, sent_s, received_s, sent_wall_s, arrived_s in answers:
        session = links[i].session
        assert session is not None
        try:
            answer = session.receive(decode_frame(raw), seq)
        except ProtocolError:
            errors += 1
            continue
        if not isinstance(answer, m.StatusResponse):
            errors += 1
        elif k:
            latencies.append((received_s - sent_s) * 1e3)
            if arrived_s:
                arrivals.append(max(0.0, arrived_s - sent_wall_s) * 1e3)
    late.sort()
    late_p99 = late[max(0, -(-99 * len(late) // 100) - 1)] if late else 0.0
    return PollResult(
        latencies_ms=latencies,
        late_ms_p99=late_p99,
        errors=errors,
        wall_s=wall,
        polls=sent,
        poller_cpu_s=cpu,
        server_user_s=server1[0] - server0[0],
        server_system_s=server1[1] - server0[1],
        load=(load_before, load_after),
        arrival_latencies_ms=arrivals,
    )


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


def summary(result: PollResult) -> dict[str, object]:
    """The figures of one run (an unanswered poll counts as past any limit in the p99)."""
    lat = sorted(result.latencies_ms)
    everything = [*lat, *[math.inf] * result.errors]
    out: dict[str, object] = {
        "polls": len(lat),
        "errors": result.errors,
        "p50_ms": round(lat[len(lat) // 2], 3) if lat else None,
        "p99_ms": round(p99(everything), 3) if everything else None,
        "max_ms": round(lat[-1], 3) if lat else None,
        "poller_late_p99_ms": round(result.late_ms_p99, 3),
        "server_cpu_percent": round(result.server_cpu_percent, 1),
        "server_us_per_poll": round(result.server_us_per_poll, 1),
        "server_user_s": round(result.server_user_s, 2),
        "server_system_s": round(result.server_system_s, 2),
        "poller_us_per_poll": round(result.poller_us_per_poll, 1),
        "load_average": [round(x, 2) for x in result.load],
    }
    if result.arrival_latencies_ms:
        # Unanswered polls count here too: the server did not answer them in time.
        arrived = [*result.arrival_latencies_ms, *[math.inf] * result.errors]
        out["arrival_p99_ms"] = round(p99(arrived), 3)
        out["arrival_p50_ms"] = round(sorted(arrived)[len(arrived) // 2], 3)
    return out


def gc_summary(report: dict[str, list[list[float]]]) -> dict[str, object]:
    """The server's collections (from bench.gcwatch) before its ready line and after it (the
    handshakes and the polling), per generation: how many, the longest and total pause in
    CPU ms, the longest in wall ms, and the objects they freed."""
    freezes = report["freezes"]
    ready_s = freezes[0][0] if freezes else math.inf
    out: dict[str, object] = {}
    for phase, after_ready in (("gc_before_ready", False), ("gc_after_ready", True)):
        by_generation = {}
        for generation in (0, 1, 2):
            rows = [
                r
                for r in report["collections"]
                if r[0] == generation and (r[1] >= ready_s) is after_ready
            ]
            by_generation[f"gen{generation}"] = {
                "count": len(rows),
                "max_cpu_ms": max((r[3] for r in rows), default=0.0),
                "total_cpu_ms": round(sum(r[3] for r in rows), 3),
                "max_wall_ms": max((r[2] for r in rows), default=0.0),
                "collected": int(sum(r[4] for r in rows)),
            }
        out[phase] = by_generation
    out["gc_frozen_at_ready"] = int(freezes[0][1]) if freezes else None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from bench.ptyfloor import ServerProcess  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m bench.fleetpoll")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--gc",
        action="store_true",
        help="watch the server's cyclic collector (bench.gcwatch; one process only)",
    )
    parser.add_argument(
        "--gc-while-building",
        action="store_true",
        help="with --gc: leave the collector on while the fleet is built (as serve did before)",
    )
    args = parser.parse_args(argv)
    if (args.gc or args.gc_while_building) and args.processes > 1:
        parser.error("--gc watches one server process: not with --processes")
    watch_gc = args.gc or args.gc_while_building
    with tempfile.TemporaryDirectory(prefix="vpump-fleetpoll-") as tmp:
        gc_report = Path(tmp) / "gc.json"
        if watch_gc:
            serve = ["-m", "bench.gcwatch", str(gc_report)]
            serve += ["--collect-while-building"] if args.gc_while_building else []
        else:
            serve = ["-m", "emulator.cli", "serve"]
        serve += ["--count", str(args.count), "--preset", "demo", "--key-dir", f"{tmp}/keys"]
        if args.processes > 1:
            serve += ["--processes", str(args.processes)]
        serve += ["--no-pty", "--tcp", "127.0.0.1:0"] if args.tcp else ["--port", f"{tmp}/ttyP0"]
        with ServerProcess(serve, ready_timeout_s=300.0, cpu=None) as server:
            addresses = fleet_addresses(server.ready, Path(tmp) / "keys", tcp=args.tcp)
            pids = server.ready.get("pids", [server.pid])
            assert isinstance(pids, list)
            result = poll_fleet(addresses, rounds=args.rounds, server_pids=[int(p) for p in pids])
        collections = gc_summary(json.loads(gc_report.read_text())) if watch_gc else {}
    print(
        json.dumps(
            {
                "count": args.count,
                "processes": args.processes,
                "transport": "tcp" if args.tcp else "pty",
                **summary(result),
                "ready_after_s": round(server.ready_after_s, 2),
                **collections,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
