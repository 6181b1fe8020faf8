"""Issue 13, items 4 and 5: nothing is applied without an answer.

A command whose save fails (a full disk) is undone and refused with STORAGE_FAILED, with
one clear line on stderr and no traceback; every control that changes a pump (the clock
controls included) is on disk before it returns.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.control import execute
from emulator.emulator import ControlError, Emulator
from emulator.persistence import StateFile, StateFileAccessError, StoredState
from firmware_model.pump import Pump
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind, ErrorCode, Role
from protocol.errors import NakError
from tests.support import DEMO_KEYS, T0, FakeWall


class FullDisk(StateFile):
    """A state file on a disk that fills up and frees again on command."""

    full = False

    def save(self, state: StoredState) -> None:
        if self.full:
            raise StateFileAccessError(
                f"cannot save state file {self.path}: No space left on device "
                f"({errno.errorcode[errno.ENOSPC]}); the old file is unchanged"
            )
        super().save(state)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[Emulator, FullDisk]]:
    wall = FakeWall()
    state = FullDisk(tmp_path / "pump.vpst")
    with Emulator.single(manual_clock=True, start_pump_s=T0, wall=wall) as emu:
        emu.pumps[0].persist_to(state)
        yield emu, state


def _client(emu: Emulator) -> PumpClient:
    return PumpClient(
        emu.register_inproc(),
        key=DEMO_KEYS[Role.CLINICIAN],
        timeout_s=1.0,
        retries=0,
        random_bytes=random.Random(3).randbytes,
    )


def test_a_change_whose_save_fails_is_undone_and_refused(
    emulator: tuple[Emulator, FullDisk], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, disk = emulator
    bolus = m.StartBolusRequest(
        kind=BolusKind.THERAPEUTIC, dose_ng=25_000, volume_nl=0, duration_s=600
    )
    with _client(emu) as client:
        volume = emu.pumps[0].pump.alarm_volume_nl
        log_size = emu.pumps[0].pump.event_log.total_written
        disk.full = True
        for request in (bolus, m.SetAlarmVolumeRequest(volume_nl=volume + 500_000)):
            with pytest.raises(NakError) as caught:
                client.call(request, m.Message)
            assert caught.value.code is ErrorCode.STORAGE_FAILED
            assert "nothing was changed" in caught.value.reason
        pump = emu.pumps[0].pump  # neither was applied (only the radio's battery drain was)
        assert pump.bolus is None and pump.alarm_volume_nl == volume
        assert pump.event_log.total_written == log_size
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 2 and all("STORAGE_FAILED" in line for line in err)
        assert "No space left on device" in err[0] and "Traceback" not in "".join(err)
        # Reads need no save and still work on a full disk.
        client.status()
        # The disk frees up: a retry (a new request) is applied once, and is on disk.
        disk.full = False
        started = client.call(bolus, m.StartBolusResponse)
        assert started.volume_nl == 50_000
        assert Pump.from_bytes(disk.load().pump_image).bolus is not None  # on disk first
    emu.check()


def test_a_control_whose_save_fails_is_undone(emulator: tuple[Emulator, FullDisk]) -> None:
    emu, disk = emulator
    before = emu.pumps[0].pump.to_bytes()
    disk.full = True
    with pytest.raises(ControlError, match="not saved, so not applied"):
        execute(emu, ["fault", "motor-stall", "on"])
    assert emu.pumps[0].pump.to_bytes() == before
    with pytest.raises(ControlError, match="advance took effect but was not saved"):
        execute(emu, ["advance", "1h"])
    disk.full = False


def test_every_clock_control_is_on_disk_before_it_returns(
    emulator: tuple[Emulator, FullDisk],
) -> None:
    emu, disk = emulator
    execute(emu, ["speed", "100"])
    execute(emu, ["resume"])
    assert disk.load().clock_speed == 100
    execute(emu, ["pause"])
    assert disk.load().clock_speed == 0
    start = disk.load().pump_t
    execute(emu, ["advance", "2d"])
    assert disk.load().pump_t == start + 2 * 86_400  # a SIGKILL now loses nothing
    execute(emu, ["fault", "battery", "50"])
    assert disk.load().pump_image == emu.pumps[0].pump.to_bytes()
