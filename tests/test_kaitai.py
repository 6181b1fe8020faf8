"""The Kaitai Struct description: generated from the schemas, never stale, compiled with
kaitai-struct-compiler into Python, and every golden vector parsed by the generated parser to
the values the construct schemas give.

The compiler (npm) is installed on first use into .cache/kaitai by scripts/kaitai.py; without
node these tests fail rather than skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
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


class Python:
    """How to read the generated Python parser's objects."""

    @staticmethod
    def get(parsed: Any, name: str) -> Any:
        return getattr(parsed, name, None)

    @staticmethod
    def type_name(parsed: Any) -> str:
        return type(parsed).__name__

    @staticmethod
    def raw(parsed: Any) -> Any:
        return parsed


class JavaScript:
    """How to read the JavaScript parser's objects, dumped to JSON by the node script below:
    camelCase names, ``__type`` for the class, ``{"__bytes": hex}`` for bytes."""

    @staticmethod
    def get(parsed: Any, name: str) -> Any:
        head, *rest = name.split("_")
        return parsed.get(head + "".join(part[:1].upper() + part[1:] for part in rest))

    @staticmethod
    def type_name(parsed: Any) -> str:
        return str(parsed["__type"])

    @staticmethod
    def raw(parsed: Any) -> Any:
        if isinstance(parsed, dict) and "__bytes" in parsed:
            return bytes.fromhex(parsed["__bytes"])
        return parsed


Reader = type[Python] | type[JavaScript]


def _check(
    node: wiremodel.Node, expected: Any, parsed: Any, where: str, reader: Reader = Python
) -> None:
    """``parsed`` (from a Kaitai parser) holds what construct's ``expected`` holds."""
    match node:
        case wiremodel.IntNode():
            assert int(parsed) == int(expected), where
        case wiremodel.BytesNode() | wiremodel.TextNode():
            assert reader.raw(parsed) == expected, where
        case wiremodel.ArrayNode(element=element):
            assert len(parsed) == len(expected), where
            for i, (want, got) in enumerate(zip(expected, parsed, strict=True)):
                wrapped = isinstance(element, wiremodel.ArrayNode)
                inner = reader.get(got, "items") if wrapped else got
                _check(element, want, inner, f"{where}[{i}]", reader)
        case wiremodel.RecordNode(fields=fields):
            for field in fields:
                got = reader.get(parsed, field.name)
                _check(field.node, expected[field.name], got, f"{where}.{field.name}", reader)
        case wiremodel.SwitchNode(cases=cases):
            if expected is None:
                assert parsed is None, where
                return
            # The case the earlier field chose: the parsed object's class names it.
            name = reader.type_name(parsed)
            record = next(c for _, c in cases if name == _class(c.name))
            _check(record, expected, parsed, where, reader)


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


_DUMP_JS = """
const VpumpWire = require(process.argv[2]).VpumpWire;
const KaitaiStream = require("kaitai-struct/KaitaiStream");
function dump(o) {
  if (o instanceof Uint8Array) return {__bytes: Buffer.from(o).toString("hex")};
  if (Array.isArray(o)) return o.map(dump);
  if (o && typeof o === "object") {
    const out = {__type: o.constructor.name};
    for (const key of Object.keys(o)) if (!key.startsWith("_")) out[key] = dump(o[key]);
    return out;
  }
  return o;
}
const wires = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = wires.map((hex) => {
  const parsed = new VpumpWire(new KaitaiStream(Buffer.from(hex, "hex")));
  return parsed.frames.map((f) => Object.assign(dump(f), {
    isResponse: f.isResponse, crcInput: Buffer.from(f.crcInput).toString("hex")}));
});
console.log(JSON.stringify(out));
"""


def test_the_generated_javascript_parser_reads_every_golden_vector(tmp_path: Path) -> None:
    """The same check through another language's parser: JavaScript on node, with the
    kaitai-struct runtime from npm (what a browser or Electron programmer would use)."""
    script = _load("vpump_kaitai_script_js", ROOT / "scripts" / "kaitai.py")
    (parser_file,) = script.compile_ksy(tmp_path, ["javascript"])
    node = shutil.which("node")
    assert node is not None, "node is missing: run `bash scripts/system-deps.sh`"
    (tmp_path / "dump.js").write_text(_DUMP_JS, encoding="utf-8")
    run = subprocess.run(
        [node, str(tmp_path / "dump.js"), str(parser_file)],
        input=json.dumps([v.wire.hex() for v in VECTORS]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NODE_PATH": str(script.PREFIX / "node_modules")},
    )
    assert run.returncode == 0, run.stderr
    parsed = json.loads(run.stdout)
    assert len(parsed) == len(VECTORS)
    for vector, frames in zip(VECTORS, parsed, strict=True):
        assert len(frames) == 1, vector.name
        frame, want = frames[0], vector.frame
        header = (frame["flags"], frame["seq"], frame["op"], frame["len"])
        assert header == (int(want.flags), want.seq, want.op, len(want.payload)), vector.name
        assert frame["crc"] == crc16(bytes.fromhex(frame["crcInput"])), vector.name
        if vector.message is None or not wire_fields(type(vector.message)):
            assert JavaScript.raw(frame["payload"]) == want.payload, vector.name
            continue
        record = wiremodel.record_node(type(vector.message))
        assert frame["payload"]["__type"] == _class(record.name), vector.name
        _check(record, _expected(vector.message), frame["payload"], vector.name, JavaScript)
