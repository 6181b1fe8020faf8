"""Serve endpoints over TCP, for pyserial's ``socket://host:port`` URLs.

A listening socket accepts any number of programmers; each connection gets
its own endpoint from the factory, and a programmer that vanishes (closes,
resets, or sends after a half-close) closes only its own endpoint. Sockets are
non-blocking; answers a programmer does not read wait in a bounded
:class:`~emulator.transports.outbuf.OutputBuffer`, and while it is full the
connection is not read (back-pressure: nothing is dropped).

Bounded: at most ``max_connections`` programmers at once (default
:data:`DEFAULT_MAX_CONNECTIONS` per pump, so a fleet's total scales with its
size); a connection over the cap is accepted and closed at once (counted in
:attr:`TcpTransport.refused_connections`). A connection that sends nothing for
``idle_timeout_s`` (default :data:`DEFAULT_IDLE_TIMEOUT_S`, on the link's real
time) is closed. When ``accept`` fails for lack of descriptors (EMFILE), the
listener is not watched for a while (:class:`~emulator.transports.base.AcceptBackoff`)
instead of spinning the loop.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Callable, Sequence

from emulator.errors import PortInUseError
from emulator.transports.base import (
    EVENT_READ,
    EVENT_WRITE,
    OUT_OF_DESCRIPTORS,
    AcceptBackoff,
    Endpoint,
    EndpointFactory,
    Transport,
    Watch,
    due_output,
    release_check,
)
from emulator.transports.outbuf import DEFAULT_LIMIT_BYTES, OutputBuffer

__all__ = ["DEFAULT_IDLE_TIMEOUT_S", "DEFAULT_MAX_CONNECTIONS", "TcpTransport"]

DEFAULT_MAX_CONNECTIONS = 64
"""Programmers connected to one pump at once, at most (a pump talks to one at a time; the
rest is room for tools and for links an attacker holds)."""
DEFAULT_IDLE_TIMEOUT_S = 900.0
"""A connection silent this long (link seconds) is closed: three times the session's idle
timeout, so it never ends a live session."""

_READ_SIZE = 64 * 1024
_BYTES_LIKE = (bytes, bytearray, memoryview)
_QUIET = (False, False)  # a connection's interest with nothing waiting
_ACCEPTS_PER_EVENT = 16  # bounded so a connection flood cannot starve the other links


class _Connection:
    """One accepted programmer and its endpoint."""

    def __init__(
        self, sock: socket.socket, endpoint: Endpoint, label: str, limit: int, now: float
    ) -> None:
        self.sock = sock
        self.last_rx = now
        self.endpoint = endpoint
        self.label = label
        self.out = OutputBuffer(limit_bytes=limit)
        self.interest = (False, False)  # (write, paused) as watches() last told the server
        self.release_check = release_check(endpoint)


class TcpTransport(Transport):
    """A listening TCP socket; the socket is bound and listening from construction."""

    reports_watch_changes = True
    reports_poll_needs = True

    def __init__(
        self,
        factory: EndpointFactory,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        output_limit_bytes: int = DEFAULT_LIMIT_BYTES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Listen on ``host:port`` (port 0: the system picks one, see :attr:`address`).

        Raises :class:`~emulator.errors.PortInUseError` when the address is taken.
        """
        super().__init__()
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"TCP port {port} outside 0..65535")
        if output_limit_bytes <= 0:
            raise ValueError(f"output_limit_bytes must be positive, got {output_limit_bytes}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be positive, got {max_connections}")
        if not 0 < idle_timeout_s < float("inf"):
            raise ValueError(f"idle_timeout_s must be positive, got {idle_timeout_s}")
        self._factory = factory
        self._limit = output_limit_bytes
        self.max_connections = max_connections
        self.idle_timeout_s = float(idle_timeout_s)
        self._clock = clock
        self._backoff = AcceptBackoff(clock)
        self.refused_connections = 0
        """Connections closed at once because the cap was reached."""
        self.idle_closed = 0
        """Connections closed for silence."""
        self._connections: dict[socket.socket, _Connection] = {}
        self._timed: dict[_Connection, None] = {}  # their endpoints asked for a poll
        self._idle_check_at: float | None = None  # the next idle check asked of the server
        self._closed = False
        try:
            self._listener = socket.create_server((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"{host}:{port} is already in use") from exc
            raise
        self._listener.setblocking(False)
        bound = self._listener.getsockname()
        self._address: tuple[str, int] = (str(bound[0]), int(bound[1]))

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually listened on."""
        return self._address

    @property
    def url(self) -> str:
        """The pyserial URL a programmer opens, e.g. ``socket://127.0.0.1:40123``."""
        host, port = self._address
        return f"socket://{host}:{port}"

    @property
    def label(self) -> str:
        host, port = self._address
        return f"tcp:{host}:{port}"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connection_count(self) -> int:
        """Programmers connected right now."""
        return len(self._connections)

    @property
    def pending_bytes(self) -> int:
        """Answer bytes waiting, over the open connections, for their programmers to read."""
        return sum(c.out.pending_bytes for c in self._connections.values())

    # -- driven by the server --------------------------------------------------

    def watches(self) -> Sequence[Watch]:
        if self._closed:
            return ()
        watches = []
        if not self._backoff.paused:
            watches.append(
                Watch(fd=self._listener.fileno(), events=EVENT_READ, owner=self._listener)
            )
        for conn in self._connections.values():
            # Back-pressure: a connection whose answers pile up is not read until they drain.
            events = (0 if conn.out.full else EVENT_READ) | (EVENT_WRITE if conn.out else 0)
            watches.append(Watch(fd=conn.sock.fileno(), events=events, owner=conn))
        return watches

    def handle(self, watch: Watch, events: int) -> None:
        if self._closed:
            return
        if watch.owner is self._listener:
            self._accept()
            return
        conn = watch.owner
        # A connection closed earlier in this same round is no longer ours.
        if not isinstance(conn, _Connection) or self._connections.get(conn.sock) is not conn:
            return
        if events & EVENT_READ:
            self._read(conn)
        if conn.out:
            if conn.sock in self._connections:
                self._flush(conn)
            self._note_interest(conn)
        elif conn.interest != _QUIET:
            self._note_interest(conn)  # emptied: (False, False), as _note_interest would find

    def poll(self) -> None:
        if self._backoff.resume_due():
            self.watches_changed()
        now = self._clock()
        if self._idle_check_at is not None and now >= self._idle_check_at:
            self._idle_check_at = None
            for conn in [
                c for c in self._connections.values() if now - c.last_rx >= self.idle_timeout_s
            ]:
                self.idle_closed += 1
                self._drop(conn)
            self._schedule_idle_check()
        timed, self._timed = self._timed, {}
        for conn in timed:
            if self._connections.get(conn.sock) is not conn:
                continue
            try:
                late = due_output(conn.endpoint)
            except Exception as exc:
                self.report(link=conn.label, where="poll", error=exc)
                continue
            finally:
                self._check_timed(conn)
            if late:
                conn.out.push(self._outgoing(conn, late))
                self._flush(conn)
                self._note_interest(conn)

    def _schedule_idle_check(self) -> None:
        """Ask for a poll when the quietest connection would reach its idle timeout (it
        checks again then: a connection heard from since is not closed)."""
        if not self._connections or self._idle_check_at is not None:
            return
        oldest = min(c.last_rx for c in self._connections.values())
        self._idle_check_at = oldest + self.idle_timeout_s
        self.poll_needed(max(0.0, self._idle_check_at - self._clock()))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for conn in list(self._connections.values()):
            self._drop(conn)
        self._listener.close()
        self.watches_changed()

    # -- internals -------------------------------------------------------------

    def _accept(self) -> None:
        before = len(self._connections)
        try:
            self._accept_some()
        finally:
            if len(self._connections) != before:
                self.watches_changed()

    def _accept_some(self) -> None:
        for _ in range(_ACCEPTS_PER_EVENT):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in OUT_OF_DESCRIPTORS:
                    # Out of descriptors: the listener stays readable, so stop watching it
                    # for a while rather than spin (and log) at full speed.
                    self._backoff.failed()
                    self.watches_changed()
                    if self._backoff.paused_until is not None:
                        self.poll_needed(max(0.0, self._backoff.paused_until - self._clock()))
                self.report(link=self.label, where="accept", error=exc)
                return
            self._backoff.succeeded()
            if len(self._connections) >= self.max_connections:
                self.refused_connections += 1
                sock.close()  # over the cap: the programmer sees the connection end at once
                continue
            label = f"{self.label}<-{peer[0]}:{peer[1]}"
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                endpoint = self._factory()
            except Exception as exc:
                sock.close()
                self.report(link=label, where="factory", error=exc)
                continue
            conn = _Connection(sock, endpoint, label, self._limit, self._clock())
            self._connections[sock] = conn
            self._accepted(conn)
            self._schedule_idle_check()

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)  # reset or otherwise gone: only this link ends
            return
        if not data:
            self._drop(conn)
            return
        conn.last_rx = self._clock()
        data = self._incoming(conn, data)
        if not data:
            return
        try:
            answer = conn.endpoint.receive(data)
            if type(answer) is not bytes and not isinstance(answer, _BYTES_LIKE):
                raise TypeError(f"endpoint returned {type(answer).__name__}, not bytes")
        except Exception as exc:
            self.report(link=conn.label, where="receive", error=exc)
            return
        finally:
            if conn.release_check is not None:
                self._check_timed(conn)
        if not answer:
            return
        out = self._outgoing(conn, bytes(answer))
        if conn.out:
            conn.out.push(out)  # behind what waits already; handle() flushes
            return
        # Nothing waiting (the usual case): send at once, and keep only what the socket does
        # not take now (the same bytes, in the same order, as pushing and flushing).
        try:
            sent = conn.sock.send(out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop(conn)  # EPIPE / ECONNRESET: the programmer is gone
            return
        if sent < len(out):
            conn.out.push(out[sent:])

    # -- hooks for a protocol layered on the byte stream (RFC 2217) ------------

    def _accepted(self, conn: _Connection) -> None:
        """A connection was accepted (its endpoint made)."""

    def _incoming(self, conn: _Connection, data: bytes) -> bytes:
        """The bytes for the endpoint in what the socket delivered."""
        return data

    def _outgoing(self, conn: _Connection, data: bytes) -> bytes:
        """The bytes to send for an answer of the endpoint."""
        return data

    def _check_timed(self, conn: _Connection) -> None:
        """Ask the server for a poll when the endpoint's next answer is due."""
        check = conn.release_check
        if check is None:
            return
        try:
            needed, after_s = check()
            if needed:
                self._timed[conn] = None
                self.poll_needed(after_s)
        except Exception as exc:
            self._timed[conn] = None  # cannot tell: keep asking, as for any timed endpoint
            self.poll_needed(None)
            self.report(link=conn.label, where="poll", error=exc)

    def _note_interest(self, conn: _Connection) -> None:
        """Tell the server when a connection's answer buffer filled or emptied."""
        if self._connections.get(conn.sock) is not conn:
            return  # dropped: _drop has reported it
        wanted = (bool(conn.out), conn.out.full)
        if wanted != conn.interest:
            conn.interest = wanted
            self.watches_changed()

    def _flush(self, conn: _Connection) -> None:
        try:
            conn.out.write_to(conn.sock.send)
        except OSError:
            self._drop(conn)  # EPIPE / ECONNRESET: the programmer is gone

    def _drop(self, conn: _Connection) -> None:
        self._timed.pop(conn, None)
        if self._connections.pop(conn.sock, None) is not None:
            self.watches_changed()
        conn.out.clear()
        try:
            conn.endpoint.close()
        except Exception as exc:
            self.report(link=conn.label, where="close", error=exc)
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
