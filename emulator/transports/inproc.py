"""In-process links: ``serial.serial_for_url("pumpsim://NAME")`` with no OS resources.

Register an endpoint factory under a name, and any code that opens serial
ports through pyserial's URL mechanism reaches it::

    with register("demo", make_endpoint) as link:
        port = serial.serial_for_url(link.url, timeout=1.0)   # "pumpsim://demo"

:func:`register` installs the URL handler (:func:`install_url_handler` appends
``emulator.transports`` to ``serial.protocol_handler_packages``, once, where pyserial
finds :mod:`emulator.transports.protocol_pumpsim`); importing this module changes
nothing in pyserial. The URL may carry link faults, pyserial-style:
``pumpsim://NAME?drop=0.1&delay_ms=20`` (see :mod:`~emulator.transports.protocol_pumpsim`).
``impairedsim://NAME`` is the old name of the scheme and opens the same port. Each
opened port gets its own endpoint from the factory. Errors raised by an endpoint are logged and
kept on the :class:`Registration` (see :meth:`Registration.check`); the port
itself carries on, like a real link to a pump that did not answer.
"""

from __future__ import annotations

import re
import threading
from types import TracebackType
from typing import Self

import serial

from emulator.errors import LinkNameError
from emulator.transports.base import EndpointFactory, LinkFailure, log_failure

__all__ = [
    "SCHEME",
    "SCHEMES",
    "Registration",
    "install_url_handler",
    "lookup",
    "register",
    "unregister",
]

SCHEME = "pumpsim"
"""The URL scheme: ``pumpsim://NAME[?options]``."""
SCHEMES = (SCHEME, "impairedsim")
"""Every scheme the in-process port answers to: ``pumpsim`` and its old name ``impairedsim``."""

_HANDLER_PACKAGE = "emulator.transports"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_lock = threading.Lock()
_registry: dict[str, Registration] = {}


class Registration:
    """One registered name: its factory, its URL and the failures its endpoints raised."""

    def __init__(self, name: str, factory: EndpointFactory) -> None:
        self._name = name
        self._factory = factory
        self._lock = threading.Lock()
        self._failures: list[LinkFailure] = []

    @property
    def name(self) -> str:
        """The registered name."""
        return self._name

    @property
    def url(self) -> str:
        """The URL to open: ``pumpsim://NAME``."""
        return f"{SCHEME}://{self._name}"

    @property
    def factory(self) -> EndpointFactory:
        """Makes one endpoint per opened port."""
        return self._factory

    @property
    def failures(self) -> tuple[LinkFailure, ...]:
        """Every failure recorded so far, oldest first."""
        with self._lock:
            return tuple(self._failures)

    def record(self, failure: LinkFailure) -> None:
        """Log ``failure`` and keep it for :meth:`check`."""
        log_failure(failure)
        with self._lock:
            self._failures.append(failure)

    def check(self) -> None:
        """Re-raise what was recorded (one error as itself, several as a group), then forget it."""
        with self._lock:
            failures, self._failures = self._failures, []
        if len(failures) == 1:
            raise failures[0].error
        if failures:
            raise ExceptionGroup(
                f"{len(failures)} endpoint failures on {self.url}", [f.error for f in failures]
            )

    def close(self) -> None:
        """Unregister the name if it is still ours; idempotent."""
        with _lock:
            if _registry.get(self._name) is self:
                del _registry[self._name]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def register(name: str, factory: EndpointFactory) -> Registration:
    """Make ``pumpsim://NAME`` reach ``factory``; usable as a context manager.

    Names are 1-64 characters of letters, digits, ``.``, ``_`` and ``-``
    (starting with a letter or digit). A name already registered is refused.
    Installs the URL handler (:func:`install_url_handler`).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LinkNameError(f"bad link name {name!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {factory!r}")
    registration = Registration(name, factory)
    with _lock:
        if name in _registry:
            raise LinkNameError(f"link name {name!r} is already registered")
        _registry[name] = registration
    install_url_handler()
    return registration


def unregister(name: str) -> None:
    """Remove ``name``; ports already open keep their endpoints until closed."""
    with _lock:
        if _registry.pop(name, None) is None:
            raise LinkNameError(f"link name {name!r} is not registered")


def lookup(name: str) -> Registration | None:
    """The registration for ``name``, or None."""
    with _lock:
        return _registry.get(name)


def install_url_handler() -> None:
    """Let ``serial.serial_for_url`` open ``pumpsim://`` (and ``impairedsim://``) URLs;
    idempotent. :func:`register` calls it: a name must be registered before a URL opens."""
    # pyserial imports "<package>.protocol_<scheme>" for each listed package.
    with _lock:
        if _HANDLER_PACKAGE not in serial.protocol_handler_packages:
            serial.protocol_handler_packages.append(_HANDLER_PACKAGE)
