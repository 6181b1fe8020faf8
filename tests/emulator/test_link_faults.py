"""Link faults: each impairment alone, determinism, the in-process impaired port, and the
1000-command lossy session from the issue."""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from emulator.errors import EmulatorUsageError
from emulator.link_faults import (
    Direction,
    DirectionCounters,
    EndpointClosedError,
    FaultKind,
    ImpairedEndpoint,
    ImpairmentValueError,
    LinkFaults,
    LinkImpairment,
    flip_bits,
    wire_time_s,
)
from emulator.transports import impaired_inproc, inproc
from emulator.transports.protocol_pumpsim import Serial as PumpsimSerial
from protocol import messages as m
from protocol.client import PumpClient
from protocol.codec import Deframer
from protocol.enums import BolusKind, ErrorCode, EventCode, Role
from protocol.errors import LinkTimeout, NakError
from protocol.frames import encode_frame
from protocol.session import build_frame
from tests.support import DEMO_KEYS, inproc_pump

_names = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


class FakeClock:
    """Seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """An inner endpoint: remembers what arrived (and when), answers with ``answer(data)``."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        answer: Callable[[bytes], bytes] = lambda data: data,
    ) -> None:
        self.clock = clock
        self.answer = answer
        self.received: list[bytes] = []
        self.times: list[float] = []
        self.closes = 0

    def receive(self, data: bytes) -> bytes:
        self.received.append(data)
        self.times.append(self.clock())
        return self.answer(data)

    def close(self) -> None:
        self.closes += 1


def _endpoint(
    settings: LinkImpairment, *, seed: int = 1, answer: Callable[[bytes], bytes] | None = None
) -> tuple[ImpairedEndpoint, Recorder, FakeClock]:
    clock = FakeClock()
    inner = Recorder(clock) if answer is None else Recorder(clock, answer)
    return ImpairedEndpoint(inner, settings, random.Random(seed), clock), inner, clock


def _hamming(a: bytes, b: bytes) -> int:
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))


def _diff_bits(a: bytes, b: bytes) -> tuple[int, ...]:
    return tuple(i for i in range(8 * len(a)) if (a[i // 8] ^ b[i // 8]) >> (i % 8) & 1)


def _chunks(n: int, seed: int = 99) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1, 64)) for _ in range(n)]


def _balanced(c: DirectionCounters, in_flight: int = 0) -> bool:
    return c.chunks_sent == c.chunks_dropped + c.chunks_blocked + c.chunks_delivered + in_flight


# -- settings ------------------------------------------------------------------------------------


def test_the_default_is_a_clean_untimed_link() -> None:
    settings = LinkImpairment()
    assert (settings.drop, settings.corrupt, settings.delay_ms) == (0.0, 0.0, 0.0)
    assert settings.baud is None and not settings.disconnected and not settings.timed
    assert LinkImpairment(delay_ms=1).timed and LinkImpairment(baud=9600).timed


@pytest.mark.parametrize(
    "changes",
    [
        {"drop": -0.01},
        {"drop": 1.01},
        {"drop": math.nan},
        {"drop": True},
        {"drop": "0.1"},
        {"corrupt": -1},
        {"corrupt": 2.0},
        {"corrupt": math.nan},
        {"delay_ms": -0.5},
        {"delay_ms": math.inf},
        {"delay_ms": math.nan},
        {"delay_ms": False},
        {"baud": 299},
        {"baud": 1_000_001},
        {"baud": 9600.0},
        {"baud": True},
        {"disconnected": 1},
        {"disconnected": "yes"},
    ],
)
def test_invalid_settings_are_refused_with_a_typed_value_error(changes: dict[str, object]) -> None:
    with pytest.raises(ImpairmentValueError) as caught:
        LinkImpairment(**changes)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, EmulatorUsageError)


def test_the_bounds_themselves_are_accepted() -> None:
    for settings in (
        LinkImpairment(drop=0, corrupt=0, delay_ms=0, baud=300),
        LinkImpairment(drop=1, corrupt=1.0, delay_ms=10_000, baud=1_000_000, disconnected=True),
    ):
        assert isinstance(settings, LinkImpairment)


