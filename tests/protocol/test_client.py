"""PumpClient against an in-process virtual pump (pumpsim://), clock in manual mode."""

from __future__ import annotations

import os
import random
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from emulator.presets import PRESETS
from emulator.server import Server
from emulator.transports import inproc, protocol_pumpsim
from emulator.transports.base import Endpoint
from emulator.transports.pty import PtyTransport
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import ErrorCode, EventCode, Mode, Role
from protocol.errors import AuthenticationError, LinkClosed, LinkTimeout, NakError
from tests.support import DEMO_KEYS, InprocPump, inproc_pump


@pytest.fixture
def pump() -> Iterator[InprocPump]:
    with inproc_pump() as p:
        yield p


def test_device_info_needs_no_session(pump: InprocPump) -> None:
    with PumpClient(pump.url) as client:
        info = client.device_info()
    assert (info.model, info.serial, info.capacity_nl) == (20, "VP20-000001", 20_000_000)
    assert info.protocol_version == 1


def test_commands_need_a_session(pump: InprocPump) -> None:
    with PumpClient(pump.url) as client, pytest.raises(NakError) as err:
        client.status()
    assert err.value.code is ErrorCode.NO_SESSION


def test_status_reports_the_worked_example(pump: InprocPump) -> None:
    # domain.md: 20 mL at 500 mcg/mL, 100 mcg/day, 2 mL alarm -> alarm on day 90.
    with pump.client() as client:
        status = client.status()
    assert status.mode is Mode.SIMPLE
    assert status.daily_volume_nl == 200_000
    assert status.reservoir_nl == 20_000_000
    assert status.low_reservoir_alarm_at_s == status.clock_s + 90 * 86_400


def test_program_stages_verifies_commits_and_reads_back(pump: InprocPump) -> None:
    spec = m.PrescriptionSpec.flex(
        [
            m.FlexStep(start_min=0, dose_ng_per_day=100_000),
            m.FlexStep(start_min=22 * 60, dose_ng_per_day=75_000),
        ],
        concentration_ug_per_ml=500,
    )
    with pump.client() as client:
        active = client.program(spec)
        assert active.prescription == spec
        assert client.status().prescription_checksum == m.prescription_checksum(spec)
    assert pump.virtual.pump.status().mode is Mode.FLEX


def test_out_of_range_dose_is_refused_and_changes_nothing(pump: InprocPump) -> None:
    with pump.client() as client:
        before = client.read_prescription()
        with pytest.raises(NakError) as err:
            # 15 mg/day of 500 mcg/mL needs 30 mL/day: over the 24 mL/day maximum.
            client.program(m.PrescriptionSpec.simple(15_000_000, concentration_ug_per_ml=500))
        assert err.value.code is ErrorCode.OUT_OF_RANGE
        assert "rate_nl_per_day" in err.value.reason
        assert client.read_prescription() == before


def test_a_prescription_for_another_drug_is_refused(pump: InprocPump) -> None:
    # The pump holds 500 mcg/mL: 100 mcg/day "of 750 mcg/mL" would deliver 66.7 mcg/day.
    with pump.client() as client:
        before = client.read_prescription()
        with pytest.raises(NakError) as err:
            client.program(m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=750))
        assert err.value.code is ErrorCode.CONCENTRATION_MISMATCH
        assert "750" in err.value.reason and "500" in err.value.reason
        assert client.read_prescription() == before


def test_a_refill_to_a_new_drug_keeps_the_dose_and_bridges(pump: InprocPump) -> None:
    # 100 mcg/day of 500 mcg/mL (0.2 mL/day), refilled with 2000 mcg/mL, same dose, bridged.
    with pump.client() as client:
        implant = client.implant()
        assert implant.recorded
        same = client.read_prescription().prescription.with_concentration(2000)
        result = client.refill(
            removed_nl=client.status().reservoir_nl,
            added_nl=18_000_000,
            concentration_ug_per_ml=2000,
            prescription=same,
            bridge=True,
            drug_lot="LOT-1",
        )
        status = client.status()
        assert status.daily_dose_ng == 100_000  # the mcg/day did not change
        assert status.concentration_ug_per_ml == 2000
        assert status.bridge_concentration_ug_per_ml == 500  # rates still at the old drug
        assert status.basal_rate_nl_per_day == 200_000
        assert status.bridge_remaining_nl == result.bridge_volume_nl > 0
        # duration = dead volume x old concentration / dose
        dead_ml = result.bridge_volume_nl / 1e6
        assert status.bridge_ends_at_s == status.clock_s + round(dead_ml * 500 / 100 * 86_400)
        assert client.implant().drug_lot == "LOT-1"
        cancelled = client.cancel_bridge()
        assert cancelled.remaining_nl == result.bridge_volume_nl
        after = client.status()
        assert after.bridge_concentration_ug_per_ml == 0
        assert after.basal_rate_nl_per_day == 50_000  # 100 mcg/day of 2000 mcg/mL


