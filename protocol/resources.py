"""Files shipped inside the package, found with importlib.resources (a checkout, an installed
wheel, or a zipped install alike)."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import sys
from pathlib import Path

__all__ = ["DISSECTOR_FILE", "KSY_FILE", "package_file"]

_RESOURCES = contextlib.ExitStack()
atexit.register(_RESOURCES.close)


def package_file(package: str, name: str) -> Path:
    """A data file shipped inside ``package``, as a real path. From a zipped install the file
    is extracted once to a temporary file that lives until the interpreter exits.

    A package loaded from a directory (its ``__init__`` a file on disk) is answered as
    ``importlib.resources.files`` would answer it (its directory, joined with ``name``)
    without importing importlib.resources, which brings tempfile, shutil, zipfile and lzma
    along: ``pump-emulator serve`` reads its demo key file this way and needs none of
    them (#16)."""
    module = sys.modules.get(package) or importlib.import_module(package)
    spec = module.__spec__
    if spec is not None and spec.submodule_search_locations and spec.origin is not None:
        origin = Path(spec.origin)
        if origin.is_file():
            return origin.parent.joinpath(name)
    # A zipped or otherwise unusual install only.
    from importlib import resources  # noqa: PLC0415

    resource = resources.files(package).joinpath(name)
    if isinstance(resource, Path):
        return resource
    return _RESOURCES.enter_context(resources.as_file(resource))


DISSECTOR_FILE = package_file("protocol", "data/vpump.lua")
"""The Wireshark dissector generated from the schemas (``wireshark -X lua_script:FILE``)."""

KSY_FILE = package_file("protocol", "data/vpump.ksy")
"""The Kaitai Struct description generated from the schemas (``kaitai-struct-compiler``)."""
