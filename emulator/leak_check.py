"""The vpump leak check's inspection: what a test may leave behind (threads, descriptors,
the plugin's in-process port names, ``/tmp/ttyPUMP*`` symlinks, vpump temp dirs), a snapshot
of them before the test and what is new after. The ``vpump_leak_check`` fixture of
:mod:`emulator.pytest_plugin` uses it."""

from __future__ import annotations

import contextlib
import gc
import glob
import os
import tempfile
import threading
import time
from dataclasses import dataclass

from emulator.plugin_pump import plugin_names, temp_prefix
from emulator.transports import inproc

__all__ = ["LINK_GLOB", "Snapshot", "leaks", "leaks_after_settling", "snapshot"]

SETTLE_S = 2.0
"""How long leftovers get to go away by default (``VPUMP_LEAK_SETTLE_S``), s."""
LINK_GLOB = "/tmp/ttyPUMP*"
_FD_DIR = "/proc/self/fd"


@dataclass(frozen=True)
class Snapshot:
    threads: frozenset[threading.Thread]
    fds: frozenset[int]
    names: frozenset[str]
    links: frozenset[tuple[str, int]]
    temp_dirs: frozenset[str]


def _fds() -> frozenset[int]:
    """The open descriptors, less eventfds: none of ours makes one, and Qt's process-wide
    worker threads open theirs whenever Qt first needs them (on a loaded machine, during
    whichever test comes first), to keep them for the life of the process."""
    found = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(_FD_DIR):
            with contextlib.suppress(OSError, ValueError):
                os.fstat(int(name))
                if os.readlink(f"{_FD_DIR}/{name}") == "anon_inode:[eventfd]":
                    continue
                found.add(int(name))
    return frozenset(found)


def _links() -> frozenset[tuple[str, int]]:
    """The ``/tmp/ttyPUMP*`` symlinks, with their inode (a link replaced is a new one)."""
    found = set()
    for path in glob.glob(LINK_GLOB):
        with contextlib.suppress(OSError):
            if os.path.islink(path):
                found.add((path, os.lstat(path).st_ino))
    return frozenset(found)


def _our_pty_slaves() -> set[str]:
    """``/dev/pts/N`` for every pty master this process holds."""
    slaves = set()
    for fd in _fds():
        try:
            if os.readlink(f"{_FD_DIR}/{fd}") not in ("/dev/ptmx", "/dev/pts/ptmx"):
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                for line in info:
                    if line.startswith("tty-index:"):
                        slaves.add(f"/dev/pts/{int(line.split(':', 1)[1])}")
        except (OSError, ValueError):
            continue
    return slaves


def _describe_fd(fd: int) -> str:
    try:
        return f"fd {fd} -> {os.readlink(f'{_FD_DIR}/{fd}')}"
    except OSError:
        return f"fd {fd}"


def snapshot() -> Snapshot:
    threads = frozenset(
        t
        for t in threading.enumerate()
        if t.is_alive() and not isinstance(t, threading._DummyThread)
    )
    names = frozenset(n for n in plugin_names if inproc.lookup(n) is not None)
    temp = frozenset(glob.glob(os.path.join(tempfile.gettempdir(), temp_prefix() + "*")))
    return Snapshot(
        threads=threads,
        fds=_fds(),
        names=names,
        links=_links(),
        temp_dirs=temp,
    )


def leaks(before: Snapshot) -> list[str]:
    now = snapshot()
    found = [f"thread {t.name!r}" for t in now.threads - before.threads]
    found += [_describe_fd(fd) for fd in sorted(now.fds - before.fds)]
    found += [f"in-process port {name!r}" for name in sorted(now.names - before.names)]
    new_links = now.links - before.links
    if new_links:
        # Another process's link (a parallel worker's) is not ours: a new link counts only
        # when it dangles or points at a pty whose master this process holds.
        ours = _our_pty_slaves()
        for path, _ in sorted(new_links):
            try:
                target = os.readlink(path)
            except OSError:
                continue  # gone meanwhile
            if not os.path.exists(path) or target in ours:
                found.append(f"symlink {path} -> {target}")
    found += [f"temp dir {path}" for path in sorted(now.temp_dirs - before.temp_dirs)]
    return found


def leaks_after_settling(before: Snapshot) -> list[str]:
    """:func:`leaks`, given ``VPUMP_LEAK_SETTLE_S`` seconds (default :data:`SETTLE_S`) to go
    away first: something new may need a moment (a thread finishing its last lines)."""
    found = leaks(before)
    if found:
        gc.collect()
        deadline = time.monotonic() + float(os.environ.get("VPUMP_LEAK_SETTLE_S", SETTLE_S))
        while found and time.monotonic() < deadline:
            time.sleep(0.01)
            found = leaks(before)
    return found
