"""Issue 13, item 10: every store an outsider can grow is bounded, with a clear message.

Link failures are kept as the last 1000 plus counts; TCP connections are capped and
closed when idle; an accept loop out of descriptors backs off instead of spinning;
``--capture`` refuses an existing file without ``--force`` and stops at a size limit;
YAML aliases and nesting are limited (exit 2); ``decode`` limits its line length.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.capture import (
    MAX_LINE_BYTES,
    CaptureFileError,
    CaptureFormatError,
    CaptureReader,
    CaptureWriter,
    Direction,
)
from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.source import MAX_DEPTH, MAX_VALUES, load_yaml
from emulator.server import FAILURES_LOGGED_IN_FULL, MAX_FAILURES_KEPT, Server
from emulator.transports.base import EVENT_READ, LinkFailure, Watch
from emulator.transports.tcp import TcpTransport
from tests.support import FakeWall

ROOT = Path(__file__).resolve().parents[2]


class Echo:
    def receive(self, data: bytes) -> bytes:
        return data

    def close(self) -> None:
        pass


def test_failures_are_kept_as_the_last_thousand_plus_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server()
    try:
        with caplog.at_level(logging.ERROR):
            for i in range(5 * MAX_FAILURES_KEPT):
                error = OSError(i)
                server._record(LinkFailure(link=f"control#{i}", where="control", error=error))
        # The log thins out too: the first 100 in full, a notice, then every 1000th.
        assert len(caplog.records) == FAILURES_LOGGED_IN_FULL + 1 + 5
        assert len(server.failures) == MAX_FAILURES_KEPT
        assert server.failures[-1].link == f"control#{5 * MAX_FAILURES_KEPT - 1}"
        assert server.failure_counts["control"] == 5 * MAX_FAILURES_KEPT
    finally:
        server._failures.clear()
        server.stop()


def _listener_watch(transport: TcpTransport) -> Watch | None:
    return next((w for w in transport.watches() if w.owner is transport._listener), None)


def _accept(transport: TcpTransport) -> None:
    watch = _listener_watch(transport)
    assert watch is not None
    transport.handle(watch, EVENT_READ)


def test_connections_are_capped_and_closed_when_idle() -> None:
    clock = FakeWall()
    transport = TcpTransport(Echo, max_connections=2, idle_timeout_s=900, clock=clock)
    clients = [socket.create_connection(transport.address, timeout=5) for _ in range(3)]
    try:
        time.sleep(0.1)  # the three connections wait in the backlog
        _accept(transport)
        assert transport.connection_count == 2 and transport.refused_connections == 1
        assert clients[2].recv(1) == b""  # the one over the cap was closed at once
        clock.now += 899
        transport.poll()
        assert transport.connection_count == 2
        clock.now += 1  # 900 s of silence
        transport.poll()
        assert transport.connection_count == 0 and transport.idle_closed == 2
        assert clients[0].recv(1) == b""
    finally:
        for client in clients:
            client.close()
        transport.close()


class _OutOfDescriptors:
    """A listener whose accept fails with EMFILE, as at the descriptor limit."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real
        self.calls = 0

    def fileno(self) -> int:
        return self.real.fileno()

    def accept(self) -> tuple[socket.socket, object]:
        self.calls += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def close(self) -> None:
        self.real.close()


def test_the_accept_loop_backs_off_at_the_descriptor_limit() -> None:
    clock = FakeWall()
    transport = TcpTransport(Echo, clock=clock)
    reports: list[LinkFailure] = []
    transport.bind(reports.append)
    fake = _OutOfDescriptors(transport._listener)
    transport._listener = fake  # type: ignore[assignment]
    try:
        _accept(transport)
        assert fake.calls == 1 and len(reports) == 1
        assert _listener_watch(transport) is None  # not watched: the loop cannot spin on it
        clock.now += 0.06  # past the first pause (50 ms)
        transport.poll()
        _accept(transport)  # watched again; fails again: a pause twice as long
        clock.now += 0.06
        transport.poll()
        assert _listener_watch(transport) is None
        clock.now += 0.06
        transport.poll()
        assert _listener_watch(transport) is not None
    finally:
        transport.close()


def test_capture_refuses_an_existing_file_and_stops_at_its_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cap.jsonl"
    path.write_text("precious\n")
    with pytest.raises(CaptureFileError, match="exists; give --force to overwrite it"):
        CaptureWriter(path, pump_clock=lambda: 0, overwrite=False)
    assert path.read_text() == "precious\n"
    writer = CaptureWriter(path, pump_clock=lambda: 0, overwrite=True, max_bytes=2000)
    for _ in range(100):
        writer.record(Direction.TO_PUMP, "pty", b"\xa5\x5a" * 50)
    writer.close()
    assert path.stat().st_size <= 2000
    assert writer.full and writer.chunks_skipped > 0 and writer.chunks > 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "reached its limit of 2000 bytes" in err[0]
    with CaptureReader(path) as reader:
        assert len(list(reader)) == writer.chunks  # what was written is a valid capture


def test_serve_refuses_to_overwrite_a_capture_without_force(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    path.write_text("precious\n")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "emulator.cli", "serve", "--no-pty"),
            *("--tcp", "127.0.0.1:0", "--capture", str(path)),
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "give --force to overwrite it" in done.stderr
    assert path.read_text() == "precious\n"


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def test_yaml_aliases_and_nesting_are_bounded() -> None:
    assert len(BILLION_LAUGHS) < 700
    started = time.perf_counter()
    with pytest.raises(ScenarioFileError, match=f"larger than {MAX_VALUES} values"):
        load_yaml(BILLION_LAUGHS, "laughs.yaml")
    assert time.perf_counter() - started < 5
    nested = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(ScenarioFileError, match=f"nested more than {MAX_DEPTH} deep"):
        load_yaml(nested, "deep.yaml")
    very = "a: " + "[" * 100_000 + "]" * 100_000  # past PyYAML's own recursion: refused early
    started = time.perf_counter()
    with pytest.raises(ScenarioFileError, match=f"nested more than {MAX_DEPTH} deep"):
        load_yaml(very, "deeper.yaml")
    assert time.perf_counter() - started < 5


def test_a_bad_scenario_file_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    done = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "run", str(path)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "larger than" in done.stderr and "Traceback" not in done.stderr


def test_decode_limits_the_line_length(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    header = {"format": "vpump-capture", "version": 1, "start_wall": 0, "start_pump_s": 0}
    with path.open("w") as f:
        f.write(json.dumps(header) + "\n")
        f.write('{"hex": "' + "ab" * MAX_LINE_BYTES + '"}\n')
    with CaptureReader(path) as reader, pytest.raises(CaptureFormatError, match="longer than"):
        list(reader)
