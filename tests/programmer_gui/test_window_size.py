"""Windows open fitted to the screen (a 1366x768 laptop, a 1280x720 projector), never below
what their layout needs."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from programmer_gui.views.widgets import fitted_size, tile_side_by_side


def test_a_window_shrinks_to_the_screen_it_opens_on() -> None:
    # The programmer prefers 1180x780 and needs 953x732: on 1366x768 less the task bar it
    # opens 1180 wide and as tall as the screen allows.
    assert fitted_size(QSize(1180, 780), QSize(953, 732), QSize(1366, 740)) == QSize(1180, 740)
    assert fitted_size(QSize(1600, 1000), QSize(1100, 700), QSize(1280, 690)) == QSize(1280, 700)


def test_a_big_screen_keeps_the_preferred_size() -> None:
    assert fitted_size(QSize(1180, 780), QSize(953, 732), QSize(1920, 1050)) == QSize(1180, 780)


def test_never_below_what_the_layout_needs() -> None:
    assert fitted_size(QSize(1180, 780), QSize(953, 732), QSize(800, 600)) == QSize(953, 732)


def _window(qtbot: QtBot, least_width: int) -> QWidget:
    window = QWidget()
    qtbot.addWidget(window)
    window.setMinimumWidth(least_width)
    window.show()
    return window


def test_two_windows_share_a_projector_side_by_side(qtbot: QtBot) -> None:
    programmer, educator = _window(qtbot, 730), _window(qtbot, 680)
    room = QRect(0, 0, 1920, 1040)
    assert tile_side_by_side(programmer, educator, room, left_preferred=1180, left_least=760)
    left, right = programmer.frameGeometry(), educator.frameGeometry()
    assert room.contains(left) and room.contains(right) and not left.intersects(right)
    assert programmer.width() >= 940 and educator.width() >= 680  # half each, less the gap
    # At 125 % the same screen is 1536 logical pixels: still both, each above its minimum.
    assert tile_side_by_side(
        programmer, educator, QRect(0, 0, 1536, 832), left_preferred=1180, left_least=760
    )
    assert programmer.width() >= 760 and educator.width() >= 680
    assert not programmer.frameGeometry().intersects(educator.frameGeometry())


def test_a_laptop_is_too_narrow_for_both(qtbot: QtBot) -> None:
    programmer, educator = _window(qtbot, 730), _window(qtbot, 680)
    programmer.setGeometry(10, 10, 900, 700)
    room = QRect(0, 0, 1366, 740)
    assert not tile_side_by_side(programmer, educator, room, left_preferred=1180, left_least=760)
    assert programmer.geometry() == QRect(10, 10, 900, 700)  # nothing moved
