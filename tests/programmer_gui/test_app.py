"""The assembled programmer: pages from every installer, the banner, demo mode, the clock offer,
and the pump-programmer command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui import app, controllers
from programmer_gui.app import Programmer, build
from programmer_gui.controllers.connect import PortChoice, discover_ports
from programmer_gui.controllers.home import HomeController, describe_offset
from programmer_gui.demo import DemoPump
from programmer_gui.link import LinkState
from tests.programmer_gui.conftest import FAST_TIMEOUT_S, DemoWorld, ProgrammerClock
from tests.support import T0

WAIT_MS = 5_000


def test_every_installer_adds_its_page(qtbot: QtBot, programmer: Programmer) -> None:
    window = programmer.window
    assert {"connect", "home", "dose", "refill", "review"} <= set(window.pages)
    assert len(programmer.controllers) == len(controllers.INSTALLERS)
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles[:4] == ["Connect", "Status", "Change dose", "Refill"]
    assert "Review" not in titles  # reached only from a workflow
    assert window.current_page() == "home"  # a new connection shows the pump's status
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_Down)
    assert window.current_page() == "dose"


def test_pages_that_need_a_pump_are_disabled_until_connected(
    qtbot: QtBot, programmer_clock: ProgrammerClock
) -> None:
    built = build(timeout_s=FAST_TIMEOUT_S, retries=1, poll_interval_s=None, wall=programmer_clock)
    qtbot.addWidget(built.window)
    try:
        window = built.window
        assert window.current_page() == "connect"
        home = window.pages["home"].item
        assert home is not None
        assert not home.flags() & Qt.ItemFlag.ItemIsEnabled
        assert window.connection_badge.text == "Not connected"
    finally:
        built.close()


def test_the_banner_shows_the_pump(programmer: Programmer) -> None:
    assert programmer.window.pump_label.text() == (
        "40 mL pump · serial VP40-DEMO01 · firmware 1.0.0"
    )
    assert programmer.window.connection_badge.text.startswith("Connected (clinician)")
    assert not programmer.window.critical_badge.isVisibleTo(programmer.window)


def test_alarms_show_critical_and_noncritical_apart(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    demo_world.emulator.fault_motor_stall(True)
    demo_world.emulator.fault_memory_error(False)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    window = programmer.window
    assert window.critical_badge.text == "CRITICAL ALARM: Motor stall: delivery stopped"
    assert window.critical_badge.severity.value == "critical"
    assert window.noncritical_badge.text.startswith("NON-CRITICAL ALARM: Memory error")
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    texts = [badge.text for badge in home.page.alarm_badges]
    assert texts[0].startswith("CRITICAL: Motor stall")
    assert texts[1].startswith("NON-CRITICAL: Non-critical memory error")
    assert home.page.therapy.value("rate_now").endswith("(NOT DELIVERING)")
    assert programmer.record.alarms_seen


def test_the_clock_offer_sets_the_pump_clock(
    qtbot: QtBot,
    programmer: Programmer,
    demo_world: DemoWorld,
    programmer_clock: ProgrammerClock,
) -> None:
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    assert home.page.clock.value("offset") == "in step (within 1 s)"
    programmer_clock.now_s = T0 + 600
    asked: list[str] = []

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return True

    home.confirm = confirm
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(home.page.set_clock_button, Qt.MouseButton.LeftButton)
    assert asked and "Set the pump clock" in asked[0]
    latest = programmer.link.latest
    assert latest is not None and latest.status.clock_s == T0 + 600
    assert programmer.record.actions[-1].action == "Clock set"


def test_declining_the_clock_offer_changes_nothing(
    qtbot: QtBot, programmer: Programmer, programmer_clock: ProgrammerClock
) -> None:
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    home.confirm = lambda _title, _text: False
    programmer_clock.now_s = T0 + 600
    qtbot.mouseClick(home.page.set_clock_button, Qt.MouseButton.LeftButton)
    assert not programmer.link.busy
    assert programmer.record.actions == ()


@pytest.mark.parametrize(
    ("offset_s", "text"),
    [
        (0.4, "in step (within 1 s)"),
        (150, "pump 2 min 30 s ahead"),
        (-7320, "pump 2 h 2 min behind"),
    ],
)
def test_describe_offset(offset_s: float, text: str) -> None:
    assert describe_offset(offset_s) == text


def test_start_demo_pump_connects_and_announces_the_demo(
    qtbot: QtBot, programmer_clock: ProgrammerClock
) -> None:
    built = build(timeout_s=FAST_TIMEOUT_S, retries=1, poll_interval_s=None, wall=programmer_clock)
    qtbot.addWidget(built.window)
    demo = DemoPump(manual_clock=True, start_pump_s=T0)
    started: list[object] = []
    built.window.demo_started.connect(started.append)
    built.connect.demo_factory = lambda: demo
    try:
        with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
            qtbot.mouseClick(built.connect.page.demo_button, Qt.MouseButton.LeftButton)
        assert started == [demo]
        assert built.window.demo_pump is demo
        assert built.link.url == demo.url
        assert built.link.state is LinkState.CONNECTED
        assert built.window.current_page() == "home"
    finally:
        built.close()
    assert demo.closed


def test_connect_page_reports_a_bad_key_file(
    qtbot: QtBot, programmer_clock: ProgrammerClock
) -> None:
    built = build(timeout_s=FAST_TIMEOUT_S, retries=1, poll_interval_s=None, wall=programmer_clock)
    qtbot.addWidget(built.window)
    try:
        page = built.connect.page
        page.url_edit.setText("pumpsim://nobody")
        page.key_edit.setText("/nonexistent/demo.key")
        qtbot.mouseClick(page.connect_button, Qt.MouseButton.LeftButton)
        assert page.status.text.startswith("Key file problem: cannot read key file")
        assert built.link.state is LinkState.DISCONNECTED
    finally:
        built.close()


def test_discover_ports_lists_live_emulator_links(tmp_path: Path) -> None:
    base = tmp_path
    live = base / "ttyPUMP0"
    live.symlink_to(base)
    (base / "ttyPUMP1").symlink_to(base / "gone")
    found = [c for c in discover_ports(str(base / "ttyPUMP*")) if c.url.startswith(str(base))]
    assert found == [PortChoice(url=str(live), description="virtual pump (pump-emulator)")]


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        app.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--port URL", "--demo", "--key FILE", "--role", "--screenshots DIR"):
        assert option in out


def test_without_a_display_main_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert app.main(["--demo"]) == 2
    assert "no display" in capsys.readouterr().err