def test_a_refused_update_changes_nothing() -> None:
    settings = LinkImpairment(drop=0.3, corrupt=0.3)
    endpoint, _inner, _clock = _endpoint(settings, seed=5)
    twin, _twin_inner, _twin_clock = _endpoint(settings, seed=5)
    for bad in ({"drop": 1.5}, {"baud": 12}, {"loss": 0.1}, {"delay_ms": -1}):
        with pytest.raises(ImpairmentValueError):
            endpoint.update(**bad)
    with pytest.raises(ImpairmentValueError):
        endpoint.set_settings({"drop": 0.1})  # type: ignore[arg-type]
    assert endpoint.settings == settings
    # Same faults as a twin that never saw the refused updates: no draw was consumed either.
    for chunk in _chunks(200):
        assert endpoint.receive(chunk) == twin.receive(chunk)
    assert endpoint.faults() == twin.faults()

    faults = LinkFaults(settings, seed=1)
    with pytest.raises(ImpairmentValueError):
        faults.update(corrupt=-0.1)
    assert faults.settings == settings


def test_update_and_the_settings_property_apply_at_once() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment())
    assert endpoint.update(drop=1.0) == LinkImpairment(drop=1.0)
    assert endpoint.receive(b"lost") == b""
    endpoint.settings = LinkImpairment()
    assert endpoint.receive(b"kept") == b"kept"
    assert inner.received == [b"kept"]


# -- a clean link --------------------------------------------------------------------------------


def test_a_clean_link_is_synchronous_and_counts_what_it_delivers() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(), answer=lambda data: data.upper())
    assert endpoint.receive(b"hello") == b"HELLO"
    assert endpoint.receive(b"") == b""
    assert inner.received == [b"hello"]
    counters = endpoint.counters()
    assert counters[Direction.TO_PUMP] == DirectionCounters(
        chunks_sent=1, bytes_sent=5, chunks_delivered=1, bytes_delivered=5
    )
    assert counters.to_programmer == counters.to_pump
    assert endpoint.faults() == ()
    assert endpoint.next_release_at() is None and endpoint.pending() == []


# -- drop ----------------------------------------------------------------------------------------


def test_drop_one_loses_every_chunk_and_counts_it() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(drop=1.0))
    chunks = _chunks(20)
    for chunk in chunks:
        assert endpoint.receive(chunk) == b""
    assert inner.received == []
    c = endpoint.counters().to_pump
    assert (c.chunks_dropped, c.bytes_dropped) == (20, sum(map(len, chunks)))
    assert (c.chunks_delivered, c.chunks_corrupted) == (0, 0)
    faults = endpoint.faults()
    assert [f.kind for f in faults] == [FaultKind.DROPPED] * 20
    assert [f.chunk_index for f in faults] == list(range(20))
    assert [f.size_bytes for f in faults] == [len(chunk) for chunk in chunks]


def test_drop_loses_chunks_both_ways_and_only_those() -> None:
    answers = iter(range(10_000))
    endpoint, inner, _clock = _endpoint(
        LinkImpairment(drop=0.5), seed=3, answer=lambda data: next(answers).to_bytes(4, "big")
    )
    received = b"".join(endpoint.receive(chunk) for chunk in _chunks(1000))
    c = endpoint.counters()
    for direction in Direction:
        assert _balanced(c[direction])
        assert 0.4 < c[direction].chunks_dropped / c[direction].chunks_sent < 0.6
    # The pump saw exactly what was delivered to it, and answered each of those once.
    assert len(inner.received) == c.to_pump.chunks_delivered == c.to_programmer.chunks_sent
    assert sum(map(len, inner.received)) == c.to_pump.bytes_delivered
    # The programmer got exactly the answers whose chunk was not dropped, in order.
    lost = {f.chunk_index for f in endpoint.faults() if f.direction is Direction.TO_PROGRAMMER}
    expected = [i for i in range(c.to_programmer.chunks_sent) if i not in lost]
    assert received == b"".join(i.to_bytes(4, "big") for i in expected)


# -- corrupt -------------------------------------------------------------------------------------


