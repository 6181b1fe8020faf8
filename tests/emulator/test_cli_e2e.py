"""End to end: `pump-emulator serve` and `pumpctl` as real processes over a pty and TCP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

BIN = Path(sys.executable).parent


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[dict[str, object]]:
    link = tmp_path / "ttyPUMP0"
    proc = subprocess.Popen(
        [str(BIN / "pump-emulator"), "serve", "--port", str(link), "--tcp", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready", ready
        ready["proc"] = proc
        yield ready
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert not link.exists() and not link.is_symlink()
        assert json.loads(out.strip().splitlines()[-1]) == {"event": "stopped"}


def pumpctl(port: object, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pumpctl"), "--port", str(port), *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_a_clinic_visit_over_a_real_port(emulator: dict[str, object], transport: str) -> None:
    port = emulator[transport]
    info = pumpctl(port, "info")
    assert info.returncode == 0, info.stderr
    assert "VP20-000001" in info.stdout
    visit = [
        ("interrogate",),
        ("program", "simple", "--dose", "120"),
        ("refill", "--removed", "0", "--added", "0", "--concentration", "500"),
        ("bolus", "therapeutic", "--dose", "20", "--duration", "30"),
        ("--json", "log"),
    ]
    results = [pumpctl(port, *argv) for argv in visit]
    for argv, result in zip(visit, results, strict=True):
        assert result.returncode == 0, (argv, result.stderr)
    assert "120 mcg/day (0.240 mL/day)" in results[1].stdout
    codes = [e["code"] for e in json.loads(results[-1].stdout)["entries"]]
    for code in ("PROGRAMMED", "REFILLED", "BOLUS_STARTED", "SESSION_OPENED", "SESSION_CLOSED"):
        assert code in codes


def test_garbage_and_a_vanished_programmer_do_not_stop_it(emulator: dict[str, object]) -> None:
    fd = os.open(str(emulator["pty"]), os.O_RDWR | os.O_NOCTTY)
    os.write(fd, bytes(range(256)) * 8 + b"\xa5\x5a\x01\x00\x00")  # ends mid-frame
    os.close(fd)
    result = pumpctl(emulator["pty"], "status")
    assert result.returncode == 0, result.stderr
    proc = emulator["proc"]
    assert isinstance(proc, subprocess.Popen) and proc.poll() is None


def test_refusal_exit_codes(emulator: dict[str, object]) -> None:
    result = pumpctl(emulator["tcp"], "program", "simple", "--rate", "50")
    assert result.returncode == 5
    assert result.stderr.startswith("pumpctl: refused by the pump: OUT_OF_RANGE")


def test_a_regular_file_at_the_port_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not-a-link"
    path.write_text("precious")
    result = subprocess.run(
        [str(BIN / "pump-emulator"), "serve", "--port", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "cannot start" in result.stderr
    assert path.read_text() == "precious"


def test_two_programmers_at_once(emulator: dict[str, object]) -> None:
    keys = load_keys(DEMO_KEY_FILE)
    url = str(emulator["tcp"])
    with (
        PumpClient(url, key=keys[Role.CLINICIAN]) as clinician,
        PumpClient(url, key=keys[Role.PATIENT], role=Role.PATIENT) as patient,
    ):
        for _ in range(5):
            assert clinician.status().clock_s > 0
            assert patient.status().reservoir_nl == clinician.status().reservoir_nl
        assert clinician.in_session and patient.in_session
