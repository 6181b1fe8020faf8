"""The screenshots render every #6 screen offscreen, deterministically."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from programmer_gui.screenshots import WINDOW_SIZE, render_all

EXPECTED = [
    "01-connect.png",
    "02-home.png",
    "03-dose-change.png",
    "04-dose-review.png",
    "05-dose-refused.png",
    "06-refill.png",
    "07-refill-review.png",
    "08-home-alarms.png",
    "09-link-lost.png",
]


def test_every_screen_is_rendered(qtbot: QtBot, tmp_path: Path) -> None:
    zone = os.environ.get("TZ")
    paths = render_all(tmp_path)
    assert os.environ.get("TZ") == zone  # the process's time zone is given back
    assert [p.name for p in paths] == EXPECTED
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull()
        assert image.width() == WINDOW_SIZE[0]
        assert image.height() >= WINDOW_SIZE[1]