def test_corrupt_flips_one_to_three_bits_inside_each_chunk() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(corrupt=1.0), seed=11, answer=lambda d: b"")
    chunks = _chunks(300)
    for chunk in chunks:
        endpoint.receive(chunk)
    faults = endpoint.faults()
    assert len(inner.received) == len(faults) == 300
    for sent, got, fault in zip(chunks, inner.received, faults, strict=True):
        assert len(got) == len(sent)  # never longer or shorter
        assert fault.kind is FaultKind.CORRUPTED and fault.size_bytes == len(sent)
        assert _diff_bits(sent, got) == fault.bits
        assert 1 <= len(fault.bits) <= 3 and all(0 <= b < 8 * len(sent) for b in fault.bits)
    assert {len(f.bits) for f in faults if f.size_bytes > 1} == {1, 2, 3}
    c = endpoint.counters().to_pump
    assert c.chunks_corrupted == c.chunks_delivered == 300
    assert c.bytes_corrupted == sum(map(len, chunks))
    assert c.bits_flipped == sum(len(f.bits) for f in faults)


def test_corrupt_also_hits_the_answers() -> None:
    answer = bytes(range(40))
    endpoint, _inner, _clock = _endpoint(LinkImpairment(corrupt=1.0), answer=lambda d: answer)
    got = [endpoint.receive(b"x") for _ in range(50)]
    flips = [f for f in endpoint.faults() if f.direction is Direction.TO_PROGRAMMER]
    assert len(flips) == 50
    for data, fault in zip(got, flips, strict=True):
        assert _diff_bits(answer, data) == fault.bits
    assert endpoint.counters().to_programmer.bits_flipped == sum(map(_hamming, [answer] * 50, got))


def test_flip_bits_counts_from_the_least_significant_bit_of_the_first_byte() -> None:
    assert flip_bits(b"\x00\x00", (0, 15)) == b"\x01\x80"
    assert flip_bits(b"\xff", ()) == b"\xff"
    with pytest.raises(ImpairmentValueError):
        flip_bits(b"\x00", (8,))


def test_a_corrupted_frame_never_turns_into_another_frame() -> None:
    """The evidence behind the lossy session: CRC-16/CCITT-FALSE catches every 1-3 bit flip of a
    frame, so a corrupted request is never executed and never counts as a MAC failure. Clean
    retransmissions after it (enough to satisfy an inflated LEN) come through unharmed."""
    key = bytes(range(32))
    frames = [
        build_frame(
            response=False, seq=7, op=0x31, payload=(2_500_000).to_bytes(4, "big"), key=key
        ),
        build_frame(response=True, seq=7, op=0x01, payload=bytes(range(40))),
    ]
    for frame in frames:
        wire = encode_frame(frame)
        retransmissions = wire * (1 + 1100 // len(wire))
        endpoint, inner, _clock = _endpoint(
            LinkImpairment(corrupt=1.0), seed=2, answer=lambda d: b""
        )
        for _ in range(400):
            endpoint.receive(wire)
        singles = [flip_bits(wire, (bit,)) for bit in range(8 * len(wire))]
        for corrupted in [*inner.received, *singles]:
            decoded = Deframer().feed(corrupted + retransmissions)
            assert decoded and all(f == frame for f in decoded)
            assert len(decoded) <= 1 + 1100 // len(wire)


# -- delay and pacing ----------------------------------------------------------------------------


def test_delay_holds_each_direction_back_until_due() -> None:
    endpoint, inner, clock = _endpoint(LinkImpairment(delay_ms=50), answer=lambda d: b"<" + d)
    assert endpoint.receive(b"ping") == b""
    assert inner.received == []
    assert endpoint.pending(Direction.TO_PUMP) == [(0.05, b"ping")]
    assert endpoint.next_release_at() == pytest.approx(0.05)
    assert endpoint.due(0.0499) == b"" and inner.received == []
    clock.now = 0.05
    assert endpoint.due(clock.now) == b""  # reached the pump; the answer is on its way
    assert inner.received == [b"ping"] and inner.times == [0.05]
    [(release_at, answer)] = endpoint.pending()
    assert release_at == pytest.approx(0.1) and answer == b"<ping"
    assert endpoint.next_release_at() == pytest.approx(0.1)
    assert endpoint.due(0.0999) == b""
    assert endpoint.due(0.1) == b"<ping"
    assert endpoint.next_release_at() is None
    c = endpoint.counters()
    assert c.to_pump.chunks_delivered == c.to_programmer.chunks_delivered == 1


def test_a_late_due_times_the_answer_from_when_the_request_arrived() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(delay_ms=20), answer=lambda d: d)
    endpoint.receive(b"a")
    assert endpoint.due(0.03) == b""  # arrived at 0.02, so the answer is due at 0.04, not 0.05
    assert inner.received == [b"a"]
    assert endpoint.next_release_at() == pytest.approx(0.04)
    endpoint.receive(b"b")
    assert endpoint.due(5.0) == b"ab"  # both legs of "b" in one late call


