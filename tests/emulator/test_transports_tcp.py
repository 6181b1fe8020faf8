"""TcpTransport through pyserial's socket:// URLs."""

from __future__ import annotations

import itertools
import socket
import struct
import time
from collections.abc import Iterator

import pytest
import serial

from emulator.errors import PortInUseError
from emulator.server import Server
from emulator.transports.base import Endpoint
from emulator.transports.tcp import TcpTransport

TIMEOUT_S = 2.0


class Tagged:
    """Answers each complete line with the endpoint's number and the line."""

    numbers = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.closed = False
        self._pending = b""

    def receive(self, data: bytes) -> bytes:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return b"".join(b"%d:%s\n" % (self.number, line) for line in lines)

    def close(self) -> None:
        self.closed = True


class Registry:
    """A factory that remembers the endpoints it made."""

    def __init__(self) -> None:
        self.made: list[Tagged] = []

    def __call__(self) -> Tagged:
        self.made.append(Tagged())
        return self.made[-1]


def wait_for(condition: object, timeout_s: float = TIMEOUT_S) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as srv:
        srv.start()
        yield srv


def test_round_trip_and_the_chosen_port_is_reported(server: Server) -> None:
    transport = TcpTransport(Registry())
    server.add(transport)
    host, port_number = transport.address
    assert host == "127.0.0.1"
    assert port_number > 0
    assert transport.url == f"socket://127.0.0.1:{port_number}"
    assert transport.label == f"tcp:127.0.0.1:{port_number}"
    with serial.serial_for_url(transport.url, timeout=TIMEOUT_S) as port:
        port.write(b"hello\n")
        line = port.read_until(b"\n")
    assert line.endswith(b":hello\n")
    server.check()


def test_two_clients_at_once_get_their_own_endpoints(server: Server) -> None:
    factory = Registry()
    transport = TcpTransport(factory)
    server.add(transport)
    with (
        serial.serial_for_url(transport.url, timeout=TIMEOUT_S) as a,
        serial.serial_for_url(transport.url, timeout=TIMEOUT_S) as b,
    ):
        a.write(b"from a\n")
        b.write(b"from b\n")
        answer_a = a.read_until(b"\n")
        answer_b = b.read_until(b"\n")
        assert transport.connection_count == 2
        number_a, text_a = answer_a.split(b":")
        number_b, text_b = answer_b.split(b":")
        assert (text_a, text_b) == (b"from a\n", b"from b\n")
        assert {int(number_a), int(number_b)} == {e.number for e in factory.made}
        assert number_a != number_b
    wait_for(lambda: all(e.closed for e in factory.made))
    server.check()


def test_a_client_vanishing_mid_exchange_closes_only_its_endpoint(server: Server) -> None:
    factory = Registry()
    transport = TcpTransport(factory)
    server.add(transport)
    with serial.serial_for_url(transport.url, timeout=TIMEOUT_S) as steady:
        steady.write(b"one\n")
        assert steady.read_until(b"\n").endswith(b":one\n")
        # A second programmer sends half a line, then resets the connection.
        rude = socket.create_connection(transport.address)
        rude.sendall(b"half a li")
        wait_for(lambda: len(factory.made) == 2)
        rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rude.close()
        wait_for(lambda: factory.made[1].closed)
        assert not factory.made[0].closed
        steady.write(b"two\n")
        assert steady.read_until(b"\n").endswith(b":two\n")
        assert transport.connection_count == 1
    server.check()


def test_a_client_closing_politely_and_a_new_one_reusing_its_descriptor(server: Server) -> None:
    factory = Registry()
    transport = TcpTransport(factory)
    server.add(transport)
    # Raw sockets here: pyserial's socket:// close sleeps 0.3 s each time.
    for i in range(5):
        with socket.create_connection(transport.address, timeout=TIMEOUT_S) as sock:
            sock.sendall(b"round %d\n" % i)
            assert sock.makefile("rb").readline().endswith(b":round %d\n" % i)
        wait_for(lambda: transport.connection_count == 0)
    assert len(factory.made) == 5
    assert all(e.closed for e in factory.made)
    server.check()


def test_a_failing_factory_drops_that_connection_only(server: Server) -> None:
    calls = 0

    def factory() -> Endpoint:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first endpoint refuses")
        return Tagged()

    transport = TcpTransport(factory)
    server.add(transport)
    doomed = socket.create_connection(transport.address)
    try:
        doomed.settimeout(TIMEOUT_S)
        assert doomed.recv(10) == b""  # the server closed it
    finally:
        doomed.close()
    with serial.serial_for_url(transport.url, timeout=TIMEOUT_S) as port:
        port.write(b"ok\n")
        assert port.read_until(b"\n").endswith(b":ok\n")
    assert [f.where for f in server.failures] == ["factory"]
    with pytest.raises(RuntimeError, match="first endpoint refuses"):
        server.check()


def test_an_address_in_use_is_refused() -> None:
    with TcpTransport(Registry()) as first, pytest.raises(PortInUseError):
        TcpTransport(Registry(), port=first.address[1])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        TcpTransport(Registry(), port=70000)
    with pytest.raises(ValueError):
        TcpTransport(Registry(), output_limit_bytes=0)


def test_close_closes_every_connection(server: Server) -> None:
    factory = Registry()
    transport = TcpTransport(factory)
    server.add(transport)
    with serial.serial_for_url(transport.url, timeout=TIMEOUT_S) as port:
        port.write(b"x\n")
        port.read_until(b"\n")
        server.stop()
        assert transport.closed
        assert factory.made[0].closed
        assert transport.connection_count == 0


class Amplifier:
    """Answers each byte with a hundred thousand of its kind, to fill a programmer that
    never reads."""

    def __init__(self) -> None:
        self.received_bytes = 0

    def receive(self, data: bytes) -> bytes:
        self.received_bytes += len(data)
        return b"".join(bytes([byte]) * 100_000 for byte in data)

    def close(self) -> None:
        pass


def test_a_programmer_that_never_reads_meets_back_pressure(server: Server) -> None:
    """Answers are sent at once while the socket takes them; what it does not take waits,
    in order, and once 64 KiB wait the connection is no longer read; reading drains it."""
    amplifier = Amplifier()
    transport = TcpTransport(lambda: amplifier, output_limit_bytes=64 * 1024)
    server.add(transport)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        sock.connect(transport.address)
        sock.setblocking(False)
        sent = b""
        for k in range(100):
            byte = bytes([65 + k % 26])
            try:
                sock.send(byte)
            except BlockingIOError:
                break
            sent += byte
            time.sleep(0.001)
        wait_for(lambda: transport.pending_bytes >= 64 * 1024)
        time.sleep(0.05)
        assert amplifier.received_bytes < len(sent)  # not read while the answers wait
        sock.setblocking(True)
        sock.settimeout(TIMEOUT_S)
        expected = b"".join(bytes([b]) * 100_000 for b in sent)
        got = bytearray()
        while len(got) < len(expected):
            chunk = sock.recv(1 << 16)
            assert chunk, "connection closed early"
            got += chunk
        assert bytes(got) == expected
        assert amplifier.received_bytes == len(sent)
    server.check()
