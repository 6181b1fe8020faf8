"""The Wireshark dissector: generated from the schemas, never stale, and run by tshark on the
example capture (the decoded STATUS fields, request/response pairing, a corrupted CRC flagged).

tshark is installed by ``scripts/system-deps.sh`` (``make install``); without it these tests
fail rather than skip, so a machine that lost it cannot pass ``make test`` silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.capture import Chunk, Direction, PcapngSink, PcapngWriter, read_capture
from emulator.emulator import Emulator
from protocol import dissector, wiremodel
from protocol.client import PumpClient
from protocol.enums import Flags, Op, Role
from protocol.frames import Frame, crc16, decode_frame
from protocol.messages import decode_response, wire_fields

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "protocol" / "data" / "vpump.lua"
EXAMPLE = ROOT / "examples" / "captures" / "demo-session.pcapng"
EXAMPLE_JSONL = EXAMPLE.with_suffix(".jsonl")


def test_the_dissector_is_up_to_date() -> None:
    current = LUA.read_text(encoding="utf-8") if LUA.exists() else ""
    assert current == dissector.generate(), (
        "protocol/data/vpump.lua is stale: run `make docs` to regenerate it from the schemas"
    )


def _abbrs(record: wiremodel.RecordNode) -> Iterator[str]:
    """The filter name of every leaf field under ``record`` (nested records by their own name)."""
    for field in record.fields:
        yield from _node_abbrs(f"vpump.{wiremodel.snake(record.name)}.{field.name}", field.node)


def _node_abbrs(abbr: str, node: wiremodel.Node) -> Iterator[str]:
    match node:
        case wiremodel.RecordNode():
            yield from _abbrs(node)
        case wiremodel.SwitchNode():
            for _, case in node.cases:
                yield from _abbrs(case)
        case wiremodel.ArrayNode():
            yield f"{abbr}.count"
            yield from _node_abbrs(abbr, node.element)
        case _:
            yield abbr


def test_every_message_and_field_of_the_registry_is_in_the_dissector() -> None:
    lua = dissector.generate()
    count = 0
    for message in wiremodel.model():
        assert f'MESSAGES[{int(message.op)}] = {{name="{message.op.name}"' in lua
        for record in (message.request, message.response):
            if record is not None:
                assert f"R.{record.name} = {{" in lua
                for abbr in _abbrs(record):
                    assert f'F["{abbr}"] = ProtoField.' in lua, abbr
                    count += 1
    assert count > 100


def test_lua_strings_escape_what_lua_5_2_cannot_read() -> None:
    assert dissector.lua_string('a "b" \\ é\n') == '"a \\"b\\" \\\\ \\195\\169\\010"'


def _tshark(*args: str) -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail("tshark is not installed: run `bash scripts/system-deps.sh` (make install)")
    result = subprocess.run(
        [tshark, "-X", f"lua_script:{LUA}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Lua Error" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result.stdout


def _example() -> list[tuple[Chunk, Frame]]:
    """The example capture's chunks, each one whole frame (a clean session), decoded."""
    _, chunks = read_capture(EXAMPLE_JSONL)
    return [(chunk, decode_frame(chunk.data)) for chunk in chunks]


def _status_answer(frames: list[tuple[Chunk, Frame]]) -> int:
    """The index of the example's first STATUS answer."""
    return next(
        i
        for i, (_, frame) in enumerate(frames)
        if frame.op == Op.STATUS and frame.flags & Flags.RESPONSE
    )


def _shown(node: wiremodel.Node, value: Any, unit: str) -> str | None:
    """How the dissector shows an integer field's value (None: not an integer)."""
    if not isinstance(node, wiremodel.IntNode):
        return None
    if node.meaning == "enum" and node.enum is not None:
        return f"{node.enum(value).name} ({value})"
    if node.meaning == "bool":
        return f"{str(bool(value)).lower()} ({int(value)})"
    if node.meaning == "bits":
        return f"0x{value:04x}"
    if node.meaning == "time" and value == 0:
        return "0 (none)"
    if node.meaning == "time" or unit == "s (Unix time)":
        return f"{value} s ("
    return f"{value} {unit}".rstrip() if unit else f"{value}"


def test_tshark_decodes_the_status_answer_of_the_example_capture() -> None:
    frames = _example()
    index = _status_answer(frames)
    frame = frames[index][1]
    request = next(i for i, (_, f) in enumerate(frames) if f.seq == frame.seq)
    tree = _tshark("-r", str(EXAMPLE), "-2", "-V", "-Y", f"frame.number == {index + 1}")
    assert "on interface VP20-000001 pumpsim#1" in tree
    status = decode_response(frame.op, frame.payload)
    for line in (
        "OP: STATUS (0x10)",
        f"StatusResponse ({len(frame.payload)} bytes)",
        "[CRC status: Good (1)]",
        "[MAC status: Good (1)]",
        f"[Request in: {request + 1}]",
        "[Direction: to programmer]",
    ):
        assert line in tree, f"{line!r} is not in tshark's tree:\n{tree}"
    # Every integer field of the answer, as the schema decodes it, with its unit.
    record = wiremodel.record_node(type(status))
    checked = 0
    for spec, field in zip(wire_fields(type(status)), record.fields, strict=True):
        shown = _shown(field.node, spec.wire.to_wire(getattr(status, spec.name)), field.unit)
        if shown is not None:
            assert f"{field.name}: {shown}" in tree, f"{field.name}: {shown!r} not in\n{tree}"
            checked += 1
    assert checked >= 10