def test_baud_paces_bytes_like_an_8n1_line() -> None:
    assert wire_time_s(96, 9600) == pytest.approx(0.1)
    assert wire_time_s(1000, None) == 0.0
    endpoint, inner, clock = _endpoint(LinkImpairment(baud=9600), answer=lambda d: d[:48])
    request = bytes(96)
    endpoint.receive(request)
    endpoint.receive(request)  # queued behind the first: the line is busy until 0.1 s
    assert [t for t, _ in endpoint.pending(Direction.TO_PUMP)] == pytest.approx([0.1, 0.2])
    clock.now = 0.1
    assert endpoint.due(clock.now) == b""
    [(release_at, answer)] = endpoint.pending()
    assert release_at == pytest.approx(0.15) and answer == bytes(48)
    clock.now = 0.2
    # The first answer (48 bytes, 0.05 s) is out; the second leaves at 0.2 and arrives at 0.25.
    assert endpoint.due(clock.now) == bytes(48)
    assert inner.times == [0.1, 0.2]
    assert endpoint.next_release_at() == pytest.approx(0.25)
    assert endpoint.due(0.25) == bytes(48)


def test_delay_adds_to_pacing() -> None:
    endpoint, _inner, _clock = _endpoint(LinkImpairment(baud=9600, delay_ms=20))
    endpoint.receive(bytes(96))
    assert endpoint.next_release_at() == pytest.approx(0.12)


def test_a_line_never_reorders_when_the_delay_shrinks() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(delay_ms=100), answer=lambda d: b"")
    endpoint.receive(b"first")
    endpoint.update(delay_ms=0)
    assert endpoint.receive(b"second") == b""
    assert endpoint.due(0.05) == b"" and inner.received == []
    endpoint.due(0.1)
    assert inner.received == [b"first", b"second"]


# -- disconnect ----------------------------------------------------------------------------------


def test_nothing_passes_while_disconnected_and_reconnecting_restores_the_link() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(disconnected=True))
    assert endpoint.receive(b"anyone?") == b""
    assert inner.received == []
    c = endpoint.counters().to_pump
    assert (c.chunks_blocked, c.bytes_blocked, c.chunks_delivered) == (1, 7, 0)
    assert [f.kind for f in endpoint.faults()] == [FaultKind.BLOCKED]
    endpoint.reconnect()
    assert endpoint.receive(b"back") == b"back"
    endpoint.disconnect()
    assert endpoint.settings.disconnected
    assert endpoint.receive(b"gone") == b""
    assert inner.received == [b"back"]


def test_cutting_the_link_loses_what_is_in_flight_both_ways() -> None:
    endpoint, inner, clock = _endpoint(LinkImpairment(delay_ms=50), answer=lambda d: b"ack")
    endpoint.receive(b"one")
    clock.now = 0.05
    endpoint.receive(b"two")  # "one" reaches the pump now; its answer and "two" are in flight
    assert inner.received == [b"one"]
    assert endpoint.pending() and endpoint.pending(Direction.TO_PUMP)
    endpoint.disconnect()
    assert endpoint.next_release_at() is None
    endpoint.reconnect()
    assert endpoint.due(10.0) == b""
    assert inner.received == [b"one"]
    c = endpoint.counters()
    assert (c.to_pump.chunks_blocked, c.to_programmer.chunks_blocked) == (1, 1)
    assert _balanced(c.to_pump) and _balanced(c.to_programmer)
    blocked = [f for f in endpoint.faults() if f.kind is FaultKind.BLOCKED]
    assert [(f.direction, f.chunk_index) for f in blocked] == [
        (Direction.TO_PUMP, 1),
        (Direction.TO_PROGRAMMER, 0),
    ]


