"""The link drops while programming: the pump keeps its old prescription, the page says so, the
typed dose survives the reconnection, and programming again succeeds."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.dose import DoseController
from programmer_gui.controllers.home import HomeController
from programmer_gui.link import LinkState
from protocol.enums import Mode
from tests.programmer_gui.conftest import DemoWorld

WAIT_MS = 5_000


def test_a_link_drop_during_programming_leaves_the_old_prescription(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    window, link, review = programmer.window, programmer.link, programmer.review
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    before = link.latest
    assert before is not None and before.prescription is not None
    window.show_page("dose")
    qtbot.keyClicks(dose.page.dose_edit, "420")
    qtbot.mouseClick(dose.page.review_button, Qt.MouseButton.LeftButton)
    for check in review.page.warning_checks:
        check.setChecked(True)

    def drop_then_confirm(_title: str, _text: str) -> bool:
        # The programmer head slips off the pump just as the clinician confirms.
        demo_world.emulator.set_link(disconnected=True)
        return True

    review.confirm = drop_then_confirm
    with qtbot.waitSignal(link.link_lost, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "NOT PROGRAMMED" in review.page.result.text, timeout=WAIT_MS)
    assert "assume it runs its previous prescription" in review.page.result.text
    assert "Flex: 3 steps a day" in review.page.result.text
    assert window.link_banner.isVisibleTo(window)
    assert not review.page.program_button.isEnabled()
    assert demo_world.emulator.state()["pump"]["mode"] == "FLEX"
    assert [a.action for a in programmer.record.actions] == ["Programming failed"]

    demo_world.emulator.set_link(disconnected=False)
    review.confirm = lambda _title, _text: True
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        qtbot.mouseClick(window.link_banner.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: link.state is LinkState.CONNECTED, timeout=WAIT_MS)
    assert not window.link_banner.isVisibleTo(window)
    assert window.current_page() == "review"  # the clinician stays where they were
    assert dose.page.dose_edit.text() == "420"  # typed data survives the reconnection
    latest = link.latest
    assert latest is not None and latest.prescription == before.prescription
    assert "runs its previous prescription" in review.page.result.text

    assert review.page.program_button.isEnabled()
    with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.current_page() == "dose", timeout=WAIT_MS)
    assert demo_world.emulator.state()["pump"]["mode"] == "SIMPLE"
    after = link.latest
    assert after is not None and after.prescription is not None
    assert after.prescription.mode is Mode.SIMPLE


def test_the_home_page_marks_figures_stale_when_the_link_is_lost(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    page = home.page
    programmer.window.show_page("home")
    demo_world.emulator.set_link(disconnected=True)
    with qtbot.waitSignal(programmer.link.link_lost, timeout=WAIT_MS):
        qtbot.mouseClick(page.interrogate_button, Qt.MouseButton.LeftButton)
    assert "not live" in page.stale_badge.text
    assert page.stale_badge.isVisibleTo(page)
    assert programmer.window.connection_badge.text.startswith("LINK LOST")
    demo_world.emulator.set_link(disconnected=False)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.reconnect()
    assert not page.stale_badge.isVisibleTo(page)
