"""The Kaitai Struct description: generated from the schemas, never stale, compiled with
kaitai-struct-compiler into Python, and every golden vector parsed by the generated parser to
the values the construct schemas give.

The compiler (npm) is installed on first use into .cache/kaitai by scripts/kaitai.py; without
node these tests fail rather than skip.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from kaitaistruct import BytesIO, KaitaiStream

from protocol import kaitai, wiremodel
from protocol.frames import crc16
from protocol.messages import Message, wire_fields
from tests.protocol.vectors import VECTORS, Vector

ROOT = Path(__file__).resolve().parents[1]
KSY = ROOT / "protocol" / "data" / "vpump.ksy"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated Python parser class, compiled from protocol/data/vpump.ksy."""
    script = _load("vpump_kaitai_script", ROOT / "scripts" / "kaitai.py")
    out = tmp_path_factory.mktemp("kaitai")
    files = script.compile_ksy(out, ["python"])
    assert [f.name for f in files] == ["vpump_wire.py"]
    module = _load("vpump_wire", files[0])
    yield module.VpumpWire
    sys.modules.pop("vpump_wire", None)


def test_the_ksy_is_up_to_date() -> None:
    current = KSY.read_text(encoding="utf-8") if KSY.exists() else ""
    assert current == kaitai.generate(), (
        "protocol/data/vpump.ksy is stale: run `make docs` to regenerate it from the schemas"
    )


def _check(node: wiremodel.Node, expected: Any, parsed: Any, where: str) -> None:
    """``parsed`` (from the Kaitai parser) holds what construct's ``expected`` holds."""
    match node:
        case wiremodel.IntNode():
            assert int(parsed) == int(expected), where
        case wiremodel.BytesNode() | wiremodel.TextNode():
            assert parsed == expected, where
        case wiremodel.ArrayNode(element=element):
            assert len(parsed) == len(expected), where
            for i, (want, got) in enumerate(zip(expected, parsed, strict=True)):
                inner = got if not isinstance(element, wiremodel.ArrayNode) else got.items
                _check(element, want, inner, f"{where}[{i}]")
        case wiremodel.RecordNode(fields=fields):
            for field in fields:
                got = getattr(parsed, field.name, None)
                _check(field.node, expected[field.name], got, f"{where}.{field.name}")
        case wiremodel.SwitchNode(cases=cases):
            if expected is None:
                assert parsed is None, where
                return
            # The case the earlier field chose: the parsed object's class names it.
            record = next(c for _, c in cases if type(parsed).__name__ == _class(c.name))
            _check(record, expected, parsed, where)


def _class(name: str) -> str:
    return "".join(part.title() for part in kaitai.type_id(name).split("_"))


def _expected(message: Message) -> dict[str, Any]:
    return {
        spec.name: spec.wire.to_wire(getattr(message, spec.name))
        for spec in wire_fields(type(message))
    }


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_the_generated_parser_reads_every_golden_vector(parser: Any, vector: Vector) -> None:
    frames = parser(KaitaiStream(BytesIO(vector.wire))).frames
    assert len(frames) == 1
    frame, want = frames[0], vector.frame
    assert (frame.flags, frame.seq, frame.op, frame.len) == (
        int(want.flags),
        want.seq,
        want.op,
        len(want.payload),
    )
    assert getattr(frame, "mac", None) == want.mac
    assert frame.crc == crc16(frame.crc_input) == int.from_bytes(vector.wire[-2:], "big")
    if vector.message is None or not wire_fields(type(vector.message)):
        assert frame.payload == want.payload  # no fields, or an unknown opcode: raw bytes
        return
    record = wiremodel.record_node(type(vector.message))
    assert type(frame.payload).__name__ == _class(record.name)
    _check(record, _expected(vector.message), frame.payload, vector.name)


def test_the_generated_parser_reads_frames_back_to_back(parser: Any) -> None:
    stream = b"".join(v.wire for v in VECTORS)
    frames = parser(KaitaiStream(BytesIO(stream))).frames
    assert [f.seq for f in frames] == [v.frame.seq for v in VECTORS]
    assert {f.opcode for f in frames if f.op == 0x10} == {parser.Op.status}