def test_a_refill_naming_the_old_drug_changes_nothing(pump: InprocPump) -> None:
    with pump.client() as client:
        before = client.status()
        old = client.read_prescription().prescription
        with pytest.raises(NakError) as err:
            client.refill(
                removed_nl=before.reservoir_nl,
                added_nl=18_000_000,
                concentration_ug_per_ml=2000,
                prescription=old,  # still "of 500 mcg/mL": the old rate on the new drug
                bridge=True,
            )
        assert err.value.code is ErrorCode.CONCENTRATION_MISMATCH
        after = client.status()
        assert (after.concentration_ug_per_ml, after.reservoir_nl) == (500, before.reservoir_nl)


def test_commit_needs_the_staged_checksum(pump: InprocPump) -> None:
    with pump.client() as client:
        with pytest.raises(NakError) as err:
            client.commit(0x1234)
        assert err.value.code is ErrorCode.INVALID_STATE
        staged = client.stage(m.PrescriptionSpec.simple(150_000, concentration_ug_per_ml=500))
        with pytest.raises(NakError) as err:
            client.commit(staged ^ 1)
        assert err.value.code is ErrorCode.CHECKSUM_MISMATCH
        assert client.status().daily_volume_nl == 200_000
        assert client.commit(staged) == staged
        assert client.status().daily_volume_nl == 300_000


def test_a_staged_prescription_dies_with_its_session(pump: InprocPump) -> None:
    with pump.client() as client:
        staged = client.stage(m.PrescriptionSpec.minimum_rate(concentration_ug_per_ml=500))
    with pump.client() as client:
        with pytest.raises(NakError) as err:
            client.commit(staged)
        assert err.value.code is ErrorCode.INVALID_STATE
        assert client.status().mode is Mode.SIMPLE


def test_patient_role_cannot_program(pump: InprocPump) -> None:
    with pump.client(Role.PATIENT) as client:
        assert client.status().mode is Mode.SIMPLE
        with pytest.raises(NakError) as err:
            client.stage(m.PrescriptionSpec.minimum_rate(concentration_ug_per_ml=500))
    assert err.value.code is ErrorCode.FORBIDDEN


def test_wrong_key_is_detected_before_we_prove_anything(pump: InprocPump) -> None:
    client = PumpClient(pump.url, key=bytes(32), random_bytes=random.Random(1).randbytes)
    with pytest.raises(AuthenticationError):
        client.connect()
    client.close()


def test_event_log_is_read_across_pages(pump: InprocPump) -> None:
    with pump.client() as client:
        for volume in range(1_500_000, 1_500_000 + 40 * 1000, 1000):
            client.set_alarm_volume(volume)
        entries = list(client.event_log())
    assert [e.index for e in entries] == list(range(len(entries)))
    assert sum(e.code is EventCode.ALARM_VOLUME_SET for e in entries) == 40


def test_closing_the_client_closes_the_session(pump: InprocPump) -> None:
    with pump.client():
        pass
    codes = [e.code for e in pump.virtual.pump.event_log]
    assert codes[-2:] == [EventCode.SESSION_OPENED, EventCode.SESSION_CLOSED]


class _Silent:
    def receive(self, data: bytes) -> bytes:
        return b""

    def close(self) -> None:
        pass


def test_no_answer_is_a_timeout_after_the_retries() -> None:
    with inproc.register("silent-pump", _Silent):
        client = PumpClient("pumpsim://silent-pump", timeout_s=0.01, retries=2)
        with client, pytest.raises(LinkTimeout) as err:
            client.device_info()
    assert isinstance(err.value, TimeoutError)
    assert client.retransmissions == 2


def test_unknown_port_is_a_link_error() -> None:
    with pytest.raises(LinkClosed):
        PumpClient("pumpsim://no-such-pump").connect()


class _LoseFirstAnswer:
    """Drops the pump's first answer to each new request, as a lossy link would."""

    def __init__(self, inner: Endpoint) -> None:
        self.inner = inner
        self.seen: set[bytes] = set()

    def receive(self, data: bytes) -> bytes:
        answer = self.inner.receive(data)
        if data not in self.seen:
            self.seen.add(data)
            return b""
        return answer

    def close(self) -> None:
        self.inner.close()


def test_a_retried_bolus_is_delivered_once() -> None:
    with inproc_pump(PRESETS["default"]) as pump:
        lossy = _LoseFirstAnswer(pump.virtual.endpoint())
        with inproc.register("lossy-pump", lambda: lossy):
            client = PumpClient(
                "pumpsim://lossy-pump",
                key=DEMO_KEYS[Role.CLINICIAN],
                timeout_s=0.01,
                retries=3,
                random_bytes=random.Random(3).randbytes,
            )
            with client:
                client.start_bolus(dose_ng=25_000, duration_s=3600)
            assert client.retransmissions >= 1
        starts = [e for e in pump.virtual.pump.event_log if e.code is EventCode.BOLUS_STARTED]
        assert len(starts) == 1


