"""The assembled programmer: pages from every installer, the banner, demo mode (with the
educator's window beside the programmer), the clock offer, and the pump-programmer command
line."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QScrollArea, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from programmer_gui import app, controllers
from programmer_gui.app import Programmer, build
from programmer_gui.controllers.base import Workflow
from programmer_gui.controllers.connect import PortChoice, discover_ports
from programmer_gui.controllers.home import BOLUS_RUNNING, HomeController, describe_offset
from programmer_gui.core.bolus import KIND_NAMES
from programmer_gui.demo import DemoPump
from programmer_gui.link import LinkState
from programmer_gui.views.educator import SHOW_EDUCATOR_SHORTCUT, EducatorWindow
from programmer_gui.views.main_window import MainWindow
from protocol.enums import BolusKind
from tests.programmer_gui.conftest import FAST_TIMEOUT_S, DemoWorld, ProgrammerClock
from tests.support import T0

WAIT_MS = 5_000


@pytest.fixture(scope="module", autouse=True)
def _qt_started(qapp: QApplication) -> None:
    """Show a tabbed window before the leak check's snapshot: Qt keeps the event descriptors
    it opens for the first one (the educator window's QTabWidget) for the life of the
    process."""
    first = QTabWidget()
    first.addTab(QWidget(), "warm-up")
    first.show()
    qapp.processEvents()
    first.close()
    first.deleteLater()
    qapp.processEvents()


@pytest.fixture
def demo_programmer(
    qtbot: QtBot, programmer_clock: ProgrammerClock
) -> Iterator[tuple[Programmer, DemoPump]]:
    """The programmer whose "Start demo pump" starts a manual-clock demo pump."""
    built = build(timeout_s=FAST_TIMEOUT_S, retries=1, poll_interval_s=None, wall=programmer_clock)
    qtbot.addWidget(built.window)
    demo = DemoPump(manual_clock=True, start_pump_s=T0)
    built.connect.demo_factory = lambda: demo
    try:
        built.window.show()
        yield built, demo
    finally:
        built.close()
        demo.close()


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


def test_every_workflow_shares_the_base_and_every_page_scrolls(programmer: Programmer) -> None:
    """#18 item 5: one controller base (window, link, record, review), one scroll frame."""
    for name, controller in programmer.controllers.items():
        if name == "titration":  # a watch over the review, with no page of its own
            continue
        assert isinstance(controller, Workflow), name
        assert controller.window is programmer.window and controller.link is programmer.link
        assert controller.record is programmer.record
        assert controller.review_controller is programmer.review
    for key, page in programmer.window.pages.items():
        scroll = page.widget.findChild(QScrollArea)
        assert scroll is not None and scroll.widgetResizable(), key
        assert scroll.horizontalScrollBarPolicy() is Qt.ScrollBarPolicy.ScrollBarAlwaysOff, key


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
    # The demo pump is a simulation: its clock is "now", nothing is compared or offered.
    assert "simulated time is the only" in home.page.clock.value("offset")
    assert home.page.set_clock_button.isHidden()
    # Outside a simulation the clocks are compared; the offer shows only when they disagree.
    programmer.link.simulated_override = False
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.reconnect()
    assert home.page.clock.value("offset") == "in step (within 1 s)"
    assert home.page.set_clock_button.isHidden()
    programmer_clock.now_s = T0 + 600
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    assert not home.page.set_clock_button.isHidden()
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
    programmer.link.simulated_override = False
    programmer_clock.now_s = T0 + 600
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.reconnect()
    qtbot.waitUntil(lambda: not programmer.link.busy, timeout=WAIT_MS)
    assert not home.page.set_clock_button.isHidden()
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


def test_start_demo_pump_opens_the_educator_window_beside_the_programmer(
    qtbot: QtBot, demo_programmer: tuple[Programmer, DemoPump]
) -> None:
    built, demo = demo_programmer
    assert built.educator.educator_window is None
    assert built.window.menuBar().actions() == []  # no demo menu before a demo pump
    with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(built.connect.page.demo_button, Qt.MouseButton.LeftButton)
    educator = built.educator.educator_window
    assert isinstance(educator, EducatorWindow)
    assert built.educator.is_open and educator.isWindow()
    assert built.educator.backend is demo.educator_backend
    # The backend existed before the programmer connected: its link is in the inspector.
    model = educator.inspector.model
    qtbot.waitUntil(lambda: model.rowCount() >= 4, timeout=WAIT_MS)
    assert model.entries[0].link == "pump0#1"
    assert model.entries[0].op_name == "SESSION_OPEN"
    assert built.window.isVisible()


def test_closing_the_educator_window_leaves_the_programmer_and_the_menu_reopens_it(
    qtbot: QtBot, demo_programmer: tuple[Programmer, DemoPump]
) -> None:
    built, demo = demo_programmer
    with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
        built.connect.start_demo()
    educator = built.educator.educator_window
    assert educator is not None
    educator.close()
    assert not built.educator.is_open
    assert built.window.isVisible() and built.link.state is LinkState.CONNECTED
    assert not demo.closed
    with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
        built.link.interrogate()  # the programmer carries on without it
    action = built.educator.show_action
    assert action is not None and action.isVisible()
    assert action.shortcut().toString() == SHOW_EDUCATOR_SHORTCUT
    assert [a.text() for a in built.window.menuBar().actions()] == ["Demo"]
    action.trigger()
    assert built.educator.educator_window is educator  # the same window, history kept
    assert educator.isVisible()
    # The frames of the interrogation made while it was closed are caught up.
    qtbot.waitUntil(
        lambda: any(e.op_name == "STATUS" for e in educator.inspector.model.entries),
        timeout=WAIT_MS,
    )


def test_closing_the_programmer_closes_the_educator_window_and_the_demo_pump(
    qtbot: QtBot, demo_programmer: tuple[Programmer, DemoPump]
) -> None:
    built, demo = demo_programmer
    with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
        built.connect.start_demo()
    educator = built.educator.educator_window
    assert educator is not None and educator.isVisible()
    built.window.close()  # as the user closing the programmer's window
    assert not educator.isVisible()
    assert built.educator.educator_window is None and built.educator.backend is None
    assert demo.closed
    assert built.educator.show_window() is None


def test_a_clinical_session_never_shows_the_educator(programmer: Programmer) -> None:
    assert programmer.link.state is LinkState.CONNECTED
    assert programmer.educator.educator_window is None
    assert programmer.educator.show_action is None
    assert programmer.window.menuBar().actions() == []
    assert programmer.educator.show_window() is None
    programmer.window.demo_started.emit(object())  # not a demo pump: still nothing
    assert programmer.educator.educator_window is None
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, EducatorWindow)]


