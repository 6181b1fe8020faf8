"""#14 item 5: every page fits the screens clinics and classrooms have (1280x720, 1366x768,
and 1920x1080 with the educator beside the programmer), at 100 % and at 125 % scaling: no
visible widget is clipped by its parent or the screen (``fit_check.py``, in a subprocess
with its own offscreen screens and scale factor)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from tests.programmer_gui.fit_check import problems_in

SCREENS_PX = ((1280, 720), (1366, 768), (1920, 1080))
ROOT = Path(__file__).resolve().parents[2]


def _run_fit_check(tmp_path: Path, scale: float) -> dict[str, object]:
    x = 0
    screens = []
    for i, (width, height) in enumerate(SCREENS_PX):
        screens.append(
            {
                "name": f"screen-{i}",
                "x": x,
                "y": 0,
                "width": width,
                "height": height,
                "logicalDpi": 96,
                "logicalBaseDpi": 96,
                "dpr": 1,
            }
        )
        x += width
    config = tmp_path / "screens.json"
    config.write_text(json.dumps({"screens": screens}))
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"
    env["QT_SCALE_FACTOR"] = f"{scale:g}"
    done = subprocess.run(
        [sys.executable, "-m", "tests.programmer_gui.fit_check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


PAGES = 16
"""The programmer's pages, the MRI and emergency pages included."""


@pytest.mark.parametrize(
    "scale",
    # Each scale is a subprocess rendering every page on three screens: make check runs
    # 100 %, make test both.
    [1.0, pytest.param(1.25, marks=pytest.mark.slow)],
)
def test_no_widget_is_clipped_on_any_screen(tmp_path: Path, scale: float) -> None:
    report = _run_fit_check(tmp_path, scale)
    expected = [[round(w / scale), round(h / scale), scale] for w, h in SCREENS_PX]
    screens = report["screens"]
    assert isinstance(screens, list)
    for (width, height, dpr), (want_w, want_h, want_dpr) in zip(screens, expected, strict=True):
        assert abs(width - want_w) <= 1 and abs(height - want_h) <= 1 and dpr == want_dpr
    assert report["problems"] == []
    checked = report["checked"]
    assert isinstance(checked, dict)
    # Every page on each of the three screens, and the educator beside it on the widest.
    assert len(checked) == PAGES * 3 + PAGES
    assert sum(1 for where in checked if "EducatorWindow" in where) == PAGES
    assert min(checked.values()) >= 20


def test_the_check_finds_a_clipped_widget(qtbot: QtBot) -> None:
    """The check can fail: a label wider than its parent, and a window off the screen."""
    window = QWidget()
    qtbot.addWidget(window)
    QVBoxLayout(window).addWidget(QLabel("fits", window))
    window.setGeometry(0, 0, 300, 200)
    loose = QLabel("a label placed by hand, far too wide for its parent", window)
    loose.setGeometry(250, 10, 400, 20)
    window.show()
    found, checked = problems_in(window, QRect(0, 0, 1280, 720), "here")
    assert checked == 2
    assert any("clipped by" in text and "far too wide" in text for text in found)
    assert not any("is off" in text for text in found)
    off, _ = problems_in(window, QRect(0, 0, 200, 150), "small screen")
    assert any("is off" in text for text in off)
