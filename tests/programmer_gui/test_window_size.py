"""Windows open fitted to the screen (a 1366x768 laptop, a 1280x720 projector), never below
what their layout needs."""

from __future__ import annotations

from PySide6.QtCore import QSize

from programmer_gui.views.widgets import fitted_size


def test_a_window_shrinks_to_the_screen_it_opens_on() -> None:
    # The programmer prefers 1180x780 and needs 953x732: on 1366x768 less the task bar it
    # opens 1180 wide and as tall as the screen allows.
    assert fitted_size(QSize(1180, 780), QSize(953, 732), QSize(1366, 740)) == QSize(1180, 740)
    assert fitted_size(QSize(1600, 1000), QSize(1100, 700), QSize(1280, 690)) == QSize(1280, 700)


def test_a_big_screen_keeps_the_preferred_size() -> None:
    assert fitted_size(QSize(1180, 780), QSize(953, 732), QSize(1920, 1050)) == QSize(1180, 780)


def test_never_below_what_the_layout_needs() -> None:
    assert fitted_size(QSize(1180, 780), QSize(953, 732), QSize(800, 600)) == QSize(953, 732)