def test_a_second_demo_start_reuses_the_running_pump_and_its_window(
    qtbot: QtBot, demo_programmer: tuple[Programmer, DemoPump]
) -> None:
    built, _demo = demo_programmer
    with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
        built.connect.start_demo()
    first = built.educator.educator_window
    assert first is not None
    first.close()
    with qtbot.waitSignal(built.link.snapshot, timeout=WAIT_MS):
        built.connect.start_demo()  # the pump runs already: connect again, no new window
    assert built.educator.educator_window is first
    assert not first.isVisible()  # reconnecting does not force the window back
    assert len(built.window.menuBar().actions()) == 1


def test_main_demo_opens_the_programmer_and_the_educator_window(
    qtbot: QtBot, qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    font, style = qapp.font(), qapp.styleSheet()
    seen: dict[str, bool] = {}

    def run_until_the_user_closes_the_programmer() -> int:
        windows = QApplication.topLevelWidgets()
        main = next(w for w in windows if isinstance(w, MainWindow) and w.isVisible())
        educator = next(w for w in windows if isinstance(w, EducatorWindow) and w.isVisible())
        qtbot.waitUntil(lambda: main.connection_badge.text.startswith("Connected"), timeout=WAIT_MS)
        seen["both open"] = main.isVisible() and educator.isVisible()
        qtbot.waitUntil(lambda: educator.inspector.model.rowCount() >= 4, timeout=WAIT_MS)
        main.close()
        seen["educator closed with it"] = not educator.isVisible()
        return 0

    monkeypatch.setattr(qapp, "exec", run_until_the_user_closes_the_programmer)
    try:
        assert app.main(["--demo"]) == 0
    finally:
        qapp.setFont(font)
        qapp.setStyleSheet(style)
    assert seen == {"both open": True, "educator closed with it": True}
    qapp.processEvents()
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible()]


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


def test_a_reported_bridge_bolus_kind_is_shown_not_a_crash(programmer: Programmer) -> None:
    """BolusKind.BRIDGE is reserved on the wire; a pump that reports it is still shown."""
    latest = programmer.link.latest
    assert latest is not None
    status = dataclasses.replace(
        latest.status,
        bolus_kind=BolusKind.BRIDGE,
        bolus_volume_nl=140_000,
        bolus_duration_s=4200,
        bolus_remaining_nl=120_000,
        bolus_started_at_s=latest.status.clock_s - 600,
        bolus_ends_at_s=latest.status.clock_s + 3600,
    )
    programmer.link.snapshot.emit(dataclasses.replace(latest, status=status))
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    assert home.page.therapy.value("bolus").startswith("Bridge (concentration change) running")
    assert set(BOLUS_RUNNING) == set(BolusKind) - {BolusKind.NONE}
    assert set(KIND_NAMES) == set(BolusKind)
