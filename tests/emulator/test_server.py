"""Server: the selector loop, its tick hook, failure recording and stopping."""

from __future__ import annotations

import math
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import pytest

from emulator import server as server_module
from emulator.clock import PumpClock
from emulator.errors import ServerStateError, ServerStopTimeoutError
from emulator.server import Server, _EpollWaiter, _SelectorWaiter
from emulator.transports.base import EVENT_READ, EVENT_WRITE, LinkFailure, Transport, Watch
from emulator.transports.pty import PtyTransport
from emulator.transports.tcp import TcpTransport

TIMEOUT_S = 2.0


class Echo:
    def receive(self, data: bytes) -> bytes:
        return data

    def close(self) -> None:
        pass


class Boom:
    """Raises on every chunk except ``ok``."""

    def receive(self, data: bytes) -> bytes:
        if data != b"ok":
            raise ValueError(f"cannot handle {data!r}")
        return b"fine"

    def close(self) -> None:
        pass


def wait_for(condition: object, timeout_s: float = TIMEOUT_S) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)


def exchange(address: tuple[str, int], data: bytes, size: int) -> bytes:
    with socket.create_connection(address, timeout=TIMEOUT_S) as sock:
        sock.sendall(data)
        got = b""
        while len(got) < size:
            chunk = sock.recv(size - len(got))
            if not chunk:
                break
            got += chunk
        return got


def test_stop_before_start_closes_everything(tmp_path: Path) -> None:
    server = Server()
    pty = PtyTransport(Echo, link_path=tmp_path / "ttyPUMPx")
    tcp = TcpTransport(Echo)
    server.add(pty)
    server.add(tcp)
    assert server.transports == (pty, tcp)
    server.stop()
    assert pty.closed and tcp.closed
    assert not os.path.lexists(tmp_path / "ttyPUMPx")
    assert not server.running
    server.stop()
    with pytest.raises(ServerStateError):
        server.start()
    with pytest.raises(ServerStateError):
        server.serve_forever()
    with pytest.raises(ServerStateError):
        server.add(TcpTransport(Echo))


def test_a_transport_refused_after_stop_stays_with_the_caller() -> None:
    server = Server()
    server.stop()
    tcp = TcpTransport(Echo)
    with pytest.raises(ServerStateError):
        server.add(tcp)
    assert not tcp.closed
    tcp.close()


def test_start_twice_and_add_twice_are_refused() -> None:
    with Server() as server:
        tcp = TcpTransport(Echo)
        server.add(tcp)
        with pytest.raises(ServerStateError):
            server.add(tcp)
        server.start()
        assert server.running
        with pytest.raises(ServerStateError):
            server.start()
        with pytest.raises(ServerStateError):
            server.serve_forever()
    assert not server.running


def test_stop_is_prompt_and_joins_the_thread() -> None:
    server = Server()
    server.start()
    thread = next(t for t in threading.enumerate() if t.name == "vpump-server")
    time.sleep(0.02)  # let it block in select() with no deadline
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 0.5
    assert not thread.is_alive()


def test_transports_added_while_running_are_served() -> None:
    with Server() as server:
        server.start()
        tcp = TcpTransport(Echo)
        server.add(tcp)
        assert exchange(tcp.address, b"late", 4) == b"late"


def test_serve_forever_on_a_thread_of_our_own() -> None:
    server = Server()
    tcp = TcpTransport(Echo)
    server.add(tcp)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        assert exchange(tcp.address, b"abc", 3) == b"abc"
    finally:
        server.stop()
        thread.join()
    assert tcp.closed


def test_stop_from_inside_the_loop_only_requests_it() -> None:
    stopper: list[Server] = []

    class Stopper(Echo):
        def receive(self, data: bytes) -> bytes:
            stopper[0].stop()  # on the loop thread: must not wait for itself
            return data

    server = Server()
    stopper.append(server)
    tcp = TcpTransport(Stopper)
    server.add(tcp)
    server.start()
    with socket.create_connection(tcp.address, timeout=TIMEOUT_S) as sock:
        sock.sendall(b"stop")
        wait_for(lambda: not server.running)
    server.stop()
    assert tcp.closed
    server.check()


