"""pumpsim:// in-process links through serial.serial_for_url."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import serial

from emulator.errors import LinkNameError
from emulator.transports import inproc
from emulator.transports.protocol_pumpsim import Serial as PumpsimSerial


class Echo:
    """Answers every write with itself; remembers being closed."""

    def __init__(self) -> None:
        self.closed = False
        self.received: list[bytes] = []

    def receive(self, data: bytes) -> bytes:
        self.received.append(data)
        return data

    def close(self) -> None:
        self.closed = True


class Silent:
    """Never answers."""

    def receive(self, data: bytes) -> bytes:
        return b""

    def close(self) -> None:
        pass


class Factory:
    """Makes endpoints of one kind and keeps them."""

    def __init__(self, kind: type[Echo] = Echo) -> None:
        self.kind = kind
        self.made: list[Echo] = []

    def __call__(self) -> Echo:
        self.made.append(self.kind())
        return self.made[-1]


@pytest.fixture
def echo_link(request: pytest.FixtureRequest) -> Iterator[inproc.Registration]:
    # A name per test: xdist workers are separate processes, but keep them unique anyway.
    with inproc.register(f"echo-{request.node.name[:40]}", Factory()) as registration:
        yield registration


@pytest.fixture
def silent_link() -> Iterator[inproc.Registration]:
    with inproc.register("silent", Silent) as registration:
        yield registration


def test_round_trip_through_serial_for_url(echo_link: inproc.Registration) -> None:
    assert echo_link.url == f"pumpsim://{echo_link.name}"
    with serial.serial_for_url(echo_link.url, timeout=1.0) as port:
        assert isinstance(port, PumpsimSerial)
        assert port.write(b"hello") == 5
        assert port.in_waiting == 5
        assert port.read(5) == b"hello"
        assert port.in_waiting == 0
    echo_link.check()


def test_each_open_gets_a_fresh_endpoint_closed_on_close(echo_link: inproc.Registration) -> None:
    factory = echo_link.factory
    assert isinstance(factory, Factory)
    with (
        serial.serial_for_url(echo_link.url, timeout=0) as a,
        serial.serial_for_url(echo_link.url, timeout=0) as b,
    ):
        a.write(b"a")
        b.write(b"b")
        assert (a.read(1), b.read(1)) == (b"a", b"b")
        assert [e.received for e in factory.made] == [[b"a"], [b"b"]]
        assert not any(e.closed for e in factory.made)
    assert all(e.closed for e in factory.made)


def test_a_read_with_enough_queued_returns_at_once(echo_link: inproc.Registration) -> None:
    with serial.serial_for_url(echo_link.url, timeout=5.0) as port:
        port.write(b"0123456789")
        started = time.monotonic()
        assert port.read(4) == b"0123"
        assert port.read(6) == b"456789"
        assert time.monotonic() - started < 0.5


def test_a_read_with_nothing_queued_waits_for_the_timeout(
    silent_link: inproc.Registration,
) -> None:
    with serial.serial_for_url(silent_link.url, timeout=0.1) as port:
        port.write(b"anyone?")
        started = time.monotonic()
        assert port.read(1) == b""
        waited = time.monotonic() - started
    assert 0.09 <= waited < 1.0


def test_a_short_read_returns_what_came_by_the_timeout(echo_link: inproc.Registration) -> None:
    with serial.serial_for_url(echo_link.url, timeout=0.05) as port:
        port.write(b"abc")
        started = time.monotonic()
        assert port.read(10) == b"abc"
        assert time.monotonic() - started >= 0.04


def test_timeout_zero_never_waits(silent_link: inproc.Registration) -> None:
    with serial.serial_for_url(silent_link.url, timeout=0) as port:
        started = time.monotonic()
        assert port.read(100) == b""
        assert time.monotonic() - started < 0.05


def test_late_bytes_wake_a_waiting_reader(silent_link: inproc.Registration) -> None:
    for timeout in (5.0, None):
        port = serial.serial_for_url(silent_link.url, timeout=timeout)
        assert isinstance(port, PumpsimSerial)
        try:
            timer = threading.Timer(0.05, port.feed, args=(b"late",))
            timer.start()
            started = time.monotonic()
            assert port.read(4) == b"late"
            assert time.monotonic() - started < 2.0
            timer.join()
        finally:
            port.close()


def test_cancel_read_and_close_wake_a_waiting_reader(silent_link: inproc.Registration) -> None:
    port = serial.serial_for_url(silent_link.url, timeout=None)
    try:
        timer = threading.Timer(0.05, port.cancel_read)
        timer.start()
        assert port.read(1) == b""
        timer.join()
        timer = threading.Timer(0.05, port.close)
        timer.start()
        assert port.read(1) == b""
        timer.join()
    finally:
        port.close()


def test_unknown_name_is_a_serial_exception() -> None:
    inproc.install_url_handler()  # as register() does: this test may run first in its process
    with pytest.raises(serial.SerialException, match="no pump registered as 'nobody'"):
        serial.serial_for_url("pumpsim://nobody", timeout=0.1)


@pytest.mark.parametrize(
    "url",
    [
        "pumpsim://",
        "pumpsim://name/path",
        "pumpsim://name?opt=1",
        "pumpsim://name#x",
        "pumpsim://name?drop",
        "pumpsim://name?drop=lots",
        "pumpsim://name?drop=1.5",
        "pumpsim://name?baud=9600.5",
        "pumpsim://name?delay_ms=1&delay_ms=2",
        "pumpsim://name?delay_ms=-1",
    ],
)
def test_malformed_urls_are_serial_exceptions(url: str, echo_link: inproc.Registration) -> None:
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url.replace("name", echo_link.name), timeout=0.1)


def test_a_failing_factory_is_a_serial_exception() -> None:
    def factory() -> Echo:
        raise RuntimeError("out of pumps")

    with (
        inproc.register("broken", factory),
        pytest.raises(serial.SerialException, match="out of pumps"),
    ):
        serial.serial_for_url("pumpsim://broken")


def test_endpoint_errors_are_recorded_and_the_port_carries_on() -> None:
    class Grumpy(Echo):
        def receive(self, data: bytes) -> bytes:
            if data == b"boom":
                raise ValueError("boom")
            return super().receive(data)

    with (
        inproc.register("grumpy", Factory(Grumpy)) as registration,
        serial.serial_for_url(registration.url, timeout=0.05) as port,
    ):
        assert port.write(b"boom") == 4
        assert port.read(1) == b""
        port.write(b"fine")
        assert port.read(4) == b"fine"
        assert [f.where for f in registration.failures] == ["receive"]
        with pytest.raises(ValueError, match="boom"):
            registration.check()
        assert registration.failures == ()


def test_several_endpoint_errors_come_back_as_a_group() -> None:
    class Broken(Echo):
        def receive(self, data: bytes) -> bytes:
            raise ValueError(data.decode())

        def close(self) -> None:
            raise OSError("close failed")

    with inproc.register("broken2", Factory(Broken)) as registration:
        with serial.serial_for_url(registration.url, timeout=0) as port:
            port.write(b"one")
            port.write(b"two")
        with pytest.raises(ExceptionGroup) as info:
            registration.check()
        assert [str(e) for e in info.value.exceptions] == ["one", "two", "close failed"]


def test_a_non_bytes_answer_is_an_endpoint_error() -> None:
    class Wrong(Echo):
        def receive(self, data: bytes) -> bytes:
            return None  # type: ignore[return-value]

    with (
        inproc.register("wrong", Factory(Wrong)) as registration,
        serial.serial_for_url(registration.url, timeout=0) as port,
    ):
        port.write(b"x")
        with pytest.raises(TypeError, match="NoneType"):
            registration.check()


def test_closed_ports_refuse_io_and_can_reopen(echo_link: inproc.Registration) -> None:
    port = serial.serial_for_url(echo_link.url, timeout=0)
    port.close()
    port.close()
    for action in (
        lambda: port.write(b"x"),
        lambda: port.read(1),
        lambda: port.in_waiting,
        lambda: port.out_waiting,
        port.reset_input_buffer,
        port.reset_output_buffer,
        port.flush,
    ):
        with pytest.raises(serial.PortNotOpenError):
            action()
    port.open()
    try:
        with pytest.raises(serial.SerialException, match="already open"):
            port.open()
        port.write(b"again")
        assert port.read(5) == b"again"
    finally:
        port.close()


def test_buffers_settings_and_modem_lines(echo_link: inproc.Registration) -> None:
    with serial.serial_for_url(echo_link.url, timeout=0) as port:
        port.write(b"discard me")
        port.reset_input_buffer()
        assert port.in_waiting == 0
        port.reset_output_buffer()
        port.flush()
        assert port.out_waiting == 0
        port.baudrate = 115200
        port.timeout = 0.01
        port.dtr = False
        port.rts = False
        port.break_condition = True
        assert (port.cts, port.dsr, port.ri, port.cd) == (True, True, False, True)
        assert port.read(0) == b""
        port.cancel_write()


def test_concurrent_writers_never_enter_the_endpoint_together() -> None:
    inside = threading.Lock()
    overlaps: list[bytes] = []

    class Exclusive(Echo):
        def receive(self, data: bytes) -> bytes:
            if not inside.acquire(blocking=False):
                overlaps.append(data)
                return data
            try:
                time.sleep(0.0005)
                return data
            finally:
                inside.release()

    with (
        inproc.register("exclusive", Factory(Exclusive)) as registration,
        serial.serial_for_url(registration.url, timeout=1.0) as port,
    ):

        def writer(tag: bytes) -> None:
            for _ in range(50):
                port.write(tag)

        threads = [threading.Thread(target=writer, args=(t,)) for t in (b"a", b"b", b"c")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert overlaps == []
        assert sorted(port.read(150)) == sorted(b"a" * 50 + b"b" * 50 + b"c" * 50)


def test_registration_rules() -> None:
    with inproc.register("taken", Echo) as registration:
        with pytest.raises(LinkNameError, match="already registered"):
            inproc.register("taken", Echo)
        assert inproc.lookup("taken") is registration
    assert inproc.lookup("taken") is None
    for bad in ("", "has space", "slash/", "-leading", "x" * 65, "é"):
        with pytest.raises(LinkNameError):
            inproc.register(bad, Echo)
    with pytest.raises(TypeError):
        inproc.register("notcallable", "nope")  # type: ignore[arg-type]
    inproc.register("plain", Echo)
    inproc.unregister("plain")
    with pytest.raises(LinkNameError, match="not registered"):
        inproc.unregister("plain")
    assert isinstance(LinkNameError("x"), ValueError)


def test_an_open_port_survives_unregistering(echo_link: inproc.Registration) -> None:
    with serial.serial_for_url(echo_link.url, timeout=0) as port:
        echo_link.close()
        port.write(b"still")
        assert port.read(5) == b"still"
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(echo_link.url)


def test_the_handler_is_installed_by_register_and_only_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        serial,
        "protocol_handler_packages",
        [p for p in serial.protocol_handler_packages if p != "emulator.transports"],
    )
    # Importing the modules changes nothing in pyserial: registering a name installs it.
    assert "emulator.transports" not in serial.protocol_handler_packages
    with inproc.register("installs", Echo):
        assert serial.protocol_handler_packages.count("emulator.transports") == 1
    inproc.install_url_handler()
    assert serial.protocol_handler_packages.count("emulator.transports") == 1


def test_url_options_impair_that_port_alone(echo_link: inproc.Registration) -> None:
    url = f"{echo_link.url}?drop=1&seed=7"
    with (
        serial.serial_for_url(url, timeout=0.05) as lossy,
        serial.serial_for_url(echo_link.url, timeout=0.05) as clean,
    ):
        assert isinstance(lossy, PumpsimSerial) and isinstance(clean, PumpsimSerial)
        assert lossy.link_faults is not None and clean.link_faults is None
        assert lossy.link_faults.settings.drop == 1.0
        lossy.write(b"lost")
        assert lossy.read(4) == b""
        clean.write(b"kept")
        assert clean.read(4) == b"kept"
        assert lossy.link_faults.counters().to_pump.chunks_dropped == 1


def test_a_delay_option_holds_the_answer_back(echo_link: inproc.Registration) -> None:
    with serial.serial_for_url(f"{echo_link.url}?delay_ms=30", timeout=2.0) as port:
        started = time.monotonic()
        port.write(b"late")
        assert port.in_waiting == 0
        assert port.read(4) == b"late"
        assert time.monotonic() - started >= 0.06  # 30 ms there, 30 ms back


def test_impairedsim_is_the_old_name_of_the_same_port(echo_link: inproc.Registration) -> None:
    with serial.serial_for_url(f"impairedsim://{echo_link.name}", timeout=1.0) as port:
        # The serial stub types serial_for_url as returning serialposix.Serial; a URL with a
        # protocol handler really opens that handler's own class.
        assert type(port) is PumpsimSerial  # type: ignore[comparison-overlap]
        port.write(b"same")
        assert port.read(4) == b"same"


def test_read_available_hands_over_what_is_queued_at_once(
    echo_link: inproc.Registration,
) -> None:
    with serial.serial_for_url(echo_link.url, timeout=5.0) as port:
        assert isinstance(port, PumpsimSerial)
        port.write(b"0123")
        port.write(b"4567")
        started = time.monotonic()
        assert port.read_available(5.0) == b"01234567"
        assert time.monotonic() - started < 0.5
        assert port.in_waiting == 0


def test_read_available_waits_up_to_its_timeout_for_the_first_bytes(
    silent_link: inproc.Registration,
) -> None:
    with serial.serial_for_url(silent_link.url, timeout=None) as port:
        assert isinstance(port, PumpsimSerial)
        port.write(b"anyone?")
        started = time.monotonic()
        assert port.read_available(0.1) == b""
        assert 0.09 <= time.monotonic() - started < 1.0
        assert port.read_available(0) == b""
        for timeout in (5.0, None):
            timer = threading.Timer(0.05, port.feed, args=(b"late",))
            timer.start()
            started = time.monotonic()
            assert port.read_available(timeout) == b"late"
            assert time.monotonic() - started < 2.0
            timer.join()
        timer = threading.Timer(0.05, port.cancel_read)
        timer.start()
        assert port.read_available(None) == b""
        timer.join()
    with pytest.raises(serial.PortNotOpenError):
        port.read_available(0)


def test_read_available_collects_what_an_impaired_link_releases(
    echo_link: inproc.Registration,
) -> None:
    with serial.serial_for_url(f"{echo_link.url}?delay_ms=30", timeout=None) as port:
        assert isinstance(port, PumpsimSerial)
        started = time.monotonic()
        port.write(b"late")
        assert port.read_available(0) == b""
        assert port.read_available(2.0) == b"late"
        assert time.monotonic() - started >= 0.06  # 30 ms there, 30 ms back
