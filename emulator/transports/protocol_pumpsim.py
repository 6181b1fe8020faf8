"""pyserial's handler for ``pumpsim://NAME[?options]``: the one in-process serial port.

pyserial imports ``<package>.protocol_<scheme>`` for a URL once the package is on
``serial.protocol_handler_packages``; :func:`emulator.transports.inproc.install_url_handler`
puts it there (:func:`~emulator.transports.inproc.register` calls it). So
``serial.serial_for_url("pumpsim://NAME", timeout=...)`` returns a :class:`Serial`
connected to a fresh endpoint from the factory registered under NAME.

Options follow pyserial's own convention (``socket://host:port?logging=debug``):
``pumpsim://NAME?drop=0.1&delay_ms=20&seed=3`` puts this port's endpoint behind its
own :class:`~emulator.link_faults.LinkFaults` (``drop``, ``corrupt``: probabilities in
[0, 1]; ``delay_ms``: milliseconds each way; ``baud``: 8N1 pacing; ``seed``: the faults'
seed, 0 unless given). An unknown or out-of-range option is a ``SerialException``.

A write hands the bytes to the endpoint synchronously and queues its answer. An
:class:`~emulator.link_faults.ImpairedEndpoint` (from the options, or from
:func:`emulator.transports.impaired_inproc.register`) may hold bytes back; the port asks
it for what is due whenever a reader looks, and waits exactly until the next release
(never polling). Reads follow the POSIX port's rules: return as soon as ``size`` bytes
are there (at once if they already are), otherwise wait until ``timeout`` (None:
forever; 0: never wait) and return what there is. :meth:`Serial.read_available` (what
:class:`~protocol.client.PumpClient` uses) returns what is queued at once, or waits up to
its own timeout for the first bytes. Baud rate, ``inter_byte_timeout`` and the modem
lines have no effect (a link's speed is its impairment's ``baud``).

``impairedsim://NAME`` is the old name of this scheme (it used to be a separate port
for impaired links); it opens the same port.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from serial import PortNotOpenError, SerialBase, SerialException

from emulator.link_faults import ImpairedEndpoint, LinkFaults, LinkImpairment
from emulator.transports import inproc
from emulator.transports.base import Endpoint, LinkFailure, log_failure

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["URL_OPTIONS", "Serial", "parse_url"]

URL_OPTIONS: dict[str, type[float] | type[int]] = {
    "drop": float,
    "corrupt": float,
    "delay_ms": float,
    "baud": int,
    "seed": int,
}
"""The options a ``pumpsim://NAME?...`` URL takes, with the type each value is read as."""

_FORM = "pumpsim://NAME[?drop=P&corrupt=P&delay_ms=MS&baud=BAUD&seed=N]"


