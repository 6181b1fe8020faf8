"""PtyTransport: a real pseudo-terminal opened by pyserial through its symlink."""

from __future__ import annotations

import errno
import os
import random
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from bench.ptyfloor import measure_pipe_echo, measure_pty_echo
from emulator.errors import EmulatorPeerError, PortInUseError, PtyLimitError
from emulator.server import Server
from emulator.transports.base import Endpoint, EndpointFactory
from emulator.transports.pty import DEFAULT_LINK_PATH, PtyTransport

TIMEOUT_S = 2.0


class Echo:
    """Answers every chunk with itself."""

    def __init__(self) -> None:
        self.closed = False

    def receive(self, data: bytes) -> bytes:
        return data

    def close(self) -> None:
        self.closed = True


class Lines:
    """Answers each complete line in upper case; raises on a line that is not ASCII."""

    def __init__(self) -> None:
        self._pending = b""

    def receive(self, data: bytes) -> bytes:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        out = b""
        for line in lines:
            if not line.isascii():
                raise ValueError(f"garbage line {line[:16]!r}")
            out += line.upper() + b"\n"
        return out

    def close(self) -> None:
        pass


class Amplifier:
    """Answers each byte with a thousand, to fill a programmer that never reads."""

    def __init__(self) -> None:
        self.received_bytes = 0

    def receive(self, data: bytes) -> bytes:
        self.received_bytes += len(data)
        return b"".join(bytes([byte]) * 1000 for byte in data)

    def close(self) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as srv:
        srv.start()
        yield srv


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyPUMPtest"


def serve(
    server: Server, link: Path, factory: EndpointFactory = Echo, **kwargs: int
) -> PtyTransport:
    transport = PtyTransport(factory, link_path=link, **kwargs)
    server.add(transport)
    return transport


def test_round_trip_through_the_symlink(server: Server, link: Path) -> None:
    transport = serve(server, link)
    assert os.readlink(link) == transport.slave_name
    assert transport.port == str(link)
    assert transport.label == f"pty:{link}"
    with serial.Serial(str(link), timeout=TIMEOUT_S) as port:
        for size in (1, 60, 1024, 4000):
            message = bytes(random.Random(size).randbytes(size))
            port.write(message)
            assert port.read(size) == message
    server.check()


def test_symlink_removed_and_endpoint_closed_on_stop(link: Path) -> None:
    endpoints: list[Echo] = []

    def factory() -> Echo:
        endpoints.append(Echo())
        return endpoints[-1]

    server = Server()
    transport = PtyTransport(factory, link_path=link)
    server.add(transport)
    server.start()
    assert link.is_symlink()
    server.stop()
    assert not os.path.lexists(link)
    assert transport.closed
    assert [e.closed for e in endpoints] == [True]
    server.stop()  # idempotent


def test_a_stale_dangling_symlink_is_replaced(link: Path) -> None:
    os.symlink("/dev/pts/no-such-pty", link)
    with PtyTransport(Echo, link_path=link) as transport:
        assert os.readlink(link) == transport.slave_name
    assert not os.path.lexists(link)


def test_a_symlink_to_something_else_is_replaced_and_its_target_untouched(
    link: Path, tmp_path: Path
) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    os.symlink(target, link)
    with PtyTransport(Echo, link_path=link) as transport:
        assert os.readlink(link) == transport.slave_name
    assert target.read_text() == "keep me"
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_symlink_to_a_reused_pty_number_is_stale(link: Path) -> None:
    master, slave = os.openpty()
    try:
        os.symlink(os.ttyname(slave), link)
        # Make the link older than the pty: the link was made for an earlier pty
        # that had the same number, whose emulator is gone.
        pty_ctime_ns = os.stat(os.ttyname(slave)).st_ctime_ns
        old = pty_ctime_ns - 60 * 1_000_000_000
        os.utime(link, ns=(old, old), follow_symlinks=False)
        with PtyTransport(Echo, link_path=link) as transport:
            assert os.readlink(link) == transport.slave_name
    finally:
        os.close(master)
        os.close(slave)


def test_a_live_link_of_another_emulator_is_refused(link: Path) -> None:
    with PtyTransport(Echo, link_path=link) as first:
        with pytest.raises(PortInUseError, match="still in use") as info:
            PtyTransport(Echo, link_path=link)
        assert isinstance(info.value, EmulatorPeerError)
        assert isinstance(info.value, FileExistsError)
        assert os.readlink(link) == first.slave_name


def test_a_regular_file_is_refused_and_untouched(link: Path) -> None:
    link.write_bytes(b"precious")
    before = os.stat(link)
    with pytest.raises(PortInUseError, match="not a symlink"):
        PtyTransport(Echo, link_path=link)
    after = os.stat(link)
    assert link.read_bytes() == b"precious"
    assert stat.S_ISREG(after.st_mode)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_directory_is_refused(link: Path) -> None:
    link.mkdir()
    with pytest.raises(PortInUseError):
        PtyTransport(Echo, link_path=link)
    assert link.is_dir()


def test_a_failing_factory_leaves_nothing_behind(link: Path) -> None:
    def factory() -> Endpoint:
        raise RuntimeError("no pump today")

    with pytest.raises(RuntimeError, match="no pump today"):
        PtyTransport(factory, link_path=link)
    assert not os.path.lexists(link)


