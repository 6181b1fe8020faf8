"""What every in-process pyserial port shares: opening by ``SCHEME://NAME`` from the
in-process registry, no output queue, modem lines that are always ready, and settings that
are accepted but change nothing."""

from __future__ import annotations

import threading
import urllib.parse
from typing import Any, ClassVar, Generic, TypeVar

from serial import PortNotOpenError, SerialBase, SerialException

from emulator.transports import inproc
from emulator.transports.base import Endpoint

E = TypeVar("E", bound=Endpoint)


class VirtualPort(SerialBase, Generic[E]):
    """Base of the in-process ports (``pumpsim://``, ``impairedsim://``): a write enters the
    link before it returns, so nothing waits on our side.

    A subclass names its ``SCHEME`` and how to register a pump for it (``REGISTER_HINT``),
    and may refuse an endpoint of the wrong kind in :meth:`_adopt`.
    """

    SCHEME: ClassVar[str]
    REGISTER_HINT: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rx = bytearray()
        self._rx_ready = threading.Condition()
        self._cancel_read = False
        self._endpoint: E | None = None
        self._endpoint_lock = threading.Lock()  # one call into the endpoint at a time
        self._registration: inproc.Registration | None = None
        super().__init__(*args, **kwargs)

    def _adopt(self, endpoint: Endpoint, name: str) -> E:
        """The endpoint as this port's kind, or SerialException (after closing it)."""
        return endpoint  # type: ignore[return-value]  # E is Endpoint unless overridden

    def open(self) -> None:
        """Connect to a new endpoint from the factory registered under the URL's name."""
        if self.is_open:
            raise SerialException("Port is already open.")
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        name = self.from_url(self.port)
        registration = inproc.lookup(name)
        if registration is None:
            raise SerialException(
                f"no pump registered as {name!r} for {self.port!r}: {self.REGISTER_HINT}"
            )
        try:
            endpoint = registration.factory()
        except Exception as exc:
            raise SerialException(f"could not start the endpoint for {self.port!r}: {exc}") from exc
        adopted = self._adopt(endpoint, name)
        with self._endpoint_lock:
            self._endpoint = adopted
            self._registration = registration
        with self._rx_ready:
            self._rx.clear()
            self._cancel_read = False
        self.is_open = True

    def from_url(self, url: str) -> str:
        """The link name in ``SCHEME://NAME``; anything else is a ``SerialException``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != self.SCHEME or not parts.netloc:
            raise SerialException(f"expected a URL of the form '{self.SCHEME}://NAME', got {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SerialException(f"'{self.SCHEME}://NAME' takes no path or options, got {url!r}")
        return parts.netloc

    def cancel_read(self) -> None:
        """Make a waiting (or the next) :meth:`read` return what it has at once."""
        with self._rx_ready:
            self._cancel_read = True
            self._rx_ready.notify_all()

    def cancel_write(self) -> None:
        """Writes never wait, so there is nothing to cancel."""

    def reset_output_buffer(self) -> None:
        """Nothing is ever pending on the way out."""
        if not self.is_open:
            raise PortNotOpenError()

    def flush(self) -> None:
        """Writes enter the link at once, so this only checks the port is open."""
        if not self.is_open:
            raise PortNotOpenError()

    # -- modem lines: accepted, no effect ------------------------------------------------------

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
