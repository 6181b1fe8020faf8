"""Issue 13, item 9: no control command can kill the control channel or silence the pump.

Every value is range-checked with a typed refusal (``ok: false`` and a clear error),
nothing is changed by a refused command, and the channel answers the next command.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.control import MAX_PENDING_ANSWER_BYTES, ControlTransport, _Conn, answer
from emulator.emulator import Emulator
from emulator.link_faults import LinkImpairment
from emulator.transports.base import EVENT_READ
from tests.support import T0

FULL_WIDTH_ONE = "\uff11"  # int() and float() read it as 1
FULL_WIDTH_FIVE = "\uff15"

BAD_COMMANDS = [
    ["link", "baud=nan"],
    ["link", "baud=inf"],
    ["link", "baud=1e308"],
    ["link", "baud=9600.5"],
    ["link", "delay=1e308"],
    ["link", "delay=nan"],
    ["link", "delay=-1"],
    ["link", "delay=600000"],
    ["link", "drop=nan"],
    ["link", "drop=" + FULL_WIDTH_ONE],
    ["advance", "9" * 5000 + "s"],
    ["advance", FULL_WIDTH_ONE + "d"],
    ["advance", "99999999999999d"],
    ["speed", "nan"],
    ["speed", "1e308"],
    ["speed", FULL_WIDTH_FIVE],
    ["fault", "battery", "nan"],
    ["fault", "battery", "1e999"],
    ["--pump", "-1", "state"],
    ["--pump", "1", "state"],
    ["--pump", FULL_WIDTH_ONE, "state"],
    ["--pump", "9" * 5000, "state"],
]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator.single(manual_clock=True, start_pump_s=T0) as emulator:
        yield emulator


def _ask(emu: Emulator, line: bytes) -> dict[str, object]:
    reply = answer(emu, line)
    assert reply.endswith(b"\n") and reply.count(b"\n") == 1
    decoded: dict[str, object] = json.loads(reply)
    return decoded


@pytest.mark.parametrize("words", BAD_COMMANDS, ids=lambda w: " ".join(w)[:30])
def test_a_bad_value_is_refused_and_changes_nothing(emu: Emulator, words: list[str]) -> None:
    def clock() -> tuple[object, ...]:
        snap = emu.clock.snapshot()
        return (snap.mode, snap.speed, snap.pump_time_s)

    before = (emu.state(0)["link"], clock())
    reply = _ask(emu, json.dumps({"id": 7, "command": words}).encode())
    assert reply["ok"] is False and reply["id"] == 7
    assert isinstance(reply["error"], str) and len(reply["error"]) < 300
    assert (emu.state(0)["link"], clock()) == before
    assert _ask(emu, b'{"id": 8, "command": ["pumps"]}')["ok"] is True  # still answering


def test_a_huge_delay_cannot_silence_the_pump(emu: Emulator) -> None:
    assert _ask(emu, b'{"command": ["link", "delay=60000"]}')["ok"] is True
    assert emu.pumps[0].faults.settings == LinkImpairment(delay_ms=60_000)
    assert _ask(emu, b'{"command": ["link", "delay=0"]}')["ok"] is True


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": 1e999, "command": ["pumps"]}',
        b'{"id": NaN, "command": ["pumps"]}',
        b'{"id": Infinity, "command": ["pumps"]}',
        b'{"id": [1, 2], "command": ["pumps"]}',
        b'{"id": 1.5, "command": ["pumps"]}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe",
        b'{"command": "pumps"}',
    ],
    ids=lambda b: repr(b[:20]),
)
def test_bad_json_is_refused_without_infinity_or_a_crash(emu: Emulator, line: bytes) -> None:
    reply = answer(emu, line)
    decoded = json.loads(reply, parse_constant=lambda name: pytest.fail(f"{name} in {reply!r}"))
    assert decoded["ok"] is False and decoded["id"] is None


def test_the_channel_survives_over_a_real_socket_and_is_private(
    emu: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "ctl.sock"
    old = os.umask(0)
    try:
        transport = ControlTransport(emu, path)
    finally:
        os.umask(old)
    emu.add_transport(transport)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        lines = [json.dumps({"id": i, "command": w}) for i, w in enumerate(BAD_COMMANDS)]
        lines.append(json.dumps({"id": "last", "command": ["pumps"]}))
        sock.sendall(("\n".join(lines) + "\n").encode())
        data = b""
        while data.count(b"\n") < len(lines):
            chunk = sock.recv(65536)
            assert chunk, "the channel closed"
            data += chunk
    replies = [json.loads(x) for x in data.splitlines()]
    assert [r["ok"] for r in replies] == [False] * len(BAD_COMMANDS) + [True]
    emu.check()


def test_a_client_that_never_reads_meets_back_pressure(emu: Emulator, tmp_path: Path) -> None:
    transport = ControlTransport(emu, tmp_path / "ctl.sock")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(tmp_path / "ctl.sock"))
            transport.handle(transport.watches()[0], EVENT_READ)  # accept
            sock.sendall(b'{"command": ["state"]}\n' * 1000)  # and never read an answer
            for _ in range(5000):
                (conn_watch,) = transport.watches()[1:]
                if not conn_watch.events & EVENT_READ:
                    break  # back-pressure: the client is no longer read
                transport.handle(conn_watch, EVENT_READ)
            assert not conn_watch.events & EVENT_READ
            owner = conn_watch.owner
            assert isinstance(owner, _Conn)
            pending = len(owner.outbuf)
            assert MAX_PENDING_ANSWER_BYTES <= pending < MAX_PENDING_ANSWER_BYTES + 200 * 20_000
    finally:
        transport.close()