# -- determinism ---------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_faults() -> None:
    settings = LinkImpairment(drop=0.2, corrupt=0.2)
    runs = []
    for seed in (42, 42, 43):
        endpoint, _inner, _clock = _endpoint(settings, seed=seed, answer=lambda d: d[::-1])
        out = [endpoint.receive(chunk) for chunk in _chunks(500)]
        runs.append((out, endpoint.faults(), endpoint.counters()))
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1]
    kinds = {f.kind for f in runs[0][1]}
    assert kinds == {FaultKind.DROPPED, FaultKind.CORRUPTED}


def test_changing_one_probability_does_not_reshuffle_the_other_faults() -> None:
    def faults(
        drop: float, corrupt: float
    ) -> tuple[list[tuple[Direction, int]], list[tuple[int, tuple[int, ...]]]]:
        endpoint, _inner, _clock = _endpoint(LinkImpairment(drop=drop, corrupt=corrupt), seed=8)
        for chunk in _chunks(300):
            endpoint.receive(chunk)
        found = endpoint.faults()
        drops = [(f.direction, f.chunk_index) for f in found if f.kind is FaultKind.DROPPED]
        flips = [(f.chunk_index, f.bits) for f in found if f.direction is Direction.TO_PUMP]
        return drops, [f for f in flips if f[1]]

    drops_alone, _ = faults(0.3, 0.0)
    drops_with_corruption, _ = faults(0.3, 0.7)
    assert drops_alone and drops_alone == drops_with_corruption
    # Towards the pump, chunks are the same whatever was dropped before: same flips.
    _, flips_alone = faults(0.0, 0.3)
    _, flips_with_drops = faults(0.6, 0.3)
    dropped_to_pump = {i for d, i in faults(0.6, 0.3)[0] if d is Direction.TO_PUMP}
    assert flips_with_drops == [f for f in flips_alone if f[0] not in dropped_to_pump]


# -- life cycle and threads ----------------------------------------------------------------------


def test_close_closes_the_inner_endpoint_once_and_refuses_more_traffic() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(delay_ms=10))
    endpoint.receive(b"in flight")
    endpoint.close()
    endpoint.close()
    assert inner.closes == 1 and endpoint.closed
    assert endpoint.next_release_at() is None
    assert endpoint.counters().to_pump.chunks_blocked == 1  # lost in flight, still counted
    with pytest.raises(EndpointClosedError) as caught:
        endpoint.receive(b"more")
    assert isinstance(caught.value, RuntimeError)
    with pytest.raises(EndpointClosedError):
        endpoint.due(1.0)


def test_settings_can_change_while_traffic_flows() -> None:
    endpoint, inner, _clock = _endpoint(LinkImpairment(), seed=4)
    stop = threading.Event()

    def toggle() -> None:
        for i in itertools.cycle(range(4)):
            if stop.is_set():
                return
            endpoint.set_settings(
                LinkImpairment(drop=0.5 * (i % 2), corrupt=0.5, disconnected=i == 3)
            )

    toggler = threading.Thread(target=toggle, name="toggle-settings")
    toggler.start()
    try:
        for chunk in _chunks(3000):
            endpoint.receive(chunk)
    finally:
        stop.set()
        toggler.join()
    c = endpoint.counters()
    assert _balanced(c.to_pump) and _balanced(c.to_programmer)
    assert c.to_pump.chunks_sent == 3000
    assert len(inner.received) == c.to_pump.chunks_delivered


# -- one setting for every link of a pump --------------------------------------------------------


