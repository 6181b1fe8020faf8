"""Compile protocol/data/vpump.ksy with kaitai-struct-compiler into parsers for other languages.

Usage: python scripts/kaitai.py OUT_DIR LANG [LANG ...]
       python scripts/kaitai.py --install     (only install the compiler)
(LANG: python, csharp, java,
cpp_stl, javascript, go, rust, ...; ``make kaitai`` asks for C#, Java, C++ and JavaScript).

The compiler is the npm package, installed on first use into ``.cache/kaitai`` (project-local;
the version is pinned below) and run with node through ``scripts/ksc.js``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KSY = ROOT / "protocol" / "data" / "vpump.ksy"
COMPILER_VERSION = "0.11.0"
RUNTIME_VERSION = "0.11.0"
"""The JavaScript runtime (npm ``kaitai-struct``) the tests run the JavaScript parser on."""
PREFIX = ROOT / ".cache" / "kaitai"
COMPILER = PREFIX / "node_modules" / "kaitai-struct-compiler" / "kaitai-struct-compiler.js"


def _installed() -> bool:
    wanted = {"kaitai-struct-compiler": COMPILER_VERSION, "kaitai-struct": RUNTIME_VERSION}
    for name, version in wanted.items():
        package = PREFIX / "node_modules" / name / "package.json"
        if not package.exists() or json.loads(package.read_text())["version"] != version:
            return False
    return COMPILER.exists()


def ensure_compiler() -> Path:
    """The compiler's JS file, installed with npm into .cache/kaitai when missing (under a
    file lock, so parallel test workers install it once)."""
    if _installed():
        return COMPILER
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("kaitai: npm is missing: run `bash scripts/system-deps.sh`")
    PREFIX.mkdir(parents=True, exist_ok=True)
    with open(PREFIX / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            _npm_install(npm)
    return COMPILER


def _npm_install(npm: str) -> None:
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(PREFIX),
            "--no-audit",
            "--no-fund",
            "--silent",
            f"kaitai-struct-compiler@{COMPILER_VERSION}",
            f"kaitai-struct@{RUNTIME_VERSION}",
        ],
        check=True,
    )


def compile_ksy(out_dir: Path, languages: list[str]) -> list[Path]:
    """Write the parsers for ``languages`` under ``out_dir/LANG/``; return the files."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("kaitai: node is missing: run `bash scripts/system-deps.sh`")
    ksy = yaml.safe_load(KSY.read_text(encoding="utf-8"))
    result = subprocess.run(
        [node, str(ROOT / "scripts" / "ksc.js"), str(ensure_compiler()), str(out_dir), *languages],
        input=json.dumps(ksy),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr.strip() or "kaitai-struct-compiler failed")
    return [Path(line) for line in result.stdout.splitlines()]


def main(argv: list[str]) -> int:
    if argv[1:] == ["--install"]:
        print(f"kaitai: compiler {COMPILER_VERSION} at {ensure_compiler()}")
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    for path in compile_ksy(Path(argv[1]), argv[2:]):
        print(f"kaitai: wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
