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
SIZES = [
    f"{41 + i:02d}-{size}-{scale}pct-{page}.png"
    for i, (scale, size, page) in enumerate(
        (scale, size, page)
        for scale in (100, 125)
        for size in ("1280x720", "1366x768")
        for page in ("home", "refill", "review")
    )
] + ["53-1920x1080-100pct-beside.png", "54-1920x1080-125pct-beside.png"]
"""#14 item 5: each screen filled by the programmer, and the two windows side by side."""
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
    sizes = [name for name in rest if name in SIZES]
    assert sizes == list(SIZES)
    educator = [name for name in rest if "-educator-" in name]
    patient = [name for name in rest if "-patient-" in name]
    assert educator and all(name.startswith("3") for name in educator)
    assert patient == [
        "61-patient-dose-granted.png",
        "62-patient-dose-refused-lockout.png",
        "63-patient-after-mri-not-delivering.png",
        "64-patient-after-mri-check.png",
    ]
    assert len(educator) + len(patient) + len(sizes) == len(rest)
    assert sorted(names) == names  # numbered in the order rendered
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull(), path.name
        if path.name in SIZES:
            # The whole screen (less a title bar) at its own pixel size, whatever the scale.
            width, height = (int(n) for n in path.name.split("-")[1].split("x"))
            if "beside" in path.name:
                assert (image.width(), image.height()) == (width, height - 32), path.name
            else:
                assert abs(image.width() - width) <= 1, path.name
                assert abs(image.height() - (height - 32)) <= 1, path.name
        elif path.name == "29-report.png":
            assert (image.width(), image.height()) == REPORT_PAGE_SIZE
        elif path.name in EXPECTED:
            # The window keeps its width: no page asks for more than the window has.
            assert image.width() == WINDOW_SIZE[0], path.name
            assert image.height() >= WINDOW_SIZE[1], path.name
