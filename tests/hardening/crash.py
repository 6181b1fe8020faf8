"""Crash safety at scale: SIGKILL ``pump-emulator serve --state`` during writes, again and again.

Each cycle starts the emulator on a pty with a state file (manual clock), opens
a clinician session and streams commands that each change the state file:
new prescriptions, refills and alarm volumes, every one with a value unique in
its cycle. A timer SIGKILLs the process at a random moment, so kills land
during the atomic saves the emulator makes before each acknowledgement. Then:

* the state file left behind loads (magic, CRCs, SHA-256, a pump image that
  decodes), and the pump in it conserves volume exactly;
* the next start resumes it (``"resumed": [true]`` on the ready line);
* no acknowledged data is lost: the event log of the resumed pump holds, in
  order, every command acknowledged in the cycle (PROGRAMMED, REFILLED,
  ALARM_VOLUME_SET with their values), followed by at most the one command in
  flight when the kill came; its prescription, alarm volume and last refill are
  those of the last command it holds.

The child's output is read unbuffered (``bufsize=0``): a buffered ``readline`` may
read ahead past the ready line, and the bytes read ahead are lost to
``communicate()`` (the lesson of ``tests/emulator/test_state_e2e.py``).

Run::

    python -m tests.hardening.crash                 # 300 kills
    python -m tests.hardening.crash --kills 1000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.persistence import StateFile
from firmware_model.pump import Pump
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import EventCode, Mode, Role
from protocol.errors import LinkClosed, LinkTimeout
from tests.support import DEMO_KEYS

BIN = Path(sys.executable).parent
CAPACITY_NL = 20_000_000

Change = tuple[EventCode, int, int]
"""An event-log entry a command writes: (code, a, b)."""


class CrashSafetyError(AssertionError):
    """A restart after a kill lost acknowledged data or found an inconsistent state."""


@dataclass
class Figures:
    kills: int = 0
    acknowledged: int = 0
    in_flight_applied: int = 0
    """Kills after which the command in flight had been saved (and counts as done)."""
    killed_mid_save: int = 0
    """Kills that left a temporary file behind: the save in progress was cut off."""
    seconds: float = 0.0
    per_cycle: list[int] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"crash kills={self.kills} acknowledged_commands={self.acknowledged:,} "
            f"in_flight_applied={self.in_flight_applied} killed_mid_save={self.killed_mid_save} "
            f"lost=0 seconds={self.seconds:.1f}"
        )


def _start(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    proc = subprocess.Popen(
        [
            str(BIN / "pump-emulator"),
            "serve",
            "--port",
            str(workdir / "ttyPUMP0"),
            "--state",
            str(workdir / "pump.state"),
            "--clock",
            "manual",
        ],
        bufsize=0,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=10)
        raise CrashSafetyError(f"the emulator did not start: {err.decode(errors='replace')}")
    return proc, json.loads(line)


CONCENTRATION = 500
"""The default preset's drug, mcg/mL."""


def _dose(dose_ng_per_day: int) -> m.PrescriptionSpec:
    return m.PrescriptionSpec.simple(dose_ng_per_day, concentration_ug_per_ml=CONCENTRATION)


