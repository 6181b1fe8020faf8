"""Issue #14 item 7: on every page, each Alt+letter belongs to one control only (together with
the window's own, such as Reconnect), so a keyboard user never lands on the wrong one."""

from __future__ import annotations

import re
from collections import defaultdict

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QGroupBox, QLabel, QWidget
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.dose import DoseController
from programmer_gui.controllers.home import HomeController

WAIT_MS = 5_000

MNEMONIC = re.compile(r"&([^&\s])")


def mnemonics(root: QWidget) -> dict[str, list[str]]:
    """Alt+letter -> the texts of the controls under ``root`` that answer it."""
    found: dict[str, list[str]] = defaultdict(list)
    widgets: list[QWidget] = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        if isinstance(widget, QAbstractButton | QGroupBox):
            text = widget.text() if isinstance(widget, QAbstractButton) else widget.title()
        elif isinstance(widget, QLabel) and widget.buddy() is not None:
            text = widget.text()
        else:
            continue
        for letter in MNEMONIC.findall(text.replace("&&", "")):
            found[letter.lower()].append(text)
    return found


def test_every_page_has_unique_mnemonics(programmer: Programmer) -> None:
    window = programmer.window
    shared = mnemonics(window.alert_strip)
    clashes = {}
    for key, page in window.pages.items():
        seen = mnemonics(page.widget)
        for letter, texts in shared.items():
            seen[letter] = seen.get(letter, []) + texts
        for letter, texts in seen.items():
            if len(texts) > 1:
                clashes[f"{key} Alt+{letter.upper()}"] = texts
    assert not clashes, "\n".join(f"{k}: {v}" for k, v in sorted(clashes.items()))


def test_a_dose_change_by_keyboard_alone(qtbot: QtBot, programmer: Programmer) -> None:
    """Alt+letters, typing and Enter only: from the dose page to the pump programmed."""
    window = programmer.window
    window.show_page("dose")
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)

    def alt(key: Qt.Key) -> None:
        focus = QApplication.focusWidget() or window
        QTest.keyClick(focus, key, Qt.KeyboardModifier.AltModifier)

    alt(Qt.Key.Key_D)
    assert QApplication.focusWidget() is dose.page.dose_edit
    QTest.keyClicks(dose.page.dose_edit, "420")
    QTest.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    assert window.current_page() == "review"
    review = programmer.review
    for i in range(len(review.page.warning_checks)):
        check = review.page.warning_checks[i]
        alt(Qt.Key(Qt.Key.Key_1 + i))  # the mnemonic ticks it (Qt animates the click)
        qtbot.waitUntil(check.isChecked, timeout=WAIT_MS)
        assert QApplication.focusWidget() is check
    assert review.page.program_button.isEnabled(), review.page.program_hint.text()
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        alt(Qt.Key.Key_P)
    qtbot.waitUntil(lambda: window.current_page() == "dose", timeout=WAIT_MS)
    latest = programmer.link.latest
    assert latest is not None and latest.dose_ug_per_day == 420


def test_status_and_review_show_the_dose_with_one_precision(
    qtbot: QtBot, programmer: Programmer
) -> None:
    """Issue #14 item 8: one precision rule for mcg/day on every page (396.88, not 396.9)."""
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    programmer.window.show_page("dose")
    QTest.keyClicks(dose.page.dose_edit, "420")
    QTest.keyClick(dose.page.dose_edit, Qt.Key.Key_Return)
    review = programmer.review.review
    assert review is not None
    shown = home.page.therapy.value("dose")
    assert shown == review.current_daily_dose_text == "396.88 mcg/day"