def test_request_stop_from_a_signal_handler_ends_serve_forever() -> None:
    server = Server()
    tcp = TcpTransport(Echo)
    server.add(tcp)

    def handler(signum: int, frame: FrameType | None) -> None:
        server.stop()  # the handler runs on the loop's own thread here

    previous = signal.signal(signal.SIGUSR1, handler)
    timer = threading.Timer(0.05, os.kill, args=(os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        server.serve_forever()
    finally:
        timer.join()
        signal.signal(signal.SIGUSR1, previous)
    assert tcp.closed
    assert not server.running


def test_the_tick_runs_when_its_deadline_comes_and_the_deadline_wakes_the_loop() -> None:
    clock = PumpClock(start_pump_s=1_000, speed=1000)
    due = [1_050, 1_100]  # pump seconds: 50 ms and 100 ms of wall time at x1000
    reached: list[tuple[int, int]] = []

    def tick() -> float | None:
        now = clock.now()
        while due and now >= due[0]:
            reached.append((due.pop(0), now))
        return clock.next_wall_deadline(due[0]) if due else None

    started = time.monotonic()
    with Server(tick=tick) as server:
        server.start()
        wait_for(lambda: not due)
    elapsed = time.monotonic() - started
    assert [event for event, _ in reached] == [1_050, 1_100]
    assert all(now >= event for event, now in reached)
    assert 0.09 <= elapsed < 1.5


def test_wake_makes_the_loop_tick_again() -> None:
    ticks = 0

    def tick() -> float | None:
        nonlocal ticks
        ticks += 1
        return None  # nothing due: block until woken

    with Server(tick=tick) as server:
        server.start()
        wait_for(lambda: ticks >= 1)
        time.sleep(0.02)
        before = ticks
        server.wake()
        wait_for(lambda: ticks > before)


def test_requests_between_deadlines_do_not_run_the_tick_and_a_wake_does() -> None:
    ticks = 0

    def tick() -> float | None:
        nonlocal ticks
        ticks += 1
        return time.monotonic() + 3600.0  # nothing due for an hour

    with Server(tick=tick) as server:
        tcp = TcpTransport(Echo)
        server.add(tcp)
        server.start()
        wait_for(lambda: ticks >= 1)
        with socket.create_connection(tcp.address, timeout=TIMEOUT_S) as sock:
            time.sleep(0.02)  # the accept's iteration and its wake are over
            before = ticks
            for i in range(20):
                sock.sendall(b"%02d" % i)
                assert sock.recv(2) == b"%02d" % i
            assert ticks == before  # 20 requests served, the tick not asked
            server.wake()
            wait_for(lambda: ticks > before)


def test_a_failing_tick_is_recorded_and_retried() -> None:
    calls = 0

    def tick() -> float | None:
        nonlocal calls
        calls += 1
        raise RuntimeError("pump model exploded")

    with Server(tick=tick) as server:
        server.start()
        wait_for(lambda: calls >= 2)
        assert server.running
    assert all(f.where == "tick" for f in server.failures)
    with pytest.raises((RuntimeError, ExceptionGroup)):
        server.check()


def test_endpoint_errors_are_recorded_reported_and_never_stop_the_server() -> None:
    seen: list[LinkFailure] = []
    with Server(on_failure=seen.append) as server:
        tcp = TcpTransport(Boom)
        server.add(tcp)
        server.start()
        with socket.create_connection(tcp.address, timeout=TIMEOUT_S) as sock:
            sock.sendall(b"garbage")
            wait_for(lambda: len(seen) == 1)
            sock.sendall(b"ok")
            assert sock.recv(4) == b"fine"
        assert server.running
    assert seen == list(server.failures)
    assert seen[0].where == "receive"
    assert seen[0].link.startswith(f"tcp:127.0.0.1:{tcp.address[1]}<-127.0.0.1:")
    with pytest.raises(ValueError, match="garbage"):
        server.check()
    server.check()  # cleared


def test_a_failing_on_failure_callback_is_only_logged() -> None:
    def callback(failure: LinkFailure) -> None:
        raise RuntimeError("callback broke")

    with Server(on_failure=callback) as server:
        tcp = TcpTransport(Boom)
        server.add(tcp)
        server.start()
        with socket.create_connection(tcp.address, timeout=TIMEOUT_S) as sock:
            sock.sendall(b"x")
            wait_for(lambda: len(server.failures) == 1)
            sock.sendall(b"ok")
            assert sock.recv(4) == b"fine"
    with pytest.raises(ValueError):
        server.check()


class Faulty(Transport):
    """A transport whose handle() raises: the server must retire it, not spin."""

    def __init__(self) -> None:
        super().__init__()
        self._r, self._w = os.pipe()
        os.write(self._w, b"x")  # always readable
        self._closed = False
        self.handled = 0

    @property
    def label(self) -> str:
        return "faulty"

    @property
    def closed(self) -> bool:
        return self._closed

    def watches(self) -> Sequence[Watch]:
        return () if self._closed else (Watch(fd=self._r, events=EVENT_READ, owner=self),)

    def handle(self, watch: Watch, events: int) -> None:
        self.handled += 1
        raise OSError("transport bug")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._r)
            os.close(self._w)


def test_a_transport_that_raises_is_retired_and_the_rest_keep_going() -> None:
    faulty = Faulty()
    with Server() as server:
        tcp = TcpTransport(Echo)
        server.add(faulty)
        server.add(tcp)
        server.start()
        wait_for(lambda: faulty.closed)
        assert faulty.handled == 1
        assert server.transports == (tcp,)
        assert exchange(tcp.address, b"alive", 5) == b"alive"
    assert [(f.link, f.where) for f in server.failures] == [("faulty", "handle")]
    with pytest.raises(OSError, match="transport bug"):
        server.check()


def test_stop_times_out_when_an_endpoint_hangs_then_finishes() -> None:
    release = threading.Event()
    entered = threading.Event()

    class Hang(Echo):
        def receive(self, data: bytes) -> bytes:
            entered.set()
            release.wait(TIMEOUT_S)
            return data

    server = Server()
    tcp = TcpTransport(Hang)
    server.add(tcp)
    server.start()
    with socket.create_connection(tcp.address, timeout=TIMEOUT_S) as sock:
        sock.sendall(b"x")
        assert entered.wait(TIMEOUT_S)
        with pytest.raises(ServerStopTimeoutError) as info:
            server.stop(timeout_s=0.05)
        assert isinstance(info.value, TimeoutError)
        release.set()
        server.stop()
    assert tcp.closed


class Counting(Transport):
    """A readable pipe that echoes nothing; counts how often the server asks for watches."""

    def __init__(self) -> None:
        super().__init__()
        self._r, self._w = os.pipe()
        self._closed = False
        self.asked = 0
        self.handled = 0
        self.events = EVENT_READ

    @property
    def label(self) -> str:
        return "counting"

    @property
    def closed(self) -> bool:
        return self._closed

    def watches(self) -> Sequence[Watch]:
        self.asked += 1
        return () if self._closed else (Watch(fd=self._r, events=self.events, owner=self),)

    def handle(self, watch: Watch, events: int) -> None:
        self.handled += 1
        os.read(self._r, 100)

    def poke(self) -> None:
        os.write(self._w, b"x")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._r)
            os.close(self._w)
            self.watches_changed()