def test_tshark_lists_every_frame_of_the_example_with_its_direction() -> None:
    frames = _example()
    lines = _tshark("-r", str(EXAMPLE)).splitlines()
    assert len(lines) == len(frames)
    for line, (chunk, frame) in zip(lines, frames, strict=True):
        direction = "to pump" if chunk.direction is Direction.TO_PUMP else "to programmer"
        kind = "response" if frame.flags & Flags.RESPONSE else "request"
        assert f"{direction} {Op(frame.op).name} {kind} SEQ {frame.seq}" in line, line
    assert not any("BAD" in line or "undecodable" in line for line in lines)


def test_tshark_flags_a_corrupted_crc(tmp_path: Path) -> None:
    header, chunks = read_capture(EXAMPLE_JSONL)
    status = _status_answer(_example())
    corrupt = bytearray(chunks[status].data)
    corrupt[9 + 20] ^= 0x01  # a payload byte: the CRC no longer matches
    chunks[status] = dataclasses.replace(chunks[status], data=bytes(corrupt))
    pcapng = tmp_path / "corrupt.pcapng"
    with PcapngWriter(pcapng, pump_serial=header.pump_serial) as writer:
        for chunk in chunks:
            writer.write_chunk(chunk)
    listing = _tshark("-r", str(pcapng)).splitlines()
    assert "STATUS response [BAD CRC] SEQ" in listing[status]
    tree = _tshark("-r", str(pcapng), "-V", "-Y", "vpump.crc.status == 0")
    assert "[CRC status: Bad (0)]" in tree
    assert "[incorrect, should be 0x" in tree
    assert "bad CRC: computed" in tree
    assert "undecodable bytes (no valid frame)" in tree  # the capture's packet comment


def test_tshark_verifies_every_mac_of_the_example_with_the_demo_key() -> None:
    macd = sum(1 for _, frame in _example() if frame.mac is not None)
    assert macd > 10
    tree = _tshark("-r", str(EXAMPLE), "-V")
    assert tree.count("= MAC: True") == macd
    assert tree.count("[MAC status: Good (1)]") == macd
    assert "[verified]" in tree and "Bad MAC" not in tree


def _with_bad_mac(frame: bytes) -> bytes:
    """``frame`` with one MAC bit flipped and the CRC made right again."""
    data = bytearray(frame)
    data[-3] ^= 0x01  # the last MAC byte
    data[-2:] = crc16(bytes(data[2:-2])).to_bytes(2, "big")
    return bytes(data)


def test_tshark_flags_a_bad_mac(tmp_path: Path) -> None:
    header, chunks = read_capture(EXAMPLE_JSONL)
    status = _status_answer(_example())
    pcapng = tmp_path / "bad-mac.pcapng"
    with PcapngWriter(pcapng, pump_serial=header.pump_serial) as writer:
        for i, chunk in enumerate(chunks):
            data = _with_bad_mac(chunk.data) if i == status else chunk.data
            writer.write_chunk(dataclasses.replace(chunk, data=data))
    listing = _tshark("-r", str(pcapng)).splitlines()
    assert "STATUS response [BAD MAC] SEQ" in listing[status]
    tree = _tshark("-r", str(pcapng), "-V", "-Y", "vpump.mac.status == 0")
    assert "[does not verify]" in tree and "bad MAC under this session's key" in tree


def test_tshark_takes_the_pumps_keys_from_a_preference(tmp_path: Path) -> None:
    own = {Role.CLINICIAN: bytes(range(1, 33)), Role.PATIENT: bytes(range(2, 34))}
    pcapng = tmp_path / "own-key.pcapng"
    with (
        Emulator.single(keys=own, manual_clock=True, start_pump_s=1_790_000_000) as emu,
        PcapngWriter(pcapng) as writer,
    ):
        emu.pumps[0].capture_to(PcapngSink(writer, emu.pumps[0].setup.serial, emu.clock.now))
        with PumpClient(emu.register_inproc(), key=own[Role.CLINICIAN]) as pump:
            pump.status()
    unchecked = _tshark("-r", str(pcapng), "-V")
    macd = unchecked.count("= MAC: True")
    assert macd >= 3
    assert unchecked.count("[MAC status: Unchecked (2)]") == macd
    assert "MAC status: Good" not in unchecked
    keys = f"vpump.keys:clinician={own[Role.CLINICIAN].hex()}"
    checked = _tshark("-o", keys, "-r", str(pcapng), "-V")
    assert checked.count("[MAC status: Good (1)]") == macd and "Unchecked" not in checked


