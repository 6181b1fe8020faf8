"""What every transport shares: the pump-side endpoint and the interface the server drives.

Transports only move bytes. The pump sits behind an :class:`Endpoint`: bytes
from the programmer go in, the bytes to send back come out. A transport calls
its :data:`EndpointFactory` once per link (once for a pty, once per accepted
TCP connection, once per opened in-process port).

The server loop drives a :class:`Transport` through three calls: which file
descriptors to watch (:meth:`Transport.watches`), what to do when one is
ready (:meth:`Transport.handle`) and :meth:`Transport.close`. All three run on
the loop's thread. A transport that sets :attr:`Transport.reports_watch_changes`
calls :meth:`Transport.watches_changed` whenever its answer to ``watches()``
may have changed, and is asked only then; one that sets
:attr:`Transport.reports_poll_needs` asks for its polls (:meth:`Transport.poll_needed`,
e.g. when an impaired link holds an answer back) and is polled only then: an idle link
costs the loop nothing.
Errors raised by an endpoint are caught by the transport, per link, and handed
to the :data:`FailureSink` the server bound; they never stop the transport.
"""

from __future__ import annotations

import errno
import selectors
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol, Self

from emulator.lazylog import logger
from protocol.frozen import frozen

__all__ = [
    "EVENT_READ",
    "EVENT_WRITE",
    "OUT_OF_DESCRIPTORS",
    "AcceptBackoff",
    "Endpoint",
    "EndpointFactory",
    "FailureSink",
    "LinkFailure",
    "TimedEndpoint",
    "Transport",
    "Watch",
    "due_output",
    "may_have_due",
    "release_check",
    "release_delay_s",
]

_log = logger(__name__)

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE


class Endpoint(Protocol):
    """The pump side of one link."""

    def receive(self, data: bytes) -> bytes:
        """Take bytes from the programmer; return the bytes to send back (possibly b"")."""
        ...

    def close(self) -> None:
        """The link went away; release whatever the endpoint holds."""
        ...


class TimedEndpoint(Endpoint, Protocol):
    """An endpoint that may hold answers back (a delayed or paced link) and release them
    later: transports ask it on every loop iteration, or, when it also has a
    ``next_release_at() -> float | None`` method, only while that says something is in
    flight (checked again after every ``receive`` and ``due``: only they put bytes in
    flight)."""

    def now(self) -> float:
        """The clock release times are on."""
        ...

    def due(self, now: float) -> bytes:
        """The answer bytes due by ``now`` (b"" if none)."""
        ...


def due_output(endpoint: Endpoint) -> bytes:
    """What a timed endpoint has to send now; b"" for a plain endpoint."""
    due = getattr(endpoint, "due", None)
    now = getattr(endpoint, "now", None)
    if due is None or now is None:
        return b""
    data = due(now())
    return bytes(data)


def release_delay_s(endpoint: Endpoint) -> float | None:
    """Seconds until a timed endpoint's next release (0 when overdue), read on its own
    clock; None when it cannot say (a timed endpoint without ``next_release_at``)."""
    next_release_at = getattr(endpoint, "next_release_at", None)
    now = getattr(endpoint, "now", None)
    if next_release_at is None or now is None:
        return None
    at = next_release_at()
    if at is None:
        return None
    return max(0.0, float(at) - float(now()))


def may_have_due(endpoint: Endpoint) -> bool:
    """Whether :func:`due_output` may find something for ``endpoint`` now or later: False for
    a plain endpoint, or a timed one whose ``next_release_at()`` says nothing is in flight.
    Transports ask it after every ``receive`` and ``due`` and skip polling while it is False.
    """
    if getattr(endpoint, "due", None) is None:
        return False
    next_release_at = getattr(endpoint, "next_release_at", None)
    if next_release_at is None:
        return True
    return next_release_at() is not None


ReleaseCheck = Callable[[], tuple[bool, float | None]]
"""Made by :func:`release_check` for one endpoint: (whether something may come due, the
seconds until it does or None)."""


def _always_check() -> tuple[bool, float | None]:
    return True, None


def release_check(endpoint: Endpoint) -> ReleaseCheck | None:
    """What a transport asks of ``endpoint`` after each ``receive`` and ``due``, looked up
    once per endpoint instead of on every request: None for a plain endpoint (nothing is
    ever due), else a function returning what :func:`may_have_due` and then
    :func:`release_delay_s` would (``next_release_at()`` asked once, not twice). An
    endpoint with a ``release_check()`` method of its own that says exactly that (an
    impaired link's) is handed that method."""
    if getattr(endpoint, "due", None) is None:
        return None
    own: ReleaseCheck | None = getattr(endpoint, "release_check", None)
    if own is not None:
        return own
    next_release_at = getattr(endpoint, "next_release_at", None)
    if next_release_at is None:
        return _always_check
    now = getattr(endpoint, "now", None)

    def check() -> tuple[bool, float | None]:
        at = next_release_at()
        if at is None:
            return False, None
        if now is None:
            return True, None
        return True, max(0.0, float(at) - float(now()))

    return check


EndpointFactory = Callable[[], Endpoint]
"""Makes a fresh endpoint for each new link."""


@frozen
class LinkFailure:
    """An exception caught on one link (or in the server's tick), kept for the caller."""

    link: str
    """Which link, e.g. ``pty:/tmp/ttyPUMP0`` or ``tcp:127.0.0.1:5000<-127.0.0.1:41234``."""
    error: Exception
    where: str
    """What was being done: ``receive``, ``close``, ``factory``, ``tick``, ..."""

    def __post_init__(self) -> None:
        if not self.link or not self.where:
            raise ValueError("a link failure needs a link and a place")
        if not isinstance(self.error, Exception):
            raise TypeError(f"error must be an Exception, got {self.error!r}")


