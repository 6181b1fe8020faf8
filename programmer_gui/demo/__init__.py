"""Demo mode: an in-process virtual pump for the programmer (and the educator's window).

The one place in ``programmer_gui`` (with its submodules) allowed to import the
emulator; the programmer imports it lazily, only when demo mode starts, so the
clinical programmer never depends on the emulator.

The demo pump is the emulator's "demo" preset: a 40 mL pump holding 30 mL of
2000 mcg/mL baclofen, a flex profile of about 400 mcg/day with a night step,
the battery at 70 %. It is served in process at a ``pumpsim://`` URL with the
documented demo key, on a clock running at real time unless told otherwise.
Each demo pump carries the :class:`EmulatorEducatorBackend` of the educator's
window, made before the pump serves so that its capture sees every link.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from emulator.emulator import Emulator
from emulator.presets import PRESETS
from programmer_gui.demo.educator_backend import EmulatorEducatorBackend
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, key_for, load_keys

DEMO_PRESET = "demo"


class DemoPump:
    """A started in-process emulator with one demo pump; close it when done.

    ``speed`` is pump seconds per wall second (1 = real time); ``manual_clock``
    freezes pump time so only :meth:`Emulator.advance` moves it (tests and
    screenshots, for deterministic figures); ``start_pump_s`` sets the pump's
    clock at start (Unix s, default now). :attr:`educator_backend` drives the
    educator's window (demo mode opens it beside the programmer).
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        manual_clock: bool = False,
        start_pump_s: int | None = None,
        wall: Callable[[], float] = time.monotonic,
        name: str | None = None,
    ) -> None:
        self.keys = load_keys(DEMO_KEY_FILE)
        self.key_file = DEMO_KEY_FILE
        self.description = PRESETS[DEMO_PRESET].description
        self.emulator = Emulator.single(
            preset=DEMO_PRESET,
            keys=self.keys,
            manual_clock=manual_clock,
            start_pump_s=start_pump_s,
            wall=wall,
        )
        try:
            # Before the pump serves: the backend's capture records only links opened
            # after it is added, and the inspector must see the programmer's first one.
            self.educator_backend = EmulatorEducatorBackend(self.emulator)
            if not manual_clock and speed != 1.0:
                self.emulator.set_speed(speed)
            self.url = self.emulator.register_inproc(name=name)
            self.emulator.start()
        except BaseException:
            self.emulator.close()
            raise
        self._closed = False

    def key(self, role: Role = Role.CLINICIAN) -> bytes:
        """The demo key of ``role``."""
        return key_for(self.keys, role, source=str(self.key_file))

    def check(self) -> None:
        """Re-raise anything that failed inside the emulator."""
        self.emulator.check()

    def close(self) -> None:
        """Stop the emulator's thread and unregister the URL; idempotent."""
        if not self._closed:
            self._closed = True
            self.emulator.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> DemoPump:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