def test_link_faults_impairs_every_link_and_keeps_counting_closed_ones() -> None:
    inners: list[Recorder] = []

    def factory() -> Recorder:
        inners.append(Recorder())
        return inners[-1]

    faults = LinkFaults(LinkImpairment(), seed=3)
    make = faults.wrap(factory)
    first, second = make(), make()
    assert isinstance(first, ImpairedEndpoint) and faults.endpoints == (first, second)
    assert first.receive(b"a") == b"a"
    faults.disconnect()
    assert first.receive(b"b") == b"" and second.receive(b"c") == b""
    third = make()
    assert isinstance(third, ImpairedEndpoint) and third.settings.disconnected
    faults.reconnect()
    assert third.receive(b"d") == b"d"
    first.close()
    assert faults.endpoints == (second, third)
    total = faults.counters().to_pump
    assert (total.chunks_sent, total.chunks_delivered, total.chunks_blocked) == (4, 2, 2)
    assert inners[0].closes == 1
    with pytest.raises(ImpairmentValueError):
        LinkFaults(seed=1.5)  # type: ignore[arg-type]


def test_link_faults_seeds_each_link_repeatably() -> None:
    def run(seed: int) -> list[tuple[object, ...]]:
        faults = LinkFaults(LinkImpairment(drop=0.3, corrupt=0.3), seed=seed, clock=FakeClock())
        links = [faults.impair(Recorder()) for _ in range(3)]
        for chunk in _chunks(100):
            for link in links:
                link.receive(chunk)
        return [link.faults() for link in links]

    a, b = run(10), run(10)
    assert a == b
    assert a[0] != a[1] != a[2]
    assert run(11) != a


def test_link_faults_reports_the_earliest_release_over_its_links() -> None:
    clock = FakeClock()
    faults = LinkFaults(LinkImpairment(delay_ms=30), seed=1, clock=clock)
    early, late = faults.impair(Recorder(clock)), faults.impair(Recorder(clock))
    assert faults.next_release_at() is None
    clock.now = 1.0
    late.receive(b"x")
    clock.now = 0.5
    early.receive(b"y")
    assert faults.next_release_at() == pytest.approx(0.53)


# -- the impaired in-process port ----------------------------------------------------------------


@pytest.fixture
def echo_faults() -> Iterator[tuple[impaired_inproc.ImpairedRegistration, list[Recorder]]]:
    inners: list[Recorder] = []

    def factory() -> Recorder:
        inners.append(Recorder())
        return inners[-1]

    with impaired_inproc.register(_name("echo"), factory, LinkFaults(seed=1)) as link:
        yield link, inners
        link.check()


def test_the_port_releases_delayed_answers_when_due(
    echo_faults: tuple[impaired_inproc.ImpairedRegistration, list[Recorder]],
) -> None:
    link, inners = echo_faults
    link.faults.update(delay_ms=40)
    port = serial.serial_for_url(link.url, timeout=2.0)
    try:
        assert isinstance(port, PumpsimSerial)
        started = time.monotonic()
        port.write(b"hello")
        assert port.in_waiting == 0
        assert port.read(5) == b"hello"
        assert time.monotonic() - started >= 0.08  # 40 ms there, 40 ms back
        assert inners[0].received == [b"hello"]
        # A read that times out before the release returns what there is: nothing.
        port.write(b"again")
        port.timeout = 0.01
        assert port.read(5) == b""
        port.timeout = 2.0
        assert port.read(5) == b"again"
    finally:
        port.close()
    assert inners[0].closes == 1


def test_a_write_wakes_a_waiting_reader_to_wait_for_the_new_release(
    echo_faults: tuple[impaired_inproc.ImpairedRegistration, list[Recorder]],
) -> None:
    link, _inners = echo_faults
    link.faults.update(delay_ms=30)
    port = serial.serial_for_url(link.url, timeout=5.0)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(port.read(2)), name="reader")
    try:
        reader.start()
        time.sleep(0.05)  # it blocks with nothing in flight: no release time to wait for yet
        started = time.monotonic()
        port.write(b"ok")  # now there is one (60 ms away); the reader must not sleep for 5 s
        reader.join(timeout=2.0)
        elapsed = time.monotonic() - started
        assert got == [b"ok"] and 0.06 <= elapsed < 1.0
    finally:
        port.close()
        reader.join()