class Reporting(Counting):
    reports_watch_changes = True


def test_a_transport_that_reports_changes_is_asked_for_watches_only_after_one() -> None:
    quiet, chatty = Reporting(), Counting()
    with Server() as server:
        server.add(quiet)
        server.add(chatty)
        server.start()
        for i in range(1, 21):
            quiet.poke()
            wait_for(lambda i=i: quiet.handled == i)
        assert chatty.asked >= 20  # asked on every iteration, as before
        assert quiet.asked == 1  # asked once, when added
        quiet.watches_changed()
        server.wake()
        wait_for(lambda: quiet.asked == 2)
        quiet.poke()
        wait_for(lambda: quiet.handled == 21)
    assert quiet.closed and chatty.closed


def test_a_reporting_transport_closed_from_outside_is_retired() -> None:
    quiet = Reporting()
    with Server() as server:
        tcp = TcpTransport(Echo)
        server.add(quiet)
        server.add(tcp)
        server.start()
        quiet.close()
        server.wake()
        wait_for(lambda: server.transports == (tcp,))
        assert exchange(tcp.address, b"still", 5) == b"still"


def test_a_descriptor_number_reused_by_another_transport_is_served() -> None:
    # The first transport closes (its pipe's numbers become free) and the next one opens
    # on the same numbers before the loop looks again: the new one must be registered.
    with Server() as server:
        server.start()
        first = Reporting()
        server.add(first)
        first.poke()
        wait_for(lambda: first.handled == 1)
        old_fd = first._r
        first.close()
        second = Reporting()
        assert second._r == old_fd
        server.add(second)
        second.poke()
        wait_for(lambda: second.handled == 1)
        assert server.transports == (second,)