_CRYPTO_CHECK = """
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local cases = {
  {"", ""},
  {"key", "The quick brown fox jumps over the lazy dog"},
  {string.rep("k", 32), string.rep("\\1\\2\\3", 67)},
  {string.rep("long key ", 10), string.rep("m", 55)},
  {string.rep("x", 64), string.rep("y", 64)},
}
for _, case in ipairs(cases) do
  print(hex(sha256(case[2])) .. " " .. hex(hmac_sha256(case[1], case[2])))
end
"""


@pytest.mark.parametrize("lua", ["lua5.2", "lua5.4"])
def test_the_dissectors_sha256_and_hmac_match_python_under_lua(lua: str) -> None:
    """Wireshark up to 4.2 runs Lua 5.2 (bit32), later ones Lua 5.4 (native operators): the
    dissector's crypto is checked under both against hashlib."""
    interpreter = shutil.which(lua)
    if interpreter is None:
        pytest.fail(f"{lua} is not installed: run `bash scripts/system-deps.sh` (make install)")
    source = dissector.generate()
    start = source.index("-- 32-bit operations")
    crypto = source[start : source.index("local function crc16", start)]
    run = subprocess.run(
        [interpreter, "-"],
        input=crypto + _CRYPTO_CHECK,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    cases = [
        (b"", b""),
        (b"key", b"The quick brown fox jumps over the lazy dog"),
        (b"k" * 32, b"\x01\x02\x03" * 67),
        (b"long key " * 10, b"m" * 55),
        (b"x" * 64, b"y" * 64),
    ]
    expected = [
        f"{hashlib.sha256(m).hexdigest()} {hmac.new(k, m, hashlib.sha256).hexdigest()}"
        for k, m in cases
    ]
    assert run.stdout.split("\n")[:-1] == expected


def _ipv4_tcp(src_port: int, dst_port: int, seq: int, ack: int, payload: bytes) -> bytes:
    """One IPv4 packet (127.0.0.1 to itself) carrying a TCP segment with PSH|ACK."""
    tcp = struct.pack("!HHIIBBHHH", src_port, dst_port, seq, ack, 5 << 4, 0x18, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, *[bytes([127, 0, 0, 1])] * 2
    )
    checksum = 0
    for i in range(0, 20, 2):
        checksum += (header[i] << 8) | header[i + 1]
    while checksum >> 16:
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
    header = header[:10] + struct.pack("!H", ~checksum & 0xFFFF) + header[12:]
    return header + tcp + payload


def _tcp_capture(path: Path, frames: list[tuple[Chunk, Frame]], server_port: int) -> None:
    """The example session as a sniffed socket:// conversation: raw IPv4 (LINKTYPE_RAW), each
    frame cut in two TCP segments, so the dissector must reassemble every one."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    idb = struct.pack("<HHI", 101, 0, 65535)

    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = bytearray(block(0x0A0D0D0A, shb) + block(1, idb))
    seq = {True: 1000, False: 5000}  # next sequence number, by "towards the pump"
    micros = 1_790_000_000_000_000
    for chunk, _ in frames:
        to_pump = chunk.direction is Direction.TO_PUMP
        ports = (50000, server_port) if to_pump else (server_port, 50000)
        half = len(chunk.data) // 2
        for piece in (chunk.data[:half], chunk.data[half:]):
            packet = _ipv4_tcp(*ports, seq[to_pump], seq[not to_pump], piece)
            seq[to_pump] += len(piece)
            micros += 1000
            epb = struct.pack(
                "<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(packet), len(packet)
            )
            out += block(6, epb + packet + b"\0" * (-len(packet) % 4))
    path.write_bytes(bytes(out))


def test_tshark_reassembles_a_sniffed_tcp_conversation(tmp_path: Path) -> None:
    frames = _example()
    pcapng = tmp_path / "tcp.pcapng"
    _tcp_capture(pcapng, frames, server_port=7000)
    tree = _tshark("-o", "vpump.tcp_port:7000", "-r", str(pcapng), "-2", "-V")
    assert tree.count("vpump pump telemetry, ") == len(frames)
    assert tree.count("[CRC status: Good (1)]") == len(frames)
    macd = sum(1 for _, frame in frames if frame.mac is not None)
    assert tree.count("[MAC status: Good (1)]") == macd  # the session followed over TCP
    assert "[Request in: " in tree and "[Response in: " in tree
    listing = _tshark("-d", "tcp.port==7000,vpump", "-r", str(pcapng)).splitlines()
    decoded = [line for line in listing if "vpump" in line]
    assert len(decoded) == len(frames)  # one reassembled frame in every second segment
    assert "to pump DEVICE_INFO request SEQ 1" in decoded[0]
    assert "to programmer DEVICE_INFO response SEQ 1" in decoded[1]
