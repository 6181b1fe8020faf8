"""Impaired in-process links: a ``pumpsim://NAME`` registration whose links share one
:class:`~emulator.link_faults.LinkFaults`, changeable at run time.

    faults = LinkFaults(LinkImpairment(drop=0.01, corrupt=0.01), seed=1)
    with register("lossy", pump.endpoint, faults) as link:
        with PumpClient(link.url, key=key, timeout_s=0.05, retries=20) as client:
            ...
        faults.update(delay_ms=200)       # affects every link of `faults`, now
        print(faults.counters())

Every port opened on the name gets ``faults.impair(factory())``; the one in-process port
(:mod:`emulator.transports.protocol_pumpsim`) releases delayed and paced bytes when
they are due. For a fixed impairment of one port, the URL's options are enough:
``pumpsim://NAME?drop=0.01&delay_ms=20``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from emulator.link_faults import LinkFaults
from emulator.transports import inproc
from emulator.transports.base import EndpointFactory, LinkFailure

__all__ = ["ImpairedRegistration", "register"]


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
        """The URL to open: ``pumpsim://NAME``."""
        return self._registration.url

    @property
    def faults(self) -> LinkFaults:
        """The impairment of every port opened on this name (change it here at run time)."""
        return self._faults

    @property
    def inproc(self) -> inproc.Registration:
        """The underlying in-process registration."""
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
    """Make ``pumpsim://NAME`` reach ``factory`` through ``faults``; a context manager.

    Each opened port gets ``faults.impair(factory())``. Names follow
    :func:`emulator.transports.inproc.register` (and a taken name is refused).
    """
    if not isinstance(faults, LinkFaults):
        raise TypeError(f"faults must be a LinkFaults, got {faults!r}")
    return ImpairedRegistration(inproc.register(name, faults.wrap(factory)), faults)
