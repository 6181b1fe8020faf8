"""pyserial URL handler for ``pumpsim://NAME`` (found by pyserial, not imported directly).

``serial.serial_for_url("pumpsim://NAME", timeout=...)`` returns a :class:`Serial`
connected to a fresh endpoint from the factory registered under NAME in
:mod:`emulator.transports.inproc`. A write hands the bytes to the endpoint
synchronously and queues its answer for :meth:`Serial.read`. Reads follow the
POSIX port's rules: return as soon as ``size`` bytes are queued (at once if
they already are), otherwise wait for more until ``timeout`` (None: forever;
0: never wait) and return what there is. Bytes can also arrive later, from any
thread, through :meth:`Serial.feed`, which wakes a waiting reader.
``inter_byte_timeout``, baud rate and the modem lines have no effect.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from serial import PortNotOpenError

from emulator.transports import inproc
from emulator.transports.base import Endpoint, LinkFailure, log_failure
from emulator.transports.virtual_port import VirtualPort

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["Serial"]


class Serial(VirtualPort[Endpoint]):
    """A serial port whose other end is an in-process endpoint. Thread-safe."""

    SCHEME = inproc.SCHEME
    REGISTER_HINT = "register one with emulator.transports.inproc.register()"

    # -- opening and closing ---------------------------------------------------

    def close(self) -> None:
        """Close the endpoint and wake any waiting reader; idempotent, reopenable."""
        if not self.is_open:
            return
        self.is_open = False
        with self._rx_ready:
            self._rx_ready.notify_all()
        with self._endpoint_lock:
            endpoint, self._endpoint = self._endpoint, None
            if endpoint is not None:
                try:
                    endpoint.close()
                except Exception as exc:
                    self._record("close", exc)

    # -- data ------------------------------------------------------------------

    def write(self, b: ReadableBuffer, /) -> int:
        """Hand the bytes to the endpoint; its answer is queued for :meth:`read`."""
        if not self.is_open:
            raise PortNotOpenError()
        data = bytes(memoryview(b))
        with self._endpoint_lock:
            endpoint = self._endpoint
            if endpoint is None:
                raise PortNotOpenError()
            try:
                answer = endpoint.receive(data)
                if not isinstance(answer, bytes | bytearray | memoryview):
                    raise TypeError(f"endpoint returned {type(answer).__name__}, not bytes")
            except Exception as exc:
                # Like a pump that failed to answer: the writer sees silence, the test sees it.
                self._record("receive", exc)
                answer = b""
        self.feed(bytes(answer))
        return len(data)

    def feed(self, data: bytes) -> None:
        """Queue ``data`` for :meth:`read` as if the pump had sent it; thread-safe."""
        if not data:
            return
        with self._rx_ready:
            self._rx += data
            self._rx_ready.notify_all()

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes: all of them if they come before the timeout."""
        if not self.is_open:
            raise PortNotOpenError()
        if size <= 0:
            return b""
        timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._rx_ready:
            while len(self._rx) < size and self.is_open and not self._cancel_read:
                if deadline is None:
                    self._rx_ready.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._rx_ready.wait(remaining)
            self._cancel_read = False
            data = bytes(self._rx[:size])
            del self._rx[:size]
        return data

    @property
    def in_waiting(self) -> int:
        """Bytes queued for :meth:`read`."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_ready:
            return len(self._rx)

    @property
    def out_waiting(self) -> int:
        """Always 0: a write reaches the endpoint before it returns."""
        if not self.is_open:
            raise PortNotOpenError()
        return 0

    def reset_input_buffer(self) -> None:
        """Discard the bytes queued for :meth:`read`."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._rx_ready:
            self._rx.clear()

    # -- internals ---------------------------------------------------------------

    def _record(self, where: str, exc: Exception) -> None:
        registration = self._registration
        failure = LinkFailure(link=str(self.port), where=where, error=exc)
        if registration is not None:
            registration.record(failure)
        else:
            log_failure(failure)
