"""RFC 2217: pyserial's rfc2217:// client reaches a served pump end to end, the line settings it
negotiates reach the server, pace the answers, and the exposure rule of --tcp holds for it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from emulator import cli
from emulator.emulator import Emulator
from emulator.errors import EmulatorError
from emulator.transports.rfc2217 import LineSettings, Rfc2217Transport
from protocol.client import PumpClient
from protocol.enums import Flags, Op, Role
from protocol.frames import Frame, decode_frame, encode_frame
from protocol.keys import DEMO_KEY_FILE, format_keys, load_keys

KEY = load_keys(DEMO_KEY_FILE)[Role.CLINICIAN]

# pyserial 3.5's RFC 2217 client names its reader thread with the deprecated setters.
pytestmark = pytest.mark.filterwarnings(
    "ignore:setDaemon:DeprecationWarning", "ignore:setName:DeprecationWarning"
)


@pytest.fixture
def served() -> Iterator[tuple[Emulator, Rfc2217Transport]]:
    with Emulator.single(manual_clock=True, start_pump_s=1_790_000_000) as emu:
        transport = emu.serve_rfc2217(0, "127.0.0.1", 0)
        yield emu, transport


def _timed_status(url: str, baud: int) -> float:
    with PumpClient(url, key=KEY, baudrate=baud, timeout_s=5.0) as pump:
        pump.status()  # warm: the session is open
        start = time.monotonic()
        status = pump.status()
        elapsed = time.monotonic() - start
        assert status.reservoir_nl > 0
    return elapsed


def test_a_pumpctl_style_session_over_rfc2217(served: tuple[Emulator, Rfc2217Transport]) -> None:
    emu, transport = served
    assert transport.url.startswith("rfc2217://127.0.0.1:")
    assert emu.addresses()[0]["rfc2217"] == transport.url
    with PumpClient(transport.url, key=KEY, timeout_s=5.0) as pump:
        info = pump.device_info()
        assert info.serial == emu.pumps[0].setup.serial
        assert pump.status().mode is not None
        (line,) = transport.line_settings()
        assert line.baudrate == 115200  # what PumpClient opened the port with
    # The connection is gone with the client.
    deadline = time.monotonic() + 5
    while transport.connection_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert transport.connection_count == 0


def test_negotiated_line_settings_reach_the_server(
    served: tuple[Emulator, Rfc2217Transport],
) -> None:
    _, transport = served
    port = serial.serial_for_url(
        transport.url, baudrate=4800, bytesize=7, parity="E", stopbits=2, timeout=5
    )
    try:
        (line,) = transport.line_settings()
        assert (line.baudrate, line.bytesize, line.parity, line.stopbits) == (4800, 7, "E", 2)
        assert line.bits_per_char == 11
        port.baudrate = 19200  # changed while open: negotiated again
        deadline = time.monotonic() + 5
        while line.baudrate != 19200 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert line.baudrate == 19200
        # Data crosses both ways, Telnet-escaped (0xFF bytes included in SEQ 0xFFFF).
        port.write(encode_frame(Frame(flags=Flags.NONE, seq=0xFFFF, op=Op.DEVICE_INFO)))
        header = port.read(9)
        length = int.from_bytes(header[7:9], "big")
        answer = decode_frame(header + port.read(length + 2))
        assert (answer.seq, answer.op, answer.flags) == (0xFFFF, Op.DEVICE_INFO, Flags.RESPONSE)
    finally:
        port.close()


def test_the_negotiated_baud_rate_paces_the_answers(
    served: tuple[Emulator, Rfc2217Transport],
) -> None:
    _, transport = served
    slow = _timed_status(transport.url, 4800)
    fast = _timed_status(transport.url, 115200)
    # STATUS: a 27-byte request and a 108-byte MAC'd answer, 10 bits a byte at 4800 baud.
    assert slow >= 135 * 10 / 4800 * 0.9
    assert fast < slow / 2


def test_line_settings_refuse_what_a_line_cannot_take() -> None:
    changes: list[int] = []
    line = LineSettings(on_change=lambda settings: changes.append(settings.baudrate))
    for attribute, value in (("baudrate", 10), ("bytesize", 9), ("parity", "X"), ("stopbits", 3)):
        with pytest.raises(ValueError):
            setattr(line, attribute, value)
    line.baudrate = 9600
    assert changes == [9600]


def test_exposure_is_loopback_unless_allowed_with_a_key_of_ones_own(tmp_path: Path) -> None:
    own = tmp_path / "own.key"
    own.write_text(
        format_keys({Role.CLINICIAN: bytes(range(32, 64)), Role.PATIENT: bytes(range(32))})
    )
    for host in ("127.0.0.1", "127.9.9.9", "localhost", "::1"):
        cli.check_exposure("--rfc2217", host, allow_remote=False, key=DEMO_KEY_FILE)
    with pytest.raises(EmulatorError, match="needs --allow-remote"):
        cli.check_exposure("--rfc2217", "0.0.0.0", allow_remote=False, key=own)
    with pytest.raises(EmulatorError, match="demo key never leaves loopback"):
        cli.check_exposure("--tcp", "0.0.0.0", allow_remote=True, key=DEMO_KEY_FILE)
    cli.check_exposure("--rfc2217", "0.0.0.0", allow_remote=True, key=own)


def test_serve_refuses_a_public_rfc2217_port_with_the_demo_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["serve", "--no-pty", "--rfc2217", "0.0.0.0:0", "--allow-remote", "--clock", "manual"]
    assert cli.main(argv) == cli.EXIT_START
    assert "demo key never leaves loopback" in capsys.readouterr().err
