"""Issue #14 item 10: a lost link is opened again by itself with a growing back-off; a
reconnection that fails keeps the page, the entries and the alarm banner, and says what is
stale."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.dose import DoseController
from programmer_gui.link import LinkState
from tests.programmer_gui.conftest import DemoWorld

WAIT_MS = 5_000


def test_a_lost_link_reconnects_by_itself_keeping_the_page_and_the_banners(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    window, link = programmer.window, programmer.link
    link.reconnect_backoff_s = (0.3, 0.6)
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    demo_world.emulator.fault_motor_stall(True)
    with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS):
        link.interrogate()
    window.show_page("dose")
    qtbot.keyClicks(dose.page.dose_edit, "420")

    demo_world.emulator.set_link(disconnected=True)
    delays: list[float] = []
    link.reconnect_in.connect(delays.append)
    with qtbot.waitSignal(link.link_lost, timeout=WAIT_MS):
        link.interrogate()
    assert window.link_banner.isVisibleTo(window)
    text = window.link_banner.text
    assert text.startswith("LINK LOST") and "stale: last read" in text
    # A reconnection by hand while the pump is still out of reach: nothing moves.
    qtbot.mouseClick(window.link_banner.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(delays) >= 2, timeout=WAIT_MS)
    assert link.state in (LinkState.LOST, LinkState.CONNECTING)
    assert window.current_page() == "dose"
    assert dose.page.dose_edit.text() == "420"
    assert window.critical_badge.isVisibleTo(window)
    assert window.link_banner.isVisibleTo(window)
    assert "Trying again by itself in" in window.link_banner.text
    assert delays[:2] == [0.3, 0.6]

    # The pump is back: the next automatic attempt opens the link again.
    demo_world.emulator.set_link(disconnected=False)
    qtbot.waitUntil(lambda: link.state is LinkState.CONNECTED, timeout=WAIT_MS)
    assert not window.link_banner.isVisibleTo(window)
    assert window.current_page() == "dose" and dose.page.dose_edit.text() == "420"