def test_a_tty_error_from_pyserial_is_a_link_error(
    pump: InprocPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the pump's pty dies, pyserial's POSIX flush() raises termios.error (EIO), which is
    # not an OSError; the client must turn it into its own typed LinkClosed.
    def dead_tty() -> None:
        raise termios.error(5, "Input/output error")

    with pump.client() as client:
        assert client._port is not None
        monkeypatch.setattr(client._port, "flush", dead_tty)
        with pytest.raises(LinkClosed, match="lost while writing"):
            client.status()


def test_a_tty_that_fails_while_waiting_is_a_link_error(
    pump: InprocPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Setting pyserial's timeout on a dead tty raises SerialException ("Could not configure
    # port"): that too is a lost link. A port without read_available (every pyserial port
    # but the emulator's in-process one) is read with its timeout set.
    monkeypatch.delattr(protocol_pumpsim.Serial, "read_available")
    with pump.client() as client:
        port = client._port
        assert port is not None

        def dead_tty(self: object, value: float) -> None:
            raise serial.SerialException("Could not configure port: (5, 'Input/output error')")

        # A getter of None makes the client set the timeout before its first read.
        monkeypatch.setattr(type(port), "timeout", property(lambda self: None, dead_tty))
        with pytest.raises(LinkClosed, match="lost while reading"):
            client.status()


def test_the_in_process_port_is_read_without_setting_its_timeout(
    pump: InprocPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator's in-process port hands over what is queued in one read_available call:
    # neither pyserial's read, in_waiting nor the timeout setter is used.
    def forbidden(*args: object) -> None:
        raise AssertionError("pyserial's read, in_waiting or timeout setter was used")

    with pump.client() as client:
        port = client._port
        assert isinstance(port, protocol_pumpsim.Serial)
        monkeypatch.setattr(port, "read", forbidden)
        monkeypatch.setattr(type(port), "in_waiting", property(forbidden))
        monkeypatch.setattr(type(port), "timeout", property(lambda self: 5.0, forbidden))
        for _ in range(3):
            assert client.status().mode is Mode.SIMPLE


def test_an_in_process_port_that_fails_while_waiting_is_a_link_error(
    pump: InprocPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dead_port(timeout_s: float | None) -> bytes:
        raise serial.SerialException("the port went away")

    with pump.client() as client:
        assert client._port is not None
        monkeypatch.setattr(client._port, "read_available", dead_port)
        client._watch_descriptor(client._port)
        with pytest.raises(LinkClosed, match="lost while reading: the port went away"):
            client.status()


@pytest.fixture
def pty_pump(tmp_path: Path) -> Iterator[Path]:
    """The demo pump served over a real pty (the emulator's own server thread)."""
    with inproc_pump() as pump, Server(name="client-pty-test") as server:
        transport = PtyTransport(pump.virtual.endpoint, link_path=tmp_path / "ttyPUMP0")
        server.add(transport)
        server.start()
        yield tmp_path / "ttyPUMP0"
    server.check()


def test_on_a_pty_the_client_waits_on_the_descriptor_only(
    pty_pump: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No pyserial read or write (a select per call, and select fails above descriptor 1023),
    # no timeout change (a tcsetattr per call): one poll per chunk of answer on the port's
    # own descriptor.
    def forbidden(*args: object) -> None:
        raise AssertionError("pyserial's read, write or timeout setter was used")

    with PumpClient(str(pty_pump), key=DEMO_KEYS[Role.CLINICIAN], timeout_s=2.0) as client:
        port = client._port
        assert isinstance(port, serial.Serial)
        monkeypatch.setattr(type(port), "read", forbidden)
        monkeypatch.setattr(type(port), "write", forbidden)
        monkeypatch.setattr(type(port), "timeout", property(lambda self: 2.0, forbidden))
        for _ in range(3):
            assert client.status().capacity_nl > 0
        assert client.retransmissions == 0


def test_a_pty_whose_pump_vanishes_is_a_link_error_at_once(tmp_path: Path) -> None:
    # The master closing under a waiting client wakes its poll (EIO), long before the timeout.
    master, slave = os.openpty()
    try:
        client = PumpClient(os.ttyname(slave), timeout_s=30.0, retries=0)
        with client:
            closer = threading.Timer(0.05, os.close, args=(master,))
            closer.start()
            started = time.monotonic()
            with pytest.raises(LinkClosed, match="lost while reading"):
                client.device_info()
            closer.join()
            assert time.monotonic() - started < 5.0
    finally:
        os.close(slave)


def test_a_silent_pty_times_out_after_each_attempt(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        with PumpClient(os.ttyname(slave), timeout_s=0.02, retries=1) as client:
            started = time.monotonic()
            with pytest.raises(LinkTimeout):
                client.device_info()
            assert time.monotonic() - started >= 0.04
            assert client.retransmissions == 1
            # Both attempts reached the pump's side, byte for byte the same.
            sent = os.read(master, 4096)
            assert len(sent) % 2 == 0 and sent[: len(sent) // 2] == sent[len(sent) // 2 :]
    finally:
        os.close(master)
        os.close(slave)
