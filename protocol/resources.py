"""Files shipped inside the package, found with importlib.resources (a checkout, an installed
wheel, or a zipped install alike)."""

from __future__ import annotations

import atexit
import contextlib
import importlib.resources
from pathlib import Path

__all__ = ["DISSECTOR_FILE", "KSY_FILE", "package_file"]

_RESOURCES = contextlib.ExitStack()
atexit.register(_RESOURCES.close)


def package_file(package: str, name: str) -> Path:
    """A data file shipped inside ``package``, as a real path. From a zipped install the file
    is extracted once to a temporary file that lives until the interpreter exits."""
    resource = importlib.resources.files(package).joinpath(name)
    if isinstance(resource, Path):
        return resource
    return _RESOURCES.enter_context(importlib.resources.as_file(resource))


DISSECTOR_FILE = package_file("protocol", "data/vpump.lua")
"""The Wireshark dissector generated from the schemas (``wireshark -X lua_script:FILE``)."""

KSY_FILE = package_file("protocol", "data/vpump.ksy")
"""The Kaitai Struct description generated from the schemas (``kaitai-struct-compiler``)."""
