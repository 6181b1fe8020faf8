"""Capture: JSON lines written and read back, the capturing endpoint, pcap bytes parsed back,
and the committed example capture is what its script makes."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from emulator.capture import (
    CAPTURE_VERSION,
    DLT_USER0,
    CaptureFileError,
    CaptureFormatError,
    CaptureHeader,
    CaptureReader,
    CaptureValueError,
    CaptureWriter,
    CapturingEndpoint,
    Chunk,
    Direction,
    FrameSplitter,
    PcapngWriter,
    RingCapture,
    capturing_factory,
    export_pcapng,
    read_capture,
)
from emulator.emulator import Emulator
from emulator.errors import EmulatorPeerError, EmulatorUsageError
from emulator.link_faults import LinkFaults, LinkImpairment
from protocol.client import PumpClient
from protocol.enums import Flags, Role
from protocol.frames import Frame, encode_frame
from protocol.keys import DEMO_KEY_FILE, load_keys

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "captures"


class Steps:
    """A clock that returns ``start + n * step`` on its n-th reading."""

    def __init__(self, start: float, step: float) -> None:
        self.start, self.step, self.reads = start, step, 0

    def __call__(self) -> float:
        value = self.start + self.reads * self.step
        self.reads += 1
        return value


def pump_clock() -> int:
    return 1_790_000_000


def _writer(target: Path | io.StringIO, **kwargs: object) -> CaptureWriter:
    return CaptureWriter(
        target,
        pump_clock=pump_clock,
        wall_clock=Steps(1_700_000_000.0, 0.25),
        **kwargs,  # type: ignore[arg-type]
    )


# --- the JSON-lines writer ---------------------------------------------------------------------


def test_header_and_one_line_per_chunk_exactly_as_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    with _writer(path, pump_serial="VP20-000001") as writer:
        writer.record(Direction.TO_PUMP, "pty#1", b"\xa5\x5a\x01garbage")
        writer.record(Direction.TO_PROGRAMMER, "pty#1", b"")
        writer.record(Direction.TO_PROGRAMMER, "tcp#2", bytes(range(256)))
        assert (writer.chunks, writer.bytes) == (3, 10 + 256)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {
        "format": "vpump-capture",
        "version": CAPTURE_VERSION,
        "pump_serial": "VP20-000001",
        "start_wall": 1_700_000_000.0,
        "start_pump_s": 1_790_000_000,
    }
    assert json.loads(lines[1]) == {
        "wall": 1_700_000_000.25,
        "pump_s": 1_790_000_000,
        "dir": "to_pump",
        "link": "pty#1",
        "hex": "a55a0167617262616765",
    }
    assert json.loads(lines[2])["hex"] == ""
    assert bytes.fromhex(json.loads(lines[3])["hex"]) == bytes(range(256))
    assert len(lines) == 4


def test_each_line_is_on_disk_before_record_returns(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    with _writer(path) as writer:
        assert len(path.read_text().splitlines()) == 1  # the header, already flushed
        writer.record(Direction.TO_PUMP, "x", b"\x01")
        assert path.read_text().endswith('"hex": "01"}\n')


def test_close_fsyncs_the_file_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr("emulator.capture.records.os.fsync", synced.append)
    writer = _writer(tmp_path / "c.jsonl", pcap=tmp_path / "c.pcap")
    writer.record(Direction.TO_PUMP, "x", b"\x01")
    writer.close()
    writer.close()
    assert len(synced) == 2  # the JSON lines and the pcap, once each
    assert writer.closed
    with pytest.raises(CaptureValueError, match="closed") as closed:
        writer.record(Direction.TO_PUMP, "x", b"\x02")
    assert closed.value.reason == "closed"


def test_a_stream_target_is_flushed_but_left_open() -> None:
    stream = io.StringIO()
    with _writer(stream) as writer:
        writer.record(Direction.TO_PUMP, "x", b"\xff")
    assert not stream.closed
    assert stream.getvalue().count("\n") == 2


def test_writers_on_many_threads_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    threads, per_thread = 8, 200
    with CaptureWriter(path, pump_clock=pump_clock) as writer:

        def work(n: int) -> None:
            for i in range(per_thread):
                writer.record(Direction.TO_PUMP, f"link#{n}", bytes([n, i % 256]) * 50)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    _, chunks = read_capture(path)
    assert len(chunks) == threads * per_thread
    for n in range(threads):
        mine = [c.data for c in chunks if c.link == f"link#{n}"]
        assert mine == [bytes([n, i % 256]) * 50 for i in range(per_thread)]
    walls = [c.wall_s for c in chunks]
    assert walls == sorted(walls)  # clocks are read under the lock


def test_bad_records_are_refused_and_typed(tmp_path: Path) -> None:
    with _writer(tmp_path / "c.jsonl") as writer:
        with pytest.raises(CaptureValueError):
            writer.record(Direction.TO_PUMP, "", b"")
        with pytest.raises(CaptureValueError):
            writer.record(Direction.TO_PUMP, "tab\there", b"")
        with pytest.raises(CaptureValueError):
            writer.record("sideways", "x", b"")  # type: ignore[arg-type]
    assert issubclass(CaptureValueError, EmulatorUsageError)
    assert issubclass(CaptureValueError, ValueError)
    assert issubclass(CaptureFormatError, EmulatorPeerError)
    assert issubclass(CaptureFileError, OSError)
    assert issubclass(CaptureFormatError, CaptureFileError)


@pytest.mark.parametrize(
    "changes",
    [
        {"wall_s": math.nan},
        {"wall_s": -1.0},
        {"wall_s": "now"},
        {"pump_s": -1},
        {"pump_s": 1.5},
        {"pump_s": True},
        {"link": "x" * 201},
        {"data": bytearray(b"x")},
        {"direction": "up"},
    ],
)
def test_chunks_are_validated_on_construction(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "wall_s": 1.0,
        "pump_s": 2,
        "direction": Direction.TO_PUMP,
        "link": "l",
        "data": b"",
    }
    fields.update(changes)
    with pytest.raises(CaptureValueError):
        Chunk(**fields)  # type: ignore[arg-type]


def test_a_header_of_an_unknown_version_is_refused() -> None:
    with pytest.raises(CaptureValueError, match="version 2"):
        CaptureHeader(version=2, start_wall_s=0.0, start_pump_s=0)


# --- the capturing endpoint ------------------------------------------------------------------


@dataclass
class Echo:
    """An inner endpoint answering ``answer(data)``; remembers what it got and its close."""

    answer: Callable[[bytes], bytes]
    got: list[bytes]
    closed: bool = False

    def receive(self, data: bytes) -> bytes:
        self.got.append(data)
        return self.answer(data)

    def close(self) -> None:
        self.closed = True


def test_the_endpoint_passes_bytes_unchanged_and_records_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    inner = Echo(answer=lambda data: data[::-1] if data != b"quiet" else b"", got=[])
    with _writer(path) as writer:
        endpoint = CapturingEndpoint(inner, writer, "pty#1")
        assert endpoint.receive(b"\x01\x02\x03") == b"\x03\x02\x01"
        assert endpoint.receive(b"quiet") == b""
        assert endpoint.receive(b"") == b""
        endpoint.close()
    assert inner.got == [b"\x01\x02\x03", b"quiet", b""]
    assert inner.closed
    _, chunks = read_capture(path)
    assert [(c.direction, c.link, c.data) for c in chunks] == [
        (Direction.TO_PUMP, "pty#1", b"\x01\x02\x03"),
        (Direction.TO_PROGRAMMER, "pty#1", b"\x03\x02\x01"),
        (Direction.TO_PUMP, "pty#1", b"quiet"),
    ]


def test_a_failing_capture_never_stops_the_link(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "c.jsonl")
    endpoint = CapturingEndpoint(Echo(answer=bytes, got=[]), writer, "l")
    writer.close()
    assert endpoint.receive(b"abc") == b"abc"
    assert endpoint.capture_failures == 2


def test_an_inner_failure_propagates_after_the_request_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"

    def broken(data: bytes) -> bytes:
        raise RuntimeError("boom")

    with _writer(path) as writer:
        endpoint = CapturingEndpoint(Echo(answer=broken, got=[]), writer, "l")
        with pytest.raises(RuntimeError, match="boom"):
            endpoint.receive(b"x")
    assert [c.data for c in read_capture(path)[1]] == [b"x"]


def test_the_factory_labels_each_link(tmp_path: Path) -> None:
    with _writer(tmp_path / "c.jsonl") as writer:
        factory = capturing_factory(lambda: Echo(answer=bytes, got=[]), writer, "tcp")
        first, second = factory(), factory()
        assert isinstance(first, CapturingEndpoint) and isinstance(second, CapturingEndpoint)
        assert (first.link_label, second.link_label) == ("tcp#1", "tcp#2")
        with pytest.raises(CaptureValueError):
            capturing_factory(lambda: first, writer, "")


# --- reading -------------------------------------------------------------------------------


def _capture_text(*lines: str) -> str:
    header = json.dumps(
        {"format": "vpump-capture", "version": 1, "start_wall": 1.0, "start_pump_s": 2}
    )
    return "\n".join((header, *lines)) + "\n"


def _line(**changes: object) -> str:
    obj: dict[str, object] = {
        "wall": 1.5,
        "pump_s": 2,
        "dir": "to_pump",
        "link": "l",
        "hex": "a55a",
    }
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not None})


def test_reading_back_blank_lines_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_capture_text(_line(), "", "   ", _line(extra=1, hex="00ff")))
    header, chunks = read_capture(path)
    assert header == CaptureHeader(pump_serial=None, start_wall_s=1.0, start_pump_s=2)
    assert [c.data for c in chunks] == [b"\xa5\x5a", b"\x00\xff"]


def test_a_last_line_cut_off_mid_write_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_capture_text(_line()) + _line()[:20])
    with CaptureReader(path) as reader:
        assert len(list(reader)) == 1
        assert reader.truncated_line == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "empty file"),
        ('{"wall": 1}\n', 1, "not a vpump-capture header"),
        ("[1, 2]\n", 1, "not a JSON object"),
        ('{"format": "vpump-capture", "version": 9, "start_wall": 1, "start_pump_s": 1}\n', 1, "9"),
        ('{"format": "vpump-capture", "version": 1, "start_wall": 1}\n', 1, "start_pump_s"),
        (_capture_text("{not json", _line()), 2, "not JSON"),
        (_capture_text(_line(), _line(hex="zz")), 3, "hexadecimal"),
        (_capture_text(_line(hex=5)), 2, "'hex' must be a string"),
        (_capture_text(_line(dir="up")), 2, "direction"),
        (_capture_text(_line(wall=None)), 2, "'wall'"),
        (_capture_text(_line(pump_s=-3)), 2, "pump_s"),
        (_capture_text(_line(link="")), 2, "link label"),
        (
            _capture_text('{"wall": NaN, "pump_s": 1, "dir": "to_pump", "link": "l", "hex": ""}'),
            2,
            "finite",
        ),
        (_capture_text(_capture_text().strip()), 2, "a second capture header"),
    ],
)
def test_a_malformed_line_is_an_error_naming_it(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(CaptureFormatError, match=message) as info:
        read_capture(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_capture_text(_line()).encode() + b'{"\xff\xfe"}\n' + _line().encode() + b"\n")
    with pytest.raises(CaptureFormatError, match="UTF-8") as info:
        read_capture(path)
    assert info.value.line == 3


def test_a_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureFileError, match="cannot open") as failed:
        read_capture(tmp_path / "nope.jsonl")
    assert failed.value.reason == "read"


def test_reading_from_a_text_stream() -> None:
    header, chunks = read_capture(io.StringIO(_capture_text(_line(dir="to_programmer"))))
    assert header.start_pump_s == 2
    assert chunks[0].direction is Direction.TO_PROGRAMMER


# --- pcapng --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Packet:
    interface: int
    micros: int
    data: bytes
    flags: int
    comment: str


@dataclass(frozen=True)
class Pcapng:
    interfaces: list[tuple[int, str]]  # (link type, name)
    packets: list[Packet]


def _options(body: bytes) -> dict[int, bytes]:
    found, offset = {}, 0
    while offset + 4 <= len(body):
        code, size = struct.unpack_from("<HH", body, offset)
        if code == 0:
            break
        found[code] = body[offset + 4 : offset + 4 + size]
        offset += 4 + size + (-size % 4)
    return found


def parse_pcapng(data: bytes) -> Pcapng:
    """An independent reader: section header, interfaces and enhanced packets."""
    interfaces: list[tuple[int, str]] = []
    packets: list[Packet] = []
    offset = 0
    while offset < len(data):
        block_type, size = struct.unpack_from("<II", data, offset)
        assert size % 4 == 0 and struct.unpack_from("<I", data, offset + size - 4)[0] == size
        body = data[offset + 8 : offset + size - 4]
        if block_type == 0x0A0D0D0A:
            assert offset == 0
            magic, major, minor, length = struct.unpack_from("<IHHq", body)
            assert (magic, major, minor, length) == (0x1A2B3C4D, 1, 0, -1)
        elif block_type == 1:
            linktype, _, _snaplen = struct.unpack_from("<HHI", body)
            options = _options(body[8:])
            assert options[9] == b"\x06"  # microseconds
            interfaces.append((linktype, options[2].decode()))
        elif block_type == 6:
            iface, high, low, captured, original = struct.unpack_from("<IIIII", body)
            assert captured == original and iface < len(interfaces)
            packet = body[20 : 20 + captured]
            options = _options(body[20 + captured + (-captured % 4) :])
            packets.append(
                Packet(
                    iface,
                    (high << 32) | low,
                    packet,
                    struct.unpack("<I", options[2])[0],
                    options.get(1, b"").decode(),
                )
            )
        else:
            raise AssertionError(f"unexpected block type {block_type:#x}")
        offset += size
    assert offset == len(data)
    return Pcapng(interfaces, packets)


GOOD = encode_frame(Frame(flags=Flags.NONE, seq=1, op=0x01))
ANSWER = encode_frame(Frame(flags=Flags.RESPONSE, seq=1, op=0x01, payload=b"\x07"))


def test_pcapng_blocks_parse_back_one_interface_per_link(tmp_path: Path) -> None:
    path = tmp_path / "c.pcapng"
    with PcapngWriter(path, pump_serial="VP20-000009") as pcap:
        pcap.write_packet(
            direction=Direction.TO_PUMP, data=b"\xa5\x5a\x01", wall_s=1_790_000_000.25
        )
        pcap.write_chunk(
            Chunk(
                wall_s=1.0000004,
                pump_s=0,
                direction=Direction.TO_PROGRAMMER,
                link="tcp#2",
                data=ANSWER,
            )
        )
        pcap.write_packet(
            direction=Direction.TO_PROGRAMMER, data=b"x", wall_s=2.9999999, pump_serial="B"
        )
        assert pcap.packets == 3
        assert pcap.interfaces == ["VP20-000009 link", "VP20-000009 tcp#2", "B link"]
    parsed = parse_pcapng(path.read_bytes())
    assert parsed.interfaces == [
        (DLT_USER0, "VP20-000009 link"),
        (DLT_USER0, "VP20-000009 tcp#2"),
        (DLT_USER0, "B link"),
    ]
    assert parsed.packets == [
        Packet(0, 1_790_000_000_250_000, b"\xa5\x5a\x01", 0b01, ""),
        Packet(1, 1_000_000, ANSWER, 0b10, ""),  # to the nearest microsecond
        Packet(2, 3_000_000, b"x", 0b10, ""),
    ]


def test_one_packet_per_frame_with_undecodable_bytes_apart(tmp_path: Path) -> None:
    stream = io.BytesIO()
    pcap = PcapngWriter(stream)
    corrupt = bytearray(GOOD)
    corrupt[-1] ^= 0xFF  # a bad CRC
    chunk = b"noise" + GOOD + GOOD[:4]
    assert (
        pcap.write_chunk(
            Chunk(wall_s=7.0, pump_s=0, direction=Direction.TO_PUMP, link="l", data=chunk)
        )
        == 2
    )
    rest = GOOD[4:] + bytes(corrupt) + GOOD
    assert (
        pcap.write_chunk(
            Chunk(wall_s=8.0, pump_s=0, direction=Direction.TO_PUMP, link="l", data=rest)
        )
        == 3
    )
    # A frame cut off by the end is written by close(), as undecodable bytes.
    pcap.write_chunk(
        Chunk(wall_s=9.0, pump_s=0, direction=Direction.TO_PUMP, link="l", data=GOOD[:5])
    )
    pcap.close()
    assert not stream.closed
    parsed = parse_pcapng(stream.getvalue())
    assert (
        [(p.data, p.comment != "") for p in parsed.packets]
        == [
            (b"noise", True),
            (GOOD, False),
            (GOOD, False),  # completed by the second chunk
            (bytes(corrupt), True),  # what a receiver drops, byte by byte, is one packet
            (GOOD, False),
            (GOOD[:5], True),
        ]
    )
    assert all(p.flags == 0b01 for p in parsed.packets)
    with pytest.raises(CaptureValueError, match="closed"):
        pcap.write_packet(direction=Direction.TO_PUMP, data=b"", wall_s=7.0)
    with pytest.raises(CaptureValueError):
        PcapngWriter(io.BytesIO(), snaplen=1)


def test_the_frame_splitter_cuts_as_the_deframer_does() -> None:
    splitter = FrameSplitter()
    stream = b"\x00" + GOOD + b"\xa5" + ANSWER + b"\xa5"
    segments = [seg for i in range(len(stream)) for seg in splitter.feed(stream[i : i + 1])]
    assert segments == [(b"\x00", False), (GOOD, True), (b"\xa5", False), (ANSWER, True)]
    assert splitter.flush() == b"\xa5"


def test_the_writer_mirrors_chunks_to_pcapng_and_export_filters_a_link(tmp_path: Path) -> None:
    jsonl, pcap = tmp_path / "c.jsonl", tmp_path / "c.pcapng"
    with _writer(jsonl, pcap=pcap) as writer:
        writer.record(Direction.TO_PUMP, "a#1", GOOD)
        writer.record(Direction.TO_PROGRAMMER, "b#2", ANSWER)
        writer.record(Direction.TO_PROGRAMMER, "a#1", ANSWER)
    mirrored = parse_pcapng(pcap.read_bytes())
    assert [name for _, name in mirrored.interfaces] == ["a#1", "b#2"]
    assert [(p.interface, p.micros, p.data) for p in mirrored.packets] == [
        (0, 1_700_000_000_250_000, GOOD),
        (1, 1_700_000_000_500_000, ANSWER),
        (0, 1_700_000_000_750_000, ANSWER),
    ]
    exported = tmp_path / "a.pcapng"
    assert export_pcapng(jsonl, exported, link="a#1") == 2
    assert [p.data for p in parse_pcapng(exported.read_bytes()).packets] == [GOOD, ANSWER]
    assert export_pcapng(jsonl, tmp_path / "all.pcapng") == 3
    assert (tmp_path / "all.pcapng").read_bytes() == pcap.read_bytes()


# --- the example capture -------------------------------------------------------------------


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_capture", EXAMPLES / "make_capture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_capture_is_what_its_script_makes(tmp_path: Path) -> None:
    script = _load_script()
    jsonl, pcap = script.make_capture(tmp_path, link_name="example-repro")
    assert jsonl.read_bytes() == (EXAMPLES / "demo-session.jsonl").read_bytes()
    assert pcap.read_bytes() == (EXAMPLES / "demo-session.pcapng").read_bytes()
    _, chunks = read_capture(jsonl)
    parsed = parse_pcapng(pcap.read_bytes())
    assert parsed.interfaces == [(DLT_USER0, "VP20-000001 pumpsim#1")]
    # Every chunk of this clean session is one whole frame: one packet each.
    assert [c.data for c in chunks] == [p.data for p in parsed.packets]
    assert [p.flags for p in parsed.packets] == [
        0b01 if c.direction is Direction.TO_PUMP else 0b10 for c in chunks
    ]


def test_late_answers_of_a_timed_inner_endpoint_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    clock = Steps(0.0, 0.0)
    faults = LinkFaults(LinkImpairment(delay_ms=100), clock=clock)
    inner = faults.impair(Echo(answer=lambda data: data.upper(), got=[]))
    with _writer(path) as writer:
        endpoint = CapturingEndpoint(inner, writer, "slow#1")
        assert endpoint.receive(b"abc") == b""  # held back by the delay
        assert endpoint.due(endpoint.now()) == b""
        clock.start = 0.25  # past both legs of the 100 ms delay
        assert endpoint.due(endpoint.now()) == b"ABC"
        endpoint.close()
        plain = CapturingEndpoint(Echo(answer=bytes, got=[]), writer, "plain#1")
        assert (plain.now(), plain.due(1.0)) == (0.0, b"")
    assert [(c.direction, c.data) for c in read_capture(path)[1]] == [
        (Direction.TO_PUMP, b"abc"),
        (Direction.TO_PROGRAMMER, b"ABC"),
    ]


def test_an_unwritable_target_is_a_typed_write_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureFileError, match="cannot open the capture file") as failed:
        _writer(tmp_path / "missing-dir" / "c.jsonl")
    assert failed.value.reason == "write"
    with pytest.raises(CaptureFileError, match="cannot write the pcapng file"):
        _writer(tmp_path / "c.jsonl", pcap=tmp_path / "missing-dir" / "c.pcap")
    assert (tmp_path / "c.jsonl").read_text() == ""  # opened, then closed on the failure


# --- in-memory capture -------------------------------------------------------------------


def test_a_ring_capture_keeps_the_last_chunks_and_tells_subscribers() -> None:
    ring = RingCapture(pump_clock=lambda: 7, wall_clock=lambda: 1.5, max_chunks=2)
    seen: list[bytes] = []
    ring.subscribe(lambda chunk: seen.append(chunk.data))
    for data in (b"\x01", b"\x02", b"\x03"):
        ring.record(Direction.TO_PUMP, "l#1", data)
    assert [c.data for c in ring.chunks()] == [b"\x02", b"\x03"]
    assert seen == [b"\x01", b"\x02", b"\x03"]
    assert ring.total_chunks == 3
    assert ring.chunks()[0].pump_s == 7 and ring.chunks()[0].wall_s == 1.5
    ring.clear()
    assert ring.chunks() == []


def test_a_failing_ring_subscriber_is_dropped_and_the_chunk_kept() -> None:
    ring = RingCapture(pump_clock=lambda: 0)
    calls: list[int] = []

    def broken(chunk: Chunk) -> None:
        calls.append(1)
        raise RuntimeError("boom")

    ring.subscribe(broken)
    ring.record(Direction.TO_PUMP, "l#1", b"a")
    ring.record(Direction.TO_PUMP, "l#1", b"b")
    assert calls == [1]
    assert len(ring.chunks()) == 2


def test_a_ring_capture_refuses_a_bad_size_and_a_bad_link() -> None:
    with pytest.raises(CaptureValueError):
        RingCapture(pump_clock=lambda: 0, max_chunks=0)
    ring = RingCapture(pump_clock=lambda: 0)
    with pytest.raises(CaptureValueError):
        ring.record(Direction.TO_PUMP, "", b"a")
    assert ring.chunks() == []


def test_an_emulated_pump_records_to_every_sink_added_even_after_serving() -> None:
    with Emulator.single(manual_clock=True, start_pump_s=1_790_000_000) as emu:
        url = emu.register_inproc()
        first = RingCapture(pump_clock=emu.clock.now)
        second = RingCapture(pump_clock=emu.clock.now)
        emu.pumps[0].capture_to(first)
        emu.pumps[0].capture_to(second)
        with PumpClient(url, key=load_keys(DEMO_KEY_FILE)[Role.CLINICIAN]) as client:
            client.status()
        for ring in (first, second):
            chunks = ring.chunks()
            assert {c.direction for c in chunks} == {Direction.TO_PUMP, Direction.TO_PROGRAMMER}
            assert {c.link for c in chunks} == {"pump0#1"}
        assert [c.data for c in first.chunks()] == [c.data for c in second.chunks()]
