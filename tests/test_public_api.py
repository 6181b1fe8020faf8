"""The public API: ``import vpump`` is lazy and complete, and every Python example in the
README and docs/api.md runs (against an in-process pump where it names a port)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import vpump
from protocol.client import PumpClient
from protocol.keys import DEMO_KEY_FILE
from tests.support import inproc_pump

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DOCS = [ROOT / "README.md", ROOT / "docs" / "api.md", ROOT / "docs" / "emulator.md"]
"""Documents whose Python examples run as they are (others' need fixtures: only checked)."""
ALL_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _examples() -> Iterator[tuple[str, str]]:
    for doc in EXAMPLE_DOCS:
        for number, block in enumerate(_BLOCK.findall(doc.read_text(encoding="utf-8")), 1):
            yield f"{doc.name}#{number}", block


EXAMPLES = dict(_examples())


def test_import_vpump_imports_nothing_else() -> None:
    code = (
        "import sys, vpump; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('protocol', 'emulator', 'firmware_model', 'programmer_gui', 'construct', 'serial')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_documented() -> None:
    api_doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for name in vpump.__all__:
        assert getattr(vpump, name) is not None
        if name != "__version__":
            assert f"`{name}`" in api_doc, f"docs/api.md does not document vpump.{name}"
    assert set(vpump.__all__) - {"__version__"} == set(vpump._EXPORTS)
    assert set(vpump.__all__) <= set(dir(vpump))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        vpump.nothing  # noqa: B018


def test_the_reexports_are_the_owners_objects() -> None:
    assert vpump.PumpClient is PumpClient
    assert vpump.DEMO_KEY_FILE == DEMO_KEY_FILE
    assert DEMO_KEY_FILE.is_file()


def test_every_python_example_in_the_docs_imports_only_the_public_api() -> None:
    internal = re.compile(
        r"^\s*(from|import)\s+(protocol|emulator|firmware_model|programmer_gui)\b"
    )
    for doc in ALL_DOCS:
        for block in _BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.splitlines():
                assert not internal.match(line), f"{doc.name}: {line.strip()!r}: use import vpump"


def test_the_docs_hold_python_examples() -> None:
    assert "README.md#1" in EXAMPLES
    assert len([k for k in EXAMPLES if k.startswith("api.md")]) >= 3


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_documented_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = EXAMPLES[name]
    assert "from protocol" not in code and "from emulator" not in code, "use import vpump"
    with inproc_pump() as pump:
        exec(compile(code.replace('"/tmp/ttyPUMP0"', repr(pump.url)), name, "exec"), {})
    assert capsys.readouterr().out.strip(), f"{name} printed nothing"
