"""The request path of :class:`PtyTransport` driven directly (no server thread): what
``_read`` writes out at once, what it queues behind earlier answers, and the release check
it runs after every request (written out in ``_read``, as ``_check_timed`` does it)."""

from __future__ import annotations

import os
import select
from collections.abc import Iterator

import pytest

from emulator.transports.base import EVENT_READ, LinkFailure
from emulator.transports.pty import PtyTransport


class Reverse:
    def receive(self, data: bytes) -> bytes:
        return data[::-1]

    def close(self) -> None:
        pass


class Timed(Reverse):
    """A timed endpoint: something is in flight, released at ``at`` (its clock says 10 s)."""

    def __init__(self, at: float | None) -> None:
        self.at = at

    def now(self) -> float:
        return 10.0

    def due(self, now: float) -> bytes:
        return b""

    def next_release_at(self) -> float | None:
        if self.at is None:
            return None
        if self.at < 0:
            raise RuntimeError("cannot tell")
        return self.at


def _drive(transport: PtyTransport, request: bytes) -> None:
    os.write(transport._slave, request)
    select.select([transport._master], [], [], 2.0)
    (watch,) = transport.watches()
    transport.handle(watch, EVENT_READ)


def _answer(transport: PtyTransport, size: int) -> bytes:
    got = b""
    while len(got) < size:
        ready, _, _ = select.select([transport._slave], [], [], 2.0)
        assert ready, f"only {got!r} arrived"
        got += os.read(transport._slave, size - len(got))
    return got


@pytest.fixture
def reverse() -> Iterator[PtyTransport]:
    with PtyTransport(Reverse, link_path=None) as transport:
        yield transport


def test_an_answer_with_nothing_waiting_is_written_at_once(reverse: PtyTransport) -> None:
    _drive(reverse, b"abc")
    assert reverse.pending_bytes == 0
    assert _answer(reverse, 3) == b"cba"


def test_an_answer_goes_behind_what_waits_already(reverse: PtyTransport) -> None:
    reverse._out.push(b"EARLIER")  # as if the tty had refused it before
    _drive(reverse, b"abc")
    assert _answer(reverse, 10) == b"EARLIERcba"
    assert reverse.pending_bytes == 0


@pytest.mark.parametrize(
    ("at", "asked"),
    [(None, []), (12.5, [2.5]), (4.0, [0.0]), (-1.0, [None])],
)
def test_each_request_asks_for_the_poll_the_release_check_says(
    at: float | None, asked: list[float | None]
) -> None:
    endpoint = Timed(at)
    needs: list[float | None] = []
    failures: list[LinkFailure] = []
    with PtyTransport(lambda: endpoint, link_path=None) as transport:
        transport.listen_for_poll_needs(needs.append)
        transport.bind(failures.append)
        _drive(transport, b"xy")
        assert _answer(transport, 2) == b"yx"
    assert needs == asked
    assert [f.where for f in failures] == (["poll"] if at is not None and at < 0 else [])