def test_tcp_and_pty_report_every_change_of_their_watches(tmp_path: Path) -> None:
    # Through the server: new connections, answers, drops and a pty round trip all keep
    # working with watches asked only on a reported change.
    with Server() as server:
        tcp = TcpTransport(Echo)
        pty = PtyTransport(Echo, link_path=tmp_path / "ttyPUMP0")
        server.add(tcp)
        server.add(pty)
        server.start()
        for i in range(5):
            assert exchange(tcp.address, b"round%d" % i, 6) == b"round%d" % i
        wait_for(lambda: tcp.connection_count == 0)
        fd = os.open(tmp_path / "ttyPUMP0", os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"over the pty")
            got = b""
            while len(got) < 12:
                got += os.read(fd, 100)
            assert got == b"over the pty"
        finally:
            os.close(fd)


class Polled(Counting):
    """Counts polls; reports its poll needs (or not)."""

    reports_watch_changes = True

    def __init__(self, *, reports: bool) -> None:
        super().__init__()
        self.polls: list[float] = []
        self.reports_poll_needs = reports  # type: ignore[misc]

    def poll(self) -> None:
        self.polls.append(time.monotonic())


def test_a_transport_that_reports_its_poll_needs_is_polled_only_when_it_asked() -> None:
    quiet, chatty = Polled(reports=True), Polled(reports=False)
    with Server() as server:
        server.add(quiet)
        server.add(chatty)
        server.start()
        for i in range(1, 21):
            chatty.poke()
            wait_for(lambda i=i: chatty.handled == i)
        assert len(chatty.polls) >= 20  # polled on every iteration, as before
        assert quiet.polls == []  # never asked: never polled
        # Asked for 50 ms from now: the loop wakes for it by itself (nothing else happens)
        # and polls it once.
        asked_at = time.monotonic()
        quiet.poll_needed(0.05)
        wait_for(lambda: len(quiet.polls) == 1)
        assert quiet.polls[0] - asked_at >= 0.045
        time.sleep(0.1)
        assert len(quiet.polls) == 1
        # "Next iteration, whenever it comes": polled once the loop turns again.
        quiet.poll_needed(None)
        quiet.poke()
        wait_for(lambda: len(quiet.polls) == 2)
        time.sleep(0.05)
        assert len(quiet.polls) == 2


def test_poll_requests_of_a_retired_transport_are_dropped() -> None:
    quiet = Polled(reports=True)
    with Server() as server:
        server.add(quiet)
        server.start()
        quiet.close()
        server.wake()
        wait_for(lambda: server.transports == ())
        quiet.poll_needed(0.0)  # after it was retired: ignored
        time.sleep(0.05)
        assert quiet.polls == []


# -- the loop's wait: epoll used directly, proven equal to selectors --------------------------