class _Commands:
    """Commands with values unique in a cycle, and the log entry each one writes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def next(self) -> tuple[str, int]:
        self.n += 1
        return self.rng.choice(("program", "refill", "alarm")), self.n

    @staticmethod
    def run(client: PumpClient, kind: str, n: int) -> None:
        if kind == "program":
            client.program(_dose(100_000 + n * 1000))
        elif kind == "refill":
            # The same drug: the refill transaction carries the prescription running now.
            client.refill(
                removed_nl=CAPACITY_NL,
                added_nl=10_000_000 + n,
                concentration_ug_per_ml=CONCENTRATION,
                prescription=client.read_prescription().prescription,
                bridge=False,
            )
        else:
            client.set_alarm_volume(1_500_000 + n % 10_000 * 100)

    @staticmethod
    def change(kind: str, n: int) -> Change:
        if kind == "program":
            return EventCode.PROGRAMMED, int(Mode.SIMPLE), 100_000 + n * 1000
        if kind == "refill":
            return EventCode.REFILLED, 10_000_000 + n, CONCENTRATION
        return EventCode.ALARM_VOLUME_SET, 1_500_000 + n % 10_000 * 100, 0


_CODES = {EventCode.PROGRAMMED, EventCode.REFILLED, EventCode.ALARM_VOLUME_SET}


def _check_state_file(path: Path) -> bool:
    """The file a kill left loads and holds a consistent pump; True if a save was cut off."""
    state = StateFile(path)
    cut_off = bool(state.temp_files())
    stored = state.load()
    pump = Pump.from_bytes(stored.pump_image)
    if pump.total_filled_nl != (
        pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    ):
        raise CrashSafetyError(f"{path}: the saved pump does not conserve volume")
    return cut_off


def _verify(
    client: PumpClient, first_index: int, acknowledged: list[Change], in_flight: Change | None
) -> bool:
    """The resumed pump holds every acknowledged change; True if the one in flight is there."""
    held = [
        (e.code, e.a, e.b)
        for e in client.event_log(first_index)
        if e.index >= first_index and e.code in _CODES
    ]
    if held[: len(acknowledged)] != acknowledged:
        raise CrashSafetyError(f"acknowledged {acknowledged[-3:]}, the pump holds {held[-3:]}")
    extra = held[len(acknowledged) :]
    if extra and (in_flight is None or extra != [in_flight]):
        raise CrashSafetyError(f"the pump holds changes nobody sent: {extra}")
    status = client.status()
    last: dict[EventCode, Change] = {c[0]: c for c in held}
    if EventCode.ALARM_VOLUME_SET in last and (
        status.alarm_volume_nl != last[EventCode.ALARM_VOLUME_SET][1]
    ):
        raise CrashSafetyError("the alarm volume is not the last one set")
    if EventCode.PROGRAMMED in last:
        rate = last[EventCode.PROGRAMMED][2]
        if client.read_prescription().prescription != _dose(rate):
            raise CrashSafetyError("the prescription is not the last one committed")
    return bool(extra)


def run_crash(*, kills: int, seed: int, workdir: Path) -> Figures:
    """Kill the emulator ``kills`` times during writes; raises CrashSafetyError on a loss."""
    figures = Figures()
    rng = random.Random(seed)
    started = time.perf_counter()
    acknowledged: list[Change] = []
    in_flight: Change | None = None
    first_index = 0
    for cycle in range(kills + 1):
        proc, ready = _start(workdir)
        killer = threading.Timer(rng.uniform(0.05, 0.4), os.kill, (proc.pid, signal.SIGKILL))
        streaming = False
        try:
            if cycle and ready["resumed"] != [True]:
                raise CrashSafetyError(f"cycle {cycle}: the state file was not resumed")
            commands = _Commands(random.Random(rng.random()))
            with PumpClient(
                str(ready["pty"]), key=DEMO_KEYS[Role.CLINICIAN], timeout_s=2.0, retries=0
            ) as client:
                if cycle and _verify(client, first_index, acknowledged, in_flight):
                    figures.in_flight_applied += 1
                first_index = client.event_log_page(0, 1).total_written
                acknowledged, in_flight = [], None
                if cycle == kills:
                    break
                killer.start()
                streaming = True
                while True:
                    kind, n = commands.next()
                    in_flight = commands.change(kind, n)
                    commands.run(client, kind, n)
                    acknowledged.append(in_flight)
                    in_flight = None
                    figures.acknowledged += 1
        except (LinkClosed, LinkTimeout):
            if not streaming:
                raise  # before the kill could come: a real failure
        finally:
            if streaming:
                killer.join()
            else:
                killer.cancel()
                proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        if cycle < kills:
            if proc.returncode != -signal.SIGKILL:
                raise CrashSafetyError(f"cycle {cycle}: exit {proc.returncode}, not a SIGKILL")
            figures.kills += 1
            figures.per_cycle.append(len(acknowledged))
            if _check_state_file(workdir / "pump.state"):
                figures.killed_mid_save += 1
    figures.seconds = time.perf_counter() - started
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.crash", description=__doc__)
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vpump-crash-") as workdir:
        figures = run_crash(kills=args.kills, seed=args.seed, workdir=Path(workdir))
    print(figures.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
