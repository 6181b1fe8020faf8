"""The STATUS path against a minimal server doing only the necessary work (issue #16).

The minimal server (``python -m bench.bench_status_floor --serve``, its own process, one
pty) does what any server answering STATUS must: deframe (SYNC, header, LEN), check the
CRC, verify the request's HMAC-SHA256 MAC, pack a STATUS payload of the real answer's size
and field count with one ``struct``, MAC it, add the CRC and write it. No pump model, no
session state machine, no framework. ``pump-emulator serve`` (one pump, demo preset) runs
in its own process too. One client drives both, interleaved block by block, with the same
code (build a MAC'd request, write, read, deframe the answer; neither decodes the STATUS
payload), so the two differ only in the server.

Reported: the round trip (median, p99) and the server's CPU per request (its user +
system CPU over the requests, from the scheduler's nanosecond count in /proc, which does
not swing with the machine's load the way wall time does), each beside the minimal
server's; and the server CPU per request when 20 requests come in one write (one
wake-up, one read, one write for all of them, caches warm), which splits each server's
cost into the work per request and what each wake-up costs it.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import select
import signal
import statistics
import struct
import sys
import tempfile
import tty
from collections.abc import Callable

from bench.metric import Metric
from bench.ptyfloor import Contender, ServerProcess, Timing, interleave, timed_rounds
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import PROTOCOL_VERSION, Op, Role
from protocol.frames import SYNC
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.session import ProgrammerSession

SESSION_KEY = bytes(range(32))
"""The minimal server's session key (it skips the handshake: a fixed key stands in)."""

ROUNDS_PER_BLOCK = 200
BLOCKS = 10

_HEADER = struct.Struct("!2sBBHBH")  # SYNC, VER, FLAGS, SEQ, OP, LEN
_SYNC = b"\xa5\x5a"
_MAC = 16
_FLAG_MAC = 0x02
_FLAG_RESPONSE = 0x01


