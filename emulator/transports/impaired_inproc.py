"""Impaired in-process links: ``serial.serial_for_url("impairedsim://NAME")`` with link faults.

The in-process ``pumpsim://`` port hands each write to its endpoint and
queues the answer at once, which is all an endpoint with no latency can
need. An :class:`~emulator.link_faults.ImpairedEndpoint` with a delay or a
baud limit releases its bytes later, so this module adds a port that asks the
endpoint for what is due whenever a reader looks (and waits exactly until the
next release, never polling)::

    faults = LinkFaults(LinkImpairment(drop=0.01, corrupt=0.01), seed=1)
    with register("lossy", pump.endpoint, faults) as link:
        with PumpClient(link.url, key=key, timeout_s=0.05, retries=20) as client:
            ...
        faults.update(delay_ms=200)       # affects every link of `faults`, now
        print(faults.counters())

The name lives in :mod:`emulator.transports.inproc`'s registry (names are
unique across both schemes), so ``pumpsim://NAME`` reaches the same impaired
links too, but that port only delivers what is due when it writes: use
``impairedsim://`` whenever latency or pacing is set.

Importing this module installs the URL handler (see :func:`serial_class_for_url`).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

from serial import PortNotOpenError, SerialException

from emulator.link_faults import ImpairedEndpoint, LinkFaults
from emulator.transports import inproc
from emulator.transports.base import Endpoint, EndpointFactory, LinkFailure, log_failure
from emulator.transports.virtual_port import VirtualPort

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = [
    "SCHEME",
    "ImpairedRegistration",
    "ImpairedSerial",
    "register",
    "serial_class_for_url",
]

SCHEME = "impairedsim"
"""The URL scheme: ``impairedsim://NAME``."""


class ImpairedRegistration:
    """A registered impaired link name: its URL, its faults, and what its endpoints raised."""

    def __init__(self, registration: inproc.Registration, faults: LinkFaults) -> None:
        self._registration = registration
        self._faults = faults

    @property
    def name(self) -> str:
        """The registered name."""
        return self._registration.name

    @property
    def url(self) -> str:
        """The URL to open: ``impairedsim://NAME``."""
        return f"{SCHEME}://{self.name}"

    @property
    def faults(self) -> LinkFaults:
        """The impairment of every port opened on this name (change it here at run time)."""
        return self._faults

    @property
    def inproc(self) -> inproc.Registration:
        """The underlying ``pumpsim://`` registration."""
        return self._registration

    @property
    def failures(self) -> tuple[LinkFailure, ...]:
        """Every failure the endpoints raised so far, oldest first."""
        return self._registration.failures

    def check(self) -> None:
        """Re-raise what the endpoints raised (see :meth:`inproc.Registration.check`)."""
        self._registration.check()

    def close(self) -> None:
        """Unregister the name; open ports keep their endpoints until closed. Idempotent."""
        self._registration.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def register(name: str, factory: EndpointFactory, faults: LinkFaults) -> ImpairedRegistration:
    """Make ``impairedsim://NAME`` reach ``factory`` through ``faults``; a context manager.

    Each opened port gets ``faults.impair(factory())``. Names follow
    :func:`emulator.transports.inproc.register` (and a taken name is refused).
    """
    if not isinstance(faults, LinkFaults):
        raise TypeError(f"faults must be a LinkFaults, got {faults!r}")
    return ImpairedRegistration(inproc.register(name, faults.wrap(factory)), faults)


def serial_class_for_url(url: str) -> tuple[str, type[ImpairedSerial]]:
    """pyserial's URL hook: every ``impairedsim://`` URL gets an :class:`ImpairedSerial`."""
    return url, ImpairedSerial


class ImpairedSerial(VirtualPort[ImpairedEndpoint]):
    """A serial port whose other end is an in-process :class:`ImpairedEndpoint`. Thread-safe.

    A write goes through the impairment to the pump; an answer is readable
    once its release time (on the endpoint's clock, which should run at wall
    speed, as ``time.monotonic`` does) has come. Reads follow the POSIX
    port's rules: return as soon as ``size`` bytes are there, otherwise wait
    until ``timeout`` (None: forever; 0: never) and return what there is.
    ``baudrate`` and the modem lines have no effect: the link's speed is the
    impairment's ``baud``.
    """

    SCHEME = SCHEME
    REGISTER_HINT = "register one with emulator.transports.impaired_inproc.register()"

    def _adopt(self, endpoint: Endpoint, name: str) -> ImpairedEndpoint:
        if not isinstance(endpoint, ImpairedEndpoint):
            endpoint.close()
            raise SerialException(
                f"{name!r} is not an impaired link (registered with inproc.register?): "
                f"open it as {inproc.SCHEME}://{name}"
            )
        return endpoint

    # -- opening and closing ---------------------------------------------------------------

    def close(self) -> None:
        """Close the endpoint and wake any waiting reader; idempotent, reopenable."""
        if not self.is_open:
            return
        self.is_open = False
        with self._rx_ready:
            self._rx_ready.notify_all()
        with self._endpoint_lock, self._rx_ready:
            endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            try:
                endpoint.close()
            except Exception as exc:
                self._record("close", exc)

    def write(self, b: ReadableBuffer, /) -> int:
        """Send the bytes into the impaired link; what comes back is read with :meth:`read`."""
        if not self.is_open:
            raise PortNotOpenError()
        data = bytes(memoryview(b))
        with self._endpoint_lock:
            endpoint = self._endpoint
            if endpoint is None:
                raise PortNotOpenError()
            try:
                answer = endpoint.receive(data)
            except Exception as exc:
                # Like a pump that failed to answer: the writer sees silence, the test sees it.
                self._record("receive", exc)
                answer = b""
        with self._rx_ready:
            self._rx += answer
            # Always wake the reader: its next release time may have moved earlier.
            self._rx_ready.notify_all()
        return len(data)

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes: all of them if they are released before the timeout."""
        if not self.is_open:
            raise PortNotOpenError()
        if size <= 0:
            return b""
        timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._rx_ready:
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
                self._rx_ready.wait(wait_s)
            self._cancel_read = False
            data = bytes(self._rx[:size])
            del self._rx[:size]
        return data

    @property
    def in_waiting(self) -> int:
        """Bytes released and not read yet."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_ready:
            self._collect_locked()
            return len(self._rx)

    @property
    def out_waiting(self) -> int:
        """Always 0: a write enters the link before it returns (bytes in flight are the link's)."""
        if not self.is_open:
            raise PortNotOpenError()
        return 0

    def reset_input_buffer(self) -> None:
        """Discard the bytes released and not read yet."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_ready:
            self._collect_locked()
            self._rx.clear()

    # -- internals -------------------------------------------------------------------------

    def _collect_locked(self) -> float | None:
        """Move what the link has released into the read buffer (``_rx_ready`` held);
        returns the seconds until its next release, or None."""
        endpoint = self._endpoint
        if endpoint is None:
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


# pyserial finds the scheme through emulator/transports/protocol_impairedsim.py; the package
# is put on pyserial's handler list by importing inproc (as this module does).
