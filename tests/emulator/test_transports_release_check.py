"""release_check (looked up once per link) says what may_have_due then release_delay_s say
(asked on every request before), for every kind of endpoint."""

from __future__ import annotations

import pytest

from emulator.transports.base import Endpoint, may_have_due, release_check, release_delay_s


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
