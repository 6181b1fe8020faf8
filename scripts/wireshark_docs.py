"""Rewrite the "What tshark shows" section of docs/wireshark.md from tshark's real output.

Run by ``make docs`` after the dissector is regenerated, so the documented tree is what the
current dissector prints for the current example capture (tshark installed by
scripts/system-deps.sh). Usage: python scripts/wireshark_docs.py
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.capture import PcapngWriter, read_capture  # noqa: E402
from protocol.enums import Flags, Op  # noqa: E402
from protocol.frames import decode_frame  # noqa: E402

DOC = ROOT / "docs" / "wireshark.md"
LUA = "protocol/data/vpump.lua"
EXAMPLE = "examples/captures/demo-session.pcapng"
SECTION = "## What tshark shows for the example capture"


def _tshark(*args: str) -> str:
    result = subprocess.run(
        ["tshark", "-X", f"lua_script:{LUA}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _version() -> str:
    out = subprocess.run(["tshark", "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"\(Wireshark\) (\S+)", out.stdout)
    return found.group(1) if found else "?"


def section() -> str:
    header, chunks = read_capture(ROOT / "examples" / "captures" / "demo-session.jsonl")
    status = next(
        i
        for i, chunk in enumerate(chunks)
        if (frame := decode_frame(chunk.data)).op == Op.STATUS and frame.flags & Flags.RESPONSE
    )
    listing = "".join(line.strip() + "\n" for line in _tshark("-r", EXAMPLE).splitlines())
    number = status + 1
    tree = _tshark("-r", EXAMPLE, "-2", "-O", "vpump", "-Y", f"frame.number == {number}")
    corrupt = bytearray(chunks[status].data)
    corrupt[9 + 20] ^= 0x01
    chunks[status] = dataclasses.replace(chunks[status], data=bytes(corrupt))
    with tempfile.TemporaryDirectory() as tmp:
        pcapng = Path(tmp) / "corrupt.pcapng"
        with PcapngWriter(pcapng, pump_serial=header.pump_serial) as writer:
            for chunk in chunks:
                writer.write_chunk(chunk)
        bad_list = _tshark("-r", str(pcapng)).splitlines()[status].strip()
        bad_tree = _tshark("-r", str(pcapng), "-O", "vpump", "-Y", f"frame.number == {number}")
    crc_lines = bad_tree[bad_tree.index("    CRC: ") :].split("\n[Direction")[0].rstrip("\n")
    return "\n".join(
        [
            SECTION,
            "",
            "Written by `make docs` (`scripts/wireshark_docs.py`) from tshark's own output "
            f"(Wireshark {_version()}). The packet list "
            f"(`tshark -X lua_script:{LUA} -r {EXAMPLE}`):",
            "",
            "```text",
            listing.rstrip("\n"),
            "```",
            "",
            f'The first STATUS answer, decoded (`... -2 -O vpump -Y "frame.number == {number}"`):',
            "",
            "```text",
            tree.rstrip("\n"),
            "```",
            "",
            "The same answer with one payload bit flipped on the wire (what "
            "`tests/test_wireshark.py` checks): the list says",
            "",
            "```text",
            bad_list,
            "```",
            "",
            "and the tree ends",
            "",
            "```text",
            crc_lines,
            "```",
            "",
        ]
    )


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    rest = "" if end < 0 else text[end + 1 :]
    DOC.write_text(text[:start] + section() + rest, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
