"""The interrogation that ends an MRI's telemetry mode is saved before it is answered
(issue 19): a session opened changes the pump (the trap ends, the motor turns, the
interrogation counts towards a recovery logged at the second one), so, like a command,
that change is on disk before the pump answers; after a crash the pump is not back in
telemetry mode. When the save fails, the interrogation leaves the pump as it was (still
in telemetry mode, as on disk), and a later interrogation ends the trap."""

from __future__ import annotations

import errno
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.emulator import Emulator
from emulator.mri import MriExit
from emulator.persistence import StateFile, StateFileAccessError, StoredState
from firmware_model.pump import Pump
from protocol.client import PumpClient
from protocol.enums import EventCode, Role
from tests.support import DEMO_KEYS, T0, FakeWall

HOUR = 3_600


class FullDisk(StateFile):
    """A state file on a disk that fills up and frees again on command; counts saves."""

    full = False
    saves = 0

    def save(self, state: StoredState) -> None:
        if self.full:
            raise StateFileAccessError(
                f"cannot save state file {self.path}: No space left on device "
                f"({errno.errorcode[errno.ENOSPC]}); the old file is unchanged"
            )
        super().save(state)
        self.saves += 1


@pytest.fixture
def emu_disk(tmp_path: Path) -> Iterator[tuple[Emulator, FullDisk]]:
    disk = FullDisk(tmp_path / "pump.vpst")
    with Emulator.single(manual_clock=True, start_pump_s=T0, wall=FakeWall()) as emu:
        emu.pumps[0].persist_to(disk)
        yield emu, disk


def _client(emu: Emulator, role: Role = Role.CLINICIAN) -> PumpClient:
    return PumpClient(
        emu.register_inproc(),
        key=DEMO_KEYS[role],
        role=role,
        timeout_s=1.0,
        retries=0,
        random_bytes=random.Random(7).randbytes,
    )


def _on_disk(disk: FullDisk) -> Pump:
    return Pump.from_bytes(disk.load().pump_image)


def test_the_interrogation_ending_telemetry_mode_is_on_disk_before_its_answer(
    emu_disk: tuple[Emulator, FullDisk],
) -> None:
    emu, disk = emu_disk
    emu.mri(2700, MriExit(telemetry_trap=True))  # a control: saved at once
    emu.advance(3 * HOUR)
    trapped = _on_disk(disk).mri
    assert trapped is not None and trapped.trapped  # on disk: in telemetry mode
    saves = disk.saves
    with _client(emu, Role.PATIENT) as client:
        # The answer that opened this session came after the save: the disk already
        # holds a pump out of telemetry mode, delivering again.
        crashed = _on_disk(disk)
        assert disk.saves == saves + 1
        assert crashed.mri is None  # the recovery was logged, the exposure is over
        assert crashed.delivering
        assert crashed.event_log.read(crashed.event_log.first_index, 10_000)[-1].code is (
            EventCode.SESSION_OPENED
        )
        assert client.status().delivering


def test_a_recovery_waiting_for_the_second_interrogation_counts_each_one_on_disk(
    emu_disk: tuple[Emulator, FullDisk],
) -> None:
    emu, disk = emu_disk
    emu.mri(2700, MriExit(recovery_logged_at_second_interrogation=True))
    emu.advance(HOUR)
    with _client(emu):
        state = _on_disk(disk).mri
        assert state is not None and state.interrogations == 1
    with _client(emu):
        on_disk = _on_disk(disk)
        assert on_disk.mri is None
        recoveries = [
            e
            for e in on_disk.event_log.read(on_disk.event_log.first_index, 10_000)
            if e.code is EventCode.STALL_RECOVERY
        ]
        assert [e.a for e in recoveries] == [2700]


def test_when_the_save_fails_the_pump_stays_in_telemetry_mode_as_on_disk(
    emu_disk: tuple[Emulator, FullDisk], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, disk = emu_disk
    emu.mri(2700, MriExit(telemetry_trap=True))
    emu.advance(3 * HOUR)
    disk.full = True
    with _client(emu) as client:
        status = client.status()  # the session opened; the pump was left as it was
        assert not status.delivering
        live = emu.pumps[0].pump.mri
        assert live is not None and live.trapped and live.interrogations == 0
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    disk.full = False
    with _client(emu) as client:
        assert client.status().delivering  # the next interrogation ends the trap
    assert _on_disk(disk).delivering
    emu.check()


def test_without_an_mri_a_session_opened_needs_no_save_before_its_answer(
    emu_disk: tuple[Emulator, FullDisk],
) -> None:
    emu, disk = emu_disk
    emu.pumps[0].save_if_changed()
    saves = disk.saves
    with _client(emu) as client:
        client.status()
    assert disk.saves == saves  # session events wait for the periodic save
