"""Shared test helpers: an in-process virtual pump on a ``pumpsim://`` URL, manual clock."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.presets import PRESETS, PumpSetup
from emulator.transports import inproc
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

T0 = 1_790_000_000
"""A fixed pump start time (2026-09-21 UTC), so tests never read the wall clock."""

DEMO_KEYS = load_keys(DEMO_KEY_FILE)

_names = itertools.count()


class FakeWall:
    """A wall clock the test moves by hand (session timeouts, lockouts)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class InprocPump:
    virtual: VirtualPump
    clock: PumpClock
    wall: FakeWall
    url: str

    def client(
        self, role: Role = Role.CLINICIAN, *, timeout_s: float = 1.0, retries: int = 3
    ) -> PumpClient:
        """A client (not yet connected) in ``role`` with the demo key."""
        return PumpClient(
            self.url,
            key=DEMO_KEYS[role],
            role=role,
            timeout_s=timeout_s,
            retries=retries,
            random_bytes=random.Random(7).randbytes,
        )


@contextmanager
def inproc_pump(setup: PumpSetup | None = None, *, seed: int = 1) -> Iterator[InprocPump]:
    """A virtual pump reachable at ``pumpsim://<unique name>``, clock in manual mode."""
    wall = FakeWall()
    clock = PumpClock(start_pump_s=T0, wall=wall)
    clock.set_manual()
    chosen = setup or PRESETS["default"]
    virtual = VirtualPump(
        pump=chosen.build(t=T0),
        keys=DEMO_KEYS,
        clock=clock,
        wall=wall,
        random_bytes=random.Random(seed).randbytes,
    )
    name = f"test-pump-{next(_names)}"
    with inproc.register(name, virtual.endpoint) as registration:
        yield InprocPump(virtual=virtual, clock=clock, wall=wall, url=f"pumpsim://{name}")
        registration.check()
        virtual.check()