FailureSink = Callable[[LinkFailure], None]
"""Receives every failure a transport catches."""

OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""``accept`` errors that mean the process (or system) is out of resources: retrying at
once would only spin."""


class AcceptBackoff:
    """When a listener's ``accept`` fails for lack of descriptors, stop watching it for a
    while (50 ms, doubling to 2 s) instead of spinning on a socket that stays readable."""

    FIRST_S = 0.05
    MAX_S = 2.0

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._delay_s = self.FIRST_S
        self.paused_until: float | None = None
        self.pauses = 0
        """How many times accepting was paused (a statistic)."""

    @property
    def paused(self) -> bool:
        """Whether the listener must not be watched now."""
        return self.paused_until is not None

    def failed(self) -> None:
        """``accept`` ran out of descriptors: pause, for longer each time in a row."""
        self.paused_until = self._clock() + self._delay_s
        self._delay_s = min(self._delay_s * 2, self.MAX_S)
        self.pauses += 1

    def succeeded(self) -> None:
        self._delay_s = self.FIRST_S

    def resume_due(self) -> bool:
        """True once, when a pause is over (the caller watches the listener again)."""
        if self.paused_until is not None and self._clock() >= self.paused_until:
            self.paused_until = None
            return True
        return False


def log_failure(failure: LinkFailure) -> None:
    """The default sink: log the failure with its traceback."""
    _log.error(
        "%s: %s failed: %r",
        failure.link,
        failure.where,
        failure.error,
        exc_info=failure.error,
    )


@frozen
class Watch:
    """One file descriptor a transport wants watched, and for what.

    ``owner`` is the object behind the descriptor (a socket, a link): the
    server re-registers a descriptor whose owner changed, so a number reused
    after a close is never confused with the link that had it before.
    """

    fd: int
    events: int
    owner: object

    def __post_init__(self) -> None:
        if self.fd < 0:
            raise ValueError(f"bad file descriptor {self.fd}")
        if self.events & ~(EVENT_READ | EVENT_WRITE) or not self.events:
            raise ValueError(f"bad event mask {self.events:#x}")


class Transport(ABC):
    """A source of links the server loop drives. Not thread-safe: one loop owns it."""

    reports_watch_changes: ClassVar[bool] = False
    """True when the transport calls :meth:`watches_changed` every time what
    :meth:`watches` returns may have changed (and when it closes); the server then asks
    :meth:`watches` only after such a call. False (the default): asked on every loop
    iteration."""

    reports_poll_needs: ClassVar[bool] = False
    """True when the transport calls :meth:`poll_needed` every time :meth:`poll` has
    something to do (a timed endpoint with bytes in flight, a connection to time out); the
    server then calls :meth:`poll` only when such a time has come, so an idle link costs
    the loop nothing. False (the default): polled on every loop iteration."""

    def __init__(self) -> None:
        self._sink: FailureSink = log_failure
        self._watch_listener: Callable[[], None] | None = None
        self._poll_listener: Callable[[float | None], None] | None = None

    def bind(self, sink: FailureSink) -> None:
        """Send caught failures to ``sink`` (the server binds its own on ``add``)."""
        self._sink = sink

    def listen_for_watch_changes(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` from :meth:`watches_changed` (the server sets its own on ``add``)."""
        self._watch_listener = listener

    def watches_changed(self) -> None:
        """Tell the server to ask :meth:`watches` again before it next waits."""
        if self._watch_listener is not None:
            self._watch_listener()

    def listen_for_poll_needs(self, listener: Callable[[float | None], None] | None) -> None:
        """Call ``listener`` from :meth:`poll_needed` (the server sets its own on ``add``)."""
        self._poll_listener = listener

    def poll_needed(self, after_s: float | None) -> None:
        """Ask the server to call :meth:`poll` ``after_s`` seconds from now (the loop wakes
        for it), or on its next iteration whenever that comes (None: a timed endpoint that
        cannot say when). One call, one poll: :meth:`poll` asks again while it still has
        something to do."""
        if self._poll_listener is not None:
            self._poll_listener(after_s)

    def report(self, *, link: str, where: str, error: Exception) -> None:
        """Hand a caught failure to the bound sink; a failing sink only gets logged."""
        failure = LinkFailure(link=link, where=where, error=error)
        try:
            self._sink(failure)
        except Exception:
            _log.exception("failure sink raised while reporting %r", failure)

    @property
    @abstractmethod
    def label(self) -> str:
        """A short human-readable name, e.g. ``pty:/tmp/ttyPUMP0``."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True once :meth:`close` has run."""

    @abstractmethod
    def watches(self) -> Sequence[Watch]:
        """The descriptors to watch now (asked again after every loop iteration)."""

    @abstractmethod
    def handle(self, watch: Watch, events: int) -> None:
        """``watch`` is ready for ``events``; do the non-blocking I/O it allows."""

    def poll(self) -> None:  # noqa: B027 - deliberately a no-op default
        """Send what the endpoints have made due since the last loop iteration (answers of
        a timed endpoint); called by the server before it asks for :meth:`watches`: on
        every iteration, or, when :attr:`reports_poll_needs` is set, only at the times the
        transport asked for with :meth:`poll_needed`."""

    @abstractmethod
    def close(self) -> None:
        """Close every descriptor and endpoint and remove any file it made; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
