"""PumpLink against the in-process demo pump: connect, interrogate, jobs, link loss, reconnect,
polling, and a worker thread that never blocks the GUI thread and is gone after close()."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import LinkState, PumpLink, describe_error
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import ErrorCode, Role
from protocol.errors import LinkClosed, LinkTimeout, NakError
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.units import ml_to_nl
from tests.programmer_gui.conftest import DemoWorld, ProgrammerClock
from tests.support import T0

KEYS = load_keys(DEMO_KEY_FILE)
WAIT_MS = 5_000


def state_of(link: PumpLink) -> LinkState:
    """The link's state read afresh: mypy keeps an earlier assert's narrowing of
    ``link.state`` across the calls that change it."""
    return link.state


def connect(qtbot: QtBot, link: PumpLink, url: str) -> PumpSnapshot:
    with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS) as got:
        link.connect_to(url, key=KEYS[Role.CLINICIAN])
    snapshot = got.args[0]
    assert isinstance(snapshot, PumpSnapshot)
    return snapshot


def test_connect_emits_device_then_snapshot(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    seen: list[str] = []
    link.connected.connect(lambda device: seen.append(f"connected {device.serial}"))
    link.snapshot.connect(lambda snap: seen.append("snapshot"))
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS) as got:
        link.connect_to(demo_world.url, key=KEYS[Role.CLINICIAN])
    device = got.args[0]
    assert isinstance(device, m.DeviceInfoResponse)
    assert device.model == 40
    qtbot.waitUntil(lambda: "snapshot" in seen, timeout=WAIT_MS)
    assert seen == ["connected VP40-DEMO01", "snapshot"]
    assert link.state is LinkState.CONNECTED
    assert link.url == demo_world.url
    assert link.device == device
    latest = link.latest
    assert latest is not None
    assert latest.status.clock_s == T0
    assert latest.read_at_wall_s == T0  # the injected programmer clock
    assert latest.concentration_ug_per_ml == 2000


def test_interrogate_reads_fresh_values(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink, programmer_clock: ProgrammerClock
) -> None:
    first = connect(qtbot, link, demo_world.url)
    demo_world.emulator.advance(86_400)
    programmer_clock.now_s += 86_400
    with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS) as got:
        link.interrogate()
    second = got.args[0]
    assert second.status.clock_s == T0 + 86_400
    assert second.read_at_wall_s == T0 + 86_400
    assert second.status.reservoir_nl < first.status.reservoir_nl
    assert link.latest is second


def test_submit_runs_the_job_and_refreshes_before_on_done(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    results: list[tuple[int, int | None]] = []

    def done(volume_nl: int) -> None:
        latest = link.latest
        results.append((volume_nl, None if latest is None else latest.status.alarm_volume_nl))

    link.submit(lambda client: client.set_alarm_volume(ml_to_nl(3)), on_done=done)
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    # The snapshot already shows what the pump now reports when on_done runs.
    assert results == [(3_000_000, 3_000_000)]


def test_submit_without_refresh_leaves_the_snapshot(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    before = connect(qtbot, link, demo_world.url)
    results: list[int] = []
    link.submit(lambda client: client.read_clock(), on_done=results.append, refresh=False)
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert results == [T0]
    assert link.latest is before


def test_a_refused_job_calls_on_error_or_emits_error(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    errors: list[Exception] = []
    too_much = ml_to_nl(100)
    link.submit(
        lambda client: client.set_alarm_volume(too_much), on_done=print, on_error=errors.append
    )
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], NakError)
    assert errors[0].code is ErrorCode.OUT_OF_RANGE
    with qtbot.waitSignal(link.error, timeout=WAIT_MS) as got:
        link.submit(lambda client: client.set_alarm_volume(too_much), on_done=print)
    assert got.args[0].startswith("The pump refused: a value is outside the pump's limits")
    assert link.state is LinkState.CONNECTED  # a refusal is not a lost link


def test_a_failing_job_never_kills_the_worker(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    errors: list[Exception] = []

    def broken(client: PumpClient) -> int:
        raise ZeroDivisionError("a defect in a job")

    link.submit(broken, on_done=print, on_error=errors.append)
    results: list[int] = []
    link.submit(lambda client: client.read_clock(), on_done=results.append, refresh=False)
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert isinstance(errors[0], ZeroDivisionError)
    assert results == [T0]


def test_link_loss_emits_link_lost_and_reconnect_restores(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    errors: list[Exception] = []
    demo_world.emulator.set_link(disconnected=True)
    with qtbot.waitSignal(link.link_lost, timeout=WAIT_MS) as lost:
        link.submit(lambda client: client.status(), on_done=print, on_error=errors.append)
    assert "did not answer" in lost.args[0]
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], LinkTimeout)
    assert link.state is LinkState.LOST
    assert link.latest is not None  # the last figures stay, marked stale by the UI

    demo_world.emulator.set_link(disconnected=False)
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.reconnect()
    assert state_of(link) is LinkState.CONNECTED
    results: list[int] = []
    link.submit(lambda client: client.read_clock(), on_done=results.append, refresh=False)
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert results == [T0]


def test_a_job_while_lost_fails_with_link_closed(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    demo_world.emulator.set_link(disconnected=True)
    with qtbot.waitSignal(link.link_lost, timeout=WAIT_MS):
        link.interrogate()
    errors: list[Exception] = []
    link.submit(lambda client: client.status(), on_done=print, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], LinkClosed)


def test_the_gui_thread_keeps_running_while_the_worker_waits(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    demo_world.emulator.set_link(disconnected=True)
    beats: list[int] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: beats.append(len(beats)))
    heartbeat.start(10)
    errors: list[Exception] = []
    link.submit(lambda client: client.status(), on_done=print, on_error=errors.append)
    # The job takes two timeouts of 0.25 s; the event loop turns all along.
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    heartbeat.stop()
    assert len(beats) >= 10


def test_connect_failure_says_why(qtbot: QtBot, link: PumpLink) -> None:
    reasons: list[str] = []
    link.disconnected.connect(reasons.append)
    with qtbot.waitSignal(link.error, timeout=WAIT_MS) as got:
        link.connect_to("pumpsim://nobody-here", key=KEYS[Role.CLINICIAN])
    assert got.args[0].startswith("Could not connect to pumpsim://nobody-here")
    assert reasons and reasons[0]
    assert link.state is LinkState.DISCONNECTED


def test_wrong_key_is_refused(qtbot: QtBot, demo_world: DemoWorld, link: PumpLink) -> None:
    with qtbot.waitSignal(link.error, timeout=WAIT_MS) as got:
        link.connect_to(demo_world.url, key=bytes(32))
    assert "Could not connect" in got.args[0]
    assert link.state is LinkState.DISCONNECTED


def test_disconnect_from_emits_disconnected(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    with qtbot.waitSignal(link.disconnected, timeout=WAIT_MS) as got:
        link.disconnect_from()
    assert got.args == [""]
    assert link.state is LinkState.DISCONNECTED


def test_polling_reads_again_and_stops(qtbot: QtBot, demo_world: DemoWorld, link: PumpLink) -> None:
    connect(qtbot, link, demo_world.url)
    count = [0]
    link.snapshot.connect(lambda _snap: count.__setitem__(0, count[0] + 1))
    busy: list[bool] = []
    link.busy_changed.connect(busy.append)
    link.set_poll_interval(0.02)
    qtbot.waitUntil(lambda: count[0] >= 3, timeout=WAIT_MS)
    assert busy == []  # background polls do not flash the busy indicator
    link.set_poll_interval(None)
    assert link.poll_interval_s is None
    with pytest.raises(ValueError, match="interval_s"):
        link.set_poll_interval(0)


def test_busy_changed_brackets_a_job(qtbot: QtBot, demo_world: DemoWorld, link: PumpLink) -> None:
    connect(qtbot, link, demo_world.url)
    busy: list[bool] = []
    link.busy_changed.connect(busy.append)
    results: list[int] = []
    link.submit(lambda client: client.read_clock(), on_done=results.append)
    assert link.busy
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert busy == [True, False]


def test_a_background_job_runs_without_making_the_link_busy(
    qtbot: QtBot, demo_world: DemoWorld, link: PumpLink
) -> None:
    connect(qtbot, link, demo_world.url)
    busy: list[bool] = []
    link.busy_changed.connect(busy.append)
    results: list[int] = []
    link.submit(
        lambda client: client.read_clock(), on_done=results.append, refresh=False, background=True
    )
    assert not link.busy
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert busy == []


def test_close_stops_the_worker_and_refuses_new_jobs(
    qtbot: QtBot, demo_world: DemoWorld, programmer_clock: ProgrammerClock
) -> None:
    pump_link = PumpLink(timeout_s=0.25, retries=1, poll_interval_s=None, wall=programmer_clock)
    connect(qtbot, pump_link, demo_world.url)
    thread = pump_link._thread
    pump_link.close()
    assert thread.isFinished()
    pump_link.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        pump_link.interrogate()


@pytest.mark.parametrize(
    ("error", "phrase"),
    [
        (LinkTimeout("x"), "did not answer in time"),
        (LinkClosed("gone"), "link to the pump was lost"),
        (NakError(ErrorCode.OVERFILL, "too much"), "overfill the reservoir: too much"),
        (ValueError("odd"), "Unexpected error (ValueError)"),
        (
            NakError(ErrorCode.SESSION_DISPLACED, "a newer handshake on this link replaced"),
            "Another programmer connected to this pump",
        ),
        (NakError(ErrorCode.SESSION_DISPLACED, ""), "this request was NOT carried out"),
        (NakError(ErrorCode.STORAGE_FAILED, "save failed"), "so it did NOT make it"),
        (NakError(ErrorCode.STORAGE_FAILED, ""), "it runs what it ran before"),
    ],
)
def test_describe_error_speaks_to_a_clinician(error: Exception, phrase: str) -> None:
    text = describe_error(error)
    assert phrase in text
    assert "SESSION_DISPLACED" not in text and "STORAGE_FAILED" not in text