def _descriptor_states(
    closers: list[Callable[[], None]],
) -> list[tuple[str, int, int]]:
    """Descriptors in the states a link goes through, as (name, fd, events watched); what
    must be closed afterwards goes to ``closers``."""

    def pipe() -> tuple[int, int]:
        r, w = os.pipe()
        closers.extend([lambda: os.close(r), lambda: os.close(w)])
        return r, w

    def pair() -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair()
        closers.extend([a.close, b.close])
        return a, b

    both = EVENT_READ | EVENT_WRITE
    idle, _ = pipe()
    readable, w = pipe()
    os.write(w, b"x")
    hung_up, w = pipe()
    os.close(w)
    closers.pop()  # closed already
    writable, _ = pair()
    writable_too, _ = pair()
    chatty, other = pair()
    other.sendall(b"y")
    reset, gone = pair()
    gone.close()
    master, slave = os.openpty()
    closers.extend([lambda: os.close(master), lambda: os.close(slave)])
    os.write(slave, b"z")
    return [
        ("pipe idle", idle, EVENT_READ),
        ("pipe readable", readable, EVENT_READ),
        ("pipe hung up", hung_up, EVENT_READ),
        ("socket writable", writable.fileno(), EVENT_WRITE),
        ("socket writable, watched both ways", writable_too.fileno(), both),
        ("socket readable and writable", chatty.fileno(), both),
        ("socket whose peer closed", reset.fileno(), both),
        ("pty readable", master, EVENT_READ),
    ]


@pytest.mark.skipif(not hasattr(select, "epoll"), reason="epoll is Linux's")
def test_the_epoll_wait_reports_what_selectors_reports() -> None:
    closers: list[Callable[[], None]] = []
    try:
        states = _descriptor_states(closers)
        fast, slow = _EpollWaiter(), _SelectorWaiter()
        closers.extend([fast.close, slow.close])
        for waiter in (fast, slow):
            for name, fd, events in states:
                waiter.register(fd, events, name)
        assert sorted(fast.wait(0)) == sorted(slow.wait(0))
        assert len(fast.wait(0)) == len(states) - 1  # all but the idle pipe are ready
        for waiter in (fast, slow):  # now only for reading, with new data
            for name, fd, _ in states:
                waiter.modify(fd, EVENT_READ, f"{name}, read")
        assert sorted(fast.wait(0.001)) == sorted(slow.wait(0.001))
        for waiter in (fast, slow):
            with pytest.raises(KeyError):
                waiter.register(states[0][1], EVENT_READ, None)
            for _, fd, _ in states:
                waiter.unregister(fd)
            with pytest.raises(KeyError):
                waiter.unregister(states[0][1])
            with pytest.raises(KeyError):
                waiter.modify(states[0][1], EVENT_READ, None)
        assert fast.wait(0) == slow.wait(0) == []
    finally:
        for close in reversed(closers):
            close()


def test_the_loop_serves_through_selectors_where_there_is_no_epoll(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(server_module, "_HAVE_EPOLL", False)
    with Server() as server:
        assert isinstance(server._selector, _SelectorWaiter)
        tcp = TcpTransport(Echo)
        pty = PtyTransport(Echo, link_path=tmp_path / "ttyPUMPs")
        server.add(tcp)
        server.add(pty)
        server.start()
        assert exchange(tcp.address, b"plain", 5) == b"plain"
        fd = os.open(pty.slave_name, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"pty")
            got = b""
            while len(got) < 3:
                got += os.read(fd, 3)
            assert got == b"pty"
        finally:
            os.close(fd)


@pytest.mark.skipif(not hasattr(select, "epoll"), reason="epoll is Linux's")
@pytest.mark.parametrize("timeout", [0, 0.0, -0.0, -1e-9, -5.0, math.nan, 0.001])
def test_a_deadline_passed_polls_at_once_in_either_waiter(timeout: float) -> None:
    """The loop hands the waiter a deadline's distance as it is (no max(0.0, ...)): passed,
    or a NaN, both waiters poll without waiting, and still report what is ready."""
    closers: list[Callable[[], None]] = []
    try:
        states = _descriptor_states(closers)
        fast, slow = _EpollWaiter(), _SelectorWaiter()
        closers.extend([fast.close, slow.close])
        for waiter in (fast, slow):
            for name, fd, events in states:
                waiter.register(fd, events, name)
        assert sorted(fast.wait(timeout)) == sorted(slow.wait(timeout)) == sorted(slow.wait(0))
        for waiter in (fast, slow):
            for _, fd, _ in states:
                waiter.unregister(fd)
        # Nothing registered: a blocking wait (None, or epoll's -1) would never return.
        assert fast.wait(timeout) == slow.wait(timeout) == []
    finally:
        for close in reversed(closers):
            close()
