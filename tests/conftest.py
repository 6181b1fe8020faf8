"""Repo-wide fixtures: every test must leave no threads, descriptors or pump links behind.

The autouse fixture below snapshots, before each test, the live threads, the
open file descriptors (``/proc/self/fd``) and the ``/tmp/ttyPUMP*`` symlinks,
and compares after the test's own fixtures have been torn down. Anything new
that is still there after a short settle (and a garbage collection) fails the
test at teardown, naming what leaked.

Resources from session- or module-scoped fixtures are set up before the
snapshot, so they do not count. A test that truly cannot clean up after itself
(a library that keeps a descriptor for the life of the process, say) can opt
out with ``@pytest.mark.leaks_ok("why")``.

Tests must put pty symlinks under ``tmp_path`` (never the default
``/tmp/ttyPUMP0``), so that parallel workers (``pytest -n 2``) never see each
other's links. A new ``/tmp/ttyPUMP*`` link only counts against this process
when it is dangling or points at a pty whose master this process holds.
"""

from __future__ import annotations

import gc
import glob
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings

# Deterministic property tests: the same examples on every run and every machine, so a
# failure in CI reproduces locally (VPUMP_HYPOTHESIS=explore draws fresh examples).
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("VPUMP_HYPOTHESIS", "deterministic"))

# How long something new may take to go away (a thread finishing its last
# lines after a join-less stop, say). Override with VPUMP_LEAK_SETTLE_S.
_SETTLE_S = float(os.environ.get("VPUMP_LEAK_SETTLE_S", "2.0"))
_POLL_S = 0.01
_LINK_GLOB = "/tmp/ttyPUMP*"
_FD_DIR = "/proc/self/fd"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "leaks_ok(reason): skip the thread/descriptor/link leak check for this test"
    )


@dataclass(frozen=True)
class _Snapshot:
    threads: frozenset[threading.Thread]
    fds: frozenset[int]
    links: frozenset[tuple[str, int]]


def _open_fds() -> frozenset[int]:
    # The directory listing itself uses a descriptor that is closed again by
    # the time we look, so keep only the numbers still open afterwards.
    fds = set()
    for name in os.listdir(_FD_DIR):
        fd = int(name)
        try:
            os.fstat(fd)
        except OSError:
            continue
        fds.add(fd)
    return frozenset(fds)


def _threads() -> frozenset[threading.Thread]:
    # _DummyThread stands for a thread Python did not start (Qt's, say): not ours to join.
    return frozenset(
        t
        for t in threading.enumerate()
        if t.is_alive() and not isinstance(t, threading._DummyThread)
    )


def _links() -> frozenset[tuple[str, int]]:
    found = set()
    for path in glob.glob(_LINK_GLOB):
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if os.path.islink(path):
            found.add((path, st.st_ino))
    return frozenset(found)


def _snapshot() -> _Snapshot:
    return _Snapshot(threads=_threads(), fds=_open_fds(), links=_links())


def _our_pty_slaves() -> set[str]:
    """``/dev/pts/N`` for every pty master this process holds."""
    slaves = set()
    for fd in _open_fds():
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


def _leaks(before: _Snapshot) -> list[str]:
    found = [f"thread {t.name!r}" for t in _threads() - before.threads]
    found += [_describe_fd(fd) for fd in sorted(_open_fds() - before.fds)]
    new_links = _links() - before.links
    if new_links:
        ours = _our_pty_slaves()
        for path, _ in sorted(new_links):
            try:
                target = os.readlink(path)
            except OSError:
                continue  # gone meanwhile
            if not os.path.exists(path) or target in ours:
                found.append(f"symlink {path} -> {target}")
    return found


@pytest.fixture(autouse=True)
def _leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves new threads, descriptors or ``/tmp/ttyPUMP*`` links."""
    if request.node.get_closest_marker("leaks_ok") is not None:
        yield
        return
    before = _snapshot()
    yield
    leaks = _leaks(before)
    if not leaks:
        return
    gc.collect()  # an unreferenced object in a cycle may still be holding a descriptor
    deadline = time.monotonic() + _SETTLE_S
    while leaks and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        leaks = _leaks(before)
    if leaks:
        pytest.fail("test left behind: " + "; ".join(leaks), pytrace=False)