def test_close_leaves_a_link_someone_else_replaced(link: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    transport = PtyTransport(Echo, link_path=link)
    os.unlink(link)
    os.symlink(other, link)
    transport.close()
    assert os.readlink(link) == str(other)


def test_without_a_link_the_slave_is_the_port(server: Server) -> None:
    transport = PtyTransport(Echo, link_path=None)
    server.add(transport)
    assert transport.link_path is None
    assert transport.port == transport.slave_name
    with serial.Serial(transport.port, timeout=TIMEOUT_S) as port:
        port.write(b"ping")
        assert port.read(4) == b"ping"


def test_the_default_link_path_is_documented() -> None:
    assert DEFAULT_LINK_PATH == "/tmp/ttyPUMP0"


def test_programmer_closing_and_reopening_keeps_working(link: Path) -> None:
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    with Server(tick=tick) as server:
        server.start()
        serve(server, link, Lines)
        for round_ in range(3):
            with serial.Serial(str(link), timeout=TIMEOUT_S) as port:
                port.write(b"hello %d\n" % round_)
                assert port.read_until(b"\n") == b"HELLO %d\n" % round_
        # With the port closed the master must stay quiet, not spin on EIO/HUP.
        settled = ticks
        time.sleep(0.2)
        assert ticks - settled < 5
        with serial.Serial(str(link), timeout=TIMEOUT_S) as port:
            port.write(b"again\n")
            assert port.read_until(b"\n") == b"AGAIN\n"
        server.check()


def test_garbage_does_not_stop_the_server(server: Server, link: Path) -> None:
    serve(server, link, Lines)
    rng = random.Random(1234)
    with serial.Serial(str(link), timeout=0.05) as port:
        port.write(rng.randbytes(3000) + b"\xff\n")
        # Garbage read in the same chunk as our line takes the line down with
        # it (the endpoint raises), so ask until the garbage is all gone.
        answer = b""
        deadline = time.monotonic() + TIMEOUT_S
        while not answer.endswith(b"STILL THERE?\n") and time.monotonic() < deadline:
            port.write(b"still there?\n")
            answer += port.read_until(b"\n")
        assert answer.endswith(b"STILL THERE?\n")
    assert server.failures
    assert all(f.where == "receive" for f in server.failures)
    with pytest.raises((ValueError, ExceptionGroup)):
        server.check()
    assert server.failures == ()


def test_a_programmer_that_never_reads_meets_back_pressure(server: Server, link: Path) -> None:
    amplifier = Amplifier()
    transport = serve(server, link, lambda: amplifier, output_limit_bytes=8192)
    with serial.Serial(str(link), timeout=TIMEOUT_S) as port:
        sent = 400
        for _ in range(sent):
            port.write(b"x")
            time.sleep(0.001)  # one request at a time, as a programmer sends them
        # The pty is no longer read once the answers pile up: bounded, nothing dropped.
        deadline = time.monotonic() + TIMEOUT_S
        while transport.pending_bytes < 8192 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        assert amplifier.received_bytes < sent
        assert 8192 <= transport.pending_bytes < 8192 + 1000 * 64
        # Reading drains it, and then every request is answered, in order.
        got = b""
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < sent * 1000 and time.monotonic() < deadline:
            got += port.read(max(1, port.in_waiting))
        assert got == b"x" * sent * 1000
        assert amplifier.received_bytes == sent
    server.check()


def test_the_server_serves_two_ptys_at_once(server: Server, tmp_path: Path) -> None:
    a = serve(server, tmp_path / "ttyPUMPa")
    b = serve(server, tmp_path / "ttyPUMPb", Lines)
    with (
        serial.Serial(a.port, timeout=TIMEOUT_S) as port_a,
        serial.Serial(b.port, timeout=TIMEOUT_S) as port_b,
    ):
        port_a.write(b"abc")
        port_b.write(b"def\n")
        assert port_b.read_until(b"\n") == b"DEF\n"
        assert port_a.read(3) == b"abc"


def test_a_programmer_in_another_thread(server: Server, link: Path) -> None:
    serve(server, link)
    results: list[bytes] = []

    def programmer() -> None:
        with serial.Serial(str(link), timeout=TIMEOUT_S) as port:
            port.write(b"threaded")
            results.append(port.read(8))

    thread = threading.Thread(target=programmer)
    thread.start()
    thread.join()
    assert results == [b"threaded"]


def test_the_pty_floor_measures_something() -> None:
    pty = measure_pty_echo(message_bytes=60, rounds=20, warmup=2)
    pipe = measure_pipe_echo(message_bytes=60, rounds=20, warmup=2)
    for stats in (pty, pipe):
        assert stats.rounds == 20
        assert stats.message_bytes == 60
        assert 0 < stats.median_s <= stats.p99_s < 1.0


def test_no_pty_left_is_a_clear_error_that_leaves_nothing_behind(
    link: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pty_left() -> tuple[int, int]:
        raise OSError(errno.ENOSPC, "No space left on device")

    made: list[Endpoint] = []

    def factory() -> Endpoint:
        made.append(Echo())
        return made[-1]

    monkeypatch.setattr(os, "openpty", no_pty_left)
    with pytest.raises(PtyLimitError, match="no pseudo-terminal left") as caught:
        PtyTransport(factory, link_path=link)
    assert isinstance(caught.value, EmulatorPeerError) and isinstance(caught.value, OSError)
    assert caught.value.errno == errno.ENOSPC
    assert "/proc/sys/kernel/pty/max" in str(caught.value) or "limit" in str(caught.value)
    assert "--tcp" in str(caught.value)
    assert not os.path.lexists(link)
    assert made == []
