"""The repo-wide leak check (the vpump plugin's, on for every test) must be able to fail.

It lives here because transports are what it guards: ptys, sockets, threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import emulator.leak_check as leakcheck
from emulator.transports.pty import PtyTransport


class Echo:
    def receive(self, data: bytes) -> bytes:
        return data

    def close(self) -> None:
        pass


def test_a_new_descriptor_is_seen_and_forgotten_once_closed() -> None:
    before = leakcheck.snapshot()
    r, w = os.pipe()
    try:
        found = leakcheck.leaks(before)
        assert any(item.startswith(f"fd {r} -> pipe:") for item in found)
        assert any(item.startswith(f"fd {w} -> pipe:") for item in found)
    finally:
        os.close(r)
        os.close(w)
    assert leakcheck.leaks(before) == []


def test_a_new_thread_is_seen_until_it_ends() -> None:
    before = leakcheck.snapshot()
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="leaky-thread")
    thread.start()
    try:
        assert leakcheck.leaks(before) == ["thread 'leaky-thread'"]
    finally:
        release.set()
        thread.join()
    assert leakcheck.leaks(before) == []


def test_links_to_our_ptys_and_dangling_links_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private glob, so parallel workers never see these links.
    monkeypatch.setattr(leakcheck, "LINK_GLOB", str(tmp_path / "ttyPUMP*"))
    before = leakcheck.snapshot()
    with PtyTransport(Echo, link_path=tmp_path / "ttyPUMPmine") as transport:
        os.symlink("/dev/pts/no-such-pty", tmp_path / "ttyPUMPdangling")
        os.symlink("/dev/null", tmp_path / "ttyPUMPother")  # not ours: ignored
        found = [item for item in leakcheck.leaks(before) if item.startswith("symlink")]
        assert found == [
            f"symlink {tmp_path / 'ttyPUMPdangling'} -> /dev/pts/no-such-pty",
            f"symlink {tmp_path / 'ttyPUMPmine'} -> {transport.slave_name}",
        ]
    os.unlink(tmp_path / "ttyPUMPdangling")
    assert leakcheck.leaks(before) == []


LEAKY_TESTS = """
import os
import threading
import time

import pytest

kept = []


def test_leaks_a_descriptor():
    kept.append(os.pipe())


def test_leaks_a_thread():
    event = threading.Event()
    kept.append(event)
    threading.Thread(target=event.wait, name="forgotten", daemon=True).start()


@pytest.mark.leaks_ok("checking the opt-out")
def test_opted_out():
    kept.append(os.pipe())


def test_a_thread_that_ends_soon_is_fine():
    threading.Thread(target=time.sleep, args=(0.05,)).start()


def test_clean():
    r, w = os.pipe()
    os.close(r)
    os.close(w)


def test_zz_release():
    kept[1].set()
"""


def test_the_fixture_fails_leaky_tests_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nvpump_leak_check = true\n")
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "VPUMP_LEAK_SETTLE_S": "0.3",
        "COLUMNS": "400",  # keep the short summary lines whole
    }
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"),
            *("-p", "emulator.pytest_plugin", str(tmp_path)),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "test_leaks_a_descriptor - Failed: vpump: the test left behind: fd " in out
    assert "test_leaks_a_thread - Failed: vpump: the test left behind: thread 'forgotten'" in out
    for name in ("test_opted_out", "test_a_thread_that_ends_soon_is_fine", "test_clean"):
        assert f"PASSED test_leaky.py::{name}" in out
    # The two leaky tests pass their call and error at teardown.
    assert "6 passed, 2 errors" in out
