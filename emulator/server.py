"""The emulator's I/O loop: one thread, one selector, any number of transports.

The loop calls the ``tick`` hook (the emulator sweeps its pumps there and returns the
wall time it must be called again by, or None) on its first iteration, after every
:meth:`Server.wake`, and whenever the time the tick last returned has come; not on the
iterations between, which only serve requests (a request brings its own pump up to
the clock). Each iteration polls
the transports that have something due (every transport that does not report
its needs, see :attr:`~emulator.transports.base.Transport.reports_poll_needs`,
and those whose time asked for with ``poll_needed`` has come: a heap), asks
the transports whose descriptors may have changed which ones to watch (every
transport that does not report its changes, see
:attr:`~emulator.transports.base.Transport.reports_watch_changes`, and those
that reported one), and waits until one is ready or the deadline comes. So a
request costs the loop about the same whether it serves one pump or a thousand.

Whatever goes wrong on one link (an endpoint raising, garbage, a programmer
vanishing) is caught, logged and recorded in :attr:`Server.failures`, and the
loop carries on. Tests call
:meth:`Server.check` to re-raise what was recorded.

Stopping: :meth:`Server.stop` sets a flag, wakes the loop through a pipe,
waits for it to finish, and by then every transport is closed (fds, endpoints,
symlinks) along with the loop's own descriptors. It is idempotent and may be
called from the loop itself (it then only requests the stop). From a signal
handler call :meth:`Server.request_stop`, which only sets the flag and writes
one byte, and never waits.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import heapq
import itertools
import os
import select
import selectors
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from math import ceil
from types import TracebackType
from typing import Any, Final, Protocol, Self

from emulator.errors import ServerStateError, ServerStopTimeoutError
from emulator.lazylog import logger
from emulator.transports.base import (
    EVENT_READ,
    EVENT_WRITE,
    FailureSink,
    LinkFailure,
    Transport,
    Watch,
    log_failure,
)

__all__ = ["Server", "Tick"]

_log = logger(__name__)

Tick = Callable[[], float | None]
"""Called on the loop's first iteration, after every wake and when the time it last returned
has come; returns the wall time the loop must call it again by, or None (only a wake then)."""

FAILURES_LOGGED_IN_FULL = 100
"""Failures of one kind (``where``) logged with their traceback before the log thins out."""
MAX_FAILURES_KEPT = 1000
"""Failures kept in :attr:`Server.failures` (the oldest forgotten first); all are counted."""
_TICK_RETRY_S = 0.1  # after a failing tick, try again soon rather than never or at once
_MAX_LOOP_ERRORS = 10  # consecutive loop-level errors before the loop gives up


_HAVE_EPOLL = hasattr(select, "epoll")


class _Waiter(Protocol):
    """The loop's readiness wait: descriptors registered with their data, and
    :meth:`wait` giving ``(data, events)`` for each ready one (``events`` within what it
    was registered for, as ``selectors`` reports them)."""

    def register(self, fd: int, events: int, data: object) -> None: ...

    def modify(self, fd: int, events: int, data: object) -> None: ...

    def unregister(self, fd: int) -> None: ...

    def wait(self, timeout: float | None) -> list[tuple[Any, int]]:
        """Ready descriptors within ``timeout`` seconds (None: until one is; 0, below 0 or
        NaN: at once, without waiting)."""
        ...

    def close(self) -> None: ...


class _EpollWaiter:
    """``select.epoll`` used directly (Linux): what ``selectors.EpollSelector`` does, without
    building a key and a list entry through three Python calls for each ready descriptor
    (about a microsecond of every request's loop iteration)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._data: dict[int, tuple[Any, int]] = {}  # fd -> (data, EVENT_* mask)

    def register(self, fd: int, events: int, data: object) -> None:
        if fd in self._data:
            raise KeyError(f"{fd} is already registered")
        self._epoll.register(fd, _epoll_mask(events))
        self._data[fd] = (data, events)

    def modify(self, fd: int, events: int, data: object) -> None:
        if fd not in self._data:
            raise KeyError(f"{fd} is not registered")
        self._epoll.modify(fd, _epoll_mask(events))
        self._data[fd] = (data, events)

    def unregister(self, fd: int) -> None:
        del self._data[fd]  # KeyError when not registered, as selectors raises
        # The descriptor may be closed already (epoll then dropped it itself).
        with contextlib.suppress(OSError):
            self._epoll.unregister(fd)

    def wait(self, timeout: float | None) -> list[tuple[Any, int]]:
        # As selectors does: whole milliseconds rounded up, so a deadline is never early.
        if timeout is None:
            timeout = -1
        elif not timeout > 0:  # a NaN too (as max(0.0, NaN) made 0.0 before)
            timeout = 0
        else:
            timeout = ceil(timeout * 1e3) * 1e-3
        data = self._data
        ready = []
        for fd, event in self._epoll.poll(timeout, len(data) or 1):
            entry = data.get(fd)
            if entry is None:
                continue  # not ours any more (as selectors skips a key it no longer has)
            events = 0
            if event & _NOT_EPOLLIN:
                events |= EVENT_WRITE
            if event & _NOT_EPOLLOUT:
                events |= EVENT_READ
            ready.append((entry[0], events & entry[1]))
        return ready

    def close(self) -> None:
        self._epoll.close()
        self._data.clear()


_NOT_EPOLLIN: Final = ~select.EPOLLIN if hasattr(select, "EPOLLIN") else 0
_NOT_EPOLLOUT: Final = ~select.EPOLLOUT if hasattr(select, "EPOLLOUT") else 0


def _epoll_mask(events: int) -> int:
    return (select.EPOLLIN if events & EVENT_READ else 0) | (
        select.EPOLLOUT if events & EVENT_WRITE else 0
    )


class _SelectorWaiter:
    """``selectors.DefaultSelector`` (where there is no epoll)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def register(self, fd: int, events: int, data: object) -> None:
        self._selector.register(fd, events, data)

    def modify(self, fd: int, events: int, data: object) -> None:
        self._selector.modify(fd, events, data)

    def unregister(self, fd: int) -> None:
        self._selector.unregister(fd)

    def wait(self, timeout: float | None) -> list[tuple[Any, int]]:
        if timeout is not None and not timeout > 0:  # a NaN too
            timeout = 0.0  # a deadline passed: poll without waiting
        return [(key.data, events) for key, events in self._selector.select(timeout)]

    def close(self) -> None:
        self._selector.close()


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class Server:
    """Drives transports from one thread; see the module docstring for the life cycle."""

    def __init__(
        self,
        *,
        tick: Tick | None = None,
        wall: Callable[[], float] = time.monotonic,
        on_failure: FailureSink | None = None,
        name: str = "vpump-server",
    ) -> None:
        """``wall`` is the clock ``tick``'s deadlines are read against (the pump clock's wall).

        ``on_failure`` is called (on the loop thread) with every recorded
        failure, in addition to logging and :attr:`failures`.
        """
        self._tick = tick
        self._wall = wall
        self._on_failure = on_failure
        self._name = name
        self._lock = threading.Lock()  # state, transports, thread
        self._state = _State.NEW
        # Insertion-ordered set; under _lock, as are _unreported and _dirty.
        self._transports: dict[Transport, None] = {}
        self._unreported: dict[Transport, None] = {}  # asked for watches every iteration
        self._dirty: set[Transport] = set()  # reported a change since the last sync
        # Polling, under _lock too: who is polled every iteration (transports that do not
        # report their needs), who asked for the next iteration, and who asked for a time
        # (a heap of (wall time, order, transport)).
        self._poll_each: dict[Transport, None] = {}
        self._poll_next: dict[Transport, None] = {}
        self._poll_heap: list[tuple[float, int, Transport]] = []
        self._poll_order = itertools.count()
        self._thread: threading.Thread | None = None
        self._loop_ident: int | None = None
        self._done = threading.Event()
        self._stop_requested = False
        self._failures_lock = threading.Lock()
        self._failures: deque[LinkFailure] = deque(maxlen=MAX_FAILURES_KEPT)
        self.failure_counts: Counter[str] = Counter()
        """Every failure recorded, by ``where`` (kept whole while the list keeps the last
        :data:`MAX_FAILURES_KEPT`)."""
        # Loop thread only: what is registered, by descriptor and by transport.
        self._registered: dict[int, tuple[Transport, Watch]] = {}
        self._watched: dict[Transport, dict[int, Watch]] = {}
        self._selector: _Waiter = _EpollWaiter() if _HAVE_EPOLL else _SelectorWaiter()
        # Loop thread only: when the tick must run next (None: only when woken), and
        # whether a wake asked for it now.
        self._tick_at: float | None = None
        self._tick_now = True
        # Reentrant: a signal handler on a thread already inside _wake must not deadlock.
        self._wake_lock = threading.RLock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, EVENT_READ, None)

    # -- set-up ----------------------------------------------------------------

    def add(self, transport: Transport) -> None:
        """Serve ``transport`` from now on; the server owns it and closes it on stop.

        Safe from any thread, also while running.
        """
        with self._lock:
            if self._state is _State.CLOSED:
                raise ServerStateError("the server has stopped; it cannot take new transports")
            if transport in self._transports:
                raise ServerStateError(f"{transport.label} is already being served")
            transport.bind(self._record)
            transport.listen_for_watch_changes(functools.partial(self._mark_dirty, transport))
            transport.listen_for_poll_needs(functools.partial(self._poll_request, transport))
            self._transports[transport] = None
            if not transport.reports_watch_changes:
                self._unreported[transport] = None
            if not transport.reports_poll_needs:
                self._poll_each[transport] = None
            self._dirty.add(transport)
        self.wake()

    def _mark_dirty(self, transport: Transport) -> None:
        with self._lock:
            if transport in self._transports:
                self._dirty.add(transport)

    def _poll_request(self, transport: Transport, after_s: float | None) -> None:
        with self._lock:
            if transport not in self._transports:
                return
            if after_s is None:
                self._poll_next[transport] = None
            else:
                entry = (self._wall() + after_s, next(self._poll_order), transport)
                heapq.heappush(self._poll_heap, entry)
        if threading.get_ident() != self._loop_ident:
            self.wake()  # the loop may be waiting without this time in its deadline

    @property
    def transports(self) -> tuple[Transport, ...]:
        """The transports being served."""
        with self._lock:
            return tuple(self._transports)

    @property
    def running(self) -> bool:
        """True from start until the loop has shut down."""
        with self._lock:
            return self._state is _State.RUNNING

    # -- failures ----------------------------------------------------------------

    @property
    def failures(self) -> tuple[LinkFailure, ...]:
        """The last :data:`MAX_FAILURES_KEPT` failures recorded, oldest first (all of them
        are counted in :attr:`failure_counts`)."""
        with self._failures_lock:
            return tuple(self._failures)

    def check(self) -> None:
        """Re-raise what was recorded (one error as itself, several as a group), then forget it."""
        with self._failures_lock:
            failures = list(self._failures)
            self._failures.clear()
        if len(failures) == 1:
            raise failures[0].error
        if failures:
            raise ExceptionGroup(
                f"{len(failures)} failures in {self._name}", [f.error for f in failures]
            )

    # -- running -----------------------------------------------------------------

    def serve_forever(self) -> None:
        """Run the loop on the calling thread until stopped; everything is closed on return."""
        with self._lock:
            if self._state is not _State.NEW:
                raise ServerStateError(f"cannot serve: the server is {self._state.value}")
            self._state = _State.RUNNING
        error = self._loop()
        if error is not None:
            raise error

    def start(self) -> None:
        """Run the loop on a background thread (named after the server)."""
        with self._lock:
            if self._state is not _State.NEW:
                raise ServerStateError(f"cannot start: the server is {self._state.value}")
            self._state = _State.RUNNING
            thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread = thread
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._state = _State.NEW
                self._thread = None
            raise

    def wake(self) -> None:
        """Make the loop call ``tick`` again now (e.g. after the clock's speed changed or a
        world event was scheduled: whatever may move the time ``tick`` returned)."""
        with self._wake_lock:
            if self._wake_w < 0:
                return
            with contextlib.suppress(BlockingIOError):
                # A full pipe already guarantees a wake-up.
                os.write(self._wake_w, b"\0")

    def request_stop(self) -> None:
        """Ask the loop to stop and return at once; safe in a signal handler."""
        self._stop_requested = True
        self.wake()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop, wait for it, close every transport; idempotent.

        Called on the loop's own thread it only requests the stop. Raises
        :class:`~emulator.errors.ServerStopTimeoutError` if the loop has not
        finished within ``timeout_s``.
        """
        self.request_stop()
        if threading.get_ident() == self._loop_ident:
            return
        with self._lock:
            state = self._state
            if state is _State.NEW:
                self._state = _State.CLOSED
            thread = self._thread
        if state is _State.NEW:
            self._shutdown()
            return
        if not self._done.wait(timeout_s):
            raise ServerStopTimeoutError(f"{self._name} did not stop within {timeout_s} s")
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the loop ------------------------------------------------------------------

    def _loop(self) -> Exception | None:
        """Run until stopped; returns the error that made it give up, if any."""
        self._loop_ident = threading.get_ident()
        errors = 0
        fatal: Exception | None = None
        try:
            while not self._stop_requested:
                try:
                    self._run_once()
                    errors = 0
                except Exception as exc:
                    errors += 1
                    self._record(LinkFailure(link=self._name, where="loop", error=exc))
                    if errors >= _MAX_LOOP_ERRORS:
                        _log.error("%s: giving up after %d loop errors", self._name, errors)
                        fatal = exc
                        break
        finally:
            self._shutdown()
        return fatal

    def _run_once(self) -> None:
        now = self._wall()
        if self._tick_now or (self._tick_at is not None and now >= self._tick_at):
            # Only then: between, the tick has nothing to do (its hook said when it has),
            # and a wake (anything that may change that) makes the next iteration tick.
            self._tick_now = False
            self._tick_at = self._call_tick()
        deadline = self._tick_at
        # Read without the lock first (a container's truth is one atomic read), so an
        # iteration with nothing to poll or sync takes no lock. What another thread adds
        # after the read is seen as it would be after a locked read: add and poll_needed
        # wake the loop, a watch change waits for the next iteration.
        if self._poll_each or self._poll_next or self._poll_heap:
            self._poll_transports()
        if self._dirty or self._unreported:
            self._sync()
        if self._stop_requested:
            return
        if self._poll_heap:
            with self._lock:
                if self._poll_heap:
                    first = self._poll_heap[0][0]
                    deadline = first if deadline is None else min(deadline, first)
        # A deadline passed (or a NaN) is made 0 by the waiter itself: no max() here.
        timeout = None if deadline is None else deadline - self._wall()
        for data, events in self._selector.wait(timeout):
            if data is None:
                self._drain_wake()
                self._tick_now = True
                continue
            transport, watch = data
            if transport.closed:
                continue
            try:
                transport.handle(watch, events)
            except Exception as exc:
                # A transport in an unknown state could spin the loop: retire it.
                self._record(LinkFailure(link=transport.label, where="handle", error=exc))
                self._retire(transport)

    def _poll_transports(self) -> None:
        """Let the transports send what became due since the last iteration (answers an
        impaired link held back for its delay or baud pacing): those that do not report
        their needs, and those whose time asked for has come."""
        with self._lock:
            if not self._poll_each and not self._poll_next and not self._poll_heap:
                return
            due = dict(self._poll_each)
            due.update(self._poll_next)
            self._poll_next.clear()
            heap = self._poll_heap
            if heap:
                now = self._wall()
                while heap and heap[0][0] <= now:
                    due[heapq.heappop(heap)[2]] = None
        for transport in due:
            if transport.closed:
                continue
            try:
                transport.poll()
            except Exception as exc:
                self._record(LinkFailure(link=transport.label, where="poll", error=exc))
                self._retire(transport)

    def _call_tick(self) -> float | None:
        if self._tick is None:
            return None
        try:
            return self._tick()
        except Exception as exc:
            self._record(LinkFailure(link=self._name, where="tick", error=exc))
            return self._wall() + _TICK_RETRY_S

    def _sync(self) -> None:
        """Bring the selector in line with what the transports want watched now: only
        those that reported a change, and those that never report."""
        with self._lock:
            if not self._dirty and not self._unreported:
                return
            visit = [*self._dirty, *(t for t in self._unreported if t not in self._dirty)]
            self._dirty.clear()
        for transport in visit:
            if transport.closed or transport not in self._transports:
                self._retire(transport)
                continue
            try:
                self._apply(transport, {watch.fd: watch for watch in transport.watches()})
            except Exception as exc:
                # Closed under us (from another thread) is only a retirement, not a failure.
                if not transport.closed:
                    self._record(LinkFailure(link=transport.label, where="watches", error=exc))
                self._retire(transport)

    def _apply(self, transport: Transport, wanted: dict[int, Watch]) -> None:
        """Register, modify or drop ``transport``'s descriptors to match ``wanted``."""
        for fd in self._watched.get(transport, {}):
            if fd not in wanted:
                self._unregister(transport, fd)
        for fd, watch in wanted.items():
            current = self._registered.get(fd)
            if current is not None and current[0] is transport and current[1] == watch:
                continue
            if current is not None and current[1].owner is watch.owner:
                self._selector.modify(fd, watch.events, (transport, watch))
            else:
                # New, or the number now belongs to another file: register afresh.
                if current is not None:
                    self._unregister(current[0], fd)
                self._selector.register(fd, watch.events, (transport, watch))
            self._registered[fd] = (transport, watch)
        self._watched[transport] = wanted

    def _unregister(self, transport: Transport, fd: int) -> None:
        """Drop ``fd`` from the selector if ``transport`` is the one it is registered for."""
        current = self._registered.get(fd)
        if current is None or current[0] is not transport:
            return  # the number has been reused by another transport since
        del self._registered[fd]
        # The descriptor may already be closed; the selector copes (epoll drops it itself).
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(fd)

    def _retire(self, transport: Transport) -> None:
        with self._lock:
            self._transports.pop(transport, None)
            self._unreported.pop(transport, None)
            self._dirty.discard(transport)
            self._poll_each.pop(transport, None)
            self._poll_next.pop(transport, None)
        for fd in self._watched.pop(transport, {}):
            self._unregister(transport, fd)
        self._close_transport(transport)

    def _close_transport(self, transport: Transport) -> None:
        try:
            transport.close()
        except Exception as exc:
            self._record(LinkFailure(link=transport.label, where="close", error=exc))

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass

    def _shutdown(self) -> None:
        """Close every transport and the loop's own descriptors; runs once."""
        if self._done.is_set():
            return
        with self._lock:
            transports = list(self._transports)
            self._transports.clear()
            self._unreported.clear()
            self._dirty.clear()
            self._poll_each.clear()
            self._poll_next.clear()
            self._poll_heap.clear()
            self._state = _State.CLOSED
        for transport in transports:
            self._close_transport(transport)
        self._registered.clear()
        self._watched.clear()
        self._selector.close()
        with self._wake_lock:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        self._done.set()

    def _record(self, failure: LinkFailure) -> None:
        with self._failures_lock:
            self._failures.append(failure)
            self.failure_counts[failure.where] += 1
            count = self.failure_counts[failure.where]
        # The log is bounded too: the first failures of each kind in full, then every 1000th.
        if count <= FAILURES_LOGGED_IN_FULL or count % 1000 == 0:
            log_failure(failure)
            if count == FAILURES_LOGGED_IN_FULL:
                _log.error(
                    "%s: %d %s failures; from now on every 1000th is logged",
                    self._name,
                    count,
                    failure.where,
                )
        if self._on_failure is not None:
            try:
                self._on_failure(failure)
            except Exception:
                _log.exception("%s: on_failure callback raised", self._name)
