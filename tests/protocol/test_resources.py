"""Package data files: found in a package's directory as importlib.resources finds them,
and through importlib.resources from a zipped install."""

from __future__ import annotations

import importlib
import importlib.resources
import sys
import zipfile
from pathlib import Path

import pytest

from protocol.resources import DISSECTOR_FILE, KSY_FILE, package_file


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("protocol", "data/vpump.lua"),
        ("protocol", "data/demo.key"),
        ("protocol", "data/missing.bin"),
        ("emulator", "presets.py"),
    ],
)
def test_a_package_in_a_directory_answers_as_importlib_resources(package: str, name: str) -> None:
    found = package_file(package, name)
    expected = importlib.resources.files(package).joinpath(name)
    assert isinstance(found, Path) and isinstance(expected, Path)
    assert found == expected


def test_the_shipped_tools_exist() -> None:
    assert DISSECTOR_FILE.is_file() and KSY_FILE.is_file()


def test_a_zipped_package_is_extracted_to_a_real_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("vpump_zipped_pkg/__init__.py", "")
        zipped.writestr("vpump_zipped_pkg/data/table.txt", "1 2 3\n")
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.delitem(sys.modules, "vpump_zipped_pkg", raising=False)
    try:
        found = package_file("vpump_zipped_pkg", "data/table.txt")
        assert found.is_file() and found.read_text() == "1 2 3\n"
        assert not str(found).startswith(str(archive))  # extracted, not inside the zip
    finally:
        sys.modules.pop("vpump_zipped_pkg", None)
        importlib.invalidate_caches()
