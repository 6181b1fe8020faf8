"""Rewrite protocol/frozen_shapes.py: the code of ``protocol.frozen``'s ``__init__`` for
every shape the classes of ``protocol``, ``firmware_model`` and ``emulator`` have, so a
start compiles none of them (#16).

Run it after adding a class made by ``protocol.frozen`` or ``protocol.wire.record`` whose
fields make a new shape; ``tests/protocol/test_frozen.py`` says when ``pump-emulator
serve`` needs one that is missing. Usage: python scripts/frozen_shapes.py
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from protocol import frozen  # noqa: E402

PACKAGES = ("protocol", "firmware_model", "emulator")
TARGET = ROOT / "protocol" / "frozen_shapes.py"


def main() -> int:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    TARGET.write_text(frozen.shapes_module())
    print(f"{TARGET.relative_to(ROOT)}: {len(frozen.shapes_module().split('SHAPES[')) - 1} shapes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
