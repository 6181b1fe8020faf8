"""Issue 13, item 7: no lock-order inversion between the pump and its impaired links.

``EmulatedPump.state()`` used to hold the pump's lock and then take the link-fault
locks, while ``ImpairedEndpoint.receive``/``close`` hold the link's lock and then take
the pump's: two threads doing both deadlocked. This stress test does both from several
threads at once (with a tiny switch interval, so the interleavings that deadlocked come
up) and fails if any thread is still stuck after the deadline.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from emulator.emulator import Emulator
from protocol import messages as m
from protocol.frames import encode_frame
from protocol.session import build_frame
from tests.support import T0

ROUNDS = 300
DEADLINE_S = 20.0


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_state_and_impaired_links_never_deadlock(fast_switching: None) -> None:
    request = m.DeviceInfoRequest()
    frame = encode_frame(
        build_frame(response=False, seq=1, op=request.op, payload=m.encode_payload(request))
    )
    errors: list[BaseException] = []
    # Not started (the links are driven from the threads below), and not closed when a
    # thread is stuck: closing would wait on the deadlocked locks too.
    emu = Emulator.single(manual_clock=True, start_pump_s=T0)
    emu.set_link(0, drop=0.1, corrupt=0.1)
    factory = emu.pumps[0].endpoint_factory()

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # reported to the test below
                errors.append(exc)

        return run

    def talk() -> None:
        for _ in range(ROUNDS):
            endpoint = factory()
            endpoint.receive(frame)
            endpoint.close()

    def observe() -> None:
        for _ in range(ROUNDS):
            emu.state(0)

    def change() -> None:
        for i in range(ROUNDS):
            emu.set_link(0, drop=0.1 * (i % 2))

    threads = [
        threading.Thread(target=guarded(body), daemon=True)
        for body in (talk, talk, observe, observe, change)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"deadlocked: {stuck}"
    assert not errors, errors
    assert emu.state(0)["link"]["counters"]["to_pump"]["chunks_sent"] >= 2 * ROUNDS
    emu.check()
    emu.close()
