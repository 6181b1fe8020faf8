"""The clear-link path of :class:`ImpairedEndpoint` (no fault set, nothing in flight) does
exactly what the queued path does: same answers, counters, fault streams and line times,
so a fault set afterwards hits the same chunks as it would have without the shortcut."""

from __future__ import annotations

import random

import pytest

from emulator.link_faults import ImpairedEndpoint, LinkFaults, LinkImpairment


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Answer:
    """An inner endpoint answering every chunk with its reverse (none for one byte)."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def receive(self, data: bytes) -> bytes:
        self.seen.append(data)
        return b"" if len(data) == 1 else data[::-1] * 2

    def close(self) -> None:
        pass


def _pair(seed: int) -> tuple[ImpairedEndpoint, ImpairedEndpoint, _Clock, _Answer, _Answer]:
    clock = _Clock()
    inner_fast, inner_slow = _Answer(), _Answer()
    fast = ImpairedEndpoint(inner_fast, LinkImpairment(), random.Random(seed), clock)
    slow = ImpairedEndpoint(inner_slow, LinkImpairment(), random.Random(seed), clock)
    return fast, slow, clock, inner_fast, inner_slow


def _queued_only(endpoint: ImpairedEndpoint) -> None:
    """Make ``endpoint`` take the queued path for every chunk (the reference)."""
    original = endpoint._apply_locked

    def apply(settings: LinkImpairment) -> None:
        original(settings)
        endpoint._clear = False

    endpoint._apply_locked = apply  # type: ignore[method-assign]
    endpoint._clear = False


def _state(endpoint: ImpairedEndpoint) -> object:
    lines = endpoint._lines
    return (
        endpoint.counters(),
        endpoint.faults(),
        [(line.free_at, line.last_release, list(line.in_flight)) for line in lines.values()],
        [line.stream().getstate() for line in lines.values()],
    )


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_the_clear_path_equals_the_queued_path_then_faults_land_alike(seed: int) -> None:
    fast, slow, clock, inner_fast, inner_slow = _pair(seed)
    _queued_only(slow)
    chunks = [bytes([i % 251]) * (1 + i % 40) for i in range(200)]
    faults = [
        LinkImpairment(drop=0.3),
        LinkImpairment(corrupt=0.5, delay_ms=20),
        LinkImpairment(baud=9600),
        LinkImpairment(),  # clear again while answers are still in flight
        LinkImpairment(disconnected=True),
        LinkImpairment(),
    ]
    for i, chunk in enumerate(chunks):
        if i % 40 == 39:
            settings = faults[(i // 40) % len(faults)]
            fast.set_settings(settings)
            slow.set_settings(settings)
        clock.now += 0.003 * (i % 5)
        assert fast.receive(chunk) == slow.receive(chunk)
        assert fast.due(clock.now) == slow.due(clock.now)
        assert _state(fast) == _state(slow)
    assert inner_fast.seen == inner_slow.seen
    # The fast endpoint did take the clear path (and the reference never did).
    assert fast.counters().to_pump.chunks_delivered > 0


def test_an_inner_error_consumes_the_chunk_on_the_clear_path_too() -> None:
    class Broken(_Answer):
        def receive(self, data: bytes) -> bytes:
            raise RuntimeError("pump defect")

    clock = _Clock()
    endpoint = ImpairedEndpoint(Broken(), LinkImpairment(), random.Random(3), clock)
    with pytest.raises(RuntimeError):
        endpoint.receive(b"abc")
    counters = endpoint.counters().to_pump
    assert counters.chunks_sent == counters.chunks_delivered == 1
    assert endpoint.next_release_at() is None


@pytest.mark.parametrize("clear_chunks", [0, 1, 57])
def test_a_stream_made_late_lands_its_faults_where_an_early_one_would(clear_chunks: int) -> None:
    """The fault streams are made on first need, then advanced past the clear chunks' draws:
    the faults after a long clear spell fall on the same chunks, with the same bits."""
    fast, slow, _clock, _, _ = _pair(99)
    _queued_only(slow)
    for line in slow._lines.values():
        line.stream()  # the reference makes its streams at once
    assert all(line.rng is None for line in fast._lines.values())
    for i in range(clear_chunks):
        chunk = bytes([i % 256]) * 9
        assert fast.receive(chunk) == slow.receive(chunk)
    assert all(line.rng is None for line in fast._lines.values())  # never needed
    for endpoint in (fast, slow):
        endpoint.set_settings(LinkImpairment(drop=0.3, corrupt=0.3))
    for i in range(100):
        chunk = bytes([i % 256]) * 11
        assert fast.receive(chunk) == slow.receive(chunk)
    assert fast.faults() == slow.faults() and len(fast.faults()) > 10
    assert _state(fast) == _state(slow)


def test_link_seeds_drawn_afresh_are_the_sequence_of_the_seed() -> None:

    faults = LinkFaults(seed=5)
    made = [faults.impair(_Answer()) for _ in range(3)]
    seeds = random.Random(5)
    for endpoint in made:
        expected = random.Random(seeds.getrandbits(64))
        assert [line.rng_seed for line in endpoint._lines.values()] == [
            expected.getrandbits(64) for _ in endpoint._lines
        ]
