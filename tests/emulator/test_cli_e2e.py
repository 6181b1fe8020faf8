"""End to end: `pump-emulator serve` and `pumpctl` as real processes over a pty and TCP."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from tests.emulator.serve_support import BIN, serving
from tests.emulator.test_capture import parse_pcapng

# Every test here starts `pump-emulator` as a subprocess: make test runs them, make check not.
pytestmark = pytest.mark.slow


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[dict[str, object]]:
    link = tmp_path / "ttyPUMP0"
    control = tmp_path / "control.sock"
    with serving(
        "--port",
        str(link),
        "--tcp",
        "127.0.0.1:0",
        "--control",
        str(control),
        "--clock",
        "manual",
    ) as served:
        ready = served.ready
        assert ready["event"] == "ready", ready
        ready["proc"] = served.proc
        yield ready
    assert served.proc.returncode == 0, served.err
    assert not link.exists() and not link.is_symlink()
    assert not control.exists()
    assert served.last_line == {"event": "stopped", "link_errors": 0}


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
        ("refill", "--removed", "20", "--added", "18", "--concentration", "500"),
        ("bolus", "therapeutic", "--dose", "20", "--duration", "30"),
        ("--json", "log"),
    ]
    results = [pumpctl(port, *argv) for argv in visit]
    for argv, result in zip(visit, results, strict=True):
        assert result.returncode == 0, (argv, result.stderr)
    assert "120 mcg/day (0.24 mL/day)" in results[1].stdout
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
    result = pumpctl(emulator["tcp"], "program", "simple", "--dose", "5")  # 0.01 mL/day
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


def ctl(emulator: dict[str, object], *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pump-emulator"), "ctl", "--control", str(emulator["control"]), *words],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_control_channel_moves_time_and_injects_faults(emulator: dict[str, object]) -> None:
    start = json.loads(ctl(emulator, "state").stdout)
    assert start["clock"]["mode"] == "manual"
    moved = ctl(emulator, "advance", "90d")
    assert moved.returncode == 0, moved.stderr
    state = json.loads(ctl(emulator, "state").stdout)
    assert state["clock"]["pump_time_s"] == start["clock"]["pump_time_s"] + 90 * 86_400
    assert state["pump"]["reservoir_nl"] == 2_000_000
    assert "LOW_RESERVOIR" in state["pump"]["alarms_active"]
    assert state["fluid_path"]["delivered_to_patient_ug"] == 9000.0
    stall = ctl(emulator, "fault", "motor-stall", "on")
    assert "MOTOR_STALL" in json.loads(stall.stdout)["alarms"]
    status = pumpctl(emulator["pty"], "status")
    assert "NOT DELIVERING" in status.stdout and "motor-stall (critical)" in status.stdout


@pytest.mark.parametrize(
    "words",
    [
        ["speed", "0"],
        ["advance", "90"],
        ["fault", "battery", "150"],
        ["link", "drop=2"],
        ["warp", "9"],
        ["fault", "motor-stall", "maybe"],
    ],
)
def test_bad_controls_are_refused_and_change_nothing(
    emulator: dict[str, object], words: list[str]
) -> None:
    before = json.loads(ctl(emulator, "state").stdout)
    result = ctl(emulator, *words)
    assert result.returncode == 5
    assert result.stderr.startswith("pump-emulator ctl: ")
    after = json.loads(ctl(emulator, "state").stdout)
    assert after["clock"] == before["clock"]
    assert after["link"]["impairment"] == before["link"]["impairment"]
    assert after["pump"]["battery_permille"] == before["pump"]["battery_permille"]


def test_a_fleet_from_one_process(tmp_path: Path) -> None:
    base = tmp_path / "ttyFLEET0"
    with serving(
        "--port", str(base), "--count", "3", "--key-dir", str(tmp_path / "keys")
    ) as served:
        pumps = served.ready["pumps"]
        assert [p["pty"] for p in pumps] == [str(tmp_path / f"ttyFLEET{i}") for i in range(3)]
        serials = [p["serial"] for p in pumps]
        assert len(set(serials)) == 3
        for p in pumps:
            key = tmp_path / "keys" / f"{p['serial']}.key"
            info = pumpctl(p["pty"], "--key", str(key), "--json", "interrogate")
            assert info.returncode == 0, info.stderr
            assert json.loads(info.stdout)["device"]["serial"] == p["serial"]
        # Keys differ per pump: pump 0's key does not open pump 1.
        wrong = pumpctl(
            pumps[1]["pty"], "--key", str(tmp_path / "keys" / f"{serials[0]}.key"), "status"
        )
        assert wrong.returncode == 4
    assert served.proc.returncode == 0
    assert not any(tmp_path.glob("ttyFLEET*"))


def test_capture_then_decode(tmp_path: Path) -> None:
    capture = tmp_path / "session.jsonl"
    with serving(
        "--port",
        str(tmp_path / "tty0"),
        "--capture",
        str(capture),
        "--capture-pcap",
        str(tmp_path / "wire.pcapng"),
    ) as served:
        assert pumpctl(served.ready["pty"], "program", "simple", "--dose", "110").returncode == 0
    decoded = subprocess.run(
        [str(BIN / "pump-emulator"), "decode", str(capture), "--keys", str(DEMO_KEY_FILE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert decoded.returncode == 0, decoded.stderr
    for text in (
        "SESSION_OPEN request",
        "STAGE_PRESCRIPTION request",
        "COMMIT_PRESCRIPTION",
        "MAC ok",
        "session 1 established",
    ):
        assert text in decoded.stdout
    assert "FAILED" not in decoded.stdout.split("summary:")[0]
    assert served.ready["capture_pcap"] == str(tmp_path / "wire.pcapng")
    wire = parse_pcapng((tmp_path / "wire.pcapng").read_bytes())
    assert [name for _, name in wire.interfaces] == ["VP20-000001 pump0/pty#1"]
    # One packet per frame, whatever chunks the pty delivered them in.
    assert wire.packets and all(p.data[:2] == b"\xa5\x5a" and not p.comment for p in wire.packets)
    assert {p.flags for p in wire.packets} == {0b01, 0b10}


def test_an_mri_over_the_control_channel_and_the_wire(emulator: dict[str, object]) -> None:
    """Issue 19's worked case as real processes: `ctl mri 45m --delay 6h` ends and recovers
    on its pump seconds, `pumpctl emergency` sees the stall, the missed volume is exact, and
    an interrogation ends the telemetry-mode trap."""
    start = json.loads(ctl(emulator, "state").stdout)["clock"]["pump_time_s"]
    scan = ctl(emulator, "mri", "45m", "--delay", "6h")
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout)["scheduled_end"]["ends_at_clock_s"] == start + 2_700
    ctl(emulator, "advance", "1h")
    during = pumpctl(emulator["pty"], "emergency")
    assert "NO: the motor is stalled" in during.stdout, during.stdout + during.stderr
    ctl(emulator, "advance", "1d")
    state = json.loads(ctl(emulator, "state").stdout)
    assert state["pump"]["delivering"]
    assert state["pump"]["delivering_since_clock_s"] == start + 2_700 + 6 * 3_600
    # 1 d 1 h of 0.2 mL/day less the 6 h 45 min stalled: 56,250 nL missed, exactly.
    assert state["pump"]["total_delivered_nl"] == 200_000 * (25 * 3_600 - 24_300) // 86_400
    refused = ctl(emulator, "mri", "25h")
    assert refused.returncode == 5 and "1 s to 24 h" in refused.stderr
    trapped = ctl(emulator, "mri", "45m", "--telemetry-trap", "on")
    assert trapped.returncode == 0, trapped.stderr
    ctl(emulator, "advance", "7d")
    state = json.loads(ctl(emulator, "state").stdout)
    assert not state["pump"]["delivering"] and state["pump"]["mri"]["telemetry_mode"]
    summary = pumpctl(emulator["pty"], "emergency")  # the interrogation ends telemetry mode
    assert "delivering now:       YES" in summary.stdout, summary.stdout + summary.stderr
    assert "at this interrogation" in summary.stdout
    state = json.loads(ctl(emulator, "state").stdout)
    assert state["pump"]["delivering"] and state["pump"]["mri"] is None