def _status_layout(size: int) -> tuple[struct.Struct, tuple[object, ...], int, int]:
    """A struct of the real STATUS payload's ``size`` and about its field count (33 fields:
    one 32-bit word each, and the rest as bytes), the values it packs, the protocol
    version and STATUS's opcode."""

    assert SYNC == _SYNC
    words = min(33, size // 4)
    rest = size - 4 * words
    layout = struct.Struct(f"!{words}I{rest}s")
    return layout, (*range(1000, 1000 + words), bytes(rest)), PROTOCOL_VERSION, int(Op.STATUS)


class MinimalStatusServer:
    """Answers MAC'd STATUS requests, doing only the necessary work."""

    def __init__(self, payload_size: int, key: bytes = SESSION_KEY) -> None:
        self.key = key
        self.layout, self.values, self.version, self.op = _status_layout(payload_size)
        self.buffer = b""

    def feed(self, data: bytes) -> bytes:
        """Bytes in, answer bytes out (b"" until a whole frame has arrived)."""
        buffer = self.buffer + data
        out = []
        while True:
            start = buffer.find(_SYNC)
            if start < 0:
                buffer = b""
                break
            buffer = buffer[start:]
            if len(buffer) < _HEADER.size:
                break
            _, _version, flags, seq, op, length = _HEADER.unpack_from(buffer)
            total = _HEADER.size + length + (_MAC if flags & _FLAG_MAC else 0) + 2
            if len(buffer) < total:
                break
            frame, buffer = buffer[:total], buffer[total:]
            end = total - 2
            if int.from_bytes(frame[end:], "big") != binascii.crc_hqx(frame[2:end], 0xFFFF):
                continue
            body_end = end - _MAC
            mac = hmac.new(self.key, frame[2:body_end], hashlib.sha256).digest()[:_MAC]
            if not hmac.compare_digest(mac, frame[body_end:end]) or op != self.op:
                continue
            payload = self.layout.pack(*self.values)
            head = struct.pack(
                "!BBHBH", self.version, _FLAG_RESPONSE | _FLAG_MAC, seq, op, len(payload)
            )
            body = head + payload
            answer = _SYNC + body + hmac.new(self.key, body, hashlib.sha256).digest()[:_MAC]
            out.append(answer + binascii.crc_hqx(answer[2:], 0xFFFF).to_bytes(2, "big"))
        self.buffer = buffer
        return b"".join(out)


def serve_minimal(payload_size: int) -> None:
    """The minimal server's process: one pty, until SIGTERM."""
    server = MinimalStatusServer(payload_size)
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    stop_r, stop_w = os.pipe()
    signal.signal(signal.SIGTERM, lambda signum, frame: os.write(stop_w, b"x"))
    poller = select.poll()
    poller.register(master, select.POLLIN)
    poller.register(stop_r, select.POLLIN)
    print(json.dumps({"event": "ready", "pty": os.ttyname(slave)}), flush=True)
    while True:
        for fd, _ in poller.poll():
            if fd == stop_r:
                return
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                continue
            answer = server.feed(data)
            if answer:
                os.write(master, answer)


class _RawLink:
    """The client both contenders share: write a request, read until the answer's frame."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.poller = select.poll()
        self.poller.register(self.fd, select.POLLIN)

    def exchange(self, request: bytes) -> bytes:
        os.write(self.fd, request)
        data = b""
        while True:
            if not self.poller.poll(5000):
                raise TimeoutError("no answer")
            data += os.read(self.fd, 65536)
            if len(data) >= _HEADER.size:
                _, _, flags, _, _, length = _HEADER.unpack_from(data)
                mac = _MAC if flags & _FLAG_MAC else 0
                if len(data) >= _HEADER.size + length + mac + 2:
                    return data

    def exchange_batch(self, requests: bytes, answers: int) -> bytes:
        """Write several requests at once; read until ``answers`` whole frames came back."""
        os.write(self.fd, requests)
        data = b""
        end = got = 0
        while got < answers:
            if not self.poller.poll(5000):
                raise TimeoutError("no answer")
            data += os.read(self.fd, 65536)
            while len(data) >= end + _HEADER.size:
                _, _, flags, _, _, length = _HEADER.unpack_from(data, end)
                size = _HEADER.size + length + (_MAC if flags & _FLAG_MAC else 0) + 2
                if len(data) < end + size:
                    break
                end += size
                got += 1
        return data

    def close(self) -> None:
        os.close(self.fd)


def _minimal_request(seq: int) -> bytes:

    body = struct.pack("!BBHBH", PROTOCOL_VERSION, _FLAG_MAC, seq, int(Op.STATUS), 0)
    frame = _SYNC + body + hmac.new(SESSION_KEY, body, hashlib.sha256).digest()[:_MAC]
    return frame + binascii.crc_hqx(frame[2:], 0xFFFF).to_bytes(2, "big")


def _emulator_requests(path: str) -> tuple[_RawLink, Callable[[], bytes]]:
    """A clinician session to the emulator's pump; each call gives the next STATUS request."""

    link = _RawLink(path)
    session = ProgrammerSession(
        key=load_keys(DEMO_KEY_FILE)[Role.CLINICIAN], role=Role.CLINICIAN, random_bytes=os.urandom
    )
    deframer = Deframer()
    auth = session.receive_open(deframer.feed(link.exchange(session.start()))[0])
    session.receive_auth(deframer.feed(link.exchange(auth or b""))[0])
    request = m.StatusRequest()

    def next_request() -> bytes:
        return session.request(request)[1]

    return link, next_request


def process_cpu_ns(pid: int) -> int:
    """CPU time (user + system) of every thread of process ``pid`` so far, in nanoseconds,
    from the scheduler's own count (``/proc/PID/task/TID/schedstat``, its first field).
    ``/proc/PID/stat`` counts in clock ticks (10 ms): over a block of 200 requests of some
    tens of microseconds each, one tick is most of the figure."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as stats:
                total += int(stats.read().split()[0])
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return total


def run() -> list[Metric]:
    with tempfile.TemporaryDirectory(prefix="vpump-floor-") as tmp:
        serve_args = ["-m", "emulator.cli", "serve", "--preset", "demo", "--port", f"{tmp}/ttyP0"]
        with ServerProcess(serve_args) as emulator:
            link, next_request = _emulator_requests(str(emulator.ready["pty"]))
            answer = link.exchange(next_request())
            payload_size = len(answer) - _HEADER.size - _MAC - 2
            minimal_args = ["-m", "bench.bench_status_floor", "--serve", str(payload_size)]
            with ServerProcess(minimal_args) as minimal:
                floor_link = _RawLink(str(minimal.ready["pty"]))
                timings, per, counts = _measure(
                    minimal.pid, floor_link, emulator.pid, link, next_request
                )
                batched = _measure_batched(
                    minimal.pid, floor_link, emulator.pid, link, next_request
                )
                floor_link.close()
            link.close()
    floor = "the minimal server (deframe, CRC, HMAC verify + sign, struct pack, CRC)"
    return [*_metrics(timings, per, counts, floor, payload_size), _batched_metric(batched, floor)]


BATCH = 20
"""Requests written at once in the batched measurement."""


def _measure_batched(
    minimal_pid: int,
    floor_link: _RawLink,
    serve_pid: int,
    link: _RawLink,
    next_request: Callable[[], bytes],
) -> dict[str, float]:
    """Server CPU per request when :data:`BATCH` requests arrive in one write: one wake-up,
    one read and one write serve them all, and the caches stay warm between them. Beside
    the one-at-a-time figure it splits a server's cost into the work a request needs and
    what each wake-up costs (the switch, the system calls, caches refilled)."""
    seqs = iter(range(1 << 20, 1 << 30))
    cpu = {"minimal": 0.0, "serve": 0.0}
    counts = {"minimal": 0, "serve": 0}

    def counted(name: str, pid: int, make: Callable[[], bytes], raw: _RawLink) -> Contender:
        def run_block(n: int) -> list[int]:
            batches = [b"".join(make() for _ in range(BATCH)) for _ in range(max(1, n // BATCH))]
            before = process_cpu_ns(pid)
            samples = timed_rounds(lambda: raw.exchange_batch(batches.pop(), BATCH))(len(batches))
            cpu[name] += process_cpu_ns(pid) - before
            counts[name] += len(samples) * BATCH
            return samples

        return run_block

    interleave(
        {
            "minimal": counted(
                "minimal",
                minimal_pid,
                lambda: _minimal_request(next(seqs) & 0xFFFF),
                floor_link,
            ),
            "serve": counted("serve", serve_pid, next_request, link),
        },
        blocks=BLOCKS,
        rounds_per_block=ROUNDS_PER_BLOCK,
    )
    return {name: cpu[name] / counts[name] / 1e3 for name in cpu}


def _batched_metric(per: dict[str, float], floor: str) -> Metric:
    return Metric(
        name=f"STATUS server CPU per request, {BATCH} per write",
        value=per["serve"],
        unit="us",
        floor_name=f"{floor}, {BATCH} per write",
        floor_value=per["minimal"],
        floor_unit="us",
        detail=f"{BATCH} requests written at once, answered from one read: the work per "
        "request with warm caches and one wake-up per batch (the one-at-a-time figure "
        "less this is what each wake-up costs the server)",
    )


def _measure(
    minimal_pid: int,
    floor_link: _RawLink,
    serve_pid: int,
    link: _RawLink,
    next_request: Callable[[], bytes],
) -> tuple[dict[str, Timing], dict[str, float], dict[str, int]]:
    seqs = iter(range(1, 1 << 30))
    cpu = {"minimal": 0.0, "serve": 0.0}
    counts = {"minimal": 0, "serve": 0}
    block_us: dict[str, list[float]] = {"minimal": [], "serve": []}

    def counted(name: str, pid: int, exchange: Callable[[], object]) -> Contender:
        round_trips = timed_rounds(exchange)

        def run_block(n: int) -> list[int]:
            before = process_cpu_ns(pid)
            samples = round_trips(n)
            spent_ns = process_cpu_ns(pid) - before
            cpu[name] += spent_ns / 1e9
            counts[name] += n
            block_us[name].append(spent_ns / n / 1e3)
            return samples

        return run_block

    contenders = {
        "minimal": counted(
            "minimal",
            minimal_pid,
            lambda: floor_link.exchange(_minimal_request(next(seqs) & 0xFFFF)),
        ),
        "serve": counted("serve", serve_pid, lambda: link.exchange(next_request())),
    }
    timings = interleave(
        contenders,
        blocks=BLOCKS,
        rounds_per_block=ROUNDS_PER_BLOCK,
    )
    per = {name: cpu[name] / counts[name] * 1e6 for name in cpu}
    # The warm-up block is not timed (interleave runs it first, before the blocks).
    for name, blocks in block_us.items():
        per[f"{name}_block_median"] = statistics.median(blocks[1:])
    return timings, per, counts


def _metrics(
    timings: dict[str, Timing],
    per: dict[str, float],
    counts: dict[str, int],
    floor: str,
    payload_size: int,
) -> list[Metric]:
    return [
        Metric(
            name="STATUS server CPU per request",
            value=per["serve"],
            unit="us",
            floor_name=f"{floor}, CPU per request",
            floor_value=per["minimal"],
            floor_unit="us",
            target="<= 2.5x",
            detail=f"{counts['serve']} requests each (STATUS payload {payload_size} B); server "
            "user+system CPU (the scheduler's ns count in /proc) over the timed blocks; the "
            f"median block: {per['serve_block_median']:.1f} us against "
            f"{per['minimal_block_median']:.1f} us "
            f"({per['serve_block_median'] / per['minimal_block_median']:.2f}x)",
        ),
        Metric(
            name="STATUS round trip, serve in its own process, median",
            value=timings["serve"].median_s * 1e6,
            unit="us",
            floor_name=f"{floor}, median",
            floor_value=timings["minimal"].median_s * 1e6,
            floor_unit="us",
            target="<= 2x",
            detail=timings["serve"].spread + f"; floor {timings['minimal'].spread}",
        ),
        Metric(
            name="STATUS round trip, serve in its own process, p99",
            value=timings["serve"].p99_s * 1e6,
            unit="us",
            floor_name=f"{floor}, p99",
            floor_value=timings["minimal"].p99_s * 1e6,
            floor_unit="us",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_minimal(int(sys.argv[2]))
    else:
        for metric in run():
            print(metric)
