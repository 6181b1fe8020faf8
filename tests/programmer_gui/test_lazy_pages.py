"""#14 item 13: the programmer's first window builds only the pages it must; every other
page is built the first time it is shown, and then looks and behaves as if it had always
been there (the latest snapshot in it, reached by keys like any other page)."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.mri import MriController
from programmer_gui.controllers.patient import PatientController
from programmer_gui.controllers.stop import StopController
from protocol.client import PumpClient
from protocol.enums import StopReason
from tests.programmer_gui.test_keyboard_workflows import WAIT_MS, Keyboard

EAGER = {"connect", "alarms", "review"}
"""Built with the window: the page shown first, the alarms (its tones sound whichever page
shows) and the review every workflow goes through."""

TITLES = [
    "Connect",
    "Status",
    "Change dose",
    "Refill",
    "Implant record",
    "Flex dosing",
    "Boluses",
    "Alarms",
    "Event log",
    "Stop / resume",
    "MRI",
    "Patient doses",
    "Trends",
    "Session report",
    "Emergency",
]


def _built(programmer: Programmer) -> set[str]:
    return {key for key in programmer.window.pages if programmer.window.is_built(key)}


def test_the_first_window_builds_only_the_pages_it_needs(fresh: Programmer) -> None:
    window = fresh.window
    assert window.current_page() == "connect"
    assert _built(fresh) == EAGER
    # The page list names every page from the start, in order, and the lazily built ones
    # have no widget anywhere in the window yet.
    assert [window.nav.item(row).text() for row in range(window.nav.count())] == TITLES
    assert window.stack.count() == len(EAGER)


def test_pages_built_when_chosen_by_keys_show_the_latest_reading(
    qtbot: QtBot, programmer: Programmer
) -> None:
    window = programmer.window
    # Connected, with a reading in: the status page is shown, the others still not built.
    assert window.current_page() == "home"
    assert _built(programmer) == EAGER | {"home"}
    # A later reading arrives while the stop page has never been built: the pump stopped.
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.submit(
            lambda client: PumpClient.stop(client, StopReason.MRI), on_done=lambda _r: None
        )
    keys = Keyboard(qtbot, programmer)
    keys.go("Stop / resume")
    stop = programmer.controllers["stop"]
    assert isinstance(stop, StopController)
    assert window.is_built("stop") and stop.page.isVisible()
    assert stop.page.state_label.text().startswith("■ STOPPED")
    assert stop.page.resume_button.isEnabled() and not stop.page.stop_button.isEnabled()
    # Its mnemonics work at once: Alt+N is its note.
    keys.alt("n")
    assert keys.focus is stop.page.note_edit

    keys.go("Patient doses")
    patient = programmer.controllers["patient"]
    assert isinstance(patient, PatientController)
    assert patient.page.current_label.text() not in ("", "—")

    keys.go("MRI")
    mri = programmer.controllers["mri"]
    assert isinstance(mri, MriController)
    assert mri.page.record_button.isEnabled() and mri.page.check_button.isEnabled()

    # Every other page: built on its first showing, shown, and the only one shown.
    for title in TITLES:
        keys.go(title)
        key = window.current_page()
        assert key is not None and window.is_built(key)
        page = window.page(key)
        assert page.isVisible() and window.stack.currentWidget() is page
        assert QApplication.activeWindow() is window
    assert _built(programmer) == set(window.pages)


def test_the_first_window_imports_nothing_it_does_not_show() -> None:
    """numpy and pyqtgraph load with the first chart or tone, Qt Multimedia with the first
    sound, Qt's print support with the first PDF, construct with the docs, the emulator
    with a demo pump: none of them before the first window is up."""
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from programmer_gui import app\n"
        "qt = QApplication([])\n"
        "app.apply_style(qt)\n"
        "programmer = app.build(poll_interval_s=None)\n"
        "programmer.window.show()\n"
        "heavy = ('numpy', 'pyqtgraph', 'construct', 'emulator', 'firmware_model')\n"
        "qt_heavy = ('PySide6.QtMultimedia', 'PySide6.QtPrintSupport')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in qt_heavy))\n"
        "programmer.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
