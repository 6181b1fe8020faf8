"""`pump-emulator serve --state`: SIGKILL mid-stream, restart, nothing acknowledged is lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from emulator.cli import build_emulator, build_parser
from emulator.persistence import StateFile, StoredState
from emulator.presets import PRESETS
from protocol.client import PumpClient
from protocol.enums import EventCode, Role
from protocol.errors import ProtocolError
from tests.support import DEMO_KEYS, T0

# Every test here starts `pump-emulator` as a subprocess: make test runs them, make check not.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
KILLS = 12


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    proc = subprocess.Popen(
        [
            str(BIN / "pump-emulator"),
            "serve",
            "--port",
            str(tmp_path / "ttyPUMP0"),
            "--state",
            str(tmp_path / "pump.state"),
            "--clock",
            "manual",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"emulator did not start: {err}")
    return proc, json.loads(line)


def test_sigkill_during_a_stream_of_commands_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(20261120)
    acknowledged: list[int] = []  # alarm volumes the pump confirmed, in order
    next_volume = 1_500_000
    for _ in range(KILLS):
        proc, ready = _start(tmp_path)
        killer = threading.Timer(rng.uniform(0.05, 0.4), os.kill, (proc.pid, signal.SIGKILL))
        killer.start()
        try:
            with PumpClient(
                str(ready["pty"]), key=DEMO_KEYS[Role.CLINICIAN], timeout_s=0.3, retries=0
            ) as client:
                while True:
                    volume = next_volume
                    next_volume += 1000
                    client.set_alarm_volume(volume)
                    acknowledged.append(volume)
        except ProtocolError:
            pass  # the emulator died under us
        finally:
            killer.join()
            proc.wait(timeout=10)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        # After each kill the state loads, and holds the last acknowledged command or the
        # one in flight after it.
        proc, ready = _start(tmp_path)
        try:
            assert ready["resumed"] == [True]
            with PumpClient(str(ready["pty"]), key=DEMO_KEYS[Role.CLINICIAN]) as client:
                current = client.status().alarm_volume_nl
                log = [e.a for e in client.event_log() if e.code is EventCode.ALARM_VOLUME_SET]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=10)
        if acknowledged:
            assert current in (acknowledged[-1], acknowledged[-1] + 1000)
            assert log[: len(acknowledged)] == acknowledged
        next_volume = current + 1000
        if log and len(log) > len(acknowledged):
            acknowledged = log  # the in-flight command had been applied: it counts from now
    assert len(acknowledged) > KILLS  # commands really flowed between the kills


def test_a_corrupt_state_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    state = tmp_path / "pump.state"
    state.write_bytes(b"VPUMPST1 this is not a state file")
    before = state.read_bytes()
    result = subprocess.run(
        [
            str(BIN / "pump-emulator"),
            "serve",
            "--port",
            str(tmp_path / "tty"),
            "--state",
            str(state),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "refusing state file" in result.stderr and "untouched" in result.stderr
    assert state.read_bytes() == before
    assert not (tmp_path / "tty").exists()


def test_a_state_file_from_before_doses_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    state = tmp_path / "pump.state"
    StateFile(state).save(
        StoredState(
            pump_image=PRESETS["default"].build(t=T0).to_bytes(),
            pump_t=T0,
            saved_wall_s=1.0,
            clock_speed=0.0,
        )
    )
    old = bytearray(state.read_bytes())
    old[8:10] = (1).to_bytes(2, "big")  # the format version of the files written before
    state.write_bytes(bytes(old))
    result = subprocess.run(
        [str(BIN / "pump-emulator"), "serve", "--no-pty", "--state", str(state)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert "format version 1, written before prescriptions became doses" in result.stderr
    assert "start a fresh pump" in result.stderr
    assert state.read_bytes() == bytes(old)


def _clock_then_stop(tmp_path: Path, *flags: str) -> tuple[int, float]:
    """Start, read the pump clock, stop; returns the clock and the wall seconds from the read
    to the end of the shutdown (how long the pump could have run on after the read)."""
    proc, ready = _start(tmp_path, *flags)
    try:
        with PumpClient(str(ready["pty"]), key=DEMO_KEYS[Role.CLINICIAN]) as client:
            clock = client.read_clock()
            read_at = time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    return clock, time.monotonic() - read_at


def test_time_off_is_caught_up_unless_paused_while_off(tmp_path: Path) -> None:
    speed = 100_000
    running = ("--clock", "running", "--speed", str(speed))
    frozen = ("--clock", "paused")
    off_s = 1.0
    t1, ran_on_s = _clock_then_stop(tmp_path, *running)
    time.sleep(off_s)
    # Paused while off: the pump resumes where it was saved at shutdown; it may have run
    # on after our read until the shutdown, but the second it was off is not added.
    resumed, _ = _clock_then_stop(tmp_path, *frozen, "--pause-while-off")
    assert t1 <= resumed <= t1 + int(ran_on_s * speed) + 1
    # (That run was paused, so it saved speed 0: nothing to catch up after it either.)
    t2, _ = _clock_then_stop(tmp_path, *running)
    time.sleep(off_s)
    # Caught up: at least the time off, at the speed it ran at.
    caught_up, _ = _clock_then_stop(tmp_path, *frozen)
    assert caught_up >= t2 + int(off_s * speed)


def test_a_resumed_pump_keeps_its_true_catheter(tmp_path: Path) -> None:
    parser = build_parser()
    state = str(tmp_path / "pump.state")
    first = build_emulator(
        parser.parse_args(
            ["serve", "--no-pty", "--state", state, "--clock", "manual", "--catheter-cm", "80"]
        )
    )
    # The implant record says 110 cm; the educator staged an 80 cm catheter.
    assert first.pumps[0].catheter_length_cm == 80
    assert first.state()["fluid_path"]["dead_volume_nl"] == 408_000
    first.close()
    again = build_emulator(parser.parse_args(["serve", "--no-pty", "--state", state]))
    try:
        assert again.resumed == [True]
        assert again.pumps[0].catheter_length_cm == 80
        assert again.state()["fluid_path"]["dead_volume_nl"] == 408_000
        assert again.pumps[0].pump.implant is not None
        assert again.pumps[0].pump.implant.catheter_length_mm == 1_100
    finally:
        again.close()
