"""Issue 13, item 12: exposure and key hygiene.

``--tcp`` (and every listening transport) binds a non-loopback address only with
``--allow-remote`` and a key of one's own, never the public demo key; an all-zero key and
one key for two roles are refused wherever keys are loaded or given to a pump.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.emulator import ControlError, Emulator, check_exposure, is_loopback
from protocol.enums import Role
from protocol.errors import InvalidMessage
from protocol.keys import KeyFileError, parse_keys
from protocol.session import DeviceSecurity
from tests.support import DEMO_KEYS, T0

ROOT = Path(__file__).resolve().parents[2]
OWN_KEYS = {Role.CLINICIAN: bytes(range(1, 33)), Role.PATIENT: bytes(range(101, 133))}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("pump-host.example", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_loopback_address_needs_the_flag_and_a_key_of_ones_own() -> None:
    check_exposure("127.0.0.1", allow_remote=False, keys=DEMO_KEYS)
    with pytest.raises(ControlError, match="--allow-remote"):
        check_exposure("0.0.0.0", allow_remote=False, keys=OWN_KEYS)
    with pytest.raises(ControlError, match="public demo key"):
        check_exposure("0.0.0.0", allow_remote=True, keys=DEMO_KEYS)
    check_exposure("0.0.0.0", allow_remote=True, keys=OWN_KEYS)


def test_the_python_api_applies_the_same_rule() -> None:
    with Emulator.single(manual_clock=True, start_pump_s=T0) as emu:
        with pytest.raises(ControlError, match="--allow-remote"):
            emu.serve_tcp(0, "0.0.0.0", 0)
        with pytest.raises(ControlError, match="public demo key"):
            emu.serve_tcp(0, "0.0.0.0", 0, allow_remote=True)
        assert emu.server.transports == ()
    with Emulator.single(manual_clock=True, start_pump_s=T0, keys=OWN_KEYS) as emu:
        transport = emu.serve_tcp(0, "0.0.0.0", 0, allow_remote=True)
        assert transport.address[0] == "0.0.0.0"


def test_serve_refuses_a_public_address_with_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "serve", "--no-pty", "--tcp", "0.0.0.0:0"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3  # not started (EXIT_START), as every refusal to serve
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "listening beyond loopback needs --allow-remote" in lines[0]


def test_an_all_zero_key_or_one_key_for_two_roles_is_refused() -> None:
    zero = "clinician = " + "00" * 32 + "\npatient = " + "11" * 32 + "\n"
    with pytest.raises(KeyFileError, match="clinician key is all zeros"):
        parse_keys(zero, source="zero.key")
    same = "clinician = " + "ab" * 32 + "\npatient = " + "ab" * 32 + "\n"
    with pytest.raises(KeyFileError, match="two roles have the same key"):
        parse_keys(same, source="same.key")
    for keys in (
        {Role.CLINICIAN: bytes(32)},
        {Role.CLINICIAN: OWN_KEYS[Role.CLINICIAN], Role.PATIENT: OWN_KEYS[Role.CLINICIAN]},
    ):
        with pytest.raises(InvalidMessage, match="refused keys"):
            DeviceSecurity(keys=keys, random_bytes=bytes)
