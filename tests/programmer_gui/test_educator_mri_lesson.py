"""The educator's lessons "an MRI without the post-scan check" beside "with the check"
(issue 19): chosen with a click, their steps and the two patients' numbers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from emulator.emulator import Emulator
from programmer_gui.controllers.educator import open_educator_window
from programmer_gui.demo.educator_backend import EmulatorEducatorBackend
from programmer_gui.views.educator import EducatorWindow
from protocol.mri_lesson import MriLessonHour, mri_lesson_numbers
from tests.support import T0


@pytest.fixture(scope="module", autouse=True)
def _qt_started(qapp: QApplication) -> None:
    """Show a tabbed window before the leak check's snapshot: Qt keeps the event descriptors
    it opens for the first one (a QTabWidget's) for the life of the process (as
    test_educator_window.py does)."""
    first = QTabWidget()
    first.addTab(QWidget(), "warm-up")
    first.show()
    qapp.processEvents()
    first.close()
    first.deleteLater()
    qapp.processEvents()


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[EducatorWindow]:
    emulator = Emulator.single(
        preset="demo", manual_clock=True, start_pump_s=T0, random_bytes=random.Random(3).randbytes
    )
    try:
        opened = open_educator_window(EmulatorEducatorBackend(emulator), tz=UTC)
        qtbot.addWidget(opened)
        yield opened
        opened.close()
        emulator.check()
    finally:
        emulator.close()


def test_the_two_mri_lessons_side_by_side(qtbot: QtBot, window: EducatorWindow) -> None:
    qtbot.mouseClick(window.scenario_buttons["mri_without_check"], Qt.MouseButton.LeftButton)
    assert window.scenario_title.text() == "An MRI without the post-scan check"
    assert "telemetry mode" in window.scenario_text.text()
    numbers = window.scenario_numbers.text()
    assert "withdrawal risk from 14 h after the scan" in numbers
    assert "\n24 h: " in numbers and "| 0% WITHDRAWAL RISK" in numbers
    qtbot.mouseClick(window.scenario_buttons["mri_with_check"], Qt.MouseButton.LeftButton)
    assert window.scenario_title.text() == "An MRI with the post-scan check"
    assert "post-MRI check" in window.scenario_text.text()
    assert "delivery resumed within 2 h; the patient stays normal" in (
        window.scenario_numbers.text()
    )


def test_the_numbers_name_when_withdrawal_began() -> None:
    hours = [
        MriLessonHour(
            hour=h,
            with_check_share=1.0,
            without_check_share=0.5**h,
            with_check_state="normal",
            without_check_state="withdrawal_risk" if h >= 6 else "normal",
            with_check_delivering=h >= 2,
            without_check_delivering=False,
        )
        for h in range(1, 25)
    ]
    text = mri_lesson_numbers(hours, with_check=False)
    assert text.splitlines()[-1] == (
        "Without the check nothing is delivered all along; withdrawal risk from 6 h after the scan."
    )
    assert "\n2 h: 100% normal | 25% normal\n" in text
