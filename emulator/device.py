"""A virtual pump as the transports see it: the pump model, its telemetry head,
its clock, and one lock around them.

:class:`VirtualPump` turns the pure model (which takes time as an argument)
into something a transport can serve: every link gets an :class:`Endpoint`
whose ``receive`` reads the pump clock, advances the model and answers, all
under the pump's lock, so a pty, TCP clients and in-process ports may talk to
one pump from different threads.

Lock order: the locks of the wrappers around an endpoint (link faults, captures)
come first, the pump's lock last. An impaired link holds its own lock while it
hands bytes to the pump, so code holding the pump's lock must never take a
link's lock (``EmulatedPump.state`` reads the link figures before it takes
the pump's lock).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

from emulator.clock import PumpClock
from emulator.lazylog import logger
from emulator.transports.base import Endpoint
from firmware_model.pump import Pump
from firmware_model.telemetry import PumpTelemetry, TelemetryLink
from protocol.enums import Role
from protocol.session import DeviceSecurity

_log = logger(__name__)

TICK_INTERVAL_S = 1.0
"""How often (wall seconds) the server advances an idle pump, so alarms are raised and
the state stays current between requests. Exactness does not depend on it: the model
integrates event to event whenever it is advanced."""


class VirtualPump:
    """One simulated pump ready to be served."""

    def __init__(
        self,
        *,
        pump: Pump,
        keys: Mapping[Role, bytes],
        clock: PumpClock,
        wall: Callable[[], float] = time.monotonic,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        """``clock`` gives the pump time; ``wall`` the link time for session timeouts (it
        should be the clock's own wall source)."""
        self.lock = threading.RLock()
        self.clock = clock
        self.wall = wall
        self.on_advance: Callable[[Pump, int], None] | None = None
        """Replaces the plain ``pump.advance_to(t)`` (under the lock) so the world beyond the
        pump (catheter, patient) can follow the pump step by step."""
        self._defects: list[Exception] = []
        self.telemetry = PumpTelemetry(
            pump,
            DeviceSecurity(keys=dict(keys), random_bytes=random_bytes),
            on_defect=self._record_defect,
        )

    def _record_defect(self, defect: Exception) -> None:
        _log.error("defect in the pump model", exc_info=defect)
        self._defects.append(defect)

    def check(self) -> None:
        """Re-raise any defect the pump hit while executing commands (for tests), then forget."""
        with self.lock:
            defects, self._defects = self._defects, []
        if len(defects) == 1:
            raise defects[0]
        if defects:
            raise ExceptionGroup(f"{len(defects)} defects in the virtual pump", defects)

    @property
    def pump(self) -> Pump:
        return self.telemetry.pump

    def endpoint(self) -> Endpoint:
        """A new link to this pump (an :data:`~emulator.transports.base.EndpointFactory`)."""
        return _PumpEndpoint(self, self.telemetry.open_link())

    def advance(self) -> int:
        """Bring the model up to the clock; returns the pump time reached."""
        with self.lock:
            return self._advance_locked()

    def _advance_locked(self) -> int:
        # A clock set ahead by SET_CLOCK reaches the RTC ceiling before the emulator does.
        pump = self.telemetry.pump  # read once, not through the property each time
        t = min(self.clock.now(), pump.max_t)
        on_advance = self.on_advance
        if on_advance is None:
            pump.advance_to(t)
        else:
            on_advance(pump, t)
        return t

    def tick(self) -> float | None:
        """The server's tick hook: advance, and ask to be woken again shortly."""
        self.advance()
        return self.wall() + TICK_INTERVAL_S


class _PumpEndpoint:
    def __init__(self, owner: VirtualPump, link: TelemetryLink) -> None:
        self._owner = owner
        self._link = link

    def receive(self, data: bytes) -> bytes:
        owner = self._owner
        with owner.lock:
            # VirtualPump._advance_locked, written out (read before every request's answer).
            pump = owner.telemetry.pump
            t = owner.clock.now()
            if t > pump.max_t:  # noqa: PLR1730 - no min() call on every request
                t = pump.max_t  # a clock set ahead by SET_CLOCK reaches the RTC ceiling first
            on_advance = owner.on_advance
            if on_advance is None:
                pump.advance_to(t)
            else:
                on_advance(pump, t)
            # A command that changed the pump was saved before its answer was built
            # (PumpTelemetry.make_durable), or undone and refused with STORAGE_FAILED.
            return self._link.receive(data, t=t, now_s=owner.wall())

    def close(self) -> None:
        owner = self._owner
        with owner.lock:
            self._link.close(t=owner.advance())
