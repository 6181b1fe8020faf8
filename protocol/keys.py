"""Key files: one 32-byte key per role, as ``role = <64 hex digits>`` lines.

A pump's key file holds a key for every role it accepts; a programmer's needs
only the key of the role it opens sessions in. ``#`` starts a comment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from protocol.enums import Role
from protocol.errors import LocalError
from protocol.resources import package_file

KEY_SIZE = 32
"""Bytes per key (HMAC-SHA256 keys)."""

DEMO_KEY_FILE = package_file("protocol", "data/demo.key")
"""The documented demo key shared by the demo pump and the demo programmer, shipped as
package data (``protocol/data/demo.key``; ``examples/keys/demo.key`` links to it)."""

_LINE = re.compile(r"^\s*([a-z]+)\s*=\s*([0-9a-fA-F]+)\s*$")


class KeyFileError(LocalError, ValueError):
    """A key file is missing, unreadable or malformed."""


def parse_keys(text: str, *, source: str = "<key file>") -> dict[Role, bytes]:
    """Parse key-file text into a role -> key mapping; raise KeyFileError naming the line."""
    keys: dict[Role, bytes] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise KeyFileError(f"{source}:{number}: expected 'role = <64 hex digits>'")
        name, hexkey = match.groups()
        try:
            role = Role[name.upper()]
        except KeyError:
            roles = ", ".join(r.name.lower() for r in Role)
            raise KeyFileError(
                f"{source}:{number}: unknown role {name!r} (one of {roles})"
            ) from None
        if len(hexkey) != 2 * KEY_SIZE:
            raise KeyFileError(
                f"{source}:{number}: the {name} key has {len(hexkey) // 2} bytes, "
                f"expected {KEY_SIZE}"
            )
        if role in keys:
            raise KeyFileError(f"{source}:{number}: a second {name} key")
        keys[role] = bytes.fromhex(hexkey)
    if not keys:
        raise KeyFileError(f"{source}: no keys found")
    problem = key_problem(keys)
    if problem is not None:
        raise KeyFileError(f"{source}: {problem}")
    return keys


def key_problem(keys: Mapping[Role, bytes]) -> str | None:
    """Why a pump must not use ``keys`` (an all-zero key; one key for two roles), or None."""
    for role, key in keys.items():
        if not any(key):
            return f"the {role.name.lower()} key is all zeros"
    if len(set(keys.values())) < len(keys):
        return "two roles have the same key: a patient could open a clinician session"
    return None


def load_keys(path: str | Path) -> dict[Role, bytes]:
    """Read a key file; raise KeyFileError when it cannot be read or parsed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {p}: {exc}") from exc
    return parse_keys(text, source=str(p))


def key_for(keys: Mapping[Role, bytes], role: Role, *, source: str = "key file") -> bytes:
    """The key of one role, or KeyFileError saying the file lacks it."""
    try:
        return keys[role]
    except KeyError:
        raise KeyFileError(f"{source} holds no {role.name.lower()} key") from None


def format_keys(keys: Mapping[Role, bytes]) -> str:
    """Key-file text for a mapping (used to write per-pump keys)."""
    return "".join(f"{role.name.lower()} = {key.hex()}\n" for role, key in sorted(keys.items()))