def parse_url(url: str) -> tuple[str, LinkFaults | None]:
    """The link name of ``url`` and the impairment its options ask for (None without any);
    anything malformed is a ``SerialException`` naming the form expected."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in inproc.SCHEMES or not parts.netloc:
        raise SerialException(f"expected a URL of the form {_FORM!r}, got {url!r}")
    if parts.path not in ("", "/") or parts.fragment:
        raise SerialException(f"{_FORM!r} takes no path or fragment, got {url!r}")
    if not parts.query:
        return parts.netloc, None
    try:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise SerialException(f"malformed options in {url!r}: {exc}") from exc
    values: dict[str, float | int] = {}
    for key, text in pairs:
        kind = URL_OPTIONS.get(key)
        if kind is None:
            raise SerialException(
                f"unknown option {key!r} in {url!r}: expected one of {', '.join(URL_OPTIONS)}"
            )
        if key in values:
            raise SerialException(f"option {key!r} given twice in {url!r}")
        try:
            values[key] = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise SerialException(f"option {key}={text!r} in {url!r} is not {what}") from None
    seed = int(values.pop("seed", 0))
    try:
        faults = LinkFaults(LinkImpairment(**values), seed=seed)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SerialException(f"bad option in {url!r}: {exc}") from exc
    return parts.netloc, faults


class Serial(SerialBase):
    """A serial port whose other end is an in-process endpoint. Thread-safe."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rx = bytearray()
        # Held with ``with self._rx_lock`` (a C-level context manager; the Condition's own
        # __enter__ and __exit__ are Python calls); waited on and notified through _rx_ready.
        self._rx_lock = threading.Lock()
        self._rx_ready = threading.Condition(self._rx_lock)
        self._readers = 0  # readers waiting on _rx_ready (guarded by _rx_lock)
        self._cancel_read = False
        self._endpoint: Endpoint | None = None
        self._endpoint_lock = threading.Lock()  # one call into the endpoint at a time
        self._registration: inproc.Registration | None = None
        self._link_faults: LinkFaults | None = None
        super().__init__(*args, **kwargs)

    @property
    def link_faults(self) -> LinkFaults | None:
        """The impairment the URL's options put on this port (None without options)."""
        return self._link_faults

    # -- opening and closing ---------------------------------------------------------------

    def open(self) -> None:
        """Connect to a new endpoint from the factory registered under the URL's name."""
        if self.is_open:
            raise SerialException("Port is already open.")
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        name, faults = parse_url(self.port)
        registration = inproc.lookup(name)
        if registration is None:
            raise SerialException(
                f"no pump registered as {name!r} for {self.port!r}: "
                "register one with emulator.transports.inproc.register()"
            )
        try:
            endpoint = registration.factory()
        except Exception as exc:
            raise SerialException(f"could not start the endpoint for {self.port!r}: {exc}") from exc
        if faults is not None:
            endpoint = faults.impair(endpoint)
        with self._endpoint_lock:
            self._endpoint = endpoint
            self._registration = registration
            self._link_faults = faults
        with self._rx_lock:
            self._rx.clear()
            self._cancel_read = False
        self.is_open = True

    def from_url(self, url: str) -> str:
        """The link name in ``pumpsim://NAME[?options]`` (see :func:`parse_url`)."""
        return parse_url(url)[0]

    def close(self) -> None:
        """Close the endpoint and wake any waiting reader; idempotent, reopenable."""
        if not self.is_open:
            return
        self.is_open = False
        with self._rx_lock:
            self._rx_ready.notify_all()
        with self._endpoint_lock, self._rx_lock:
            endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            try:
                endpoint.close()
            except Exception as exc:
                self._record("close", exc)

    # -- data ------------------------------------------------------------------------------

    def write(self, b: ReadableBuffer, /) -> int:
        """Hand the bytes to the endpoint; its answer is read with :meth:`read`."""
        if not self.is_open:
            raise PortNotOpenError()
        data = b if type(b) is bytes else bytes(memoryview(b))
        with self._endpoint_lock:
            endpoint = self._endpoint
            if endpoint is None:
                raise PortNotOpenError()
            try:
                answer = endpoint.receive(data)
                if type(answer) is not bytes and not isinstance(answer, bytearray | memoryview):
                    raise TypeError(f"endpoint returned {type(answer).__name__}, not bytes")
            except Exception as exc:
                # Like a pump that failed to answer: the writer sees silence, the test sees it.
                self._record("receive", exc)
                answer = b""
        # feed(), written out (once per request).
        with self._rx_lock:
            self._rx += answer  # bytearray += takes bytes, bytearray and memoryview alike
            if self._readers:
                self._rx_ready.notify_all()
        return len(data)

    def feed(self, data: bytes) -> None:
        """Queue ``data`` for :meth:`read` as if the pump had sent it; thread-safe. Always
        wakes a waiting reader: an impaired link's next release may have moved earlier."""
        with self._rx_lock:
            self._rx += data
            if self._readers:  # nobody waits in the usual case (a write, then a read)
                self._rx_ready.notify_all()

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes: all of them if they come (are released) before the timeout."""
        if not self.is_open:
            raise PortNotOpenError()
        if size <= 0:
            return b""
        timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._rx_lock:
            self._wait_locked(size, deadline)
            data = bytes(self._rx[:size])
            del self._rx[:size]
        return data

    def read_available(self, timeout_s: float | None) -> bytes:
        """What :class:`~protocol.client.PumpClient` reads with on this port: every byte
        queued now; when none is, the first bytes that come (are released) within
        ``timeout_s`` (None: forever), with all the others there by then; b"" when none
        came. Like pyserial's ``in_waiting`` then ``read(max(1, in_waiting))`` with the
        port's timeout set to ``timeout_s``, in one call and without setting the timeout
        (bytes an impaired link released while others were queued come with the next call)."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_lock:
            rx = self._rx
            if not rx:
                deadline = None if timeout_s is None else time.monotonic() + timeout_s
                self._wait_locked(1, deadline)
                self._collect_locked()  # what else is there by then, as in_waiting would
            else:
                self._cancel_read = False
            data = bytes(rx)
            rx.clear()
        return data

    def _wait_locked(self, size: int, deadline: float | None) -> None:
        """Wait (``_rx_lock`` held) until ``size`` bytes are queued, the port closes, a read
        is cancelled or ``deadline`` (monotonic s; None: never) passes, collecting what an
        impaired link releases meanwhile; clears a cancellation."""
        while True:
            next_release_in_s = self._collect_locked()
            if len(self._rx) >= size or not self.is_open or self._cancel_read:
                break
            if next_release_in_s is not None and next_release_in_s <= 0:
                continue  # released meanwhile: collect it
            wait_s = next_release_in_s
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait_s = remaining if wait_s is None else min(wait_s, remaining)
            self._readers += 1
            try:
                self._rx_ready.wait(wait_s)
            finally:
                self._readers -= 1
        self._cancel_read = False

    @property
    def in_waiting(self) -> int:
        """Bytes queued (released) and not read yet."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_lock:
            self._collect_locked()
            return len(self._rx)

    @property
    def out_waiting(self) -> int:
        """Always 0: a write enters the link before it returns (bytes in flight are the link's)."""
        if not self.is_open:
            raise PortNotOpenError()
        return 0

    def reset_input_buffer(self) -> None:
        """Discard the bytes queued (released) and not read yet."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_lock:
            self._collect_locked()
            self._rx.clear()

    def reset_output_buffer(self) -> None:
        """Nothing is ever pending on the way out."""
        if not self.is_open:
            raise PortNotOpenError()

    def flush(self) -> None:
        """Writes enter the link at once, so this only checks the port is open."""
        if not self.is_open:
            raise PortNotOpenError()

    def cancel_read(self) -> None:
        """Make a waiting (or the next) :meth:`read` return what it has at once."""
        with self._rx_lock:
            self._cancel_read = True
            self._rx_ready.notify_all()

    def cancel_write(self) -> None:
        """Writes never wait, so there is nothing to cancel."""

    # -- modem lines: accepted, no effect --------------------------------------------------

    @property
    def cts(self) -> bool:
        """Clear To Send: always asserted."""
        return True

    @property
    def dsr(self) -> bool:
        """Data Set Ready: always asserted."""
        return True

    @property
    def ri(self) -> bool:
        """Ring Indicator: never."""
        return False

    @property
    def cd(self) -> bool:
        """Carrier Detect: always asserted."""
        return True

    # Called by SerialBase's property setters while open; settings have no effect here.
    def _reconfigure_port(self, force_update: bool = False) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    # -- internals -------------------------------------------------------------------------

    def _collect_locked(self) -> float | None:
        """Move what an impaired link has released into the read buffer (``_rx_lock``
        held); returns the seconds until its next release, or None (nothing held back)."""
        endpoint = self._endpoint
        if not isinstance(endpoint, ImpairedEndpoint):
            return None
        when = endpoint.next_release_at()
        if when is None and not endpoint.closed:
            # Nothing in flight either way (the link's usual state between requests):
            # due() would deliver nothing and return b"", so it is not called.
            return None
        try:
            self._rx += endpoint.due(endpoint.now())
        except Exception as exc:
            self._record("release", exc)
        when = endpoint.next_release_at()
        return None if when is None else when - endpoint.now()

    def _record(self, where: str, exc: Exception) -> None:
        registration = self._registration
        failure = LinkFailure(link=str(self.port), where=where, error=exc)
        if registration is not None:
            registration.record(failure)
        else:
            log_failure(failure)