def test_closing_or_cancelling_wakes_a_blocked_reader(
    echo_faults: tuple[impaired_inproc.ImpairedRegistration, list[Recorder]],
) -> None:
    link, _inners = echo_faults
    port = serial.serial_for_url(link.url, timeout=None)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(port.read(1)), name="reader")
    try:
        reader.start()
        time.sleep(0.02)
        port.cancel_read()
        reader.join(timeout=2.0)
        assert got == [b""] and not reader.is_alive()
    finally:
        port.close()
        reader.join()
    with pytest.raises(serial.PortNotOpenError):
        port.read(1)


def test_the_port_refuses_unknown_names_and_paths() -> None:
    with pytest.raises(serial.SerialException, match="no pump registered"):
        serial.serial_for_url(f"{inproc.SCHEME}://{_name('nobody')}")
    with pytest.raises(serial.SerialException, match="takes no path"):
        serial.serial_for_url(f"{inproc.SCHEME}://x/y")


def test_endpoint_failures_are_recorded_not_raised_by_the_port() -> None:
    class Broken(Recorder):
        def receive(self, data: bytes) -> bytes:
            raise RuntimeError("pump on fire")

    with impaired_inproc.register(_name("broken"), Broken, LinkFaults(seed=1)) as link:
        port = serial.serial_for_url(link.url, timeout=0.01)
        try:
            assert port.write(b"x") == 1
            assert port.read(1) == b""
        finally:
            port.close()
        with pytest.raises(RuntimeError, match="pump on fire"):
            link.check()


def test_the_port_collects_nothing_from_an_idle_link_but_still_reports_a_closed_one() -> None:
    """The port skips ``due`` while nothing is in flight (issue #16: the usual state between
    requests); a closed endpoint is still asked, so its failure is recorded as before."""
    with impaired_inproc.register(_name("idle"), Recorder, LinkFaults(seed=1)) as link:
        port = serial.serial_for_url(link.url, timeout=0.01)
        try:
            assert isinstance(port, PumpsimSerial)
            endpoint = port._endpoint
            assert isinstance(endpoint, ImpairedEndpoint)
            assert port.in_waiting == 0 and port.read(1) == b""
            link.check()  # nothing recorded on an idle, open link
            endpoint.close()
            assert port.in_waiting == 0
        finally:
            port.close()
        with pytest.raises(EndpointClosedError):
            link.check()


def test_a_client_over_a_slow_line_waits_for_the_bytes_to_cross() -> None:
    with inproc_pump() as pump:
        faults = LinkFaults(LinkImpairment(baud=9600), seed=1)
        with impaired_inproc.register(_name("slow"), pump.virtual.endpoint, faults) as link:
            client = PumpClient(link.url, timeout_s=2.0, retries=0)
            with client:
                before = faults.counters()
                started = time.monotonic()
                info = client.device_info()
                elapsed = time.monotonic() - started
            assert info.serial == pump.virtual.pump.serial
            after = faults.counters()
            crossed = sum(after[d].bytes_delivered - before[d].bytes_delivered for d in Direction)
            assert elapsed >= wire_time_s(crossed, 9600) > 0.05
            link.check()


def test_disconnect_then_reconnect_resumes_the_session_or_finds_it_expired() -> None:
    with inproc_pump() as pump:
        faults = LinkFaults(seed=1)
        with impaired_inproc.register(_name("cut"), pump.virtual.endpoint, faults) as link:
            client = PumpClient(
                link.url,
                key=DEMO_KEYS[Role.CLINICIAN],
                random_bytes=random.Random(7).randbytes,
                timeout_s=0.02,
                retries=1,
            )
            with client:
                assert client.set_alarm_volume(2_500_000) == 2_500_000
                faults.disconnect()
                with pytest.raises(LinkTimeout):
                    client.set_alarm_volume(2_600_000)
                faults.reconnect()
                assert client.set_alarm_volume(2_700_000) == 2_700_000  # same session
                faults.disconnect()
                pump.wall.now += 301  # the pump's idle timeout passes while the link is cut
                faults.reconnect()
                with pytest.raises(NakError) as caught:
                    client.set_alarm_volume(2_800_000)
                assert caught.value.code is ErrorCode.SESSION_EXPIRED
                client.open_session()
                assert client.set_alarm_volume(2_900_000) == 2_900_000
            volumes = [
                e.a for e in pump.virtual.pump.event_log if e.code is EventCode.ALARM_VOLUME_SET
            ]
            assert volumes == [2_500_000, 2_700_000, 2_900_000]
            link.check()


