"""``serve --processes P`` (a fleet from several processes) and ``--first-index`` (one
slice of a fleet): the same serials, keys, ptys and TCP ports as one process would give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import build_parser
from emulator.emulator import derive_keys, fleet_setups
from emulator.errors import EmulatorError
from emulator.presets import PRESETS
from emulator.processes import child_argv, serve_processes, slices
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from tests.emulator.serve_support import serving


def test_slices_are_as_even_as_can_be_and_cover_the_fleet() -> None:
    assert slices(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert slices(4000, 2) == [(0, 2000), (2000, 2000)]
    assert slices(3, 3) == [(0, 1), (1, 1), (2, 1)]
    with pytest.raises(EmulatorError, match="at most one process per pump"):
        slices(2, 3)


def test_a_child_gets_its_slice_and_the_shared_key_dir() -> None:
    argv = ["--count", "10", "--processes=2", "--tcp", "127.0.0.1:5000", "--key-dir", "/x"]
    assert child_argv(argv, first=5, count=5, key_dir=Path("/k")) == [
        "--tcp",
        "127.0.0.1:5000",
        "--count",
        "5",
        "--first-index",
        "5",
        "--key-dir",
        "/k",
    ]


def test_a_slice_numbers_serials_like_the_whole_fleet() -> None:
    whole = fleet_setups(PRESETS["demo"], 6)
    assert fleet_setups(PRESETS["demo"], 2, first=4, fleet=True) == whole[4:]
    # One pump that is part of a fleet keeps the fleet's numbering.
    assert fleet_setups(PRESETS["demo"], 1, first=3, fleet=True) == [whole[3]]


@pytest.mark.parametrize(
    "extra",
    [["--control", "127.0.0.1:0"], ["--state", "/tmp/s"], ["--first-index", "2"]],
)
def test_processes_refuse_what_they_cannot_share(extra: list[str]) -> None:
    args = build_parser("serve").parse_args(["serve", "--count", "4", "--processes", "2", *extra])
    with pytest.raises(EmulatorError):
        serve_processes(args, [])


def test_a_fleet_from_two_processes_over_tcp(tmp_path: Path) -> None:
    with serving(
        "--count",
        "5",
        "--processes",
        "2",
        "--no-pty",
        "--tcp",
        "127.0.0.1:0",
        "--preset",
        "demo",
        "--key-dir",
        str(tmp_path / "keys"),
        stop_timeout_s=30,
    ) as served:
        ready = served.ready
        assert ready["event"] == "ready" and ready["processes"] == 2
        assert len(ready["pids"]) == 2 and len(set(ready["pids"])) == 2
        pumps = ready["pumps"]
        assert [p["index"] for p in pumps] == [0, 1, 2, 3, 4]
        expected = fleet_setups(PRESETS["demo"], 5)
        assert [p["serial"] for p in pumps] == [s.serial for s in expected]
        demo = load_keys(DEMO_KEY_FILE)
        for p in (pumps[0], pumps[4]):  # one pump of each process
            keys = load_keys(tmp_path / "keys" / f"{p['serial']}.key")
            assert keys == derive_keys(demo, p["serial"])
            assert str(p["tcp"]).startswith("socket://127.0.0.1:")
            with PumpClient(str(p["tcp"]), key=keys[Role.CLINICIAN], timeout_s=5.0) as client:
                assert client.device_info().serial == p["serial"]
                assert client.status().reservoir_nl > 0
    assert served.proc.returncode == 0, served.err
    assert served.last_line == {"event": "stopped", "exit_codes": [0, 0]}


def test_a_slice_by_hand_serves_pumps_n_on(tmp_path: Path) -> None:
    with serving(
        "--count",
        "1",
        "--first-index",
        "7",
        "--port",
        str(tmp_path / "ttyPUMP0"),
        "--key-dir",
        str(tmp_path / "keys"),
    ) as served:
        (pump,) = served.ready["pumps"]
        assert pump["index"] == 7
        assert pump["pty"] == str(tmp_path / "ttyPUMP7")
        assert pump["serial"] == fleet_setups(PRESETS["default"], 8)[7].serial
    assert served.proc.returncode == 0


def test_serve_imports_nothing_it_does_not_use() -> None:
    """Start-up: the scenario runner's schema stack, the decoder, the capture writers and
    the control channel are imported by the commands that use them, not by ``serve``; nor
    is construct (the reference codec and the docs' schemas: the fast codec serves every
    frame and message without it, #16); nor importlib.resources with tempfile and zipfile
    (the demo key file is found in the package's directory without them)."""
    code = (
        "import sys; from emulator import cli; cli.build_parser('serve'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jsonschema', 'yaml', 'referencing', 'attr', 'serial', 'construct') or m in "
        "('emulator.scenarios', 'emulator.decode', 'emulator.control', 'emulator.capture', "
        "'emulator.transports.rfc2217', 'emulator.transports.inproc', "
        "'importlib.resources', 'tempfile', 'zipfile')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
