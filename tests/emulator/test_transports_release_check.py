"""release_check (looked up once per link) says what may_have_due then release_delay_s say
(asked on every request before), for every kind of endpoint."""

from __future__ import annotations

import random

import pytest

from emulator.link_faults import ImpairedEndpoint, LinkImpairment
from emulator.transports.base import Endpoint, may_have_due, release_check, release_delay_s
from tests.support import FakeWall


class Plain:
    def receive(self, data: bytes) -> bytes:
        return data

    def close(self) -> None:
        pass


class TimedBlind(Plain):
    """A timed endpoint that cannot say when (no next_release_at)."""

    def now(self) -> float:
        return 10.0

    def due(self, now: float) -> bytes:
        return b""


class Timed(TimedBlind):
    def __init__(self, at: float | None) -> None:
        self.at = at
        self.asked = 0

    def next_release_at(self) -> float | None:
        self.asked += 1
        return self.at


class TimedNoClock(Plain):
    """next_release_at but no now(): the delay cannot be told."""

    def __init__(self, at: float | None) -> None:
        self.at = at

    def due(self, now: float) -> bytes:
        return b""

    def next_release_at(self) -> float | None:
        return self.at


ENDPOINTS: list[Endpoint] = [
    Plain(),
    TimedBlind(),
    Timed(None),
    Timed(12.5),
    Timed(3.0),  # overdue: 0 s
    TimedNoClock(None),
    TimedNoClock(12.5),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{type(e).__name__}")
def test_release_check_says_what_the_two_calls_said(endpoint: Endpoint) -> None:
    check = release_check(endpoint)
    expected = may_have_due(endpoint)
    if check is None:
        assert not expected  # a plain endpoint: nothing is ever due
        return
    needed, after_s = check()
    assert needed is expected
    if needed:
        assert after_s == release_delay_s(endpoint)


def test_release_check_follows_the_endpoint_and_asks_once() -> None:
    endpoint = Timed(None)
    check = release_check(endpoint)
    assert check is not None
    assert check() == (False, None)
    endpoint.at = 11.0
    asked = endpoint.asked
    assert check() == (True, 1.0)
    assert endpoint.asked == asked + 1


def test_an_impaired_links_own_check_says_what_the_two_calls_say() -> None:
    """The impaired endpoint's release_check (handed out instead of the generic one) against
    may_have_due and release_delay_s, over a seeded run of requests, answers and releases on
    links with every kind of hold-up."""
    rng = random.Random(16)
    for settings in (
        LinkImpairment(),
        LinkImpairment(delay_ms=5.0),
        LinkImpairment(baud=9600),
        LinkImpairment(delay_ms=2.0, baud=300, drop=0.2, corrupt=0.2),
    ):
        clock = FakeWall()
        endpoint = ImpairedEndpoint(Echo(), settings, random.Random(7), clock=clock)
        check = release_check(endpoint)
        assert check is not None
        assert check == endpoint.release_check
        seen = set()
        for _ in range(300):
            step = rng.random()
            if step < 0.4:
                endpoint.receive(rng.randbytes(rng.randint(1, 40)))
            elif step < 0.7:
                endpoint.due(clock.now)
            elif step < 0.75:  # long enough for everything in flight to be overdue
                clock.now += 30.0
            else:
                clock.now += rng.choice((0.0, 0.0005, 0.002, 0.02))
            needed, after_s = check()
            assert needed is may_have_due(endpoint)
            assert after_s == (release_delay_s(endpoint) if needed else None)
            seen.add((needed, after_s == 0.0))
        if settings.timed:  # in flight and not yet due, overdue, and nothing in flight
            assert seen == {(True, False), (True, True), (False, False)}
        else:
            assert seen == {(False, False)}


class Echo(Plain):
    pass
