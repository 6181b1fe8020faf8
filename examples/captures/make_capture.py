"""Make ``demo-session.jsonl`` and ``demo-session.pcap``: a real capture of a short session.

An in-process virtual pump (the "default" preset, demo keys) is served on a
``pumpsim://`` link whose endpoint is wrapped in a
:class:`~emulator.capture.CapturingEndpoint`, and a :class:`PumpClient`
clinician session runs against it: device info, the handshake, status, a new
prescription (stage, commit, read back), a bolus, a refused command (an alarm
volume over the model's limit) and the close.

Everything is deterministic: the pump and the programmer draw their nonces
from seeded generators, the pump clock is manual and the capture's wall clock
steps by 2 ms per chunk, so running it again gives the same bytes (a test
checks that the committed files are what this script makes).

Run from the repository root::

    .venv/bin/python examples/captures/make_capture.py [OUT_DIR]

and decode the result with the demo key::

    .venv/bin/python -c "import sys; from emulator.decode import decode_file; \\
        from protocol.keys import DEMO_KEY_FILE, load_keys; \\
        decode_file('examples/captures/demo-session.jsonl', \\
                    keys=load_keys(DEMO_KEY_FILE), out=sys.stdout)"
"""

from __future__ import annotations

import contextlib
import random
import sys
from pathlib import Path

from emulator.capture import CaptureWriter, capturing_factory
from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.presets import PRESETS
from emulator.transports import inproc
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.errors import NakError
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.messages import PrescriptionSpec

HERE = Path(__file__).resolve().parent
NAME = "demo-session"
START_S = 1_790_000_000
"""Pump clock and capture wall clock at the start (2026-09-21 UTC)."""
WALL_STEP_S = 0.002
"""How far the capture's wall clock moves per reading."""


class SteppingClock:
    """A wall clock that moves a fixed step each time it is read."""

    def __init__(self, start_s: float, step_s: float) -> None:
        self._start_s = start_s
        self._step_s = step_s
        self._reads = 0

    def __call__(self) -> float:
        # Multiply rather than accumulate, so the values do not drift with float error.
        value = self._start_s + self._reads * self._step_s
        self._reads += 1
        return round(value, 6)


def make_capture(out_dir: Path, *, link_name: str = "demo-capture") -> tuple[Path, Path]:
    """Write ``demo-session.jsonl`` and ``demo-session.pcap`` into ``out_dir``; return both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, pcap = out_dir / f"{NAME}.jsonl", out_dir / f"{NAME}.pcap"
    keys = load_keys(DEMO_KEY_FILE)
    link_wall = SteppingClock(1000.0, 0.0)  # the pump's link time: fixed, no session expires
    clock = PumpClock(start_pump_s=START_S, wall=link_wall)
    clock.set_manual()
    setup = PRESETS["default"]
    virtual = VirtualPump(
        pump=setup.build(t=START_S),
        keys=keys,
        clock=clock,
        wall=link_wall,
        random_bytes=random.Random(1).randbytes,
    )
    with CaptureWriter(
        jsonl,
        pump_clock=clock.now,
        wall_clock=SteppingClock(float(START_S), WALL_STEP_S),
        pump_serial=setup.serial,
        pcap=pcap,
    ) as writer:
        factory = capturing_factory(virtual.endpoint, writer, "pumpsim")
        with (
            inproc.register(link_name, factory) as registration,
            PumpClient(
                registration.url,
                role=Role.CLINICIAN,
                timeout_s=2.0,
                random_bytes=random.Random(7).randbytes,
            ) as client,
        ):
            client.device_info()
            client.open_session(keys[Role.CLINICIAN])
            client.status()
            clock.advance(60)
            # 120 mcg/day of the 500 mcg/mL drug in the pump (0.24 mL/day).
            client.program(PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500))
            clock.advance(30)
            client.start_bolus(dose_ng=25_000, duration_s=3600)  # 25 mcg over an hour
            clock.advance(30)
            # 10 mL is over the 20 mL model's limit: the refusal is what the capture shows.
            with contextlib.suppress(NakError):
                client.set_alarm_volume(10_000_000)
            client.status()
        registration.check()
    virtual.check()
    return jsonl, pcap


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else HERE
    for path in make_capture(out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
