"""The audit is only worth anything if its client knows nothing but the documents: no module
of tests/audit may import the project (protocol, firmware_model, emulator, programmer_gui,
vpump) or any other third-party package than pytest."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

AUDIT = Path(__file__).resolve().parent
ALLOWED = {"__future__", "pytest", "tests"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
            if node.module.split(".")[0] == "tests":
                assert node.module.startswith("tests.audit"), f"{path.name}: {node.module}"
    return roots


def test_the_audit_imports_only_the_stdlib_and_pytest() -> None:
    files = sorted(AUDIT.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        foreign = imported_roots(path) - set(sys.stdlib_module_names) - ALLOWED
        assert not foreign, f"{path.name} imports {sorted(foreign)}"
    # and the client itself does not even use pytest
    assert imported_roots(AUDIT / "docclient.py") <= set(sys.stdlib_module_names) | {"__future__"}
