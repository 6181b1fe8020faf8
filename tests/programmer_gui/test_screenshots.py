"""The screenshots render every screen offscreen, deterministically: issue #6's, the part-2
clinician pages with the report's first page, and the educator's window."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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
    "11-implant.png",
    "12-refill-bridge.png",
    "13-refill-bridge-review.png",
    "14-home-bridge.png",
    "21-flex.png",
    "22-flex-review.png",
    "23-bolus.png",
    "24-alarms.png",
    "25-event-log.png",
    "26-stop.png",
    "27-patient.png",
    "28-trends.png",
    "29-report.png",
    "30-dose-review-titration.png",
]
REPORT_PAGE_SIZE = (992, 1403)
"""A4 at 120 dpi."""


@pytest.mark.slow  # every programmer screen rendered (make test runs it, make check not)
def test_every_screen_is_rendered(qtbot: QtBot, tmp_path: Path) -> None:
    zone = os.environ.get("TZ")
    paths = render_all(tmp_path)
    assert os.environ.get("TZ") == zone  # the process's time zone is given back
    names = [p.name for p in paths]
    programmer, rest = names[: len(EXPECTED)], names[len(EXPECTED) :]
    assert programmer == EXPECTED
    educator = [name for name in rest if "-educator-" in name]
    patient = [name for name in rest if "-patient-" in name]
    assert educator and all(name.startswith("3") for name in educator)
    assert patient == [
        "41-patient-dose-granted.png",
        "42-patient-dose-refused-lockout.png",
        "43-patient-after-mri-not-delivering.png",
        "44-patient-after-mri-check.png",
    ]
    assert len(educator) + len(patient) == len(rest)
    assert sorted(names) == names  # numbered in the order rendered
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull(), path.name
        if path.name == "29-report.png":
            assert (image.width(), image.height()) == REPORT_PAGE_SIZE
        elif path.name in EXPECTED:
            # The window keeps its width: no page asks for more than the window has.
            assert image.width() == WINDOW_SIZE[0], path.name
            assert image.height() >= WINDOW_SIZE[1], path.name