# -- the acceptance test from the issue ----------------------------------------------------------


def test_a_1000_command_session_over_a_lossy_link_applies_every_command_exactly_once() -> None:
    """1 % drop and 1 % corruption each way: every acknowledged command ran exactly once.

    A corrupted frame fails its CRC, so it gets no reply and is never executed (and never counts
    as a MAC failure: see test_a_corrupted_frame_never_turns_into_another_frame). A dropped or
    corrupted answer makes the client retransmit the same SEQ, which the pump answers from its
    cache. A flip in a LEN byte makes a receiver hold a half frame that swallows retransmissions
    until the announced length is reached (up to ~1 KiB: about 35 short frames), hence the
    generous retry count.
    """
    expected: list[tuple[EventCode, int, int]] = []
    with inproc_pump() as pump:
        faults = LinkFaults(LinkImpairment(drop=0.01, corrupt=0.01), seed=2024)
        with impaired_inproc.register(_name("lossy"), pump.virtual.endpoint, faults) as link:
            client = PumpClient(
                link.url,
                key=DEMO_KEYS[Role.CLINICIAN],
                random_bytes=random.Random(7).randbytes,
                timeout_s=0.02,
                retries=50,
            )
            with client:
                for i in range(1000):
                    if i % 10 == 8:
                        started = client.start_bolus(dose_ng=5_000, duration_s=3600)
                        assert isinstance(started, m.StartBolusResponse)
                        expected.append((EventCode.BOLUS_STARTED, BolusKind.THERAPEUTIC, 10_000))
                    elif i % 10 == 9:
                        delivered_nl = client.cancel_bolus()
                        expected.append(
                            (EventCode.BOLUS_CANCELLED, BolusKind.THERAPEUTIC, delivered_nl)
                        )
                    else:
                        volume_nl = 1_500_000 + 1000 * i
                        assert client.set_alarm_volume(volume_nl) == volume_nl
                        expected.append((EventCode.ALARM_VOLUME_SET, volume_nl, 0))
                read_back = list(client.event_log())
                retransmissions = client.retransmissions
            counters = faults.counters()
            link.check()
        log = list(pump.virtual.pump.event_log)

    # The log read over the lossy link is the pump's own log.
    assert [(e.index, e.code, e.a, e.b) for e in read_back] == [
        (e.index, e.code, e.a, e.b) for e in log[: len(read_back)]
    ]
    opened = next(i for i, e in enumerate(log) if e.code is EventCode.SESSION_OPENED)
    commands = [
        (e.code, e.a, e.b) for e in log[opened + 1 :] if e.code is not EventCode.SESSION_CLOSED
    ]
    assert commands == expected  # each command once, in order: none lost, none doubled
    assert not [e for e in log if e.code is EventCode.SECURITY]  # no MAC failure, no replay
    # The link really was lossy both ways, and the client really had to retry.
    for direction in Direction:
        assert counters[direction].chunks_dropped > 0
        assert counters[direction].chunks_corrupted > 0
        assert _balanced(counters[direction])
    assert retransmissions > 0


def test_next_release_at_is_the_earliest_chunk_in_flight_either_way() -> None:
    endpoint, _inner, clock = _endpoint(LinkImpairment(delay_ms=50), answer=lambda d: b"<" + d)
    endpoint.receive(b"a")
    clock.now = 0.05
    assert endpoint.due(clock.now) == b""  # "<a" now flies back, due at 0.1
    clock.now = 0.07
    endpoint.receive(b"b")  # due at the pump at 0.12
    everything = endpoint.pending(Direction.TO_PUMP) + endpoint.pending()
    assert sorted(at for at, _ in everything) == pytest.approx([0.1, 0.12])
    assert endpoint.next_release_at() == pytest.approx(0.1)  # the answer, the other way
    assert endpoint.due(0.1) == b"<a"
    assert endpoint.next_release_at() == pytest.approx(0.12)  # only the request is left
    assert endpoint.due(0.125) == b""
    assert endpoint.next_release_at() == pytest.approx(0.17)  # only the answer is left
