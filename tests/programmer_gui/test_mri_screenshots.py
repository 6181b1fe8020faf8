"""The MRI workflow's screenshots render offscreen, deterministically (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from programmer_gui.demo.mri_screenshots import render_mri_screenshots
from programmer_gui.screenshots import WINDOW_SIZE


@pytest.mark.slow  # every MRI screen rendered (make test runs it, make check not)
def test_the_mri_screens_are_rendered(qtbot: QtBot, tmp_path: Path) -> None:
    paths = render_mri_screenshots(tmp_path)
    assert [p.name for p in paths] == [
        "71-mri-before.png",
        "72-mri-after-interrogate-again.png",
        "73-mri-after-resumed.png",
        "74-mri-valve-pump-warning.png",
        "75-emergency-summary.png",
        "76-educator-mri-lesson.png",
    ]
    for path in paths[:-1]:
        image = QImage(str(path))
        assert not image.isNull() and image.width() == WINDOW_SIZE[0], path.name
    assert not QImage(str(paths[-1])).isNull()
