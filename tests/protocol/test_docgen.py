"""docs/protocol.md is generated, complete, and never stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from protocol import docgen
from protocol.enums import ErrorCode, EventCode, Op, Role
from protocol.frames import decode_frame
from protocol.messages import REGISTRY, decode_request, decode_response
from protocol.session import ProgrammerSession, verify_mac

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


@pytest.fixture(scope="module")
def generated() -> str:
    return docgen.generate()


def test_docs_protocol_md_is_up_to_date(generated: str) -> None:
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == generated, (
        "docs/protocol.md is stale: run `make docs` to regenerate it from the schemas"
    )


def test_generation_is_deterministic(generated: str) -> None:
    assert docgen.generate() == generated


def test_every_opcode_error_and_event_is_documented(generated: str) -> None:
    for op in Op:
        assert f"### {op.name}\n" in generated
    for code in ErrorCode:
        assert f"| {code.name} |" in generated
    for event in EventCode:
        assert f"| {event.name} |" in generated


def test_every_example_frame_decodes_to_its_example(generated: str) -> None:
    blocks = re.findall(r"```\n(a5 5a [0-9a-f ]+(?:\n[0-9a-f ]+)*)\n```", generated)
    frames = [decode_frame(bytes.fromhex(block.replace("\n", " "))) for block in blocks]
    assert len(frames) > 2 * len(REGISTRY)
    for op, (request, response) in docgen.EXAMPLES.items():
        shown = [frame for frame in frames if frame.op == op]
        assert any(frame.is_response for frame in shown), op.name
        for frame in shown:
            if frame.is_response:
                assert decode_response(op, frame.payload) == response
            else:
                assert decode_request(op, frame.payload) == request
    for frame in frames:
        if frame.mac is not None:
            assert verify_mac(docgen.EXAMPLE_SESSION_KEY, frame)


def test_the_handshake_example_is_what_a_programmer_sends(generated: str) -> None:
    nonces = iter([docgen.EXAMPLE_CLIENT_NONCE])
    programmer = ProgrammerSession(
        key=docgen.EXAMPLE_ROLE_KEY,
        role=Role.CLINICIAN,
        random_bytes=lambda n: next(nonces),
        first_seq=1,
    )
    start = programmer.start()
    assert start.hex(" ") in generated


def test_main_prints_the_document(capsys: pytest.CaptureFixture[str], generated: str) -> None:
    assert docgen.main() == 0
    assert capsys.readouterr().out == generated
