"""Issue 13, item 8: the state file follows no symlink, is private, and has one owner.

A local user who can write the state file's directory must not be able to make the
emulator (perhaps run as root) create or overwrite any other file: not through a
symlink at the state file's name, nor at the name of its temporary file. State and key
files are 0600; two emulators cannot share one state file.
"""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import persistence
from emulator.cli import _write_private
from emulator.persistence import StateFile, StateFileAccessError, StateFileLockedError, StoredState
from emulator.presets import PRESETS
from tests.support import T0

ROOT = Path(__file__).resolve().parents[2]


def _state() -> StoredState:
    pump = PRESETS["default"].build(t=T0)
    return StoredState(pump_image=pump.to_bytes(), pump_t=pump.t, saved_wall_s=0.0, clock_speed=1)


def test_a_symlink_at_the_state_file_name_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "pump.vpst").symlink_to(victim)
    sf = StateFile(shared / "pump.vpst")
    with pytest.raises(StateFileAccessError, match="symbolic link"):
        sf.load()
    sf.save(_state())
    assert victim.read_text() == "precious"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not (shared / "pump.vpst").is_symlink()
    assert sf.load().pump_t == T0


def test_symlinks_planted_at_the_temporary_names_are_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence, "_temp_counter", itertools.count())
    victims = []
    for n in range(3):
        victim = tmp_path / f"victim{n}"
        victims.append(victim)
        (tmp_path / f".pump.vpst.{os.getpid()}.{n}.tmp").symlink_to(victim)  # dangling
    sf = StateFile(tmp_path / "pump.vpst")
    sf.save(_state())
    assert not any(v.exists() for v in victims)  # nothing created through a planted link
    assert sf.load().pump_t == T0


def test_state_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        StateFile(tmp_path / "pump.vpst").save(_state())
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "pump.vpst").stat().st_mode) == 0o600


def test_two_users_of_one_state_file_are_refused(tmp_path: Path) -> None:
    first = StateFile(tmp_path / "pump.vpst")
    first.acquire()
    with pytest.raises(StateFileLockedError, match="in use by another emulator"):
        StateFile(tmp_path / "pump.vpst").acquire()
    first.release()
    second = StateFile(tmp_path / "pump.vpst")
    second.acquire()
    second.release()


def test_a_second_emulator_on_the_same_state_file_does_not_start(tmp_path: Path) -> None:
    state = tmp_path / "pump.vpst"
    holder = StateFile(state)
    holder.acquire()  # as a running emulator holds it
    try:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "emulator.cli", "serve", "--no-pty"),
                *("--tcp", "127.0.0.1:0", "--state", str(state), "--clock", "manual"),
            ],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.release()
    assert done.returncode != 0
    assert "in use by another emulator" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one clear line, no traceback


def test_fleet_key_files_are_private(tmp_path: Path) -> None:
    key = tmp_path / "VP20-000001-000.key"
    key.write_text("old")
    os.chmod(key, 0o644)
    _write_private(key, "clinician: 00\n")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text() == "clinician: 00\n"
